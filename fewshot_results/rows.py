"""The study's rows: one per experiment and training source, gathered from `dvc exp show`,
merged into the committed CSV (the one schema), and the per-generator table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from fewshot import paths
from fewshot_results.experiments import STAGE_LOG, parse_name
from fewshot_results.registry import classifier_of, former_names, mlp_twin

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
