"""`generate`: how many synthetic images, and how they are drawn and placed."""

from __future__ import annotations

from typing import Any

from fewshot.schema.base import Field, integer

# How generated images are moved and scaled to the real ones' geometry (fewshot/normalise.py).
NORMALISE_MODES = ("none", "centre", "scale_centre")

SCHEMA: dict[str, Any] = {
    "generate": {
        "per_class": integer(1),
        "batch_size": integer(1),
        "oversample": integer(1, 100),
        "sampling": Field(str, choices=("source", "eval")),
        "normalise": Field(str, choices=NORMALISE_MODES),
        "noise_scale": Field(float, positive=True),
    },
}
