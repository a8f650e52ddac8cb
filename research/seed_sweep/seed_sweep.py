"""Run the pipeline for several seeds and classifiers with `dvc exp run`; tabulate the spread.

Each run is a DVC experiment (see `dvc exp show`) over presets from conf/ (`cgan=recipe|fewshot`,
`classifier=mlp|lenet|strong`); DVC's run cache restores any stage already run with the same
code, params and inputs (the CGAN when only the classifier or the generation changes). Every
run appends its rows to the CSV at once (an interrupted sweep keeps what it measured):
real-test accuracy per classifier and source, the generator's scores, the `train_cgan` wall
time when the stage ran, and the machine. Needs a clean git workspace,
which it restores at the end.

    python -m research.seed_sweep.seed_sweep --seeds 0 1 2 --classifiers mlp lenet --out \
        docs/results/seeds
    python -m research.seed_sweep.seed_sweep --config fewshot --cgan fewshot --subset random \
        --seeds 1 2 3 \
        --classifiers mlp --out docs/results/generator
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fewshot import paths
from fewshot.device import machine_summary

GENERATOR_SCORES = (
    "label_fidelity",
    "fid",
    "precision",
    "recall",
    "coverage",
    "diversity_ratio",
    "diversity_ratio_pixels",
    "near_copy_fraction",
)


def sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def run_one(args: argparse.Namespace, seed: int, classifier: str) -> list[dict]:
    sets = [
        f"cgan={args.cgan}",
        f"classifier={classifier}",
        f"seed={seed}",
        f"data.subset={args.subset}",
        *args.set,
    ]
    name = f"{args.config}-{classifier}-seed{seed}"
    # Not `--force`: stages whose code, params and inputs match an earlier run (the CGAN when
    # only the classifier changes) come back from DVC's run cache instead of being retrained.
    subprocess.run(["dvc", "exp", "remove", name], check=False, capture_output=True)
    cmd = ["dvc", "exp", "run", "-n", name]
    for item in sets:
        cmd += ["-S", item]
    targets = [f"evaluate@{source}" for source in args.sources]
    if not args.no_generator:
        targets.append("evaluate_generator")
    print("$", " ".join(cmd + targets), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "resources.jsonl"
        env = {**os.environ, "FEWSHOT_RESOURCE_LOG": str(log)}
        subprocess.run(cmd + targets, check=True, env=env)
        stages = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    cgan_s = next((r["wall_s"] for r in stages if r["stage"] == "train_cgan"), None)
    return workspace_rows(args, seed, classifier, cgan_s)


def workspace_rows(
    args: argparse.Namespace, seed: int, classifier: str, cgan_s: float | None
) -> list[dict]:
    """CSV rows from the metric files in the workspace, one per training source."""
    # Without the generator, the workspace's generator scores are another run's: not read.
    generator = {} if args.no_generator else json.loads(paths.GENERATOR_METRICS.read_text())
    rows = []
    for source in args.sources:
        test = json.loads(paths.eval_metrics(source).read_text())
        own = json.loads((paths.classifier_live(source) / "metrics.json").read_text())
        rows.append(
            {
                "config": args.config,
                "classifier": classifier,
                "subset": args.subset,
                "subset_seed": seed,
                "source": source,
                "real_test_accuracy": test["accuracy"],
                "real_test_accuracy_tta": test.get("accuracy_tta"),
                # with `classifier.members` > 1: member 0 alone, and the vote of the first k
                "members": test.get("members", 1),
                "real_test_accuracy_single": test.get("accuracy_single", test["accuracy"]),
                "real_test_accuracy_members": members_cell(test),
                **{
                    f"real_test_accuracy_k{k}": value
                    for k, value in test.get("accuracy_first_k", {}).items()
                },
                "own_training_data_accuracy": own["accuracy_on_own_training_data"],
                **{f"generator_{key}": generator.get(key) for key in GENERATOR_SCORES},
                "train_cgan_s": cgan_s,  # empty when the CGAN came from the run cache
                "machine": machine_summary(),
            }
        )
    return rows


def members_cell(test: dict) -> str | None:
    """An ensemble's members, each alone, as one CSV cell ("0.9878;0.9891;0.9891")."""
    members = test.get("accuracy_members")
    return ";".join(str(accuracy) for accuracy in members) if members else None


def within_subset_sd(cells: pd.Series) -> float:
    """The spread of one classifier from its own seed (init, data order, augmentation) with the
    training data fixed: the sample variances of each run's members, pooled over runs."""
    members = [[float(a) for a in cell.split(";")] for cell in cells.dropna()]
    variances = [np.var(accuracies, ddof=1) for accuracies in members if len(accuracies) > 1]
    return float(np.sqrt(np.mean(variances))) if variances else float("nan")


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    grouped = runs.groupby(["config", "classifier", "source"], sort=False)
    table = grouped["real_test_accuracy"].agg(["mean", "std", "min", "max", "count"])
    table["own training data (mean)"] = grouped["own_training_data_accuracy"].mean()
    if "real_test_accuracy_members" in runs and runs["real_test_accuracy_members"].notna().any():
        # beside `std` (over subsets): how much of it one CNN's own seed would give alone
        table["member std (within subset)"] = grouped["real_test_accuracy_members"].agg(
            within_subset_sd
        )
    # An ensemble's members: member 0 alone and the vote of the first k, beside the whole vote.
    numeric = [
        c for c in runs if c.startswith("real_test_accuracy_") and c != "real_test_accuracy_members"
    ]
    for column in numeric:
        if runs[column].notna().any():
            table[column.removeprefix("real_test_accuracy_") + " (mean)"] = grouped[column].mean()
    return table.rename(columns={"count": "runs"}).reset_index()


