"""Load `params.yaml` and validate every key: the whole file, as `check_params` does before any
other stage runs, so a typo passed with `dvc exp run -S cgan.epoch=5` fails at once instead of
being silently ignored. Each stage then validates only its own sections (fewshot/schema/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fewshot.schema import cgan, classifier, common, evaluate, generate, judge, quality
from fewshot.schema.base import read_params, validate_sections

SECTIONS = (common, cgan, generate, classifier, evaluate, judge, quality)


def validate_params(params: Any, source: str = "params.yaml") -> dict[str, Any]:
    """Check types, ranges, allowed values and unknown keys; return the params unchanged."""
    return validate_sections(params, SECTIONS, source, strict=True)


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read params with `yaml.safe_load` and validate them."""
    return validate_sections(read_params(path), SECTIONS, str(path), strict=True)
