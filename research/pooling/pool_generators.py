"""Synthetic-only accuracy from the images of several generators of one real subset, pooled,
or from one generator sampled another way, without training any generator again.

Each generator drops some of its class's styles (the coverage-weighted one draws few
closed-top 4s, the instance-conditioned one more of them but fewer crossed 7s:
docs/results.md). Does a classifier trained on both generators' images, half from each, do
better than on either alone? This takes the generated ImageFolders that DVC experiments on
the same real subset already wrote (from the DVC cache), keeps the first `generate.per_class
/ k` images of each class from each of the k experiments, and runs the pipeline's own
`train_classifier` and `evaluate` stages (`--sources`, synthetic by default) on them in a
scratch workspace with the first experiment's params. The classifier's settings, budget and
seed are the experiments' (they must agree), so the only difference from a single
experiment's number is where the images came from. With one experiment and no `--set` it
reruns that experiment's classifier (a check that the scratch workspace changes nothing).

With `--set generate.KEY=VALUE` (for example `generate.noise_scale=1.25`) the images are
drawn again instead, by the pipeline's `generate` stage from each experiment's cached
generator with those settings, `per_class / k` from each. With `--members N`, N CNNs
(seeded as `classifier.members` seeds them) train on the images and vote. With `--ensemble`
nothing is trained: each experiment's own classifier of the source (trained on its own
generator's images) votes in one ensemble, which `evaluate` scores. Appends one row per
source to `--out`.

    python -m research.pooling.pool_generators --exp \
        study-mnist-fewshot-15k-cover-strong-half-n100-s3 \\
        study-mnist-fewshot-15k-ic-strong-half-n100-s3
    python -m research.pooling.pool_generators --exp \
        study-mnist-fewshot-15k-cover-strong-half-n100-s3 \\
        --set generate.noise_scale=1.25 --sources synthetic mixed
    python -m research.pooling.pool_generators --ensemble --sources synthetic mixed --exp ... ...
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fewshot import paths  # noqa: E402
from fewshot.classify import predict  # noqa: E402
from fewshot.data import load_split, load_subset  # noqa: E402
from fewshot.device import machine_summary  # noqa: E402
from fewshot.ensemble import Ensemble, build, members_of  # noqa: E402
from fewshot.io import load_state, save_state  # noqa: E402
from fewshot.params import load_params  # noqa: E402
from fewshot.tensors import to_classifier_input  # noqa: E402
from fewshot_results.held_out import held_out_indices  # noqa: E402
from research.experiments import cached, cached_dir, dvc_cache, experiment_lock  # noqa: E402

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


def parse_sets(sets: list[str], params: dict) -> dict:
    """`--set generate.KEY=VALUE` items as {KEY: value}; exits on any other key."""
    overrides = {}
    for item in sets:
        key, eq, value = item.partition("=")
        section, _, name = key.partition(".")
        if not eq or section != "generate" or name not in params["generate"]:
            raise SystemExit(
                f"error: --set {item}: expected generate.KEY=VALUE with KEY one of "
                f"{', '.join(params['generate'])}"
            )
        overrides[name] = yaml.safe_load(value)
    return overrides


def shares(per_class: int, count: int) -> list[int]:
    """`per_class` split over `count` generators as evenly as it goes, the first taking more."""
    return [per_class // count + (k < per_class % count) for k in range(count)]


def by_class(folder: dict[str, Path]) -> dict[str, list[str]]:
    """A synthetic folder's relpaths ("<class>/<n>.png") per class, sorted by name."""
    classes: dict[str, list[str]] = {}
    for relpath in sorted(folder):
        classes.setdefault(relpath.split("/")[0], []).append(relpath)
    return classes


def pooled_files(folders: list[dict[str, Path]], per_class: int) -> dict[str, Path]:
    """From each experiment's synthetic folder (relpath "<class>/<n>.png" -> file), the first
    images of every class of the first folder by name, `per_class` in all (`shares`);
    renamed "<class>/<k>-<n>.png" for the k-th experiment."""
    chosen = {}
    classes = sorted(by_class(folders[0]), key=int)
    for k, (folder, share) in enumerate(zip(folders, shares(per_class, len(folders)), strict=True)):
        mine = by_class(folder)
        for cls in classes:
            if len(mine.get(cls, [])) < share:
                raise SystemExit(
                    f"error: experiment {k + 1} has {len(mine.get(cls, []))} images of class "
                    f"{cls}, fewer than the {share} it must give"
                )
            for relpath in mine[cls][:share]:
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


