"""fewshot_results.rows: rows from `dvc exp show`, merged into the committed CSV, and the
per-generator table."""

from __future__ import annotations

import pandas as pd

from fewshot import paths
from fewshot_results.registry import former_names, mlp_twin
from fewshot_results.rows import (
    ROW_COLUMNS,
    generator_table,
    merge_rows,
    rows_from_experiment,
    stage_seconds,
)
from fewshot_results.stats import summarise


def test_an_experiment_run_under_a_former_name_is_tabulated_under_its_preset(tmp_path) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        "former:\n  fewshot: {now: fewshot-mlp, commits: abc}\n"
        "retired:\n  old-thing: {overrides: -S seed=1, defined_at: def}\n"
    )
    assert former_names(registry) == {"fewshot": "fewshot-mlp"}  # a retired name maps nowhere
    assert former_names(tmp_path / "missing.yaml") == {}
    exp = {
        "name": "study-mnist-fewshot-10k-cover-strong-half-narrow-n100-s4",
        "baseline": "e92ccfe",
        "data": {"metrics": {paths.eval_metrics("real").as_posix(): {"data": {"accuracy": 0.9}}}},
    }
    rows = rows_from_experiment(exp)
    assert [r["config"] for r in rows] == ["protocol"]  # conf/registry.yaml
    assert rows[0]["experiment"] == exp["name"]  # the record keeps the name it ran under


def test_collected_rows_replace_their_own_and_keep_the_rest() -> None:
    def rows(
        seed: int, accuracy: float, commit: str, config: str = "fewshot", machine: str = "avx2"
    ) -> dict:
        return {
            "machine": machine,
            "experiment": f"study-mnist-fewshot-n100-s{seed}",
            "source": "real",
            "test_accuracy": accuracy,
            "commit": commit,
            "dataset": "mnist",
            "config": config,
            "n_per_class": 100,
            "subset_seed": seed,
        }

    committed = pd.DataFrame(
        [rows(1, 0.5, "old"), rows(2, 0.6, "old"), rows(2, 0.7, "old", "fewshot-translation")]
    )
    new = pd.DataFrame(
        [rows(2, 0.9, "new"), rows(1, 0.4, "new", machine="avx512")], columns=ROW_COLUMNS
    )
    merged = merge_rows(committed, new)
    assert list(merged.columns) == ROW_COLUMNS and len(merged) == 4
    # the same point on another machine is another run, kept beside the first
    assert sorted(merged.query("subset_seed == 1")["test_accuracy"]) == [0.4, 0.5]
    merged = merged[merged["machine"] == "avx2"].set_index(["config", "subset_seed"])
    assert merged.loc[("fewshot", 1), "test_accuracy"] == 0.5
    assert merged.loc[("fewshot", 2), "test_accuracy"] == 0.9
    assert merged.loc[("fewshot", 2), "commit"] == "new"
    # the same experiment name under a configuration's earlier meaning is another point
    assert merged.loc[("fewshot-translation", 2), "test_accuracy"] == 0.7


def test_an_experiment_gets_the_train_cgan_time_of_the_run_with_its_params() -> None:
    params = {"seed": 1, "n_per_class": 100, "cgan": {"steps": 6000}}
    other = {**params, "seed": 2}
    records = [
        {"stage": "train_cgan", "wall_s": 400.0, "params": params},
        {"stage": "train_judge", "wall_s": 60.0, "params": params},
        {"stage": "train_cgan", "wall_s": 300.0, "params": other},
    ]
    assert stage_seconds(records, "train_cgan", params) == 400.0
    assert stage_seconds(records, "train_cgan", other) == 300.0
    # restored from the run cache, or run before times were kept: nothing to report
    assert pd.isna(stage_seconds(records, "train_cgan", {**params, "seed": 3}))

    metric = {"data": {"accuracy": 0.9, "accuracy_tta": 0.91}}
    exp = {
        "name": "study-mnist-recipe-n100-s1",
        "baseline": "abc",
        "data": {
            "params": {"params.yaml": {"data": params}},
            "metrics": {"metrics/evaluate/real.json": metric},
        },
    }
    (row,) = rows_from_experiment(exp, records)
    assert row["train_cgan_s"] == 400.0 and row["source"] == "real"
    assert row["test_accuracy_tta"] == 0.91
    assert row["test_accuracy_single"] == 0.9  # a single classifier is its own member 0
    assert row["test_accuracy_members"] is None
    metric["data"].update(members=3, accuracy_single=0.88, accuracy_members=[0.88, 0.89, 0.87])
    (row,) = rows_from_experiment(exp, records)
    assert (row["test_accuracy"], row["test_accuracy_single"]) == (0.9, 0.88)
    assert row["test_accuracy_members"] == "0.88;0.89;0.87"
    assert summarise(pd.DataFrame([row])).loc[0, "mean_single"] == 0.88


