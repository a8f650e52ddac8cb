"""Where a source's classifier goes wrong on the real test set: per-class accuracy and the most
frequent confusions of DVC experiments, side by side.

Reads what `evaluate` committed into each experiment (`metrics/evaluate/<source>.json` and
`plots/evaluate/confusion/<source>.csv`, both in git), so it trains and evaluates nothing.

    python -m research.class_errors.class_errors \
        study-mnist-fewshot-15k-strong-select-half-n100-s{1,2,3}
    python -m research.class_errors.class_errors EXP... --source synthetic --top 6 --out \
        docs/results/class_errors/errors
"""

from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path

import pandas as pd

from fewshot import paths
from research.experiments import committed, experiment_ref


def per_class(ref: str, source: str) -> pd.Series:
    metrics = json.loads(committed(ref, paths.eval_metrics(source).as_posix()))
    return pd.Series(metrics["per_class_accuracy"], dtype=float).rename(int)


def confusions(ref: str, source: str) -> pd.Series:
    """Count of each (actual, predicted) pair with actual != predicted."""
    pairs = pd.read_csv(io.StringIO(committed(ref, f"plots/evaluate/confusion/{source}.csv")))
    wrong = pairs[pairs["actual"] != pairs["predicted"]]
    return wrong.groupby(["actual", "predicted"]).size()


def tables(names: list[str], source: str, top: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-class accuracy (%) with one column per experiment, and the `top` confusions over
    all of them with their count in each (and each one's share of that run's errors)."""
    # columns named by what differs between the names (the subset: "s1", "s2", ...)
    prefix = os.path.commonprefix(names) if len(names) > 1 else ""
    prefix = prefix[: prefix.rfind("-") + 1]
    refs = {name.removeprefix(prefix): experiment_ref(name) for name in names}
    accuracy = pd.DataFrame({name: per_class(ref, source) * 100 for name, ref in refs.items()})
    accuracy.index.name = "class"
    counts = pd.DataFrame({name: confusions(ref, source) for name, ref in refs.items()})
    counts = counts.fillna(0).astype(int)
    share = counts / counts.sum() * 100
    order = counts.sum(axis=1).sort_values(ascending=False).index[:top]
    table = (
        counts.loc[order].astype(str)
        + " ("
        + share.loc[order].round(0).astype(int).astype(str)
        + "%)"
    )
    table.index = [f"{actual} -> {predicted}" for actual, predicted in order]
    table.index.name = "true -> predicted"
    return accuracy, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="+", help="DVC experiment names")
    parser.add_argument("--source", choices=paths.SOURCES, default="synthetic")
    parser.add_argument("--top", type=int, default=8, help="confusions listed")
    parser.add_argument("--out", type=Path, help="also write <out>.md")
    args = parser.parse_args()
    accuracy, top = tables(args.experiments, args.source, args.top)
    text = (
        f"Per-class real-test accuracy (%) of the classifier trained on `{args.source}`:\n\n"
        + accuracy.round(1).to_markdown()
        + "\n\nIts most frequent confusions (count, and share of that run's errors):\n\n"
        + top.to_markdown()
        + "\n"
    )
    print(text)
    if args.out:
        args.out.with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
