"""The pull-request report: this branch's results against a base revision, as markdown.

It opens with stale results, a change of machine, and one table of real-test accuracy per
source with each change judged against test-set noise and the study's run-to-run spread;
then, collapsed, the metrics and params that changed and a few plots. Every file it reads is
committed, so it works on a fresh clone with no DVC cache."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fewshot import paths
from fewshot_results.gitfiles import ReportError, git_blob, git_file, git_json, run, short_commit
from fewshot_results.machines import machine_name
from fewshot_results.spread import study_spread
from fewshot_results.stale import find_stale
from fewshot_results.stats import Spread, binomial_limit, change_verdict, wilson

EXIT_STALE = 3


@dataclass
class Side:
    """One revision's results: accuracies per source, generator scores, params, machine."""

    accuracy: dict[str, float]
    test_images: dict[str, int]
    generator: dict[str, Any]
    params: dict[str, Any]
    machine: str | None

    @classmethod
    def read(cls, rev: str | None) -> Side:
        evals = {s: git_json(rev, paths.eval_metrics(s)) for s in paths.SOURCES}
        live = git_json(rev, paths.classifier_live("real") / "metrics.json")
        return cls(
            accuracy={s: e["accuracy"] for s, e in evals.items() if "accuracy" in e},
            test_images={s: int(e.get("test_images", 0)) for s, e in evals.items()},
            generator=git_json(rev, paths.GENERATOR_METRICS),
            params=yaml.safe_load(git_file(rev, "params.yaml") or "{}") or {},
            machine=live.get("machine"),
        )


ROW_NAMES = {"real": "real only", "synthetic": "synthetic only", "mixed": "mixed"}


GENERATOR_ROWS = (
    ("label_fidelity", "label fidelity (higher better)", "pct"),
    ("recall", "recall (higher better)", "pct"),
    ("fid", "FID, judge features (lower better)", "fid"),
)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def accuracy_cell(value: float | None, n: int) -> str:
    if value is None:
        return "—"
    low, high = wilson(value, n)
    return f"{100 * value:.2f}% ({100 * low:.1f}–{100 * high:.1f})"


def test_set_size(side: Side, source: str) -> int:
    return side.test_images.get(source) or 10000


def generator_cell(value: float | None, kind: str, side: Side) -> str:
    if value is None:
        return "—"
    if kind == "fid":
        reference = side.generator.get("fid_real_subset")
        return f"{value:.1f}" + (f" (real: {reference:.1f})" if reference is not None else "")
    return pct(value)


def key_table(base: Side, head: Side, spread: Spread | None) -> list[str]:
    lines = ["| result | base | head | change | |", "|:--|--:|--:|--:|:--|"]
    for source, name in ROW_NAMES.items():
        a, b = base.accuracy.get(source), head.accuracy.get(source)
        n_a, n_b = test_set_size(base, source), test_set_size(head, source)
        change, label = "", ""
        if a is not None and b is not None:
            change = f"{100 * (b - a):+.2f} pt"
            noise = binomial_limit(a, n_a, b, n_b)
            label = change_verdict(b - a, spread.limit(source) if spread else None, noise)
        lines.append(
            f"| {name} | {accuracy_cell(a, n_a)} | {accuracy_cell(b, n_b)} | {change} | {label} |"
        )
    gaps = []
    for side in (base, head):
        acc = side.accuracy
        gaps.append(acc["mixed"] - acc["real"] if {"mixed", "real"} <= set(acc) else None)
    change, label = "", ""
    if gaps[0] is not None and gaps[1] is not None:
        change = f"{100 * (gaps[1] - gaps[0]):+.2f} pt"
        # Four accuracies, treated as independent at their worst (p = 0.5): conservative.
        n_a, n_b = test_set_size(base, "real"), test_set_size(head, "real")
        noise = math.sqrt(2) * binomial_limit(0.5, n_a, 0.5, n_b)
        label = change_verdict(
            gaps[1] - gaps[0], spread.limit("mixed − real") if spread else None, noise
        )
    cells = ["—" if g is None else f"{100 * g:+.2f} pt" for g in gaps]
    lines.append(f"| mixed − real | {cells[0]} | {cells[1]} | {change} | {label} |")
    for key, name, kind in GENERATOR_ROWS:
        a, b = base.generator.get(key), head.generator.get(key)
        change, label = "", ""
        if a is not None and b is not None:
            change = f"{b - a:+.1f}" if kind == "fid" else f"{100 * (b - a):+.2f} pt"
            noise = None
            if key == "label_fidelity":  # the judge's verdicts on every generated image
                n_a, n_b = (side.generator.get("n_generated") or 10000 for side in (base, head))
                noise = binomial_limit(a, n_a, b, n_b)
            label = change_verdict(
                b - a, spread.limit(key) if spread else None, noise, kind != "fid"
            )
        lines.append(
            f"| {name} | {generator_cell(a, kind, base)} | {generator_cell(b, kind, head)} "
            f"| {change} | {label} |"
        )
    return lines


