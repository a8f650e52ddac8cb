"""Named configurations: every preset in conf/experiment/ composes, validates, and each one a
result cites stays exactly what it was when cited (a changed recipe is a new preset)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from scripts.compose_params import composed
from scripts.study import CONFIGS
from tests.conftest import REPO

PRESETS = sorted(p.stem for p in (REPO / "conf/experiment").glob("*.yaml"))
# The composed params of each cited preset (sha256 of their sorted JSON), and the study
# configuration whose rows the results page cites for it.
CITED = {
    "recipe": ("a38adef64b478357", "recipe"),
    "fewshot-mlp": ("f11678ac5e780785", "fewshot"),
    "fewshot-cnn": ("744c4104baa20ae6", "fewshot-strong"),
    "chosen": ("762246b1e6c258af", "fewshot-15k-cover-strong-half-narrow"),
    "protocol": ("7c3820fc06d3e46e", "fewshot-10k-cover-strong-half-narrow"),
}


def digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_and_validates(preset: str) -> None:
    params = composed([f"experiment={preset}"])  # load_params validates every key
    assert params["cgan"]["precision"] == "fp32"  # the same arithmetic on every machine


@pytest.mark.parametrize("preset", sorted(CITED))
def test_a_cited_preset_is_pinned_and_equals_its_study_configuration(preset: str) -> None:
    pinned, study_config = CITED[preset]
    params = composed([f"experiment={preset}"])
    assert digest(params) == pinned, f"conf/experiment/{preset}.yaml changed: make a new preset"
    assert params == composed(CONFIGS[study_config])


def test_every_cited_preset_exists_and_no_experiment_is_the_default() -> None:
    assert set(CITED) <= set(PRESETS)
    assert composed([]) == composed(["cgan=recipe", "classifier=mlp"])  # params.yaml: the recipe
    assert Path(REPO / "conf/experiment/recipe.yaml").read_text().startswith("# @package _global_")
