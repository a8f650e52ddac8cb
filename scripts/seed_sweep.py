"""Run the pipeline for several seeds and classifiers with `dvc exp run`; tabulate the spread.

Each run is a DVC experiment (see `dvc exp show`); DVC's run cache reuses the CGAN when only
the classifier changes. Results are read from each run's metric files and summarised as mean,
standard deviation, min and max of the real-test accuracy per classifier and training source.
Needs a clean git workspace, which it restores at the end.

    python scripts/seed_sweep.py --seeds 0 1 2 --archs mlp lenet --out results/seeds
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from fewshot import paths

GENERATOR_SCORES = ("label_fidelity", "fid", "precision", "recall", "coverage")


def sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def run_one(seed: int, arch: str, extra: list[str]) -> list[dict]:
    sets = [f"seed={seed}", f"classifier.arch={arch}", *extra]
    cmd = ["dvc", "exp", "run", "--force", "-n", f"{arch}-seed{seed}"]
    for item in sets:
        cmd += ["-S", item]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    rows = []
    generator = json.loads(paths.GENERATOR_METRICS.read_text())
    for source in paths.SOURCES:
        test = json.loads(paths.eval_metrics(source).read_text())
        own = json.loads((paths.classifier_live(source) / "metrics.json").read_text())
        rows.append(
            {
                "classifier": arch,
                "seed": seed,
                "source": source,
                "real_test_accuracy": test["accuracy"],
                "own_training_data_accuracy": own["accuracy_on_own_training_data"],
                **{f"generator_{key}": generator[key] for key in GENERATOR_SCORES},
            }
        )
    return rows


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    grouped = runs.groupby(["classifier", "source"], sort=False)
    table = grouped["real_test_accuracy"].agg(["mean", "std", "min", "max", "count"])
    table["own training data (mean)"] = grouped["own_training_data_accuracy"].mean()
    return table.rename(columns={"count": "runs"}).reset_index()


def summarise_generators(runs: pd.DataFrame) -> pd.DataFrame:
    """Generator scores (one GAN per seed), mean and std over seeds."""
    columns = [f"generator_{key}" for key in GENERATOR_SCORES if f"generator_{key}" in runs]
    per_seed = runs.drop_duplicates("seed")[columns]
    table = per_seed.agg(["mean", "std"]).T
    table.index = [c.removeprefix("generator_") for c in table.index]
    return table.rename_axis("generator score").reset_index()


def write_summary(runs: pd.DataFrame, out: Path) -> None:
    runs = runs.sort_values(["classifier", "seed", "source"], kind="stable")
    runs.to_csv(out.with_suffix(".csv"), index=False)
    markdown = summarise(runs).to_markdown(index=False, floatfmt=".4f")
    if any(column.startswith("generator_") for column in runs):
        markdown += "\n\n" + summarise_generators(runs).to_markdown(index=False, floatfmt=".4f")
    out.with_suffix(".md").write_text(markdown + "\n")
    print(markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--archs", nargs="+", default=["mlp", "lenet"])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra params for every run, as `dvc exp run -S`",
    )
    parser.add_argument("--out", type=Path, default=Path("results/seeds"))
    parser.add_argument(
        "--summarise",
        type=Path,
        nargs="+",
        metavar="CSV",
        help="run nothing: merge per-run CSVs written by earlier sweeps (run in parallel, say)",
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.summarise:
        runs = pd.concat([pd.read_csv(path) for path in args.summarise], ignore_index=True)
        write_summary(runs, args.out)
        return
    if sh("git", "status", "--porcelain", "--untracked-files=no").strip():
        sys.exit("error: the git workspace has uncommitted changes; commit or stash them first")
    # Restored by content at the end: `git checkout` can miss a same-size edit (`seed: 0` ->
    # `seed: 1`) made within the index's timestamp resolution.
    committed = {p: p.read_bytes() for p in (Path("params.yaml"), Path("dvc.lock")) if p.exists()}
    rows: list[dict] = []
    try:
        for arch in args.archs:
            for seed in args.seeds:
                rows += run_one(seed, arch, args.set)
                # Written after every run, so an interrupted sweep keeps what it measured.
                pd.DataFrame(rows).to_csv(args.out.with_suffix(".csv"), index=False)
    finally:  # back to the committed state; the experiments stay in `dvc exp show`
        for path, content in committed.items():
            path.write_bytes(content)
        subprocess.run(["dvc", "checkout", "--quiet"], check=False)
    write_summary(pd.DataFrame(rows), args.out)


if __name__ == "__main__":
    main()
