"""How far one classifier moves with its own seed, from study rows with ensemble members.

An ensemble's members (`classifier.members` > 1) are the same classifier, settings and training
images with different seeds, so their spread within one subset is the classifier's own noise;
the spread of the subsets' means is the choice of images on top. Reads the study's rows
(`test_accuracy_members`) and prints both per configuration, source and size.

    python -m research.classifier_seed.member_spread [--rows docs/results/study/study.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = ["dataset", "config", "n_per_class", "source"]


def members(cell: str) -> list[float]:
    """'0.9878;0.9891;0.9891' -> [0.9878, 0.9891, 0.9891]."""
    return [float(accuracy) for accuracy in cell.split(";")]


def within_subset_sd(cells: pd.Series) -> float:
    """The sample variances of each run's members, pooled over runs (NaN without two members)."""
    variances = [np.var(m, ddof=1) for m in map(members, cells.dropna()) if len(m) > 1]
    return float(np.sqrt(np.mean(variances))) if variances else float("nan")


def member_spread(rows: pd.DataFrame) -> pd.DataFrame:
    """Per configuration with members: the pooled within-subset sd of one member, the sd over
    subsets of the members' mean, and the numbers of subsets and members."""
    rows = rows[rows["test_accuracy_members"].notna()].copy()
    rows["member_mean"] = rows["test_accuracy_members"].map(lambda cell: np.mean(members(cell)))
    rows["member_count"] = rows["test_accuracy_members"].map(lambda cell: len(members(cell)))
    grouped = rows.groupby(KEYS)
    return grouped.agg(
        member_sd_within_subset=("test_accuracy_members", within_subset_sd),
        member_mean_sd_over_subsets=("member_mean", "std"),
        subsets=("subset_seed", "nunique"),
        members=("member_count", "sum"),
    ).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=Path("docs/results/study/study.csv"))
    args = parser.parse_args()
    if not args.rows.is_file():
        raise SystemExit(f"error: --rows {args.rows}: no such file (the study's CSV)")
    print(member_spread(pd.read_csv(args.rows)).to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    main()
