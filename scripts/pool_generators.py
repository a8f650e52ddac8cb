"""Synthetic-only accuracy from the images of several generators of one real subset, pooled.

Each generator drops some of its class's styles (the coverage-weighted one draws few
closed-top 4s, the instance-conditioned one more of them but fewer crossed 7s:
docs/results.md). Does a classifier trained on both generators' images, half from each, do
better than on either alone? This takes the generated ImageFolders that DVC experiments on
the same real subset already wrote (from the DVC cache, nothing is generated again), keeps
the first `generate.per_class / k` images of each class from each of the k experiments, and
runs the pipeline's own `train_classifier --source synthetic` and `evaluate --source
synthetic` stages on them in a scratch workspace with the first experiment's params. The
classifier's settings, budget and seed are the experiments' (they must agree), so the only
difference from a single experiment's synthetic-only number is where the images came from.
With one experiment it reruns that experiment's synthetic-only classifier (a check that the
scratch workspace changes nothing). Appends one row per run to `--out`.

    python scripts/pool_generators.py --exp study-mnist-fewshot-15k-cover-strong-half-n100-s3 \\
        study-mnist-fewshot-15k-ic-strong-half-n100-s3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fewshot import paths  # noqa: E402
from fewshot.experiments import cached_dir, dvc_cache, experiment_lock  # noqa: E402
from fewshot.runtime import machine_summary  # noqa: E402

# What must agree between the pooled experiments: the classifier sees the same real subset,
# trains the same way and is scored on the same test set.
SHARED_PARAMS = ("seed", "device", "n_per_class", "data", "classifier", "evaluate")
SHARED_OUTPUTS = (("subsample", paths.REAL_DIR), ("get_data", paths.RAW_DIR))


def check_poolable(names: list[str], params: list[dict], locks: list[dict]) -> None:
    """Exit naming the first param or input on which an experiment differs from the first."""
    for name, mine, lock in zip(names[1:], params[1:], locks[1:], strict=True):
        for key in SHARED_PARAMS:
            if mine.get(key) != params[0].get(key):
                raise SystemExit(
                    f"error: --exp {name}: param {key} differs from {names[0]}'s "
                    f"({mine.get(key)!r} vs {params[0].get(key)!r}); pooled generators must "
                    "share the real subset and the classifier"
                )
        for stage, path in SHARED_OUTPUTS:
            if output_md5(lock, stage, path) != output_md5(locks[0], stage, path):
                raise SystemExit(f"error: --exp {name}: its {path} is not {names[0]}'s")
        if mine["generate"]["per_class"] != params[0]["generate"]["per_class"]:
            raise SystemExit(f"error: --exp {name}: generate.per_class differs from {names[0]}'s")


def output_md5(lock: dict, stage: str, path: Path) -> str:
    return next(o["md5"] for o in lock["stages"][stage]["outs"] if Path(o["path"]) == path)


def pooled_files(folders: list[dict[str, Path]], per_class: int) -> dict[str, Path]:
    """From each experiment's synthetic folder (relpath "<class>/<n>.png" -> file), the first
    images of every class by name, `per_class` in all, split as evenly as the count allows
    (the first folders take one more); renamed "<class>/<experiment>-<n>.png"."""
    chosen = {}
    by_class: list[dict[str, list[str]]] = []
    for folder in folders:
        classes: dict[str, list[str]] = {}
        for relpath in sorted(folder):
            classes.setdefault(relpath.split("/")[0], []).append(relpath)
        by_class.append(classes)
    for cls in sorted(by_class[0], key=int):
        for k, (folder, classes) in enumerate(zip(folders, by_class, strict=True)):
            share = per_class // len(folders) + (k < per_class % len(folders))
            mine = classes.get(cls, [])
            if len(mine) < share:
                raise SystemExit(
                    f"error: experiment {k + 1} has {len(mine)} images of class {cls}, "
                    f"fewer than the {share} it must give"
                )
            for relpath in mine[:share]:
                chosen[f"{cls}/{k}-{relpath.split('/', 1)[1]}"] = folder[relpath]
    return chosen


def link_files(files: dict[str, Path], into: Path) -> None:
    """Symlink each cached file under `into` at its relpath."""
    for relpath, source in files.items():
        if not source.exists():
            raise SystemExit(f"error: {source} ({relpath}) is not in the DVC cache; `dvc pull` it")
        target = into / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)


def scratch_workspace(
    workspace: Path, params: dict, lock: dict, synthetic: dict[str, Path]
) -> None:
    """A directory the stages can run in: the first experiment's params, raw data and real
    subset, this repository's checksums, and the pooled synthetic folder."""
    cache = dvc_cache()
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(ROOT / paths.CHECKSUM_DIR, workspace / paths.CHECKSUM_DIR)
    for stage, path in SHARED_OUTPUTS:
        link_files(cached_dir(lock, stage, path, cache), workspace / path)
    link_files(synthetic, workspace / paths.SYNTHETIC_DIR)


def run_stages(workspace: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for stage in ("train_classifier", "evaluate"):
        subprocess.run(
            [sys.executable, "-m", f"stages.{stage}", "--source", "synthetic"],
            cwd=workspace,
            env=env,
            check=True,
        )
    return json.loads((workspace / paths.eval_metrics("synthetic")).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp", nargs="+", required=True, help="DVC experiments to pool")
    parser.add_argument("--out", type=Path, default=Path("docs/results/pooled-generators.csv"))
    args = parser.parse_args()
    read = [experiment_lock(name) for name in args.exp]
    params, locks = [p for p, _ in read], [lock for _, lock in read]
    check_poolable(args.exp, params, locks)
    cache = dvc_cache()
    folders = [cached_dir(lock, "generate", paths.SYNTHETIC_DIR, cache) for lock in locks]
    synthetic = pooled_files(folders, params[0]["generate"]["per_class"])
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pool-generators-") as tmp:
        scratch_workspace(Path(tmp), params[0], locks[0], synthetic)
        metrics = run_stages(Path(tmp))
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    row = {
        "dataset": params[0]["data"]["dataset"],
        "n_per_class": params[0]["n_per_class"],
        "subset_seed": params[0]["seed"],
        "experiments": " + ".join(args.exp),
        "source": "synthetic",
        "test_accuracy": metrics["accuracy"],
        "test_accuracy_tta": metrics["accuracy_tta"],
        **{f"class_{c}": a for c, a in metrics["per_class_accuracy"].items()},
        "seconds": round(time.perf_counter() - start, 1),
        "machine": machine_summary(),
        "commit": commit,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([row])
    frame.to_csv(args.out, mode="a", header=not args.out.exists(), index=False)
    print(frame.drop(columns=["machine", "commit"]).to_markdown(index=False))


if __name__ == "__main__":
    main()
