"""The statistics every page and the report use: means over runs, paired differences with
their t intervals over subsets, and the words a verdict may use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fewshot_results.rows import ROW_COLUMNS


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, min and max over every run of a point: its subsets, and where a subset ran
    on several machines, each of those runs."""
    keys = ["dataset", "config", "n_per_class", "source"]
    rows = rows.reindex(columns=ROW_COLUMNS)  # rows from before a column existed: NaN there
    grouped = rows.groupby(keys)
    table = grouped["test_accuracy"].agg(["mean", "std", "min", "max", "count"])
    table["subsets"] = grouped["subset_seed"].nunique()
    # with test-time augmentation, over the runs that have it (evaluated since it existed)
    table["mean_tta"] = grouped["test_accuracy_tta"].mean()
    table["runs_tta"] = grouped["test_accuracy_tta"].count()
    # an ensemble's member 0 alone: with and without the ensemble, on the same runs
    table["mean_single"] = grouped["test_accuracy_single"].mean()
    return table.rename(columns={"count": "runs"}).reset_index()


# Paired comparisons: each training source against real-only, on the same subset and machine.
PAIRS = (("mixed", "real"), ("synthetic", "real"))


def paired_differences(rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, configuration and n_per_class: mixed minus real (and synthetic minus real)
    on each subset, their mean, a 95% t interval over subsets and a verdict worded by it.

    The two accuracies of a pair come from the same experiment (same subset, same machine);
    a subset run on several machines counts once, at the mean of its runs, so the interval is
    over independent subsets (n - 1 degrees of freedom)."""
    keys = ["dataset", "config", "n_per_class"]
    wide = rows.pivot_table(
        index=[*keys, "subset_seed", "machine"], columns="source", values="test_accuracy"
    )
    out = []
    for better, base in PAIRS:
        if not {better, base} <= set(wide.columns):
            continue
        gap = (wide[better] - wide[base]).dropna().rename("gap").reset_index()
        per_subset = gap.groupby([*keys, "subset_seed"])["gap"].mean().reset_index()
        for point, group in per_subset.groupby(keys):
            values = group.sort_values("subset_seed")["gap"].to_numpy()
            n = len(values)
            mean, low, high = t_interval(values)
            out.append(
                {
                    **dict(zip(keys, point, strict=True)),
                    "comparison": f"{better} - {base}",
                    "subsets": n,
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "per_subset": " ".join(f"{100 * v:+.2f}" for v in values),
                    "verdict": paired_verdict(low, high, better, n),
                }
            )
    return pd.DataFrame(out)


def t_interval(values: np.ndarray) -> tuple[float, float, float]:
    """The mean of per-subset differences and its 95% t interval (NaN bounds for one)."""
    from scipy import stats

    n, mean = len(values), float(np.mean(values))
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def paired_verdict(low: float, high: float, better: str, subsets: int) -> str:
    """How the README may word a comparison: by its interval, never by its mean alone."""
    if subsets < 2:
        return "one subset: no interval"
    if low > 0:
        return f"{better} adds"
    if high < 0:
        return f"{better} is lower"
    return "no difference shown"


def interval_text(low: float, high: float, none: str = "") -> str:
    """A 95% interval in points, or `none` where there is none (one subset)."""
    return none if np.isnan(low) else f"{100 * low:+.2f} to {100 * high:+.2f}"


Z95 = 1.959964


def wilson(p: float, n: int) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy `p` measured on `n` test images."""
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return centre - half, centre + half


@dataclass
class Spread:
    """The study's run-to-run spread of one configuration: sd of each source's accuracy and
    of mixed minus real, over its runs (random subsets, and machines where it ran on several)."""

    config: str
    runs: int
    subsets: int
    machines: list[str]  # short names: "AMX CPU", "H100", ...
    sd: dict[str, float]
    across_machines: float | None  # sd of the same subset's accuracy between machines

    def describe(self) -> str:
        return (
            f"`{self.config}`, {self.runs} runs on {self.subsets} random subsets "
            f"({', '.join(self.machines)})"
        )

    def limit(self, key: str) -> float | None:
        """The largest change between two runs of this configuration 95% of the time: a
        difference of two runs has sd √2 sd, and sd itself is estimated from `runs` runs
        (so Student's t, not 1.96: with three runs the limit is 2.2 times wider)."""
        from scipy import stats

        sd = self.sd.get(key)
        if sd is None or math.isnan(sd) or self.runs < 2:
            return None
        return float(stats.t.ppf(0.975, self.runs - 1)) * math.sqrt(2) * sd


def change_verdict(
    change: float, spread_limit: float | None, noise_limit: float | None, points: bool = True
) -> str:
    """A change between two runs against the larger of two limits, printed beside it: the
    run-to-run spread the study measured (Spread.limit) and the test-set noise of the two
    accuracies (1.96 × the binomial sd of their difference). A change inside test-set noise
    is never called beyond the spread, however small the spread measured."""
    limits = {"run-to-run spread": spread_limit, "test-set noise": noise_limit}
    known = {name: limit for name, limit in limits.items() if limit is not None}
    if not known:
        return ""
    name, limit = max(known.items(), key=lambda item: item[1])
    within = abs(change) <= limit
    word = "within" if within else "**beyond**"
    shown = f"±{100 * limit:.2f} pt" if points else f"±{limit:.1f}"
    return f"{word} {name} ({shown})"


def binomial_limit(a: float, n_a: int, b: float, n_b: int) -> float:
    """1.96 × the sd of the difference of two accuracies measured on n_a and n_b images."""
    return Z95 * math.sqrt(a * (1 - a) / n_a + b * (1 - b) / n_b)


def search_summary(rows: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """The baseline search's rows (fewshot_results/search.py): mean and sd of held-out accuracy
    per dataset, size and classifier over the subsets it ran on (`count`).

    `chosen` marks one candidate per dataset and size, compared on the subsets every candidate
    there ran on (a paired comparison: a subset's difficulty does not favour whoever ran on it):
    of those whose mean is within `margin` of the highest, the first in `order` (the grid's,
    from the fewest changes to the most). `margin` is one binomial standard error of the
    highest on one held-out set: a rule of thumb for parsimony (the one-standard-error rule),
    which leaves out run-to-run noise."""
    rows = rows.dropna(subset=["validation_accuracy"])
    keys = ["dataset", "n_per_class"]
    table = (
        rows.groupby([*keys, "classifier"])["validation_accuracy"]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    table["chosen"], table["margin"] = False, float("nan")
    rank = {name: i for i, name in enumerate(order)}
    for point, group in rows.groupby(keys):
        by_classifier = group.groupby("classifier")["subset_seed"].apply(set)
        shared = set.intersection(*by_classifier)
        if not shared:
            continue
        paired = group[group["subset_seed"].isin(shared)].groupby("classifier")
        means, images = paired["validation_accuracy"].mean(), paired["validation_images"].mean()
        best = means.idxmax()
        margin = math.sqrt(means[best] * (1 - means[best]) / images[best])
        near = [name for name in means.index if means[name] >= means[best] - margin]
        pick = min(near, key=lambda name: (rank.get(name, len(rank)), -means[name]))
        mine = (table[keys[0]] == point[0]) & (table[keys[1]] == point[1])
        table.loc[mine, "margin"] = margin
        table.loc[mine & (table["classifier"] == pick), "chosen"] = True
    return table
