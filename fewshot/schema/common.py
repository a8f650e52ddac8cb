"""The top-level keys and `data`: what every stage reads."""

from __future__ import annotations

from typing import Any

from fewshot.errors import ParamError
from fewshot.schema.base import Field, integer

DATASETS = ("mnist", "fashion-mnist")
# Smallest training-class count per dataset: the upper bound for n_per_class.
MIN_CLASS_COUNT = {"mnist": 5421, "fashion-mnist": 6000}

SCHEMA: dict[str, Any] = {
    "seed": integer(0),
    "n_per_class": integer(1),
    "device": Field(str, choices=("auto", "cpu", "cuda")),
    "data": {
        "dataset": Field(str, choices=DATASETS),
        "subset": Field(str, choices=("first", "random")),
    },
}


def check(params: dict[str, Any], source: str) -> None:
    dataset = params["data"]["dataset"]
    bound = MIN_CLASS_COUNT[dataset]
    if params["n_per_class"] > bound:
        raise ParamError(
            f"{source}: 'n_per_class' = {params['n_per_class']} is invalid: expected an integer "
            f"between 1 and {bound}, the smallest training-class count of {dataset}"
        )
