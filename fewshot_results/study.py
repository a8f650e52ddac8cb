"""The study, end to end: a grid's points as queued DVC experiments, collected into the
committed CSV, then the summary table, the paired table, the generator table and the figures
beside it.

A grid (conf/study/<name>.yaml: datasets x presets x n_per_class x subset seeds) is data; a
preset is a named configuration in conf/experiment/. Every point is one DVC experiment, queued
with `dvc exp run --queue` and run by `dvc exp run --run-all` (DVC's queue). Resumable:
experiments already in `dvc exp show` (done or queued) are not queued again, and stages already
run with the same code, params and inputs come back from DVC's run cache.

On several machines, each a clone of the same commit sharing one git remote and one default
DVC remote (.dvc/config): machine K of N runs `--shard K/N --remote origin`, pushing each
finished batch of experiments (with outputs and run cache); a point any machine pushed is not
run again, so a rerun of a shard finishes what a dead machine left. Then, anywhere,
`--collect-only --remote origin` pulls every experiment of the commit and gathers the rows.

The study is that of the current commit (`dvc exp show` lists the experiments of HEAD): after a
new commit, points are queued again, and stages whose code and inputs did not change come from
the run cache. The CSV is the record across commits: collecting replaces the rows of the
experiments it finds and keeps the others, each row naming the commit its experiment ran on.
The README's and the results page's generated blocks are written on purpose, by `write_pages`
(`make pages`), never as a side effect of a run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from fewshot_results.experiments import (
    STAGE_LOG,
    exp_show,
    experiment_name,
    parse_name,
    queue_command,
    queued_tasks,
    remote_experiments,
    run_points,
    stage_env,
)
from fewshot_results.figures import plot_curve_comparison, plot_curves
from fewshot_results.pages import GENERATED_PAGES, STUDY_TABLE_HEADER, paired_markdown, results_page
from fewshot_results.registry import presets
from fewshot_results.rows import (
    ROW_COLUMNS,
    generator_table,
    merge_rows,
    rows_from_experiment,
    stage_records,
)
from fewshot_results.stats import paired_differences, summarise


def collect(out: Path, revs: list[str] | None = None) -> pd.DataFrame:
    """The rows of the experiments of HEAD (or `revs`) merged into `out`.csv, then tabulated."""
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


def merge_csv(out: Path, other: Path) -> pd.DataFrame:
    """The rows of another clone's study CSV (a lane that collected its own experiments)
    merged into `out`.csv as `collect` merges experiments, then tabulated."""
    csv = out.with_suffix(".csv")
    rows = merge_rows(pd.read_csv(csv), pd.read_csv(other))
    rows.to_csv(csv, index=False)
    return tabulate(rows, out)


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
    generator_table(rows).to_csv(out.with_name(out.name + "-generators.csv"), index=False)
    # The figures show what users can run by name; the CSV and table keep every row.
    figures = plot_curves(table[table["config"].isin(presets())], out, paired)
    curve = plot_curve_comparison(table, paired, out)
    figures += [curve] if curve else []
    print(table.to_markdown(index=False, floatfmt=".4f"))
    print(f"-> {out.with_suffix('.csv')}, {out.with_suffix('.md')}, {', '.join(map(str, figures))}")
    return rows


def run_study(
    points: list[tuple[str, str, int, int]],
    extra: tuple[str, ...],
    jobs: int,
    remote: str | None,
    out: Path,
    plan: bool = False,
) -> None:
    """Queue and run the points (dataset, preset, n_per_class, subset seed) not yet run here or
    on `remote`, `jobs` at a time, then collect every experiment of HEAD into `out`."""
    known = {exp["name"] for exp in exp_show() if parse_name(exp.get("name") or "")}
    if remote:
        known |= remote_experiments(remote)
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
    if plan:
        for point in todo:
            print(" ".join(queue_command(*point, extra)))
        return
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout
    if dirty.strip():
        sys.exit("error: the git workspace has uncommitted changes; queued runs use the commit")
    start = time.perf_counter()
    STAGE_LOG.parent.mkdir(parents=True, exist_ok=True)
    commands = {experiment_name(*p): queue_command(*p, extra) for p in todo}
    run_points(commands, jobs, stage_env(jobs, os.environ), remote)
    collect(out)
    minutes = (time.perf_counter() - start) / 60
    from fewshot.device import machine_summary  # torch, for this line only

    print(f"{len(todo)} experiment(s) queued, run and collected in {minutes:.1f} min on "
          f"{machine_summary()}, {jobs} at a time")  # fmt: skip


def write_pages(rows: pd.DataFrame, pages: tuple[Path, ...] = GENERATED_PAGES) -> list[Path]:
    """Bring the generated blocks of the README and the results page up to date with `rows`."""
    paired = paired_differences(rows)
    written = []
    for page in pages:
        if page.is_file():
            page.write_text(results_page(rows, paired, page))
            written.append(page)
    return written