def describe_run(side: Side) -> str:
    p = side.params
    if not p:
        return "no results"
    return (
        f"{p['data']['dataset']}, {p['n_per_class']} per class, generator "
        f"`{p['cgan']['generator']}`, classifier `{p['classifier']['arch']}`"
    )


def header(
    rev: str, base: Side, head: Side, stale: dict[str, list[str]], spread: Spread | None
) -> list[str]:
    title = f"head (this branch, {short_commit('HEAD')}) vs base (`{rev}`, {short_commit(rev)})"
    lines = [f"# Pipeline report: {title}\n"]
    if stale:
        lines += [
            "> [!CAUTION]",
            "> **Stale results: the committed numbers do not describe this commit.** Params or "
            "code changed since `dvc.lock` was written; `dvc repro` would rerun:",
            ">",
            *(f"> - `{stage}`: {', '.join(why)}" for stage, why in stale.items()),
            ">",
            "> Run `dvc repro` (or `dvc exp run`), commit `dvc.lock` and the results, and push.\n",
        ]
    if base.machine and head.machine and base.machine != head.machine:
        across = (
            f"the same subsets trained on different machines differed by "
            f"{100 * spread.across_machines:.2f} pt (sd, {spread.describe()})"
            if spread and spread.across_machines is not None
            else "the spread across machines is not measured for this configuration; "
            "treat every change as possibly the machine's"
        )
        lines += [
            "> [!WARNING]",
            f"> **Different machines.** Base ran on {base.machine}; head on {head.machine}. "
            f"Another CPU is another training: {across}.\n",
        ]
    if describe_run(base) == describe_run(head):
        lines.append(f"Both: {describe_run(head)}.\n")
    else:
        lines.append(f"Base: {describe_run(base)}. Head: {describe_run(head)}.\n")
    return lines


def footnotes(spread: Spread | None, head: Side) -> list[str]:
    notes = [
        "Accuracies are on the real test set, which no model trained on; in brackets the 95% "
        "Wilson interval from the number of test images. Each change is judged against the "
        "larger of two limits, printed beside it: test-set noise (binomial) and, where the "
        "study measured this configuration, its run-to-run spread."
    ]
    if spread:
        names = {key: name.split(" (")[0] for key, name, _ in GENERATOR_ROWS}
        sds = ", ".join(
            f"{names.get(k, k)} {v:.1f}" if k == "fid" else f"{names.get(k, k)} {100 * v:.2f} pt"
            for k, v in spread.sd.items()
        )
        notes.append(
            f"Run-to-run spread (sd) measured by the study for {spread.describe()}: {sds}. "
            f"The limit is t({spread.runs - 1}) × √2 × sd: a difference of two runs, with the "
            "sd estimated from few runs."
        )
        if head.params.get("data", {}).get("subset") != "random":
            notes.append(
                "The study's runs are on random subsets and this one is not, so its spread "
                "includes how much the subset itself moves the results: a retrained run on the "
                "same subset usually moves less."
            )
        if machine_name(head.machine) not in spread.machines:
            notes.append(
                f"Head ran on {machine_name(head.machine)}, where the study did not run this "
                "configuration: another CPU is another training, so read the limits as rough."
            )
    else:
        notes.append(
            "The study has not measured this configuration's run-to-run spread, so changes "
            "are compared with test-set noise alone (binomial), which understates it: a "
            "retrained GAN alone can move synthetic-only accuracy by several points."
        )
    return [f"<sub>{n}</sub>\n" for n in notes]