def write_params(workspace: Path, params: dict) -> None:
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_stage(workspace: Path, stage: str, *args: str) -> None:
    """One of the pipeline's stages, run in `workspace` on this repository's code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", f"stages.{stage}", *args]
    subprocess.run(command, cwd=workspace, env=env, check=True)


def scratch_workspace(workspace: Path, lock: dict) -> None:
    """What every stage reads but the params and the synthetic images: the first
    experiment's raw data and real subset, this repository's checksums."""
    shutil.copytree(ROOT / paths.CHECKSUM_DIR, workspace / paths.CHECKSUM_DIR)
    for stage, path in SHARED_OUTPUTS:
        link_files(cached_dir(lock, stage, path, dvc_cache()), workspace / path)


def regenerate(workspace: Path, params: list[dict], locks: list[dict], overrides: dict) -> None:
    """Draw each experiment's share of the images again with its cached generator, by the
    `generate` stage with `overrides`; pool them as `pooled_files` names them."""
    pool = workspace / "pooled"
    per_class = params[0]["generate"]["per_class"]
    for k, (mine, lock, share) in enumerate(
        zip(params, locks, shares(per_class, len(params)), strict=True)
    ):
        generate = {**mine["generate"], **overrides, "per_class": share}
        write_params(workspace, {**mine, "generate": generate})
        models = {"train_cgan": paths.GENERATOR}
        if generate["oversample"] > 1:  # chosen by its real-only classifier
            models["train_classifier@real"] = paths.classifier_file("real")
        for stage, path in models.items():
            (workspace / path).parent.mkdir(parents=True, exist_ok=True)
            (workspace / path).unlink(missing_ok=True)
            (workspace / path).symlink_to(cached(lock, stage, path, dvc_cache()))
        run_stage(workspace, "generate")
        for png in sorted((workspace / paths.SYNTHETIC_DIR).glob("*/*.png")):
            (pool / png.parent.name).mkdir(parents=True, exist_ok=True)
            png.rename(pool / png.parent.name / f"{k}-{png.name}")
        shutil.rmtree(workspace / paths.SYNTHETIC_DIR)
    pool.rename(workspace / paths.SYNTHETIC_DIR)


def ensemble_of(checkpoints: list[Path], arch: str, members: int) -> Ensemble:
    """One ensemble of every member of the classifiers in `checkpoints` (`arch`, `members`
    each), in order: the first experiment's come first, so its vote is `accuracy_single`."""
    trained = [load_state(path, build(arch, members)) for path in checkpoints]
    return Ensemble([member for model in trained for member in members_of(model)])


def scores(workspace: Path, source: str) -> dict:
    return json.loads((workspace / paths.eval_metrics(source)).read_text())


