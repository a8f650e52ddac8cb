"""`quality`: the generator's scores (stage evaluate_generator)."""

from __future__ import annotations

from typing import Any

from fewshot.schema.base import Field, integer

SCHEMA: dict[str, Any] = {
    "quality": {
        "nearest_k": integer(1),
        "reference_samples": integer(10),
        "near_copy_quantile": Field(float, low=0.0, high=1.0),
        "nn_pairs_per_class": integer(1, 20),
        "diversity_samples": integer(2),
        "grid_columns": integer(1, 100),
    },
}
