"""Write the pull-request report: this branch's results against a base revision.

    python scripts/report.py --rev origin/main --out report     # or: make report REV=origin/main

report/report.md opens with what a reviewer needs, in this order:

1. stale results, loudly: params or code that a stage depends on differ from what dvc.lock
   recorded, so the committed numbers do not describe this commit (exit status 3 with
   --strict, which the workflow uses to fail);
2. a change of machine between base and head, with the spread measured across machines;
3. one table: real-test accuracy per training source, mixed minus real and the generator's
   label fidelity, recall and FID, at base and head, with each accuracy's 95% interval from
   the test-set size and each change labelled against the larger of test-set noise and the
   run-to-run spread the study measured for this configuration (docs/results/study.csv),
   the limit printed beside it;

then, collapsed, the metrics that changed, `dvc params diff`, and a few plots as PNG.
Every file it reads is committed (`cache: false`), so it works on a fresh clone with no DVC
cache and no remote. `cml comment update report/report.md` posts it (.github/workflows/).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fewshot import paths

STUDY_ROWS = Path("docs/results/study.csv")
EXIT_STALE = 3
Z95 = 1.959964


class ReportError(RuntimeError):
    """Bad input: reported in one line, exit status 2."""


def run(*cmd: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReportError(f"`{' '.join(cmd)}` failed: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout


def git_blob(rev: str | None, path: Path | str) -> bytes | None:
    """A committed file's bytes at `rev` (the workspace's when `rev` is None); None if absent."""
    path = Path(path)
    if rev is None:
        return path.read_bytes() if path.is_file() else None
    result = subprocess.run(["git", "show", f"{rev}:{path.as_posix()}"], capture_output=True)
    return result.stdout if result.returncode == 0 else None


def git_file(rev: str | None, path: Path | str) -> str | None:
    """The same, as text."""
    blob = git_blob(rev, path)
    return None if blob is None else blob.decode()


def git_json(rev: str | None, path: Path | str) -> dict[str, Any]:
    text = git_file(rev, path)
    return json.loads(text) if text else {}


# --- 1. stale results -------------------------------------------------------------------


def overlaps(a: str, b: str) -> bool:
    """Two DVC paths name the same file or one lies inside the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


# A stage whose output is the same whatever it reran with: nothing after it reruns with it.
CONSTANT_OUTPUT = {"check_params"}


def stale_stages(status: dict[str, Any], lock: dict[str, Any]) -> dict[str, list[str]]:
    """Stages whose own params or git-tracked dependencies changed since dvc.lock, with what
    changed, then every stage downstream of them ("after ..."). `status` is
    `dvc status --json`; a dependency that is another stage's output (data, models) only
    looks changed in a clone without the DVC cache, so it is not counted."""
    outs = {o["path"] for s in lock.get("stages", {}).values() for o in s.get("outs", [])}

    changed: dict[str, list[str]] = {}
    for stage, entries in status.items():
        reasons = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            for params in (entry.get("changed params") or {}).values():
                reasons += [f"param {name}" for name in params]
            for path, state in (entry.get("changed deps") or {}).items():
                if isinstance(state, dict):  # a params file: {name: "new" | "modified" | ...}
                    reasons += [f"param {name} {how}" for name, how in state.items()]
                elif not any(overlaps(path, o) for o in outs):
                    reasons.append(f"{path} {state}")
        if reasons:
            changed[stage] = sorted(set(reasons))
    # Everything downstream reruns too: a stage that depends on a changed stage's output.
    stages = lock.get("stages", {})
    frontier = [s for s in changed if s not in CONSTANT_OUTPUT]
    while frontier:
        upstream = frontier.pop()
        made = [o["path"] for o in stages.get(upstream, {}).get("outs", [])]
        for name, stage in stages.items():
            deps = [d["path"] for d in stage.get("deps", [])]
            hit = any(overlaps(d, m) for d in deps for m in made)
            if hit and name not in changed:
                changed[name] = [f"after {upstream}"]
                frontier.append(name)
    return changed


def find_stale() -> dict[str, list[str]]:
    lock_text = git_file(None, "dvc.lock")
    if lock_text is None:
        return {"(all)": ["no dvc.lock: the pipeline has never been run"]}
    status = json.loads(run("dvc", "status", "--json") or "{}")
    return stale_stages(status, yaml.safe_load(lock_text))


# --- 2. numbers and their noise ---------------------------------------------------------


def wilson(p: float, n: int) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy `p` measured on `n` test images."""
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return centre - half, centre + half


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


def has_bf16(machine: str | None) -> bool:
    return bool(machine) and ("bf16" in machine or "CUDA" in machine)


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
    for key, _, _ in GENERATOR_ROWS:
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


def machine_name(machine: str | None) -> str:
    from study import machine_name as short

    return short(machine) if machine else "an unrecorded machine"


def verdict(
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


# --- 3. the report ----------------------------------------------------------------------

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


def binomial_limit(a: float, n_a: int, b: float, n_b: int) -> float:
    """1.96 × the sd of the difference of two accuracies measured on n_a and n_b images."""
    return Z95 * math.sqrt(a * (1 - a) / n_a + b * (1 - b) / n_b)


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
            label = verdict(b - a, spread.limit(source) if spread else None, noise)
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
        label = verdict(gaps[1] - gaps[0], spread.limit("mixed − real") if spread else None, noise)
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
            label = verdict(b - a, spread.limit(key) if spread else None, noise, kind != "fid")
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


def short_commit(rev: str) -> str:
    return run("git", "rev-parse", "--short", rev).strip()


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
            from plots_page import base_then_head

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="git revision to compare with (HEAD)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder")
    parser.add_argument(
        "--strict", action="store_true", help=f"exit {EXIT_STALE} when the results are stale"
    )
    args = parser.parse_args()
    try:
        report, stale = build_report(args.rev, args.out)
    except ReportError as error:
        print(f"report: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {report}")
    if stale:
        print(
            f"report: stale results, {len(stale)} stage(s) would rerun: {', '.join(stale)}",
            file=sys.stderr,
        )
        if args.strict:
            sys.exit(EXIT_STALE)


if __name__ == "__main__":
    main()