def held_out(workspace: Path, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` training images of each class outside the real subset: the research tools'
    one validation split (fewshot_results/held_out.py), for choosing settings without the test
    split."""
    images, labels = load_split(workspace / paths.RAW_DIR, "train")
    subset = load_subset(workspace / paths.SUBSET_FILE)[2]
    try:
        chosen = held_out_indices(labels, subset, per_class)
    except ValueError as error:
        raise SystemExit(f"error: --validation {per_class}: {error}") from None
    return images[chosen], labels[chosen]


def validation_accuracy(workspace: Path, source: str, held: tuple[np.ndarray, np.ndarray]) -> float:
    """The source's trained classifier on the held-out training images."""
    cfg = load_params(workspace / "params.yaml")["classifier"]
    model = load_state(
        workspace / paths.classifier_file(source), build(cfg["arch"], cfg["members"])
    )
    with torch.no_grad():
        pred = predict(model, to_classifier_input(held[0]), 1000).numpy()
    return round(float((pred == held[1]).mean()), 6)


def train_and_evaluate(workspace: Path, sources: list[str], validation: int) -> dict[str, dict]:
    """The pipeline's classifier and evaluation stages for each source: its test scores,
    with its accuracy on `validation` held-out training images per class."""
    held = held_out(workspace, validation) if validation else None
    found = {}
    for source in sources:
        run_stage(workspace, "train_classifier", "--source", source)
        run_stage(workspace, "evaluate", "--source", source)
        found[source] = scores(workspace, source)
        if held is not None:
            found[source]["validation_accuracy"] = validation_accuracy(workspace, source, held)
    return found


def evaluate_ensembles(
    workspace: Path, params: list[dict], locks: list[dict], sources: list[str]
) -> dict[str, dict]:
    """Per source, the experiments' own classifiers (from the DVC cache) as one ensemble,
    scored by the pipeline's `evaluate` stage."""
    cfg = params[0]["classifier"]
    members = {**cfg, "members": cfg["members"] * len(params)}
    write_params(workspace, {**params[0], "classifier": members})
    for source in sources:
        path = paths.classifier_file(source)
        stage = f"train_classifier@{source}"
        checkpoints = [cached(lock, stage, path, dvc_cache()) for lock in locks]
        save_state(workspace / path, ensemble_of(checkpoints, cfg["arch"], cfg["members"]))
        run_stage(workspace, "evaluate", "--source", source)
    return {source: scores(workspace, source) for source in sources}


def exit_on_sigterm() -> None:
    """SIGTERM (`kill`, a session's end) unwinds like Ctrl-C: `subprocess.run` kills the stage
    it waits on and the scratch workspace is deleted, instead of both being left behind."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def append_rows(out: Path, rows: list[dict]) -> pd.DataFrame:
    """`rows` appended to the CSV `out` (columns added since are left empty in older rows)."""
    frame = pd.DataFrame(rows)
    if out.exists():
        frame = pd.concat([pd.read_csv(out), frame], ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return frame.tail(len(rows))


def measure(
    args: argparse.Namespace, params: list[dict], locks: list[dict], overrides: dict
) -> dict[str, dict]:
    """The test scores per source, from a scratch workspace that is then deleted."""
    with tempfile.TemporaryDirectory(prefix="pool-generators-") as tmp:
        workspace = Path(tmp)
        scratch_workspace(workspace, locks[0])
        if args.ensemble:
            return evaluate_ensembles(workspace, params, locks, args.sources)
        if overrides:
            regenerate(workspace, params, locks, overrides)
        else:
            cache = dvc_cache()
            folders = [cached_dir(lock, "generate", paths.SYNTHETIC_DIR, cache) for lock in locks]
            synthetic = pooled_files(folders, params[0]["generate"]["per_class"])
            link_files(synthetic, workspace / paths.SYNTHETIC_DIR)
        generate = {**params[0]["generate"], **overrides}
        classifier = {**params[0]["classifier"]}
        if args.members:  # member 0 is the experiments' own CNN, retrained
            classifier["members"] = args.members
        write_params(workspace, {**params[0], "generate": generate, "classifier": classifier})
        return train_and_evaluate(workspace, args.sources, args.validation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp", nargs="+", required=True, help="DVC experiments to pool")
    parser.add_argument(
        "--set", nargs="+", default=[], help="generate.KEY=VALUE: draw the images again so"
    )
    parser.add_argument(
        "--sources", nargs="+", choices=("synthetic", "mixed"), default=["synthetic"]
    )
    parser.add_argument(
        "--ensemble", action="store_true", help="average the experiments' own classifiers"
    )
    parser.add_argument(
        "--members", type=int, help="CNNs trained on the images (default: classifier.members)"
    )
    parser.add_argument(
        "--validation",
        type=int,
        default=500,
        help="held-out training images per class to score on besides the test set (0: none)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("docs/results/pooling/pooled-generators.csv")
    )
    args = parser.parse_args()
    exit_on_sigterm()
    if args.ensemble and (args.set or args.members or len(args.exp) < 2):
        raise SystemExit("error: --ensemble takes two or more --exp and no --set or --members")
    if args.members is not None and not 1 <= args.members <= 20:
        raise SystemExit(f"error: --members {args.members}: expected 1 to 20")
    read = [experiment_lock(name) for name in args.exp]
    params, locks = [p for p, _ in read], [lock for _, lock in read]
    check_poolable(args.exp, params, locks)
    overrides = parse_sets(args.set, params[0])
    start = time.perf_counter()
    metrics = measure(args, params, locks, overrides)
    if args.ensemble:
        how = "each experiment's own; their classifiers voting"
    else:
        how = "drawn again: " + " ".join(args.set) if overrides else "as cached"
        if args.members:
            how += f"; {args.members} CNNs voting"
    seconds = round(time.perf_counter() - start, 1)
    rows = [
        {
            "dataset": params[0]["data"]["dataset"],
            "n_per_class": params[0]["n_per_class"],
            "subset_seed": params[0]["seed"],
            "experiments": " + ".join(args.exp),
            "images": how,
            "source": source,
            "test_accuracy": found["accuracy"],
            "test_accuracy_tta": found.get("accuracy_tta"),
            "validation_accuracy": found.get("validation_accuracy"),
            # the ensemble's first member alone: the first experiment's own number
            "test_accuracy_first": found.get("accuracy_single"),
            **{f"class_{c}": a for c, a in found["per_class_accuracy"].items()},
            "seconds": seconds,
            "machine": machine_summary(),
            "commit": git_commit(),
        }
        for source, found in metrics.items()
    ]
    shown = append_rows(args.out, rows).drop(columns=["machine", "commit", "experiments"])
    print(shown.to_markdown(index=False))


if __name__ == "__main__":
    main()
