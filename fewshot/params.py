"""Load `params.yaml` and validate every key before a stage does any work.

Every stage validates the whole file, not only its own section, so a typo passed with
`dvc exp run -S cgan.epoch=5` fails at the first stage instead of being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fewshot.errors import ParamError

DIFFAUGMENT_POLICIES = ("none", "translation", "translation,cutout")

# How generated images are moved and scaled to the real ones' geometry (fewshot/normalise.py).
NORMALISE_MODES = ("none", "centre", "scale_centre")

DATASETS = ("mnist", "fashion-mnist")
# Smallest training-class count per dataset: the upper bound for n_per_class.
MIN_CLASS_COUNT = {"mnist": 5421, "fashion-mnist": 6000}


@dataclass(frozen=True)
class Field:
    """One leaf of the schema: its type and the values it may take."""

    kind: type
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    choices: tuple[str, ...] | None = None
    positive: bool = False  # strictly > 0, for rates

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        name = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[
            self.kind
        ]
        if self.positive:
            return f"{name} > 0"
        if self.low is not None and self.high is not None:
            return f"{name} between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"{name} >= {self.low:g}"
        return name

    def accepts(self, value: Any) -> bool:
        if self.kind is bool or isinstance(value, bool):  # YAML `yes` must not pass as 1
            return self.kind is bool and isinstance(value, bool)
        if self.kind is float:
            ok_type = isinstance(value, (int, float))
        else:
            ok_type = isinstance(value, self.kind)
        if not ok_type:
            return False
        if self.choices is not None and value not in self.choices:
            return False
        if self.positive and not value > 0:
            return False
        if self.low is not None and value < self.low:
            return False
        return self.high is None or value <= self.high


def _int(low: int = 1, high: int | None = None) -> Field:
    return Field(int, low=low, high=high)


def _rate() -> Field:
    return Field(float, positive=True)


SCHEMA: dict[str, Any] = {
    "seed": _int(0),
    "n_per_class": _int(1),
    "device": Field(str, choices=("auto", "cpu", "cuda")),
    "data": {
        "dataset": Field(str, choices=DATASETS),
        "subset": Field(str, choices=("first", "random")),
    },
    "cgan": {
        "generator": Field(str, choices=("recipe", "fewshot")),
        "discriminator": Field(str, choices=("recipe", "projection", "fewshot")),
        "epochs": _int(1),
        "steps": _int(0),
        "batch_size": _int(1),
        "noise_dim": _int(1),
        "base_channels": _int(1),
        "loss": Field(str, choices=("lsgan", "bce", "hinge")),
        "fake_labels": Field(str, choices=("batch", "random")),
        "diffaugment": Field(str, choices=DIFFAUGMENT_POLICIES),
        "mode_seeking": Field(float, low=0.0),
        "mode_seeking_form": Field(str, choices=("msgan", "capped")),
        "aux_weight": Field(float, low=0.0),
        "ema": Field(float, low=0.0, high=0.999999),
        "instance_dim": _int(0, 28 * 28),
        "instance_neighbours": _int(1),
        "coverage_weight": Field(float, low=0.0),
        "coverage_every": _int(1),
        "lr": _rate(),
        "beta1": Field(float, low=0.0, high=0.999999),
        "beta2": Field(float, low=0.0, high=0.999999),
        "weight_decay": Field(float, low=0.0),
        "sample_every": _int(1),
        "precision": Field(str, choices=("auto", "fp32", "bf16")),
    },
    "generate": {
        "per_class": _int(1),
        "batch_size": _int(1),
        "oversample": _int(1, 100),
        "sampling": Field(str, choices=("source", "eval")),
        "normalise": Field(str, choices=NORMALISE_MODES),
        "noise_scale": Field(float, positive=True),
    },
    "classifier": {
        "arch": Field(str, choices=("mlp", "lenet", "cnn")),
        "epochs": _int(1),
        "steps": _int(0),
        "batch_size": _int(1),
        "lr": _rate(),
        "weight_decay": Field(float, low=0.0),
        "schedule": Field(str, choices=("constant", "onecycle")),
        "label_smoothing": Field(float, low=0.0, high=0.5),
        "augment": Field(bool),
        "elastic": Field(bool),
        "synthetic_fraction": Field(float, low=0.0, high=1.0),
        "members": _int(1, 20),
    },
    "evaluate": {
        "batch_size": _int(1),
        "n_misclassified": _int(0, 400),
        "tta_shift": _int(0, 3),
    },
    "judge": {
        "seed": _int(0),
        "epochs": _int(1),
        "batch_size": _int(1),
        "lr": _rate(),
    },
    "quality": {
        "nearest_k": _int(1),
        "reference_samples": _int(10),
        "near_copy_quantile": Field(float, low=0.0, high=1.0),
        "nn_pairs_per_class": _int(1, 20),
        "diversity_samples": _int(2),
        "grid_columns": _int(1, 100),
    },
}


def _validate(tree: Any, schema: dict[str, Any], prefix: str, source: str) -> None:
    if not isinstance(tree, dict):
        where = f"'{prefix.rstrip('.')}'" if prefix else "the top level"
        raise ParamError(f"{source}: {where} must be a mapping, got {tree!r}")
    unknown = sorted(set(tree) - set(schema))
    if unknown:
        key = prefix + str(unknown[0])
        allowed = ", ".join(prefix + k for k in schema)
        raise ParamError(f"{source}: unknown key '{key}'. Allowed keys here: {allowed}")
    for key, spec in schema.items():
        name = prefix + key
        if key not in tree:
            raise ParamError(f"{source}: missing key '{name}'")
        value = tree[key]
        if isinstance(spec, dict):
            _validate(value, spec, name + ".", source)
        elif not spec.accepts(value):
            raise ParamError(
                f"{source}: '{name}' = {value!r} is invalid: expected {spec.describe()}"
            )


def validate_params(params: Any, source: str = "params.yaml") -> dict[str, Any]:
    """Check types, ranges, allowed values and unknown keys; return the params unchanged."""
    _validate(params, SCHEMA, "", source)
    dataset = params["data"]["dataset"]
    bound = MIN_CLASS_COUNT[dataset]
    if params["n_per_class"] > bound:
        raise ParamError(
            f"{source}: 'n_per_class' = {params['n_per_class']} is invalid: expected an integer "
            f"between 1 and {bound}, the smallest training-class count of {dataset}"
        )
    cgan = params["cgan"]
    if cgan["mode_seeking"] > 0 and cgan["batch_size"] < 2:
        raise ParamError(
            f"{source}: 'cgan.mode_seeking' > 0 compares pairs of fakes: 'cgan.batch_size' must "
            f"be at least 2, got {cgan['batch_size']}"
        )
    capped = cgan["mode_seeking"] > 0 and cgan["mode_seeking_form"] == "capped"
    if capped and params["n_per_class"] < 2:
        raise ParamError(
            f"{source}: 'cgan.mode_seeking_form' = 'capped' measures the variety of each "
            f"class's real images: 'n_per_class' must be at least 2, got {params['n_per_class']}"
        )
    if cgan["aux_weight"] > 0 and cgan["discriminator"] != "fewshot":
        raise ParamError(
            f"{source}: 'cgan.aux_weight' = {cgan['aux_weight']!r} needs a discriminator with a "
            f"classifier head: set 'cgan.discriminator' to 'fewshot' (it is "
            f"{cgan['discriminator']!r}) or 'cgan.aux_weight' to 0"
        )
    _validate_instances(params, source)
    return params


def _validate_instances(params: dict[str, Any], source: str) -> None:
    """What an instance-conditioned CGAN (`cgan.instance_dim` > 0) needs of the other params."""
    cgan, n = params["cgan"], params["n_per_class"]
    if cgan["instance_dim"] == 0:
        return
    needs = {"generator": "fewshot", "discriminator": "fewshot", "fake_labels": "batch"}
    for key, wanted in needs.items():
        value, name = cgan[key], f"cgan.{key}"
        if value != wanted:
            raise ParamError(
                f"{source}: 'cgan.instance_dim' > 0 (an instance-conditioned CGAN) needs "
                f"'{name}' = {wanted!r}, got {value!r}"
            )
    most = min(10 * n, 28 * 28)  # the rank of the real subset's principal components
    if cgan["instance_dim"] > most:
        raise ParamError(
            f"{source}: 'cgan.instance_dim' = {cgan['instance_dim']} is invalid: expected at "
            f"most {most} (10 x n_per_class real images, 784 pixels)"
        )
    if cgan["instance_neighbours"] > n:
        raise ParamError(
            f"{source}: 'cgan.instance_neighbours' = {cgan['instance_neighbours']} is invalid: "
            f"expected at most n_per_class = {n} (the neighbours are real images of one class)"
        )


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read params with `yaml.safe_load` and validate them."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamError(f"{path}: file not found (run from the repository root)") from None
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamError(f"{path}: not valid YAML: {exc}") from None
    return validate_params(params, source=str(path))
