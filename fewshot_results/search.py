"""The real-only baseline search: classifiers chosen on held-out training images, per dataset
and size, before generated images are judged against them.

Each point trains one candidate classifier (a preset of conf/classifier/) on the real images
alone of a random subset (the pipeline's `data.subset=random` with `seed`: the same images a
study row of that subset trained on, and the same seed for the weights) and scores it on the
held-out validation split (fewshot_results/held_out.py: 500 images per class outside the
subset). The test split is never read here: the chosen classifiers are measured on it by the
pipeline, as presets.

A search grid is conf/study/<name>.yaml with a `search:` list of blocks, each a dataset, sizes,
candidate classifiers and subset seeds. Rows go to docs/results/search/<name>.csv, one per
point, appended as each point finishes (several lanes may share the file); a point already
there is not run again.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from fewshot.classifier_models import build_classifier
from fewshot.classify import predict, train_classifier
from fewshot.data import fetch_dataset, load_split, select_subset
from fewshot.device import machine_summary
from fewshot.ensemble import member_seed
from fewshot.tensors import to_classifier_input
from fewshot.training import seeded_rng, total_steps
from fewshot_results.compose import composed
from fewshot_results.gitfiles import ReportError, short_commit
from fewshot_results.held_out import PER_CLASS, held_out_indices
from fewshot_results.search_grid import Point

DATA_DIR = Path("data/search")  # the train splits the search reads (not the pipeline's data/raw)
CHECKSUMS = Path("data/checksums")
COLUMNS = [
    "dataset",
    "n_per_class",
    "classifier",
    "subset_seed",
    "validation_accuracy",
    "validation_images",
    "steps",
    "train_s",
    "threads",
    "machine",
    "commit",
]


def point_params(point: Point) -> dict[str, Any]:
    """The params the pipeline would run this point with (validated)."""
    return composed(
        [
            f"classifier={point.classifier}",
            f"data.dataset={point.dataset}",
            f"n_per_class={point.n_per_class}",
            "data.subset=random",
            f"seed={point.subset_seed}",
        ]
    )


def train_split(dataset: str, data_dir: Path = DATA_DIR) -> tuple[np.ndarray, np.ndarray]:
    """The dataset's verified train split, fetched once as `get_data` fetches it."""
    raw = data_dir / dataset
    if not raw.is_dir():
        fetch_dataset(dataset, raw, CHECKSUMS / f"{dataset}.sha256")
    return load_split(raw, "train")


def run_point(
    point: Point,
    images: np.ndarray,
    labels: np.ndarray,
    commit: str,
    held_out_per_class: int = PER_CLASS,
) -> dict[str, Any]:
    """Train the point's classifier on its real subset (train-split `images`, `labels`); score
    it on the held-out images of the same split."""
    params = point_params(point)
    cfg = params["classifier"]
    subset = select_subset(labels, point.n_per_class, "random", point.subset_seed)
    held = held_out_indices(labels, subset, held_out_per_class)
    device = torch.device("cpu")
    x, y = to_classifier_input(images[subset]), torch.from_numpy(labels[subset])
    rng = seeded_rng(member_seed(params["seed"], 0), device)  # as the pipeline's classifier
    model = build_classifier(cfg["arch"])
    started = time.perf_counter()
    name = f"{point.dataset} n{point.n_per_class} {point.classifier} s{point.subset_seed}"
    with tqdm(desc=name, total=total_steps(len(x), cfg)[1], unit="epoch", leave=False) as bar:
        train_classifier(model, x, y, cfg, rng, on_epoch=lambda *_: bar.update())
    train_s = time.perf_counter() - started
    predicted = predict(model, to_classifier_input(images[held]), 1000)
    accuracy = (predicted == torch.from_numpy(labels[held])).float().mean().item()
    return {
        **asdict(point),
        "validation_accuracy": round(accuracy, 6),
        "validation_images": len(held),
        "steps": cfg["steps"],
        "train_s": round(train_s, 1),
        "threads": torch.get_num_threads(),
        "machine": machine_summary(),
        "commit": commit,
    }


def read_rows(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=COLUMNS)


def done_keys(rows: pd.DataFrame) -> set[tuple[str, int, str, int]]:
    return {
        (r.dataset, int(r.n_per_class), r.classifier, int(r.subset_seed)) for r in rows.itertuples()
    }


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one row under an exclusive lock, so lanes sharing the file never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        if os.fstat(f.fileno()).st_size == 0:  # the size once locked, not when opened
            f.write(",".join(COLUMNS) + "\n")
        pd.DataFrame([row], columns=COLUMNS).to_csv(f, header=False, index=False)


def head_commit() -> str:
    """The commit a row's code came from; "unknown" outside a git repository."""
    try:
        return short_commit()
    except ReportError:
        return "unknown"


def run_search(points: list[Point], out: Path) -> None:
    """Run the points not yet in `out`, appending a row as each finishes."""
    todo = [p for p in points if p.key not in done_keys(read_rows(out))]
    print(f"{len(points) - len(todo)} of {len(points)} points done; running {len(todo)}")
    commit, splits = head_commit(), {}
    for point in tqdm(todo, desc="search", unit="point"):
        if point.key in done_keys(read_rows(out)):  # another lane finished it meanwhile
            continue
        if point.dataset not in splits:
            splits[point.dataset] = train_split(point.dataset)
        row = run_point(point, *splits[point.dataset], commit)
        append_row(out, row)
        tqdm.write(
            f"{point.dataset} n{point.n_per_class} {point.classifier} s{point.subset_seed}: "
            f"{row['validation_accuracy']:.2%} on {row['validation_images']} held-out images "
            f"({row['train_s']:.0f} s)"
        )
