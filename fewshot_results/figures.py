"""The study's figures: accuracy against real images per class, and the configurations
compared at one size with their paired differences."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fewshot_results.cells import runs_text
from fewshot_results.registry import curves

DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}  # as figures name them


def accuracy_label(dataset: str) -> str:
    """The figures' accuracy axis, the dataset named as written."""
    return f"accuracy on the real {DATASET_TITLES.get(dataset, dataset)} test set (%)"


def plot_curve_comparison(
    table: pd.DataFrame, paired: pd.DataFrame, out: Path, dataset: str = "mnist"
) -> Path | None:
    """`study-<dataset>-curve.png`: left, each curve preset's real-only, synthetic-only and
    mixed accuracy against n_per_class (mean and sd over subsets; solid the strong CNN, dashed
    the MLP); right, mixed - real on the same subsets with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = table[(table["dataset"] == dataset) & table["config"].isin(curves())]
    if mine.empty or mine.groupby("config")["n_per_class"].nunique().max() < 2:
        return None
    gaps = paired[
        (paired["dataset"] == dataset)
        & paired["config"].isin(curves())
        & (paired["comparison"] == "mixed - real")
    ]
    sizes = sorted(int(n) for n in mine["n_per_class"].unique())
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    # One line style per curve (as many curves as the registry names), in its order.
    styles = dict(zip(curves(), itertools.cycle(("--", "-", ":", "-.")), strict=False))
    # The right panel has one colour, so the classifiers differ in marker and shade too.
    shades = itertools.cycle((("s", "grey"), ("o", "black"), ("^", "dimgrey"), ("D", "silver")))
    gap_styles = dict(zip(curves(), shades, strict=False))
    for (preset, source), line in mine.groupby(["config", "source"]):
        line = line.sort_values("n_per_class")
        left.errorbar(line["n_per_class"], 100 * line["mean"], yerr=100 * line["std"].fillna(0),
                      marker="o", capsize=3, ls=styles[preset], color=SOURCE_COLOURS.get(source),
                      label=f"{curves()[preset]}: {source}")  # fmt: skip
    for offset, (preset, line) in zip((0.97, 1.03), gaps.groupby("config"), strict=False):
        line = line.sort_values("n_per_class")
        mean = 100 * line["mean"].to_numpy()
        low = np.nan_to_num(mean - 100 * line["ci_low"].to_numpy())
        high = np.nan_to_num(100 * line["ci_high"].to_numpy() - mean)
        marker, shade = gap_styles[preset]
        right.errorbar(line["n_per_class"] * offset, mean, yerr=[low, high], marker=marker,
                       capsize=3, ls=styles[preset], color=shade, mfc="white",
                       label=f"{curves()[preset]} ({preset})")  # fmt: skip
    right.axhline(0, color="grey", lw=0.8)
    left.set(ylabel=accuracy_label(dataset), title="accuracy")
    right.set(ylabel="mixed − real, same subsets (points)", title="mixed − real, 95% CI")
    for ax in (left, right):
        ax.set(xscale="log", xlabel="real images per class")
        ax.set_xticks(sizes, [str(n) for n in sizes], minor=False)
        ax.set_xticks([], minor=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, out.with_name(f"{out.name}-{dataset}-curve.png"))


SOURCE_COLOURS = {"real": "tab:orange", "synthetic": "tab:green", "mixed": "tab:blue"}


def curve_configs(table: pd.DataFrame) -> list[str]:
    """The configurations measured at two or more sizes: a curve needs at least two points."""
    sizes = table.groupby("config")["n_per_class"].nunique()
    return sorted(sizes[sizes >= 2].index)


def compared_sizes(table: pd.DataFrame) -> list[int]:
    """The n_per_class values at which two or more configurations were measured."""
    configs = table.groupby("n_per_class")["config"].nunique()
    return sorted(int(n) for n in configs[configs >= 2].index)


def plot_curves(table: pd.DataFrame, out: Path, paired: pd.DataFrame | None = None) -> list[Path]:
    """Per dataset: real-test accuracy against n_per_class (log x), one panel per configuration
    measured at two or more sizes and one line per source (`study-<dataset>.png`); and, at each
    size where configurations can be compared, one row per configuration with each source's
    mean and std over subsets, beside its paired mixed - real and synthetic - real with their
    95% intervals (`study-<dataset>-n<N>.png`). Error bars on accuracies are the std."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for dataset, data in table.groupby("dataset"):
        label = accuracy_label(dataset)
        configs = curve_configs(data)
        if configs:
            sizes = sorted(int(n) for n in data["n_per_class"].unique())
            # One x axis for every panel, labelled with the sizes measured (not 2x10^2).
            fig, axes = plt.subplots(
                1,
                len(configs),
                figsize=(5 * len(configs), 4),
                sharex=True,
                sharey=True,
                squeeze=False,
            )
            for ax, config in zip(axes[0], configs, strict=True):
                for source, line in data[data["config"] == config].groupby("source"):
                    line = line.sort_values("n_per_class")
                    ax.errorbar(
                        line["n_per_class"],
                        100 * line["mean"],
                        yerr=100 * line["std"].fillna(0),
                        marker="o",
                        capsize=3,
                        color=SOURCE_COLOURS.get(source),
                        label=source,
                    )
                ax.set(xscale="log", title=config, xlabel="real images per class")
                ax.set_xticks(sizes, [str(n) for n in sizes], minor=False)
                ax.set_xticks([], minor=True)
                ax.grid(alpha=0.3)
            axes[0][0].set_ylabel(label)
            axes[0][0].legend()
            written.append(_save(fig, out.with_name(f"{out.name}-{dataset}.png")))
        for n in compared_sizes(data):
            at_n = data[data["n_per_class"] == n]
            gaps = None
            if paired is not None and not paired.empty:
                gaps = paired[(paired["dataset"] == dataset) & (paired["n_per_class"] == n)]
            written.append(
                _save(
                    _config_comparison(at_n, f"{dataset}, {n} real images per class", label, gaps),
                    out.with_name(f"{out.name}-{dataset}-n{n}.png"),
                )
            )
    return written