def test_generator_table_has_one_row_per_generator_run_with_its_classifier_s_accuracy() -> None:
    def row(config: str, source: str, accuracy: float, machine: str = "avx512") -> dict:
        return {
            "dataset": "mnist",
            "n_per_class": 100,
            "config": config,
            "source": source,
            "subset_seed": 1,
            "test_accuracy": accuracy,
            "machine": machine,
            "generator_recall": 0.7,
            "generator_near_copy_fraction": 0.004,
            "train_cgan_s": 420.0,
        }

    rows = pd.DataFrame(
        [
            row("fewshot-mlp", "real", 0.90),
            row("fewshot-mlp", "synthetic", 0.88),
            row("fewshot-mlp", "mixed", 0.92),
            row("fewshot-strong-select", "synthetic", 0.96, machine="h100"),
        ]
    )
    table = generator_table(rows).set_index("config")
    assert len(table) == 2
    assert table.loc["fewshot-mlp", "synthetic_accuracy_mlp"] == 0.88
    assert pd.isna(table.loc["fewshot-mlp", "synthetic_accuracy"])
    assert table.loc["fewshot-strong-select", "synthetic_accuracy"] == 0.96
    assert pd.isna(table.loc["fewshot-strong-select", "synthetic_accuracy_mlp"])
    assert table.loc["fewshot-mlp", "near_copies"] == 0.004
    assert table.loc["fewshot-mlp", "train_cgan_s"] == 420.0


def test_generator_table_joins_a_strong_cnn_row_to_its_mlp_twin_on_the_same_images() -> None:
    def row(config: str, accuracy: float, recall: float = 0.7, cgan_s: float | None = None) -> dict:
        return {
            "dataset": "mnist",
            "n_per_class": 100,
            "config": config,
            "source": "synthetic",
            "subset_seed": 1,
            "test_accuracy": accuracy,
            "machine": "avx512",
            "generator_recall": recall,
            "generator_coverage": 0.45,
            "generator_label_fidelity": 0.986,
            "generator_fid": 28.8,
            "train_cgan_s": cgan_s,
        }

    rows = pd.DataFrame(
        [
            row("fewshot-cnn", 0.955, cgan_s=420.0),  # trained the CGAN
            row("fewshot-mlp", 0.887),  # restored it from the run cache
            row("fewshot-4k-translation-strong", 0.93, recall=0.6),  # no MLP twin: on its own
            row("fewshot-4k", 0.85, recall=0.61),  # another generator's scores: not joined
            row("fewshot-strong-select", 0.964, recall=0.63),  # selection: other images
        ]
    )
    table = generator_table(rows).set_index("config")
    assert sorted(table.index) == [
        "fewshot-4k",
        "fewshot-4k-translation-strong",
        "fewshot-mlp",
        "fewshot-strong-select",
    ]
    assert table.loc["fewshot-mlp", "synthetic_accuracy"] == 0.955
    assert table.loc["fewshot-mlp", "synthetic_accuracy_mlp"] == 0.887
    assert table.loc["fewshot-mlp", "train_cgan_s"] == 420.0
    assert pd.isna(table.loc["fewshot-4k", "synthetic_accuracy"])
    assert table.loc["fewshot-4k-translation-strong", "synthetic_accuracy"] == 0.93
    assert mlp_twin("fewshot-15k-strong-half") == "fewshot-15k"  # half real: the same images
    assert mlp_twin("fewshot-strong-select") is None
    assert mlp_twin("fewshot-mlp") is None
    assert mlp_twin("fewshot-4k-translation-strong") is None  # retired: no preset to compose


def test_another_clones_rows_merge_into_the_csv_as_collected_rows_do(tmp_path) -> None:
    import pandas as pd

    from fewshot_results.study import merge_csv
    from tests.conftest import REPO

    rows = pd.read_csv(REPO / "docs/results/study/study.csv")
    mine = rows[(rows["config"] == "protocol") & (rows["n_per_class"] == 10)]
    lane = rows[(rows["config"] == "protocol-mild") & (rows["n_per_class"] == 10)]
    assert len(mine) and len(lane)
    mine.to_csv(tmp_path / "study.csv", index=False)
    lane.assign(test_accuracy=0.5).to_csv(tmp_path / "lane.csv", index=False)
    pd.concat([mine, lane]).to_csv(tmp_path / "again.csv", index=False)
    merge_csv(tmp_path / "study", tmp_path / "lane.csv")
    merge_csv(tmp_path / "study", tmp_path / "again.csv")  # the same points again: replaced
    merged = pd.read_csv(tmp_path / "study.csv")
    assert len(merged) == len(mine) + len(lane)
    assert (merged[merged["config"] == "protocol-mild"]["test_accuracy"] != 0.5).all()
    assert (tmp_path / "study.md").is_file()
