"""Named configurations: every preset in conf/experiment/ composes, validates and stays exactly
what it was when a result cited it (a changed recipe is a new preset); every configuration a
study row names is a preset, or a name the registry (conf/registry.yaml) retired."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from fewshot_results.compose import composed
from fewshot_results.registry import (
    REGISTRY,
    former_names,
    headline,
    presets,
    registry,
    retired_overrides,
)
from tests.conftest import REPO

PRESETS = presets(REPO / "conf/experiment")
# The composed params of each preset (sha256 of their sorted JSON, first 16 hex digits).
PINNED = {
    "best": "7959e3be307a1467",
    "chosen": "762246b1e6c258af",
    "fewshot-10k": "abd94bfde0923f79",
    "fewshot-15k": "df3b5e2680186d44",
    "fewshot-15k-cover-strong-half": "3898e797b7069c79",
    "fewshot-15k-cover2-strong-half": "21e22699c650a1a0",
    "fewshot-15k-ic-cover-strong-half": "230dfa982d10821f",
    "fewshot-15k-ic-strong-half": "abba628d23c8726f",
    "fewshot-15k-ic5-strong-half": "47c659659f2b839e",
    "fewshot-15k-noaux-strong-half": "147e5bdc4e79acd1",
    "fewshot-15k-strong-half": "aba5426f316627e7",
    "fewshot-15k-strong-select-half": "7116d7f5c5dab145",
    "fewshot-15k-strong-select-half-ens5": "ae308c24bfb5c37a",
    "fewshot-15k-strong-select-half-x5": "add8fb1621a01891",
    "fewshot-4k": "9cbe35bd6a2b1535",
    "fewshot-4k-strong-select": "67a297d5033b50c5",
    "fewshot-4k-translation": "f443af43c702dce8",
    "fewshot-4k-unnormalised": "ad4cc770569d2703",
    "fewshot-bf16": "52b1a1848d44744a",
    "fewshot-cnn": "744c4104baa20ae6",
    "fewshot-mlp": "f11678ac5e780785",
    "fewshot-select": "562f1d44a95bfb4d",
    "fewshot-strong-select": "a45edd02de7b0d98",
    "fewshot-strong-select-half": "6f832e1c341183ed",
    "fewshot-strong-select-half-ens5": "b2c0723d1951dc13",
    "fewshot-unnormalised": "bd590d27fdec64c7",
    "protocol": "7c3820fc06d3e46e",
    "protocol-flip": "03c5142068d7d0c5",
    "protocol-mild": "5c9554d0cad8913e",
    "recipe": "a38adef64b478357",
    "recipe-bf16": "72bc988aa0a75ff6",
}


# Keys added after the presets above were pinned, at the values that train exactly as before
# (the classifier's training views): a pinned preset composes to them and is left unchanged.
ADDED_AT_NEUTRAL = {
    "classifier": {
        "affine_degrees": 15.0,
        "affine_scale": 0.15,
        "affine_translate": 0.2,
        "affine_shear": 0.15,
        "hflip": False,
        "erasing": 0.0,
    }
}


def digest(params: dict) -> str:
    """The params' hash, without the keys added since pinning where they hold their neutral
    value."""

    def neutral(section: str, key: str, value: object) -> bool:
        return ADDED_AT_NEUTRAL.get(section, {}).get(key, ...) == value

    kept = {
        section: {k: v for k, v in values.items() if not neutral(section, k, v)}
        if isinstance(values, dict)
        else values
        for section, values in params.items()
    }
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_validates_and_is_pinned(preset: str) -> None:
    params = composed([f"experiment={preset}"])  # load_params validates every key
    # one arithmetic on every machine: fp32 unless the name says bf16, never `auto`
    assert params["cgan"]["precision"] == ("bf16" if "bf16" in preset else "fp32")
    assert preset in PINNED, f"conf/experiment/{preset}.yaml is new: pin its digest here"
    assert digest(params) == PINNED[preset], f"conf/experiment/{preset}.yaml changed: add a new one"
    text = (REPO / "conf/experiment" / f"{preset}.yaml").read_text()
    assert text.startswith("# @package _global_\n# "), "a preset says what it is on line 2"


def test_a_pinned_preset_is_never_deleted_and_the_default_is_the_recipe() -> None:
    assert set(PINNED) == set(PRESETS) and set(headline()) <= set(PRESETS)
    assert composed([]) == composed(["cgan=recipe", "classifier=mlp"])  # params.yaml: the recipe


def test_the_protocol_is_the_chosen_configuration_cut_to_time() -> None:
    fast, full = composed(["experiment=protocol"]), composed(["experiment=chosen"])
    # only the generator's steps and test-time augmentation differ
    assert (fast["cgan"].pop("steps"), full["cgan"].pop("steps")) == (10_000, 15_000)
    assert (fast["evaluate"].pop("tta_shift"), full["evaluate"].pop("tta_shift")) == (0, 1)
    assert fast == full


def test_every_configuration_a_row_names_is_a_preset_or_in_the_registry() -> None:
    entries = registry(REPO / REGISTRY)
    retired = set(entries["retired"])
    assert not retired & set(PRESETS), "a retired name is a preset again"
    assert set(former_names(REPO / REGISTRY).values()) <= set(PRESETS)
    assert not set(former_names(REPO / REGISTRY)) & set(PRESETS), "a former name is a preset"
    for name, entry in entries["retired"].items():
        assert entry["defined_at"] and str(entry["overrides"]).startswith("-S "), name
    assert set(entries["headline"]) <= set(PRESETS) and set(entries["curves"]) <= set(PRESETS)
    rows = pd.read_csv(REPO / "docs/results/study/study.csv")
    assert set(rows["config"]) <= set(PRESETS) | retired


def test_grids_name_only_presets() -> None:
    import yaml

    for grid in Path(REPO / "conf/study").glob("*.yaml"):
        spec = yaml.safe_load(grid.read_text())
        if "search" in spec:  # a baseline search names classifier presets (conf/classifier/)
            named = {c for block in spec["search"] for c in block["classifiers"]}
            assert all((REPO / "conf/classifier" / f"{c}.yaml").is_file() for c in named), grid
        else:
            assert set(spec["presets"]) <= set(PRESETS), grid


def test_every_retired_configuration_s_overrides_compose_and_validate_today() -> None:
    """The registry says each retired configuration in today's params: its overrides must
    still name real keys and allowed values (`-S a=b` as `dvc exp run` takes them)."""
    retired = retired_overrides(REPO / REGISTRY)
    assert retired
    for overrides in retired.values():
        composed(overrides)  # load_params validates every key and value