def _config_comparison(
    data: pd.DataFrame, title: str, xlabel: str, paired: pd.DataFrame | None = None
) -> Any:
    """One row per configuration, one marker per source at its mean, the std as error bars;
    on the right, each source minus real-only on the same subsets, with its 95% interval."""
    import matplotlib.pyplot as plt

    configs = sorted(data["config"].unique())
    counts = data.groupby("config")[["subsets", "runs"]].min()
    panels = 2 if paired is not None and not paired.empty else 1
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(10 + 4 * (panels - 1), 1.0 + 0.45 * len(configs)),
        sharey=True,
        squeeze=False,
        gridspec_kw={"width_ratios": [10, 4][:panels]},
    )
    ax = axes[0][0]
    offsets = {"real": -0.2, "mixed": 0.0, "synthetic": 0.2}
    for source in [s for s in offsets if s in set(data["source"])]:
        points = data[data["source"] == source]
        rows = [configs.index(c) + offsets[source] for c in points["config"]]
        ax.errorbar(
            100 * points["mean"],
            rows,
            xerr=100 * points["std"].fillna(0),
            fmt="o",
            capsize=3,
            color=SOURCE_COLOURS.get(source),
            label=source,
        )
    ax.set_yticks(range(len(configs)), [f"{c} ({runs_text(*counts.loc[c])})" for c in configs])
    ax.invert_yaxis()
    ax.set(title=title, xlabel=xlabel)
    ax.grid(alpha=0.3, axis="x")
    if panels == 2:
        _paired_panel(axes[0][1], paired, configs)
    # Outside the axes: inside, it covers the points of some configuration.
    handles = [h for a in axes[0] for h in a.get_legend_handles_labels()[0]]
    labels = [lab for a in axes[0] for lab in a.get_legend_handles_labels()[1]]
    axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _paired_panel(ax: Any, paired: pd.DataFrame, configs: list[str]) -> None:
    """Mixed - real per configuration: the mean over subsets and its 95% t interval; a bar that
    crosses 0 shows no difference. (Synthetic - real is in the table: often -30 points.)"""
    points = paired[(paired["comparison"] == "mixed - real") & paired["config"].isin(configs)]
    mean = 100 * points["mean"].to_numpy()
    low = np.nan_to_num(mean - 100 * points["ci_low"].to_numpy())
    high = np.nan_to_num(100 * points["ci_high"].to_numpy() - mean)
    rows = [configs.index(c) for c in points["config"]]
    ax.errorbar(mean, rows, xerr=[low, high], fmt="s", capsize=3, color="black",
                mfc="white", label="mixed - real, 95% CI")  # fmt: skip
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(xlabel="mixed - real, same subsets (points)", title="paired difference")
    ax.grid(alpha=0.3, axis="x")


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend sits outside the axes
    plt.close(fig)
    return path
