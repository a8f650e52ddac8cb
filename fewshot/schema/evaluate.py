"""`evaluate`: scoring the classifiers on the real test set."""

from __future__ import annotations

from typing import Any

from fewshot.schema.base import integer

SCHEMA: dict[str, Any] = {
    "evaluate": {
        "batch_size": integer(1),
        "n_misclassified": integer(0, 400),
        "tta_shift": integer(0, 3),
    },
}
