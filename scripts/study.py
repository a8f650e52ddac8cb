"""The study: real, synthetic and mixed training data against n_per_class, over random subsets.

A grid (conf/study/<name>.yaml: datasets x presets x n_per_class x subset seeds) is data; a
preset is a named configuration in conf/experiment/. Every point of the grid is one DVC
experiment, queued with `dvc exp run --queue` and run by `dvc exp run --run-all` (DVC's
queue). Resumable: experiments already in `dvc exp show` (done or queued) are not queued
again, and stages already run with the same code, params and inputs come back from DVC's run
cache. Then `dvc exp show --json` is gathered into one CSV row per experiment and training
source, a summary table (mean, std, min, max over subsets), one row per generator run
(`<out>-generators.csv`: its scores, synthetic-only accuracy and `train_cgan` time) and one
figure per dataset.

    python scripts/study.py                      # queue, run, collect: the default grid
    python scripts/study.py --plan               # print what would be queued, run nothing
    python scripts/study.py --grid protocol      # the timed protocol, and its time
    python scripts/study.py --collect-only       # rebuild the CSV, table and figures
    python scripts/study.py --presets fewshot-mlp --n-per-class 100 --seeds 1   # one point
    python scripts/study.py --collect-only --rev abc1234   # the experiments run on abc1234
    python scripts/study.py --tabulate-only      # the table and figures from the CSV alone

On several machines, each a clone of the same commit sharing one git remote and one default
DVC remote (.dvc/config): machine K of N runs `--shard K/N --remote origin`, pushing each
finished batch of experiments (with outputs and run cache); a point any machine pushed is not
run again, so a rerun of a shard finishes what a dead machine left. Then, anywhere:
`--collect-only --remote origin` pulls every experiment of the commit and gathers the rows.

Needs a clean git workspace: queued experiments run the committed code. The study is that of
the current commit (`dvc exp show` lists the experiments of HEAD): after a new commit, points
are queued again, and stages whose code and inputs did not change come from the run cache.
The CSV is the record across commits: collecting replaces the rows of the experiments it
finds and keeps the others, each row naming the commit its experiment ran on.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import yaml

from fewshot import paths
from fewshot_results.shards import parse_shard, shard_points

# Named configurations are the Hydra presets in conf/experiment/ (`-S experiment=<name>`); a
# study grid is data in conf/study/<name>.yaml; names that experiments ran under before a
# preset took over, and names retired, are a table: docs/results/history.csv.
PRESETS_DIR = Path("conf/experiment")
GRIDS_DIR = Path("conf/study")
HISTORY = Path("docs/results/history.csv")
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}  # as figures name them
# The presets the README's table shows (the results page shows every preset with rows).
HEADLINE = ("recipe", "fewshot-mlp", "fewshot-cnn", "chosen", "protocol", "best")
# The curves the results page compares against n_per_class: the MLP's and the strong CNN's.
CURVES = {"fewshot-mlp": "MLP", "protocol": "strong CNN"}
# What a grid file may set, and the flag each key stands for.
GRID_KEYS = {"datasets", "presets", "n_per_class", "seeds", "jobs", "set"}


def presets(conf: Path = PRESETS_DIR) -> list[str]:
    """Every named configuration the study can run (conf/experiment/*.yaml)."""
    return sorted(path.stem for path in conf.glob("*.yaml"))


@functools.cache
def preset_params(name: str) -> dict[str, Any] | None:
    """The params `-S experiment=<name>` composes (from this project's conf/); None for a name
    that is not a preset (a retired one)."""
    from fewshot_results.compose import composed, is_preset

    if not is_preset(name):
        return None
    return composed([f"experiment={name}"])


def history_entries(history: Path = HISTORY) -> list[dict[str, str]]:
    """The history table's rows: a former name with the preset it is `now`, or a retired one
    (`now` empty) with its `-S` overrides."""
    if not history.is_file():
        return []
    return pd.read_csv(history, keep_default_na=False, dtype=str).to_dict("records")


def former_names(history: Path = HISTORY) -> dict[str, str]:
    """Names experiments ran under -> the preset that configuration is now."""
    return {r["name"]: r["now"] for r in history_entries(history) if r["now"]}


@functools.cache
def retired_overrides(history: Path = HISTORY) -> dict[str, list[str]]:
    """Retired name -> its overrides as `dvc exp run -S` takes them (["cgan=fewshot", ...])."""
    return {
        r["name"]: r.get("overrides", "").replace("-S ", "").split()
        for r in history_entries(history)
        if not r["now"]
    }


def load_grid(name: str, grids: Path = GRIDS_DIR) -> dict[str, Any]:
    """A study grid (conf/study/<name>.yaml): datasets, presets, n_per_class, seeds and jobs,
    each the default of its flag."""
    path = grids / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in grids.glob("*.yaml"))) or "none"
        raise SystemExit(f"error: --grid {name}: no {path} (grids: {known})")
    grid = yaml.safe_load(path.read_text()) or {}
    unknown = set(grid) - GRID_KEYS
    if unknown:
        raise SystemExit(
            f"error: {path}: unknown key(s) {sorted(unknown)}; known {sorted(GRID_KEYS)}"
        )
    return grid


# The generated dataset's scores (evaluate_generator), repeated on each of its rows.
GENERATOR_SCORES = (
    "label_fidelity",
    "label_fidelity_min",
    "precision",
    "recall",
    "coverage",
    "diversity_ratio",
    "diversity_ratio_pixels",
    "near_copy_fraction",
    "fid",
)
ROW_COLUMNS = [
    "dataset",
    "n_per_class",
    "config",
    "source",
    "subset_seed",
    "test_accuracy",
    # the same classifier's vote averaged over 9 shifted copies of each test image
    "test_accuracy_tta",
    # with `classifier.members` > 1: member 0 alone (the single classifier of that seed)
    "test_accuracy_single",
    # and each member alone ("0.9878;0.9891;0.9891"): the spread from the classifier's own seed
    "test_accuracy_members",
    # and the vote of the first k members, k = 1, 2, ... ("0.9878;0.9895;0.9896")
    "test_accuracy_first_k",
    # on the classifier's own training images: near 100% whatever the real-test accuracy
    "own_training_accuracy",
    "machine",
    "experiment",
    "commit",
    *(f"generator_{score}" for score in GENERATOR_SCORES),
    "train_cgan_s",
]
# Each stage run by the study appends its wall time and params here ($FEWSHOT_RESOURCE_LOG);
# the experiment with the same params gets its `train_cgan` time from it. Empty where the
# CGAN came from the run cache (nothing was trained) or ran before the study kept times.
STAGE_LOG = Path(".dvc/tmp/study-stages.jsonl")
# The per-generator table: one row per configuration, subset and machine.
GENERATOR_TABLE_COLUMNS = [
    "dataset",
    "n_per_class",
    "config",
    "subset_seed",
    "recall",
    "coverage",
    "label_fidelity",
    "label_fidelity_min",
    "diversity_ratio",
    "near_copies",
    "fid",
    "synthetic_accuracy",
    "synthetic_accuracy_mlp",
    "train_cgan_s",
    "machine",
    "commit",
]


def experiment_name(dataset: str, config: str, n_per_class: int, seed: int) -> str:
    return f"study-{dataset}-{config}-n{n_per_class}-s{seed}"


def parse_name(name: str) -> dict[str, Any] | None:
    """The protocol point an experiment name stands for; None for other experiments."""
    if not name.startswith("study-"):
        return None
    head, n_part, seed_part = name.removeprefix("study-").rsplit("-", 2)
    dataset = next((d for d in ("fashion-mnist", "mnist") if head.startswith(d + "-")), None)
    if dataset is None or not n_part.startswith("n") or not seed_part.startswith("s"):
        return None
    return {
        "dataset": dataset,
        "config": head.removeprefix(dataset + "-"),
        "n_per_class": int(n_part[1:]),
        "subset_seed": int(seed_part[1:]),
    }


def queue_command(
    dataset: str, config: str, n_per_class: int, seed: int, extra: tuple[str, ...] = ()
) -> list[str]:
    sets = [
        f"experiment={config}",
        f"data.dataset={dataset}",
        "data.subset=random",
        f"n_per_class={n_per_class}",
        f"seed={seed}",
        *extra,
    ]
    name = experiment_name(dataset, config, n_per_class, seed)
    cmd = ["dvc", "exp", "run", "--queue", "-n", name]
    for item in sets:
        cmd += ["-S", item]
    return cmd


def experiments(show: Any, baseline: str | None = None) -> Iterator[dict[str, Any]]:
    """Every finished experiment record in `dvc exp show --json` output, with the git commit
    it was run on under `"baseline"` (experiments are nested under their baseline commit's
    record)."""
    if isinstance(show, list):
        for item in show:
            yield from experiments(item, baseline)
    elif isinstance(show, dict):
        executor = show.get("executor") or {}
        if executor.get("state") not in (None, "success"):
            return  # queued, running or failed: its record shows the baseline's metrics
        if baseline is None and show.get("rev") not in (None, "workspace"):
            baseline = show["rev"]
        if isinstance(show.get("data"), dict) and "name" in show:
            yield {**show, "baseline": baseline}
        for key in ("experiments", "revs"):
            if show.get(key):
                yield from experiments(show[key], baseline)


def exp_show(revs: list[str] | None = None) -> list[dict[str, Any]]:
    """The experiments of HEAD, or of each commit in `revs`."""
    cmd = ["dvc", "exp", "show", "--json"]
    for rev in revs or []:
        cmd += ["--rev", rev]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return list(experiments(json.loads(out)))


def queued_tasks() -> list[str]:
    """The tasks waiting in the DVC queue, which `dvc exp run --run-all` runs first."""
    out = subprocess.run(["dvc", "queue", "status"], check=True, capture_output=True, text=True)
    return parse_queue_status(out.stdout)


def parse_queue_status(text: str) -> list[str]:
    """The study names (or, for other tasks, the task ids) of the `Queued` rows of
    `dvc queue status`, whose columns are Task, Name, Created (a time or a date) and Status."""
    names = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 1 and parts[-1] == "Queued":
            names.append(next((p for p in parts[1:-1] if parse_name(p)), parts[0]))
    return names


def _file_data(files: dict[str, Any] | None, path: str) -> dict[str, Any]:
    entry = (files or {}).get(path) or {}
    return entry.get("data") or {}


def stage_records(log: Path = STAGE_LOG) -> list[dict[str, Any]]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def stage_seconds(records: list[dict[str, Any]], stage: str, params: dict[str, Any]) -> float:
    """The wall time of the last run of `stage` with exactly these params; NaN if none."""
    times = [r["wall_s"] for r in records if r.get("stage") == stage and r.get("params") == params]
    return times[-1] if times else float("nan")


def rows_from_experiment(
    exp: dict[str, Any], records: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One row per training source with a real-test metric; none for unfinished runs."""
    point = parse_name(exp.get("name") or "")
    if point is None:
        return []
    params = _file_data(exp["data"].get("params"), "params.yaml")
    train_cgan_s = stage_seconds(records or [], "train_cgan", params)
    point["config"] = former_names().get(point["config"], point["config"])
    metrics = exp["data"].get("metrics")
    generator = _file_data(metrics, paths.GENERATOR_METRICS.as_posix())
    scores = {f"generator_{score}": generator.get(score) for score in GENERATOR_SCORES}
    rows = []
    for source in paths.SOURCES:
        test = _file_data(metrics, paths.eval_metrics(source).as_posix())
        if "accuracy" not in test:
            continue
        live = _file_data(metrics, (paths.classifier_live(source) / "metrics.json").as_posix())
        rows.append(
            {
                **point,
                "source": source,
                "test_accuracy": test["accuracy"],
                "test_accuracy_tta": test.get("accuracy_tta"),
                "test_accuracy_single": test.get("accuracy_single", test["accuracy"]),
                "test_accuracy_members": joined(test.get("accuracy_members", [])),
                "test_accuracy_first_k": joined(test.get("accuracy_first_k", {}).values()),
                "own_training_accuracy": live.get("accuracy_on_own_training_data"),
                "machine": live.get("machine"),
                "experiment": exp["name"],
                "commit": exp.get("baseline"),
                **scores,
                "train_cgan_s": train_cgan_s,
            }
        )
    return rows


def joined(values: Any) -> str | None:
    """Several accuracies as one CSV cell ("0.9878;0.9891"); None for none."""
    return ";".join(map(str, values)) or None


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
    from scipy import stats

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
            n, mean = len(values), float(values.mean())
            if n > 1:
                half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))
                low, high = mean - half, mean + half
            else:
                low = high = float("nan")
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


def gap_cell(gap: pd.Series) -> str:
    """A paired difference in points with its interval: "+0.11 (-0.02 to +0.23)"."""
    interval = interval_text(gap["ci_low"], gap["ci_high"], none="one subset")
    return f"{100 * gap['mean']:+.2f} ({interval})"


def accuracy_cell(mean: float, sd: float, runs: int) -> str:
    """An accuracy (mean and sd in percent), with its sd where there are two runs or more."""
    spread = "" if runs < 2 else f" ± {sd:.2f}"
    return f"{mean:.2f}{spread}%"


def paired_markdown(paired: pd.DataFrame) -> str:
    """The paired table in points, as the results page shows it."""
    shown = paired.assign(
        mean=(100 * paired["mean"]).map("{:+.2f}".format),
        interval=[
            interval_text(low, high)
            for low, high in zip(paired["ci_low"], paired["ci_high"], strict=True)
        ],
    )
    columns = ["dataset", "config", "n_per_class", "comparison", "subsets", "mean", "interval"]
    return shown[[*columns, "verdict", "per_subset"]].to_markdown(
        index=False, disable_numparse=True
    )


RESULTS_PAGE = Path("docs/results.md")
# Pages whose tables the tabulation writes (between <!-- table:... --> markers).
GENERATED_PAGES = (RESULTS_PAGE, Path("README.md"))


def machine_name(machine: str) -> str:
    """A short name for a row's machine string: its accelerator or CPU kind."""
    for key, name in (("H100", "H100"), ("H200", "H200"), ("amx", "AMX CPU")):
        if key in machine:
            return name
    return "AVX512 CPU" if "avx512" in machine else "AVX2 CPU" if "avx2" in machine else machine


def accuracy_label(dataset: str) -> str:
    """The figures' accuracy axis, the dataset named as written."""
    return f"accuracy on the real {DATASET_TITLES.get(dataset, dataset)} test set (%)"


def headline_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows the preset table is made of: MNIST at 100 real images per class."""
    return rows[(rows["dataset"] == "mnist") & (rows["n_per_class"] == 100)]


def preset_table(rows: pd.DataFrame, paired: pd.DataFrame, names: tuple[str, ...]) -> str:
    """One row per preset in `names` with rows on MNIST at 100 per class: each source's mean
    +- sd over its runs, mixed - real with its 95% interval over subsets, the runs, machines
    and command (add -S data.subset=random -S seed=K for subset K)."""
    lines = [
        "| preset | real only | synthetic only | mixed | mixed − real (95% CI) | runs | machines "
        "| command |",
        "|:--|--:|--:|--:|--:|--:|:--|:--|",
    ]
    at = headline_rows(rows)
    for preset in names:
        mine = at[at["config"] == preset]
        if mine.empty:
            continue
        cells = []
        for source in ("real", "synthetic", "mixed"):
            acc = 100 * mine[mine["source"] == source]["test_accuracy"]
            cells.append(accuracy_cell(acc.mean(), acc.std(), len(acc)))
        gap = paired[
            (paired["dataset"] == "mnist")
            & (paired["config"] == preset)
            & (paired["n_per_class"] == 100)
            & (paired["comparison"] == "mixed - real")
        ].iloc[0]
        cells.append(gap_cell(gap))
        runs = mine[mine["source"] == "real"]
        cells.append(_runs(runs["subset_seed"].nunique(), len(runs)))
        cells.append(", ".join(sorted({machine_name(m) for m in runs["machine"]})))
        cells.append(f"`dvc exp run -S experiment={preset}`")
        lines.append(f"| `{preset}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def preset_description(name: str, conf: Path = PRESETS_DIR) -> str:
    """A preset's header comment, the one place that says what it is."""
    lines = (conf / f"{name}.yaml").read_text().splitlines()
    comment = [line.lstrip("# ").strip() for line in lines if line.startswith("#")]
    return " ".join(line for line in comment if line and line != "@package _global_")


def unmeasured_presets(rows: pd.DataFrame) -> str:
    """The presets with no rows on MNIST at 100 per class (so no row in the preset table),
    each with its description and the rows it has elsewhere."""
    measured = set(headline_rows(rows)["config"])
    items = []
    for preset in presets():
        if preset in measured:
            continue
        elsewhere = rows[rows["config"] == preset][["dataset", "n_per_class"]].drop_duplicates()
        where = ", ".join(f"{d} at {n} per class" for d, n in elsewhere.itertuples(index=False))
        rows_note = f" Study rows: {where}." if where else " No study rows."
        items.append(f"- `{preset}`: {preset_description(preset)}{rows_note}")
    return "\n".join(items)


def verdict_table(paired: pd.DataFrame) -> str:
    """Every mixed - real the README states, worded by its interval: the headline presets',
    and Fashion-MNIST's."""
    shown = paired[
        (paired["comparison"] == "mixed - real")
        & (paired["config"].isin(HEADLINE) | (paired["dataset"] == "fashion-mnist"))
    ].sort_values(["dataset", "config", "n_per_class"])
    lines = [
        "| dataset | configuration | n per class | subsets | mixed − real | 95% CI | verdict |",
        "|:--|:--|--:|--:|--:|--:|:--|",
    ]
    for _, r in shown.iterrows():
        name = f"`{r['config']}`"
        interval = interval_text(r["ci_low"], r["ci_high"])
        lines.append(
            f"| {r['dataset']} | {name} | {r['n_per_class']} | {r['subsets']} | "
            f"{100 * r['mean']:+.2f} | {interval} | {r['verdict']} |"
        )
    return "\n".join(lines)


def replace_block(text: str, name: str, content: str) -> str:
    """`text` with what stands between `<!-- name -->` and `<!-- /name -->` replaced."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{content}\n{end}{rest.split(end, 1)[1]}"


def curve_table(table: pd.DataFrame, paired: pd.DataFrame, dataset: str = "mnist") -> str:
    """Per size and CURVES preset: each source's mean +- sd over its runs and mixed - real with
    its 95% interval over subsets (the figure `study-<dataset>-curve.png` in numbers)."""
    lines = [
        "| n per class | classifier (preset) | real only | synthetic only | mixed "
        "| mixed − real (95% CI) | subsets |",
        "|--:|:--|--:|--:|--:|--:|--:|",
    ]
    mine = table[(table["dataset"] == dataset) & table["config"].isin(CURVES)]
    gaps = paired[(paired["dataset"] == dataset) & (paired["comparison"] == "mixed - real")]
    for (n, preset), point in mine.groupby(["n_per_class", "config"]):
        by_source = point.set_index("source")
        cells = []
        for source in ("real", "synthetic", "mixed"):
            if source not in by_source.index:
                cells.append("")
                continue
            r = by_source.loc[source]
            cells.append(accuracy_cell(100 * r["mean"], 100 * r["std"], r["runs"]))
        gap = gaps[(gaps["config"] == preset) & (gaps["n_per_class"] == n)]
        if gap.empty:
            cells += ["", ""]
        else:
            cells += [gap_cell(gap.iloc[0]), str(gap.iloc[0]["subsets"])]
        lines.append(f"| {n} | {CURVES[preset]} (`{preset}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_answer(paired: pd.DataFrame, dataset: str = "mnist") -> str:
    """The README's answer to "from how many real images per class on do generated images stop
    paying?", worded from each CURVES preset's mixed - real intervals: every size's gap, in
    bold where its 95% interval is above zero, and the size from which none is."""
    gaps = paired[(paired["dataset"] == dataset) & (paired["comparison"] == "mixed - real")]
    parts = []
    for preset, label in CURVES.items():
        mine = gaps[gaps["config"] == preset].sort_values("n_per_class")
        if mine.empty:
            continue
        cells, paying = [], []
        for _, r in mine.iterrows():
            text = f"{100 * r['mean']:+.2f} at {r['n_per_class']}".replace("-", "−")
            if r["subsets"] < 2:
                text += " (one subset)"
            elif r["ci_low"] > 0:
                paying.append(int(r["n_per_class"]))
                text = f"**{text}**"
            cells.append(text)
        if paying:
            after = [int(n) for n in mine["n_per_class"] if n > max(paying)]
            verdict = f"a gain shown at {' and '.join(map(str, paying))}"
            verdict += f", none from {after[0]} on" if after else ""
        elif len(mine) == 1:
            verdict = "no gain shown at the one size measured"
        else:
            verdict = "no gain shown at any size"
        parts.append(f"the {label} (`{preset}`) {', '.join(cells)}: {verdict}")
    if not parts:
        return ""
    return (
        "**Where generated images stop paying**, mixed − real in points by real images per "
        "class (bold: 95% interval above zero; [curve](docs/results.md#against-the-number-of-"
        "real-images)): " + "; ".join(parts) + "."
    )


def plot_curve_comparison(
    table: pd.DataFrame, paired: pd.DataFrame, out: Path, dataset: str = "mnist"
) -> Path | None:
    """`study-<dataset>-curve.png`: left, each CURVES preset's real-only, synthetic-only and
    mixed accuracy against n_per_class (mean and sd over subsets; solid the strong CNN, dashed
    the MLP); right, mixed - real on the same subsets with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = table[(table["dataset"] == dataset) & table["config"].isin(CURVES)]
    if mine.empty or mine.groupby("config")["n_per_class"].nunique().max() < 2:
        return None
    gaps = paired[
        (paired["dataset"] == dataset)
        & paired["config"].isin(CURVES)
        & (paired["comparison"] == "mixed - real")
    ]
    sizes = sorted(int(n) for n in mine["n_per_class"].unique())
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    styles = dict(zip(CURVES, ("--", "-"), strict=True))
    # The right panel has one colour, so the classifiers differ in marker and shade too.
    gap_styles = dict(zip(CURVES, (("s", "grey"), ("o", "black")), strict=True))
    for (preset, source), line in mine.groupby(["config", "source"]):
        line = line.sort_values("n_per_class")
        left.errorbar(line["n_per_class"], 100 * line["mean"], yerr=100 * line["std"].fillna(0),
                      marker="o", capsize=3, ls=styles[preset], color=SOURCE_COLOURS.get(source),
                      label=f"{CURVES[preset]}: {source}")  # fmt: skip
    for offset, (preset, line) in zip((0.97, 1.03), gaps.groupby("config"), strict=False):
        line = line.sort_values("n_per_class")
        mean = 100 * line["mean"].to_numpy()
        low = np.nan_to_num(mean - 100 * line["ci_low"].to_numpy())
        high = np.nan_to_num(100 * line["ci_high"].to_numpy() - mean)
        marker, shade = gap_styles[preset]
        right.errorbar(line["n_per_class"] * offset, mean, yerr=[low, high], marker=marker,
                       capsize=3, ls=styles[preset], color=shade, mfc="white",
                       label=f"{CURVES[preset]} ({preset})")  # fmt: skip
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


def results_page(rows: pd.DataFrame, paired: pd.DataFrame, page: Path = RESULTS_PAGE) -> str:
    """The results page with its generated tables brought up to date with the rows."""
    text = page.read_text()
    text = replace_block(text, "table:presets", preset_table(rows, paired, HEADLINE))
    others = tuple(name for name in presets() if name not in HEADLINE)
    text = replace_block(text, "table:all-presets", preset_table(rows, paired, HEADLINE + others))
    text = replace_block(text, "list:unmeasured-presets", unmeasured_presets(rows))
    text = replace_block(text, "table:curve", curve_table(summarise(rows), paired))
    text = replace_block(text, "answer:curve", curve_answer(paired))
    return replace_block(text, "table:verdicts", verdict_table(paired))


def classifier_of(config: str) -> str:
    """The classifier a configuration trains (mlp, lenet or strong): its preset's, or for a
    retired name the one its overrides in the history table name."""
    params = preset_params(config)
    if params is not None:
        return {"cnn": "strong"}.get(params["classifier"]["arch"], params["classifier"]["arch"])
    named = dict(o.split("=", 1) for o in retired_overrides().get(config, []) if "=" in o)
    if "classifier" in named:
        return named["classifier"]
    if "experiment" in named:
        return classifier_of(named["experiment"])
    raise ValueError(
        f"configuration {config!r}: neither a preset in conf/experiment/ nor a name in "
        "docs/results/history.csv, so its classifier is unknown; add it to the history table"
    )


def generator_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per generator run (configuration, subset, machine): its scores, the accuracy
    on the real test set of the configuration's classifier trained on its images alone (in
    `synthetic_accuracy` for the strong CNN, `synthetic_accuracy_mlp` for the MLP), and the
    `train_cgan` time."""
    synthetic = rows[rows["source"] == "synthetic"].copy()
    classifier = synthetic["config"].map(classifier_of)
    synthetic["synthetic_accuracy"] = synthetic["test_accuracy"].where(classifier == "strong")
    synthetic["synthetic_accuracy_mlp"] = synthetic["test_accuracy"].where(classifier == "mlp")
    renamed = {f"generator_{score}": score for score in GENERATOR_SCORES}
    renamed["generator_near_copy_fraction"] = "near_copies"
    table = synthetic.rename(columns=renamed).reindex(columns=GENERATOR_TABLE_COLUMNS)
    table = merge_twins(table)
    return table.sort_values(["dataset", "config", "n_per_class", "subset_seed", "machine"])


def mlp_twin(config: str) -> str | None:
    """The MLP preset that trains on the very images the strong-CNN preset `config` does: the
    same generator and generation (from the run cache), and no selection, which depends on
    the classifier."""
    params = preset_params(config)
    if params is None or classifier_of(config) != "strong" or params["generate"]["oversample"] > 1:
        return None
    images = {key: params[key] for key in IMAGE_KEYS}
    return next(
        (
            name
            for name in presets()
            if classifier_of(name) == "mlp"
            and {key: preset_params(name)[key] for key in IMAGE_KEYS} == images
        ),
        None,
    )


# The params sections that decide the generated images.
IMAGE_KEYS = ("seed", "n_per_class", "data", "cgan", "generate")


def merge_twins(table: pd.DataFrame) -> pd.DataFrame:
    """One row for a generator scored by both classifiers: a strong-CNN row joins its MLP
    twin's where both runs' images scored the same (same subset, machine and scores)."""
    table = table.reset_index(drop=True)
    twins = table["config"].map(mlp_twin)
    strong = table[twins.notna()].assign(config=twins[twins.notna()])
    keys = ["dataset", "n_per_class", "config", "subset_seed", "machine"]
    keys += ["recall", "coverage", "label_fidelity", "fid"]
    pairs = (
        table[twins.isna()]
        .reset_index(names="mlp_row")
        .merge(strong[keys].reset_index(names="strong_row"), on=keys)
        .drop_duplicates("strong_row")
    )
    mlp_rows, strong_rows = pairs["mlp_row"].to_numpy(), pairs["strong_row"].to_numpy()
    out = table.copy()
    strong_accuracy = table.loc[strong_rows, "synthetic_accuracy"].to_numpy()
    out.loc[mlp_rows, "synthetic_accuracy"] = strong_accuracy
    # the CGAN was trained by whichever of the two ran first; the other restored it
    cgan_s = pd.Series(table.loc[mlp_rows, "train_cgan_s"].to_numpy(dtype=float))
    cgan_s = cgan_s.fillna(pd.Series(table.loc[strong_rows, "train_cgan_s"].to_numpy(dtype=float)))
    out.loc[mlp_rows, "train_cgan_s"] = cgan_s.to_numpy()
    return out.drop(index=strong_rows)


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
    ax.set_yticks(range(len(configs)), [f"{c} ({_runs(*counts.loc[c])})" for c in configs])
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


def _runs(subsets: int, runs: int) -> str:
    text = "1 subset" if subsets == 1 else f"{subsets} subsets"
    return text if runs == subsets else f"{text}, {runs} runs"


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend sits outside the axes
    plt.close(fig)
    return path


# A point: dataset, n_per_class, configuration, source, subset, and the machine it ran on.
POINT = [*ROW_COLUMNS[:5], "machine"]


def merge_rows(committed: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The committed rows updated with the new ones: the row of the same point is replaced,
    the rest are kept (the CSV is the study's record across commits, while `dvc exp show`
    lists the experiments of one commit). Keyed by the configuration's current name, not the
    experiment's: a name that meant another configuration then (`fewshot` with DiffAugment)
    must not overwrite it. And by machine: a GAN trained on another CPU is another run (its
    kernels round differently), so it is kept beside the first, not in its place."""
    both = pd.concat([committed.reindex(columns=ROW_COLUMNS), new], ignore_index=True)
    both = both.drop_duplicates(POINT, keep="last")
    return both.sort_values(POINT).reset_index(drop=True)


def collect(out: Path, revs: list[str] | None = None) -> pd.DataFrame:
    new = pd.DataFrame(
        [row for exp in exp_show(revs) for row in rows_from_experiment(exp, stage_records())],
        columns=ROW_COLUMNS,
    )
    csv = out.with_suffix(".csv")
    committed = pd.read_csv(csv) if csv.is_file() else new.iloc[:0]
    rows = merge_rows(committed, new)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(csv, index=False)
    return tabulate(rows, out)


STUDY_TABLE_HEADER = """# The study: every configuration

Generated from the rows beside this file by `python scripts/study.py --tabulate-only`.
Accuracy on the real test set as a fraction (0.9885 is 98.85%): `mean`, `std`, `min` and `max`
over `runs` (on `subsets` distinct subsets; for the retired runs on the first-100 subset,
`docs/results/history.csv` says so, distinct seeds); `mean_tta` averages 9 shifted views of
each test image, over the `runs_tta` runs that recorded it; `mean_single` is an ensemble's
first member alone (the classifier itself where there is no ensemble).

"""


def tabulate(rows: pd.DataFrame, out: Path) -> pd.DataFrame:
    """The summary table and figures of the rows, beside the CSV."""
    if rows.empty:
        print("no finished study experiments in `dvc exp show` yet")
        return rows
    table = summarise(rows)
    paired = paired_differences(rows)
    out.with_suffix(".md").write_text(
        STUDY_TABLE_HEADER
        + table.to_markdown(index=False, floatfmt=".4f")
        + "\n\nPaired differences in points on the real test set (per subset, then the mean "
        "and a 95% t interval over subsets):\n\n" + paired_markdown(paired) + "\n"
    )
    paired.to_csv(out.with_name(out.name + "-paired.csv"), index=False)
    if out == Path("docs/results/study"):  # the committed study: its tables in the docs
        for page in GENERATED_PAGES:
            if page.is_file():
                page.write_text(results_page(rows, paired, page))
    generator_table(rows).to_csv(out.with_name(out.name + "-generators.csv"), index=False)
    # The figures show what users can run by name; the CSV and table keep every row.
    figures = plot_curves(table[table["config"].isin(presets())], out, paired)
    curve = plot_curve_comparison(table, paired, out)
    figures += [curve] if curve else []
    print(table.to_markdown(index=False, floatfmt=".4f"))
    print(f"-> {out.with_suffix('.csv')}, {out.with_suffix('.md')}, {', '.join(map(str, figures))}")
    return rows


def stage_env(jobs: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The queued stages' environment: the stage log, and how many experiments run side by
    side ($FEWSHOT_JOBS), from which each stage takes its share of the CPUs as threads
    (fewshot/threads.py; OMP_NUM_THREADS still wins). Small networks scale badly across
    threads: on 2 cores, two few-shot CGANs at one thread each train 1.3x faster than one
    after the other at two (docs/results.md)."""
    return {
        **environ,
        "FEWSHOT_RESOURCE_LOG": str(STAGE_LOG.resolve()),
        "FEWSHOT_JOBS": str(jobs),
    }


WORKERS = Path(".dvc/tmp/exps/celery")


def stop_lingering_workers(workers: Path = WORKERS) -> list[int]:
    """Stop the DVC queue workers still up once `dvc exp run --run-all` has returned, and
    return their pids. A worker told to stop on an empty queue while its task still ran can
    stay up for good (DVC 3.67, celery 5.7), holding the stdout of whoever ran the study
    open; `dvc queue stop` does not reach it, SIGTERM (celery's warm shutdown) does."""
    stopped = []
    for record in sorted(workers.glob("dvc-exp-worker-*.json")):
        pid = json.loads(record.read_text()).get("pid")
        try:
            worker = psutil.Process(pid)
            if "queue-worker" in worker.cmdline():  # not another process given its pid
                worker.terminate()
                stopped.append(pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, TypeError, ValueError):
            continue
    return stopped


def check_remote(remote: str) -> None:
    """One clear line, before any experiment runs, when the shared remotes are not usable."""

    def ok(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True)

    if ok("git", "remote", "get-url", remote).returncode != 0:
        sys.exit(
            f"error: --remote {remote!r} is not a git remote of this repository "
            f"(`git remote add {remote} <url>` first)"
        )
    reached = ok("git", "ls-remote", "--heads", remote)
    if reached.returncode != 0:
        why = (reached.stderr.strip().splitlines() or ["no answer"])[-1]
        sys.exit(f"error: git remote {remote!r} is not reachable: {why}")
    if ok("dvc", "remote", "default").returncode != 0:  # "No default remote set"
        sys.exit(
            "error: no default DVC remote for the experiments' outputs and run cache "
            "(`dvc remote add -d <name> <url>`, committed in .dvc/config)"
        )


def remote_experiments(remote: str) -> set[str]:
    """The study experiments of HEAD that some machine already pushed to `remote`."""
    out = subprocess.run(
        ["dvc", "exp", "list", remote, "--name-only"], check=True, capture_output=True, text=True
    ).stdout
    return {line.strip() for line in out.splitlines() if parse_name(line.strip())}


def pull_experiments(remote: str) -> None:
    """Every experiment of HEAD that any machine pushed, with its outputs (for collecting)."""
    names = sorted(remote_experiments(remote))
    if names:
        pull = ["dvc", "exp", "pull", "--force", "--no-cache", remote, *names]
        subprocess.run(pull, check=True)  # rows need only the committed metrics
    print(f"pulled {len(names)} experiment(s) of HEAD from {remote}")


def run_points(
    commands: dict[str, list[str]], jobs: int, env: Mapping[str, str], remote: str | None
) -> None:
    """Queue and run the experiments (`commands`: name -> `dvc exp run --queue` command),
    `jobs` at a time. With a remote, a batch of `jobs` is queued, run and pushed before the
    next, so a machine that dies loses only the batch it was running."""
    names = list(commands)
    size = jobs if remote is not None else max(1, len(names))
    for start in range(0, len(names), size):
        batch = names[start : start + size]
        for name in batch:
            subprocess.run(commands[name], check=True)
        run_all = ["dvc", "exp", "run", "--run-all", "--jobs", str(jobs)]
        subprocess.run(run_all, check=True, env=env)
        stop_lingering_workers()
        if remote is not None:
            done = sorted({exp["name"] for exp in exp_show()} & set(batch))
            if done:
                push = ["dvc", "exp", "push", "--run-cache", remote, *done]
                subprocess.run(push, check=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--grid",
        default="default",
        help="the grid to run (conf/study/<GRID>.yaml); the flags below override its keys",
    )
    parser.add_argument(
        "--protocol", action="store_true", help="the timed protocol: the same as --grid protocol"
    )
    parser.add_argument("--datasets", nargs="+", choices=("mnist", "fashion-mnist"))
    parser.add_argument(
        "--presets",
        "--configs",
        nargs="+",
        metavar="PRESET",
        help="named configurations (conf/experiment/); a former name runs its preset",
    )
    parser.add_argument("--n-per-class", type=int, nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="extra params for every experiment, as `dvc exp run -S` (e.g. a shorter budget)",
    )
    parser.add_argument("--jobs", type=int, help="experiments run at a time")
    parser.add_argument(
        "--shard",
        type=parse_shard,
        metavar="K/N",
        help="run only the K-th of N slices of the grid (one per machine; see --remote)",
    )
    parser.add_argument(
        "--remote",
        metavar="GIT_REMOTE",
        help="share the study through this git remote and the default DVC remote: points "
        "any machine pushed are not run again, each finished batch is pushed "
        "(`dvc exp push --run-cache`), and --collect-only first pulls them all",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results/study"))
    parser.add_argument("--plan", action="store_true", help="print the queue commands only")
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument(
        "--tabulate-only",
        action="store_true",
        help="rebuild the table and figures from the committed CSV alone (no DVC)",
    )
    parser.add_argument(
        "--rev",
        action="append",
        help="with --collect-only: gather the experiments of this commit (default HEAD)",
    )
    args = parser.parse_args(argv)
    grid = load_grid("protocol" if args.protocol else args.grid)
    for key, default in (("datasets", ["mnist"]), ("jobs", 1), ("set", [])):
        grid.setdefault(key, default)
    for key, value in grid.items():
        if getattr(args, key) is None:  # a flag given beside the grid wins
            setattr(args, key, value)
    missing = [key for key in ("presets", "n_per_class", "seeds") if not args.__dict__.get(key)]
    if missing:
        parser.error(f"--grid {args.grid} sets no {', '.join(missing)}: give them as flags")
    args.presets = [resolve_preset(name, parser) for name in args.presets]
    return args


def resolve_preset(name: str, parser: argparse.ArgumentParser) -> str:
    """A preset by its name or a former one; anything else ends in one line naming the choices."""
    known = presets()
    if name in known:
        return name
    now = former_names().get(name)
    if now in known:
        print(f"note: {name} is now the preset {now} ({HISTORY})")
        return now
    parser.error(
        f"--presets {name}: not a preset in {PRESETS_DIR}/ (choose from {', '.join(known)})"
    )


def main() -> None:
    args = parse_args()
    if args.tabulate_only:
        tabulate(pd.read_csv(args.out.with_suffix(".csv")), args.out)
        return
    if shutil.which("dvc") is None:
        sys.exit("error: `dvc` is not on PATH: run `make study` or activate .venv first")
    if args.remote:
        check_remote(args.remote)
    if args.collect_only:
        if args.remote:
            pull_experiments(args.remote)
        collect(args.out, args.rev)
        return
    grid = list(itertools.product(args.datasets, args.presets, args.n_per_class, args.seeds))
    points = shard_points(grid, args.shard)
    if args.shard:
        print(f"shard {args.shard[0]}/{args.shard[1]}: {len(points)} of {len(grid)} point(s)")
    known = {exp["name"] for exp in exp_show() if parse_name(exp.get("name") or "")}
    if args.remote:
        known |= remote_experiments(args.remote)
    # Tasks an interrupted study left queued run below, not queued twice; any others run first.
    queued = set(queued_tasks())
    todo = [p for p in points if experiment_name(*p) not in known | queued]
    others = sorted(queued - {experiment_name(*p) for p in points})
    if others:
        print(
            f"warning: {len(others)} queued task(s) outside this plan will run first: "
            f"{', '.join(others)} (`dvc queue remove --queued` drops them)"
        )
    print(f"{len(todo)} experiment(s) to queue; {len(known)} already in `dvc exp show`")
    if args.plan:
        for point in todo:
            print(" ".join(queue_command(*point, tuple(args.set))))
        return
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout
    if dirty.strip():
        sys.exit("error: the git workspace has uncommitted changes; queued runs use the commit")
    start = time.perf_counter()
    STAGE_LOG.parent.mkdir(parents=True, exist_ok=True)
    commands = {experiment_name(*p): queue_command(*p, tuple(args.set)) for p in todo}
    env = stage_env(args.jobs, os.environ)
    run_points(commands, args.jobs, env, args.remote)
    collect(args.out)
    minutes = (time.perf_counter() - start) / 60
    from fewshot.device import machine_summary  # torch, for this line only

    print(f"{len(todo)} experiment(s) queued, run and collected in {minutes:.1f} min on "
          f"{machine_summary()}, {args.jobs} at a time")  # fmt: skip


if __name__ == "__main__":
    main()
