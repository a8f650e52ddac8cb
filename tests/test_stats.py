"""fewshot_results.stats: means over runs and paired differences over subsets, worded by
their intervals."""

from __future__ import annotations

import pandas as pd
import pytest

from fewshot_results.stats import summarise


def test_summary_is_over_subsets() -> None:
    rows = pd.DataFrame(
        {
            "dataset": "mnist",
            "config": "recipe",
            "n_per_class": 10,
            "source": "real",
            "subset_seed": [1, 2, 3],
            "test_accuracy": [0.5, 0.7, 0.9],
        }
    )
    (row,) = summarise(rows).to_dict("records")
    assert row["mean"] == pytest.approx(0.7) and row["std"] == pytest.approx(0.2)
    assert (row["min"], row["max"], row["subsets"], row["runs"]) == (0.5, 0.9, 3, 3)
    # subset 3 run again on another machine: one more run, not one more subset
    again = pd.concat([rows, rows.tail(1).assign(test_accuracy=1.0)], ignore_index=True)
    (row,) = summarise(again).to_dict("records")
    assert (row["subsets"], row["runs"], row["max"]) == (3, 4, 1.0)


def test_paired_difference_is_per_subset_with_a_t_interval_and_an_honest_verdict() -> None:
    from fewshot_results.stats import paired_differences

    def rows(config: str, gaps: list[float], machine: str = "cpu-a") -> list[dict]:
        return [
            {
                "dataset": "mnist",
                "config": config,
                "n_per_class": 100,
                "source": source,
                "subset_seed": seed,
                "machine": machine,
                "test_accuracy": 0.90 + (gap if source == "mixed" else 0.0),
            }
            for seed, gap in enumerate(gaps, start=1)
            for source in ("real", "mixed")
        ]

    frame = pd.DataFrame(
        rows("steady", [0.010, 0.012, 0.011])
        + rows("noisy", [0.030, -0.025, 0.010])
        + rows("single", [0.02])
        # subset 1 again on another machine: averaged into its subset, not a fourth subset
        + rows("steady", [0.014], machine="cpu-b")
    )
    paired = paired_differences(frame).set_index("config")
    steady = paired.loc["steady"]
    assert steady["subsets"] == 3
    gaps = [0.012, 0.012, 0.011]  # subset 1: mean of 0.010 and 0.014
    half = 4.302653 * pd.Series(gaps).std() / 3**0.5  # t(0.975, 2 df)
    assert steady["mean"] == pytest.approx(sum(gaps) / 3)
    assert steady["ci_low"] == pytest.approx(steady["mean"] - half, rel=1e-4)
    assert steady["verdict"] == "mixed adds"
    assert paired.loc["noisy", "verdict"] == "no difference shown"
    assert paired.loc["single", "verdict"] == "one subset: no interval"
    assert paired.loc["noisy", "per_subset"] == "+3.00 -2.50 +1.00"
