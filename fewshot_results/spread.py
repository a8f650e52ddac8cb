"""The run-to-run spread the study measured for the configuration a run used: which preset
its params are, and the sd of each number over that preset's rows (docs/results/study/study.csv)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from fewshot import paths
from fewshot_results.machines import has_bf16, machine_name
from fewshot_results.rows import GENERATOR_SCORES
from fewshot_results.stats import Spread

STUDY_ROWS = Path("docs/results/study/study.csv")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# Params that pick which random subset a run draws: the study's spread is over exactly these.
SUBSET_KEYS = {"seed", "data.subset"}


def matching_config(params: dict[str, Any], machine: str | None, names: list[str]) -> str | None:
    """The study configuration whose composed params equal `params`, apart from the subset
    drawn; `cgan.precision: auto` is what it resolves to on `machine`."""
    from fewshot_results.compose import composed, is_preset

    mine = flatten(params)
    if mine.get("cgan.precision") == "auto" and machine and "CUDA" not in machine:
        mine["cgan.precision"] = "bf16" if has_bf16(machine) else "fp32"
    for name in names:
        if not is_preset(name):
            continue  # a retired name: nothing to compose
        theirs = flatten(
            composed(
                [
                    f"experiment={name}",
                    f"n_per_class={params['n_per_class']}",
                    f"data.dataset={params['data']['dataset']}",
                ]
            )
        )
        if all(mine.get(k) == v for k, v in theirs.items() if k not in SUBSET_KEYS):
            return name
    return None


def study_spread(params: dict[str, Any], machine: str | None) -> Spread | None:
    if not STUDY_ROWS.is_file() or not params:
        return None
    rows = pd.read_csv(STUDY_ROWS)
    rows = rows[
        (rows["dataset"] == params["data"]["dataset"])
        & (rows["n_per_class"] == params["n_per_class"])
    ]
    names = sorted(rows["config"].unique(), key=lambda c: (len(c), c))
    config = matching_config(params, machine, names)
    if config is None:
        return None
    rows = rows[rows["config"] == config]
    wide = rows.pivot_table(
        index=["subset_seed", "machine"], columns="source", values="test_accuracy"
    )
    if len(wide) < 2:
        return None
    sd = {s: float(wide[s].std()) for s in paths.SOURCES if s in wide.columns}
    if {"mixed", "real"} <= set(wide.columns):
        sd["mixed − real"] = float((wide["mixed"] - wide["real"]).std())
    generator = rows[rows["source"] == "synthetic"]
    for key in GENERATOR_SCORES:
        column = f"generator_{key}"
        if column in generator and generator[column].notna().sum() > 1:
            sd[key] = float(generator[column].std())
    across = None
    by_subset = rows.groupby(["source", "subset_seed"])["test_accuracy"]
    pairs = by_subset.std()[by_subset.count() > 1]
    if len(pairs):
        across = float(math.sqrt((pairs**2).mean()))
    return Spread(
        config=config,
        runs=len(wide),
        subsets=rows["subset_seed"].nunique(),
        machines=sorted({machine_name(m) for m in rows["machine"]}),
        sd=sd,
        across_machines=across,
    )
