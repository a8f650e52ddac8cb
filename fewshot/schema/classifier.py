"""`classifier`: the network trained on each source, and its training."""

from __future__ import annotations

from typing import Any

from fewshot.schema.base import Field, integer, rate

SCHEMA: dict[str, Any] = {
    "classifier": {
        "arch": Field(str, choices=("mlp", "lenet", "cnn")),
        "epochs": integer(1),
        "steps": integer(0),
        "batch_size": integer(1),
        "lr": rate(),
        "weight_decay": Field(float, low=0.0),
        "schedule": Field(str, choices=("constant", "onecycle")),
        "label_smoothing": Field(float, low=0.0, high=0.5),
        "augment": Field(bool),
        # the warp's ranges when `augment` is on (rotation in degrees, the rest fractions)
        "affine_degrees": Field(float, low=0.0, high=180.0),
        "affine_scale": Field(float, low=0.0, high=0.9),
        "affine_translate": Field(float, low=0.0, high=1.0),
        "affine_shear": Field(float, low=0.0, high=1.0),
        "hflip": Field(bool),
        "erasing": Field(float, low=0.0, high=1.0),
        "elastic": Field(bool),
        "synthetic_fraction": Field(float, low=0.0, high=1.0),
        "members": integer(1, 20),
    },
}
