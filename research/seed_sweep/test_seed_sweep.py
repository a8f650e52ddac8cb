"""The seed sweep's table: an ensemble's members beside its vote, and no generator rows
for a sweep that trained no CGAN."""

from __future__ import annotations

import pandas as pd
import pytest

from research.seed_sweep.seed_sweep import members_cell, summarise, within_subset_sd, write_summary


def ensemble_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "config": "strong-ens3",
            "classifier": "strong",
            "subset_seed": [1, 2],
            "source": "real",
            "real_test_accuracy": [0.99, 0.97],
            "own_training_data_accuracy": 1.0,
            "real_test_accuracy_single": [0.98, 0.96],
            "real_test_accuracy_k2": [0.985, 0.965],
            "real_test_accuracy_tta": [None, None],
            "generator_recall": [None, None],
        }
    )


def test_summary_sets_member_zero_and_the_first_k_vote_beside_the_ensemble() -> None:
    (row,) = summarise(ensemble_rows()).to_dict("records")
    assert row["mean"] == pytest.approx(0.98) and row["runs"] == 2
    assert row["single (mean)"] == pytest.approx(0.97)
    assert row["k2 (mean)"] == pytest.approx(0.975)
    assert "tta (mean)" not in row  # a column no run filled is left out


def test_a_sweep_without_a_generator_writes_no_generator_table(tmp_path) -> None:
    write_summary(ensemble_rows(), tmp_path / "ensemble")
    assert (tmp_path / "ensemble.md").exists()
    assert not (tmp_path / "ensemble-runs.csv").exists()
    assert "generator score" not in (tmp_path / "ensemble.md").read_text()


def test_member_spread_pools_the_variance_within_each_subset_not_across_them() -> None:
    rows = ensemble_rows()
    # subset 1: 0.97, 0.99 (variance 2e-4); subset 2: 0.95, 0.95, 0.95 (0): pooled sqrt(1e-4)
    rows["real_test_accuracy_members"] = ["0.97;0.99", "0.95;0.95;0.95"]
    assert within_subset_sd(rows["real_test_accuracy_members"]) == pytest.approx(0.01)
    # the two subsets' means differ by 0.03: that is the subsets' spread, not the seeds'
    (row,) = summarise(rows).to_dict("records")
    assert row["member std (within subset)"] == pytest.approx(0.01)
    assert "members (mean)" not in row  # a text column, not averaged


def test_member_cell_is_empty_for_a_single_classifier() -> None:
    assert members_cell({"accuracy": 0.9}) is None
    assert members_cell({"accuracy_members": [0.9878, 0.9891]}) == "0.9878;0.9891"
    assert pd.isna(within_subset_sd(pd.Series([None, None])))
