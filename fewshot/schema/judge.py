"""`judge`: the CNN trained on the full train split that scores generated images."""

from __future__ import annotations

from typing import Any

from fewshot.schema.base import integer, rate

SCHEMA: dict[str, Any] = {
    "judge": {
        "seed": integer(0),
        "epochs": integer(1),
        "batch_size": integer(1),
        "lr": rate(),
    },
}