def details(summary: str, body: str) -> list[str]:
    return [f"<details><summary>{summary}</summary>\n", body.strip() + "\n", "</details>\n"]


CHARTS = ("Real-test accuracy by training source", "Per-class real-test accuracy")


def plots_section(rev: str, out: Path) -> list[str]:
    """Two charts of `dvc plots diff` as PNG, the CGAN's last sample grid and the misclassified
    test images, base above head; all from committed files."""
    import vl_convert

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        data = json.loads(run("dvc", "plots", "diff", rev, "--json", "-o", tmp)).get("data") or {}
    for title in CHARTS:
        for i, entry in enumerate(e for e in data.get(title, []) if e["type"] == "vega"):
            png = out / f"chart-{len(lines)}-{i}.png"
            from fewshot_results.plots_page import base_then_head

            spec = base_then_head(entry["content"], rev)
            png.write_bytes(vl_convert.vegalite_to_png(spec, scale=1.5))
            lines.append(f"![{title}]({png.name})\n")  # the chart carries its own title
    images = [("CGAN samples, last epoch", last_sample_grid)]
    images += [
        (
            f"Misclassified test images, trained on {s}",
            lambda s=s: paths.PLOTS / "evaluate" / "misclassified" / f"{s}.png",
        )
        for s in paths.SOURCES
    ]
    for title, locate in images:
        path = locate()
        if path is None:
            continue
        blobs = {"base": git_blob(rev, path), "head": git_blob(None, path)}
        if blobs["base"] is not None and blobs["base"] == blobs["head"]:
            name = f"both-{path.as_posix().replace('/', '-')}"
            (out / name).write_bytes(blobs["head"])
            lines += [f"**{title}** (unchanged)\n", f"![{title}]({name})\n"]
            continue
        cells = []
        for label, blob in blobs.items():
            if blob is None:
                cells.append(f"{label}: none\n")
                continue
            name = f"{label}-{path.as_posix().replace('/', '-')}"
            (out / name).write_bytes(blob)
            which = rev if label == "base" else "this branch"
            cells.append(f"{label} (`{which}`):\n\n![{title}, {label}]({name})\n")
        lines += [f"**{title}**\n", *cells]
    return lines


def last_sample_grid() -> Path | None:
    grids = sorted((paths.CGAN_LIVE / "plots" / "images" / "samples").glob("*.png"))
    return grids[-1] if grids else None


def check_inputs(rev: str) -> None:
    if subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True).returncode != 0:
        raise ReportError("not inside a git repository")
    resolved = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"], capture_output=True
    )
    if resolved.returncode != 0:
        raise ReportError(f"--rev {rev!r} is not a git revision of this repository")
    if git_file(rev, "dvc.yaml") is None:
        raise ReportError(f"--rev {rev!r} has no dvc.yaml: it holds no pipeline to compare with")
    if not Path("dvc.yaml").is_file():
        raise ReportError("no dvc.yaml here: run the report from the repository's root")
    missing = [s for s in paths.SOURCES if not paths.eval_metrics(s).is_file()]
    if missing:
        raise ReportError(
            f"the workspace has no results ({paths.eval_metrics(missing[0])} is missing): "
            "run `dvc repro` first"
        )


def diff_table(markdown: str, nothing: str) -> str:
    """A `dvc ... diff --md` table, or `nothing` when it has no row below its header (dvc
    prints the header alone when nothing changed)."""
    rows = [line for line in markdown.strip().splitlines() if line.startswith("|")]
    return markdown.strip() if len(rows) > 2 else nothing


def build_report(rev: str, out: Path) -> tuple[Path, dict[str, list[str]]]:
    check_inputs(rev)
    stale = find_stale()
    base, head = Side.read(rev), Side.read(None)
    spread = study_spread(head.params, head.machine)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    metrics = diff_table(run("dvc", "metrics", "diff", rev, "--md"), "No metric changed.")
    params = diff_table(run("dvc", "params", "diff", rev, "--md"), "No param changed.")
    lines = [
        *header(rev, base, head, stale, spread),
        *key_table(base, head, spread),
        "",
        *footnotes(spread, head),
        *details("Every metric that changed (<code>dvc metrics diff</code>)", metrics),
        *details("Params (<code>dvc params diff</code>)", params),
        *details("Plots", "\n".join(plots_section(rev, out))),
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report, stale
