"""Params from conf/ exactly as `dvc exp run -S` composes them (DVC's Hydra support)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from dvc.utils.hydra import compose_and_dump

from fewshot.params import load_params

CONF = Path(__file__).resolve().parents[1] / "conf"


def is_preset(name: str) -> bool:
    """Whether `experiment=<name>` names a preset of conf/experiment/."""
    return (CONF / "experiment" / f"{name}.yaml").is_file()


def compose(overrides: list[str], output: Path) -> None:
    with tempfile.TemporaryDirectory() as plugins:  # no Hydra plugins to load
        compose_and_dump(output, str(CONF), None, "config", plugins, overrides)


def composed(overrides: list[str]) -> dict[str, Any]:
    """The params `dvc exp run -S` composes from conf/ with `overrides`, validated."""
    with tempfile.TemporaryDirectory() as tmp:
        params = Path(tmp) / "params.yaml"
        compose(overrides, params)
        return load_params(params)
