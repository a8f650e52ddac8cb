"""The named configurations and what the pages make of them: the presets (conf/experiment/),
the study grids (conf/study/), and the registry (conf/registry.yaml): which presets are
headline rows, which draw curves, and the names rows ran under before."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

PRESETS_DIR = Path("conf/experiment")
GRIDS_DIR = Path("conf/study")
REGISTRY = Path("conf/registry.yaml")
# What a grid file may set: each key is also a flag of scripts/study.py, which wins over it.
GRID_KEYS = {"datasets", "presets", "n_per_class", "seeds", "jobs", "set"}


@functools.cache
def registry(path: Path = REGISTRY) -> dict[str, Any]:
    """conf/registry.yaml: `headline` presets, `curves` (preset -> classifier), `baselines`
    (classifier preset -> the protocol's preset with it), `former` names
    (name -> {now, commits}) and `retired` names (name -> {overrides, defined_at, commits})."""
    data = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return {
        "headline": tuple(data.get("headline") or ()),
        "curves": dict(data.get("curves") or {}),
        "baselines": dict(data.get("baselines") or {}),
        "former": dict(data.get("former") or {}),
        "retired": dict(data.get("retired") or {}),
    }


def headline() -> tuple[str, ...]:
    """The presets the README's table shows, in its order."""
    return registry()["headline"]


def curves() -> dict[str, str]:
    """The presets the results page draws against real images per class -> classifier name."""
    return registry()["curves"]


def baselines() -> dict[str, str]:
    """Classifier preset (conf/classifier/) -> the preset that runs the protocol with it, the
    one whose rows give the verdict where the baseline search chose that classifier."""
    return registry()["baselines"]


def presets(conf: Path = PRESETS_DIR) -> list[str]:
    """Every named configuration the study can run (conf/experiment/*.yaml)."""
    return sorted(path.stem for path in conf.glob("*.yaml"))


@functools.cache
def preset_params(name: str) -> dict[str, Any] | None:
    """The params `-S experiment=<name>` composes (from this project's conf/); None for a name
    that is not a preset (a retired one)."""
    from fewshot_results.compose import composed, is_preset

    if not is_preset(name):
        return None
    return composed([f"experiment={name}"])


def former_names(path: Path = REGISTRY) -> dict[str, str]:
    """Names experiments ran under -> the preset that configuration is now."""
    return {name: entry["now"] for name, entry in registry(path)["former"].items()}


def retired_overrides(path: Path = REGISTRY) -> dict[str, list[str]]:
    """Retired name -> its overrides as `dvc exp run -S` takes them (["cgan=fewshot", ...])."""
    return {
        name: str(entry.get("overrides", "")).replace("-S ", "").split()
        for name, entry in registry(path)["retired"].items()
    }


def load_grid(name: str, grids: Path = GRIDS_DIR) -> dict[str, Any]:
    """A study grid (conf/study/<name>.yaml): datasets, presets, n_per_class, seeds and jobs,
    each the default of its flag."""
    path = grids / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in grids.glob("*.yaml"))) or "none"
        raise SystemExit(f"error: --grid {name}: no {path} (grids: {known})")
    grid = yaml.safe_load(path.read_text()) or {}
    unknown = set(grid) - GRID_KEYS
    if unknown:
        raise SystemExit(
            f"error: {path}: unknown key(s) {sorted(unknown)}; known {sorted(GRID_KEYS)}"
        )
    return grid


def preset_description(name: str, conf: Path = PRESETS_DIR) -> str:
    """A preset's header comment, the one place that says what it is."""
    lines = (conf / f"{name}.yaml").read_text().splitlines()
    comment = [line.lstrip("# ").strip() for line in lines if line.startswith("#")]
    return " ".join(line for line in comment if line and line != "@package _global_")


def classifier_of(config: str) -> str:
    """The classifier a configuration trains (mlp, lenet or strong): its preset's, or for a
    retired name the one its overrides in the registry name."""
    params = preset_params(config)
    if params is not None:
        return {"cnn": "strong"}.get(params["classifier"]["arch"], params["classifier"]["arch"])
    named = dict(o.split("=", 1) for o in retired_overrides().get(config, []) if "=" in o)
    if "classifier" in named:
        return named["classifier"]
    if "experiment" in named:
        return classifier_of(named["experiment"])
    raise ValueError(
        f"configuration {config!r}: neither a preset in conf/experiment/ nor a name in "
        "conf/registry.yaml, so its classifier is unknown; add it to the registry's retired names"
    )


def mlp_twin(config: str) -> str | None:
    """The MLP preset that trains on the very images the strong-CNN preset `config` does: the
    same generator and generation (from the run cache), and no selection, which depends on
    the classifier."""
    params = preset_params(config)
    if params is None or classifier_of(config) != "strong" or params["generate"]["oversample"] > 1:
        return None
    images = {key: params[key] for key in IMAGE_KEYS}
    return next(
        (
            name
            for name in presets()
            if classifier_of(name) == "mlp"
            and {key: preset_params(name)[key] for key in IMAGE_KEYS} == images
        ),
        None,
    )


# The params sections that decide the generated images.
IMAGE_KEYS = ("seed", "n_per_class", "data", "cgan", "generate")