def summarise_generators(runs: pd.DataFrame) -> pd.DataFrame:
    """Generator scores (one GAN per config and seed), mean and std over seeds."""
    columns = [f"generator_{key}" for key in GENERATOR_SCORES if f"generator_{key}" in runs]
    per_seed = runs.drop_duplicates(["config", "subset_seed"])
    table = per_seed.groupby("config", sort=False)[columns].agg(["mean", "std"]).T
    table.index = [f"{score.removeprefix('generator_')} ({stat})" for score, stat in table.index]
    return table.rename_axis("generator score").reset_index()


def generator_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration and subset: the generator's scores and the synthetic-only
    accuracy of the MLP (`synthetic_accuracy_mlp`) and of the strong CNN
    (`synthetic_accuracy`, empty until a sweep runs `--classifiers strong`)."""
    keys = ["config", "subset_seed"]
    synthetic = runs[runs["source"] == "synthetic"]
    table = runs.drop_duplicates(keys)[keys].copy()
    for name, classifier in (("synthetic_accuracy", "strong"), ("synthetic_accuracy_mlp", "mlp")):
        rows = synthetic[synthetic["classifier"] == classifier]
        table = table.merge(
            rows[keys + ["real_test_accuracy"]].rename(columns={"real_test_accuracy": name}),
            on=keys,
            how="left",
        )
    scores = runs.groupby(keys, sort=False).agg(
        recall=("generator_recall", "first"),
        coverage=("generator_coverage", "first"),
        label_fidelity=("generator_label_fidelity", "first"),
        diversity_ratio=("generator_diversity_ratio", "first"),
        diversity_ratio_pixels=("generator_diversity_ratio_pixels", "first"),
        near_copies=("generator_near_copy_fraction", "first"),
        train_cgan_s=("train_cgan_s", "max"),
        machine=("machine", "first"),
    )
    columns = ["config", "subset_seed", "recall", "coverage", "label_fidelity"]
    columns += ["diversity_ratio", "diversity_ratio_pixels", "near_copies", "synthetic_accuracy"]
    columns += ["synthetic_accuracy_mlp", "train_cgan_s", "machine"]
    return table.merge(scores.reset_index(), on=keys)[columns]


def write_summary(runs: pd.DataFrame, out: Path) -> None:
    scored = runs.filter(like="generator_").notna().any(axis=None)
    if scored:
        generator_runs(runs).to_csv(out.with_name(out.name + "-runs.csv"), index=False)
    markdown = summarise(runs).to_markdown(index=False, floatfmt=".4f")
    if scored:
        markdown += "\n\n" + summarise_generators(runs).to_markdown(index=False, floatfmt=".4f")
    out.with_suffix(".md").write_text(markdown + "\n")
    print(markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classifiers", nargs="+", default=["mlp", "lenet"])
    parser.add_argument("--cgan", default="recipe", help="preset from conf/cgan/")
    parser.add_argument("--subset", choices=("first", "random"), default="first")
    parser.add_argument("--sources", nargs="+", choices=paths.SOURCES, default=list(paths.SOURCES))
    parser.add_argument(
        "--no-generator",
        action="store_true",
        help="train and score no CGAN: only the classifiers of --sources (real alone)",
    )
    parser.add_argument("--config", help="name of this configuration in the CSV (default: --cgan)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra params for every run, as `dvc exp run -S`",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results/seeds"))
    parser.add_argument(
        "--summarise",
        action="store_true",
        help="run nothing: tabulate the rows already in the CSV",
    )
    parser.add_argument(
        "--record",
        type=float,
        metavar="TRAIN_CGAN_S",
        help="run nothing: append the workspace's current results (the first --seeds and "
        "--classifiers, and this train_cgan time) as rows, for a run made with `dvc repro`",
    )
    args = parser.parse_args()
    args.config = args.config or args.cgan
    csv = args.out.with_suffix(".csv")
    csv.parent.mkdir(parents=True, exist_ok=True)
    if args.record is not None:
        rows = pd.DataFrame(workspace_rows(args, args.seeds[0], args.classifiers[0], args.record))
        rows.to_csv(csv, mode="a", header=not csv.exists(), index=False)
    if args.summarise or args.record is not None:
        write_summary(pd.read_csv(csv), args.out)
        return
    if sh("git", "status", "--porcelain", "--untracked-files=no").strip():
        sys.exit("error: the git workspace has uncommitted changes; commit or stash them first")
    # Restored by content at the end: `git checkout` can miss a same-size edit (`seed: 0` ->
    # `seed: 1`) made within the index's timestamp resolution.
    committed = {p: p.read_bytes() for p in (Path("params.yaml"), Path("dvc.lock")) if p.exists()}
    try:
        for classifier in args.classifiers:
            for seed in args.seeds:
                rows = pd.DataFrame(run_one(args, seed, classifier))
                rows.to_csv(csv, mode="a", header=not csv.exists(), index=False)
    finally:  # back to the committed state; the experiments stay in `dvc exp show`
        for path, content in committed.items():
            path.write_bytes(content)
        subprocess.run(["dvc", "checkout", "--quiet"], check=False)
    write_summary(pd.read_csv(csv), args.out)


if __name__ == "__main__":
    main()
