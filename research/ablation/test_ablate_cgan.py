"""Smoke test: the ablation script composes its CGAN presets as `dvc exp run -S` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_params import composed


def test_the_ablation_script_reads_presets_as_dvc_composes_them(tmp_path: Path) -> None:
    from research.ablation.ablate_cgan import preset

    cfg = preset("fewshot", ["mode_seeking=0.0", "steps=10"])
    expected = composed(tmp_path, "cgan=fewshot", "cgan.mode_seeking=0.0", "cgan.steps=10")
    assert cfg == expected["cgan"]
    assert preset("recipe", []) == composed(tmp_path, "cgan=recipe")["cgan"]
    with pytest.raises(SystemExit, match="unknown cgan key 'mode_seek'"):
        preset("fewshot", ["mode_seek=1"])
