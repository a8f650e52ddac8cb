"""The study script: the protocol queued and run as DVC experiments, then tabulated."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from fewshot import paths
from fewshot.threads import usable_cpus
from fewshot_results.experiments import (
    STAGE_LOG,
    experiment_name,
    experiments,
    parse_name,
    parse_queue_status,
    stage_env,
    stop_lingering_workers,
)
from fewshot_results.pages import unmeasured_presets
from fewshot_results.registry import classifier_of, former_names, mlp_twin
from fewshot_results.rows import (
    ROW_COLUMNS,
    generator_table,
    merge_rows,
    rows_from_experiment,
    stage_seconds,
)
from fewshot_results.stats import summarise
from tests.conftest import REPO, load_script
from tests.repo import make_preset_repo, sh


@pytest.mark.parametrize(
    "point",
    [("mnist", "fewshot-strong", 10, 1), ("fashion-mnist", "recipe", 500, 3)],
)
def test_experiment_names_round_trip(point) -> None:
    dataset, config, n, seed = point
    assert parse_name(experiment_name(*point)) == {
        "dataset": dataset,
        "config": config,
        "n_per_class": n,
        "subset_seed": seed,
    }
    assert parse_name("recipe-mlp-seed1") is None  # other experiments are not the study's


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


def test_a_configuration_is_classified_from_its_preset_or_the_registry() -> None:
    assert classifier_of("protocol") == "strong"  # conf/experiment/protocol.yaml
    assert classifier_of("sweep-recipe-h100-lenet") == "lenet"  # the registry's overrides
    with pytest.raises(ValueError, match="no-such-config.*conf/registry.yaml"):
        classifier_of("no-such-config")  # unknown: an error, not a guess from the name


def test_the_presets_without_rows_are_listed_with_what_they_are() -> None:
    rows = pd.DataFrame(
        {"dataset": ["mnist", "fashion-mnist"], "n_per_class": [100, 100],
         "config": ["protocol", "fewshot-unnormalised"]}
    )  # fmt: skip
    listed = unmeasured_presets(rows)
    assert "`protocol`" not in listed  # it has a row in the preset table
    assert "- `fewshot-select`: The few-shot CGAN, keeping the best 1 in 4" in listed
    assert "`fewshot-unnormalised`: " in listed and "fashion-mnist at 100 per class" in listed


def test_summary_is_over_subsets() -> None:
    rows = pd.DataFrame(
        {
            "dataset": "mnist",
            "config": "recipe",
            "n_per_class": 10,
            "source": "real",
            "subset_seed": [1, 2, 3],
            "test_accuracy": [0.5, 0.7, 0.9],
        }
    )
    (row,) = summarise(rows).to_dict("records")
    assert row["mean"] == pytest.approx(0.7) and row["std"] == pytest.approx(0.2)
    assert (row["min"], row["max"], row["subsets"], row["runs"]) == (0.5, 0.9, 3, 3)
    # subset 3 run again on another machine: one more run, not one more subset
    again = pd.concat([rows, rows.tail(1).assign(test_accuracy=1.0)], ignore_index=True)
    (row,) = summarise(again).to_dict("records")
    assert (row["subsets"], row["runs"], row["max"]) == (3, 4, 1.0)


def test_finished_experiments_carry_their_baseline_commit() -> None:
    # the shape of `dvc exp show --json` (DVC 3): experiments nested under their baseline
    show = [
        {"rev": "workspace", "name": None, "data": {}, "experiments": None},
        {
            "rev": "abc123",
            "name": "main",
            "data": {},
            "experiments": [
                {
                    "name": "study-mnist-recipe-n10-s1",
                    "executor": {"state": "success"},
                    "revs": [{"rev": "e1", "name": "study-mnist-recipe-n10-s1", "data": {}}],
                },
                {  # still running: its files are still the baseline's, so it is not collected
                    "name": "study-mnist-recipe-n10-s2",
                    "executor": {"state": "running"},
                    "revs": [{"rev": "e2", "name": "study-mnist-recipe-n10-s2", "data": {}}],
                },
            ],
        },
    ]
    found = {exp["name"]: exp["baseline"] for exp in experiments(show)}
    assert found == {None: None, "main": "abc123", "study-mnist-recipe-n10-s1": "abc123"}


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


@pytest.mark.e2e
def test_study_queues_runs_and_tabulates_then_resumes(tmp_path) -> None:
    repo, env = make_preset_repo(tmp_path)
    study = [sys.executable, str(REPO / "scripts/study.py"), "--configs", "recipe"]
    study += ["--n-per-class", "2", "--seeds", "1", "2", "--set", "cgan.epochs=1"]
    study += ["--out", "study/tiny", "--jobs", "2"]

    first = sh(repo, *study, env=env)
    assert "2 experiment(s) to queue" in first.stdout
    # two at a time through DVC's queue, the cores shared out between them
    log = [json.loads(line) for line in (repo / STAGE_LOG).read_text().splitlines()]
    threads = {r["torch_threads"] for r in log} - {None}  # None: a stage without torch
    assert threads == {max(1, usable_cpus() // 2)}
    rows = pd.read_csv(repo / "study/tiny.csv")
    assert set(rows["subset_seed"]) == {1, 2}
    rows = rows[rows["subset_seed"] == 1]
    assert {"dataset", "n_per_class", "config", "source", "subset_seed", "test_accuracy"} <= set(
        rows
    )
    assert sorted(rows["source"]) == ["mixed", "real", "synthetic"]
    assert set(rows["n_per_class"]) == {2}
    assert rows["test_accuracy"].between(0, 1).all() and rows["machine"].notna().all()
    assert rows["test_accuracy_tta"].between(0, 1).all()  # evaluate also reports it
    assert rows["generator_label_fidelity"].between(0, 1).all()
    assert set(rows["config"]) == {"recipe"} and set(rows["subset_seed"]) == {1}
    # the CGAN was trained in the queued experiment, and its time found its way back
    assert (rows["train_cgan_s"] > 0).all()
    generators = pd.read_csv(repo / "study/tiny-generators.csv")
    assert len(generators) == 2 and generators["synthetic_accuracy_mlp"].between(0, 1).all()
    # one configuration at one size: no curve and nothing to compare, so no figure
    assert not list((repo / "study").glob("*.png"))
    assert "| mnist" in (repo / "study/tiny.md").read_text()

    again = sh(repo, *study, env=env)  # resumable: nothing is queued or run twice
    assert "0 experiment(s) to queue" in again.stdout
    again_rows = pd.read_csv(repo / "study/tiny.csv")
    assert again_rows[again_rows["subset_seed"] == 1].equals(rows)


def test_figures_draw_curves_only_where_there_is_a_curve(tmp_path) -> None:
    from fewshot_results.figures import plot_curves

    def rows(config: str, sizes: list[int]) -> list[dict]:
        return [
            {
                "dataset": "mnist",
                "config": config,
                "n_per_class": n,
                "source": source,
                "subset_seed": seed,
                "test_accuracy": accuracy,
            }
            for n in sizes
            for source, accuracy in (("real", 0.9), ("synthetic", 0.6), ("mixed", 0.88))
            for seed in (1, 2, 3)
        ]

    table = summarise(pd.DataFrame(rows("recipe", [10, 100]) + rows("fewshot", [100])))
    written = plot_curves(table, tmp_path / "study")
    # one curve panel (recipe has two sizes), one side-by-side figure at 100 (two configs there)
    assert written == [tmp_path / "study-mnist.png", tmp_path / "study-mnist-n100.png"]
    assert all(path.stat().st_size > 0 for path in written)
    only_one_size = summarise(pd.DataFrame(rows("fewshot", [100])))
    assert plot_curves(only_one_size, tmp_path / "alone") == []


def test_the_strong_cnn_and_mlp_curves_compare_mixed_minus_real_per_size(tmp_path) -> None:
    from fewshot_results.figures import plot_curve_comparison
    from fewshot_results.pages import curve_answer, curve_table
    from fewshot_results.stats import paired_differences

    def rows(config: str, n: int, gains: list[float]) -> list[dict]:
        out = []
        for seed, gain in enumerate(gains, start=1):
            for source, accuracy in (("real", 0.9), ("synthetic", 0.8), ("mixed", 0.9 + gain)):
                out.append({"dataset": "mnist", "config": config, "n_per_class": n,
                            "source": source, "subset_seed": seed, "machine": "cpu",
                            "test_accuracy": accuracy})  # fmt: skip
        return out

    data = pd.DataFrame(
        rows("protocol", 10, [0.02, 0.03, 0.025])  # adds at 10 per class
        + rows("protocol", 100, [0.001, -0.002])  # not at 100
        + rows("fewshot-mlp", 100, [0.02])  # one subset: no interval
        + rows("recipe", 100, [0.5, 0.5])  # not a curve: left out
    )
    table, paired = summarise(data), paired_differences(data)
    lines = curve_table(table, paired).splitlines()[2:]
    assert [line.split(" | ")[:2] for line in lines] == [
        ["| 10", "strong CNN (`protocol`)"],
        ["| 100", "MLP (`fewshot-mlp`)"],
        ["| 100", "strong CNN (`protocol`)"],
    ]
    assert "+2.50 (+1.26 to +3.74)" in lines[0] and lines[0].endswith("| 3 |")
    assert "+2.00 (one subset)" in lines[1]
    assert "90.00 ± 0.00%" in lines[2] and "-0.05 (" in lines[2]
    figure = plot_curve_comparison(table, paired, tmp_path / "study")
    assert figure == tmp_path / "study-mnist-curve.png" and figure.stat().st_size > 0
    one_size = data[data["n_per_class"] == 100]
    assert plot_curve_comparison(summarise(one_size), paired, tmp_path / "x") is None
    # the README's one line: bold where the interval is above zero, and where it stops
    answer = curve_answer(paired)
    assert "(`fewshot-mlp`) +2.00 at 100 (one subset): no gain shown at the one size" in answer
    assert "**+2.50 at 10**, −0.05 at 100: a gain shown at 10, none from 100 on." in answer


def test_queue_status_gives_the_tasks_still_waiting_by_name() -> None:
    status = """\
Task     Name                             Created    Status
9b672ae  study-mnist-fewshot-15k-n100-s3  01:01 AM   Failed
1c2d3e4  study-mnist-recipe-n200-s1       Nov 30, 2026  Queued
5f6a7b8                                   01:05 AM   Queued
0a1b2c3  study-mnist-recipe-n200-s2       01:06 AM   Running

Worker status: 0 active, 0 idle
"""
    assert parse_queue_status(status) == ["study-mnist-recipe-n200-s1", "5f6a7b8"]
    assert parse_queue_status("Task  Name  Created  Status\n") == []


def test_the_stages_learn_how_many_jobs_share_the_cpus() -> None:
    assert stage_env(3, {})["FEWSHOT_JOBS"] == "3"  # fewshot/threads.py turns it into threads
    assert stage_env(2, {"OMP_NUM_THREADS": "4"})["OMP_NUM_THREADS"] == "4"  # the user's choice
    assert stage_env(1, {})["FEWSHOT_RESOURCE_LOG"].endswith("study-stages.jsonl")


def test_a_grid_is_data_and_flags_given_beside_it_win(capsys) -> None:
    parse_args = load_script("study").parse_args
    args = parse_args(["--protocol"])  # conf/study/protocol.yaml
    expected = (["protocol"], [100], [1, 2, 3], 3)
    assert (args.presets, args.n_per_class, args.seeds, args.jobs) == expected
    assert parse_args(["--grid", "protocol", "--jobs", "1", "--seeds", "4"]).jobs == 1
    assert parse_args(["--protocol", "--seeds", "4"]).seeds == [4]
    assert parse_args([]).presets == ["recipe", "fewshot-mlp"]  # conf/study/default.yaml
    assert parse_args(["--grid", "curve"]).n_per_class == [10, 20, 50, 100, 200]
    assert parse_args(["--configs", "fewshot"]).presets == ["fewshot-mlp"]  # a former name
    assert "fewshot is now the preset fewshot-mlp" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parse_args(["--presets", "fewshot-4k-translation-select"])  # retired: not runnable
    assert "not a preset in conf/experiment/" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--grid nowhere: no conf/study/nowhere.yaml"):
        parse_args(["--grid", "nowhere"])


def test_lingering_queue_workers_are_stopped_and_nothing_else(tmp_path) -> None:
    # each says "up" once running, so its command line is its own, not the forking parent's
    sleep = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
    worker = subprocess.Popen(
        [*sleep, "exp", "queue-worker", "dvc-exp-1@localhost"], stdout=subprocess.PIPE
    )
    other = subprocess.Popen(sleep, stdout=subprocess.PIPE)  # a pid a stale record could name
    try:
        assert worker.stdout.readline() == other.stdout.readline() == b"up\n"
        for n, pid in enumerate((worker.pid, other.pid, 999_999_999)):
            (tmp_path / f"dvc-exp-worker-{n}.json").write_text(json.dumps({"pid": pid}))
        assert stop_lingering_workers(tmp_path) == [worker.pid]
        assert worker.wait(timeout=10) != 0 and other.poll() is None
    finally:
        worker.kill()
        other.kill()


def test_paired_difference_is_per_subset_with_a_t_interval_and_an_honest_verdict() -> None:
    from fewshot_results.stats import paired_differences

    def rows(config: str, gaps: list[float], machine: str = "cpu-a") -> list[dict]:
        return [
            {
                "dataset": "mnist",
                "config": config,
                "n_per_class": 100,
                "source": source,
                "subset_seed": seed,
                "machine": machine,
                "test_accuracy": 0.90 + (gap if source == "mixed" else 0.0),
            }
            for seed, gap in enumerate(gaps, start=1)
            for source in ("real", "mixed")
        ]

    frame = pd.DataFrame(
        rows("steady", [0.010, 0.012, 0.011])
        + rows("noisy", [0.030, -0.025, 0.010])
        + rows("single", [0.02])
        # subset 1 again on another machine: averaged into its subset, not a fourth subset
        + rows("steady", [0.014], machine="cpu-b")
    )
    paired = paired_differences(frame).set_index("config")
    steady = paired.loc["steady"]
    assert steady["subsets"] == 3
    gaps = [0.012, 0.012, 0.011]  # subset 1: mean of 0.010 and 0.014
    half = 4.302653 * pd.Series(gaps).std() / 3**0.5  # t(0.975, 2 df)
    assert steady["mean"] == pytest.approx(sum(gaps) / 3)
    assert steady["ci_low"] == pytest.approx(steady["mean"] - half, rel=1e-4)
    assert steady["verdict"] == "mixed adds"
    assert paired.loc["noisy", "verdict"] == "no difference shown"
    assert paired.loc["single", "verdict"] == "one subset: no interval"
    assert paired.loc["noisy", "per_subset"] == "+3.00 -2.50 +1.00"


def test_shards_split_the_grid_exactly_once_whatever_the_order() -> None:
    from fewshot_results.shards import parse_shard, shard_points

    grid = [("mnist", c, n, s) for c in ("recipe", "fewshot") for n in (10, 100) for s in (1, 2, 3)]
    shards = [shard_points(grid, (k, 3)) for k in (1, 2, 3)]
    assert sorted(p for shard in shards for p in shard) == sorted(grid)
    assert [len(s) for s in shards] == [4, 4, 4]
    assert shard_points(list(reversed(grid)), (2, 3)) == shards[1]  # not the caller's order
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "two", "3"):
        with pytest.raises(Exception, match="1 <= K <= N"):
            parse_shard(bad)


def test_two_clones_run_one_shard_each_and_a_third_collects(tmp_path) -> None:
    """One machine as two: a bare git remote and a local DVC remote shared by two clones."""
    repo, env = make_preset_repo(tmp_path)
    shared_git, shared_dvc = tmp_path / "shared.git", tmp_path / "dvc-remote"
    sh(tmp_path, "git", "init", "-q", "--bare", str(shared_git))
    sh(repo, "dvc", "remote", "add", "-d", "shared", str(shared_dvc), env=env)
    sh(repo, "git", "commit", "-qam", "the shared DVC remote")
    sh(repo, "git", "remote", "add", "origin", str(shared_git))
    sh(repo, "git", "push", "-q", "origin", "HEAD:main")
    study = [sys.executable, str(REPO / "scripts/study.py"), "--configs", "recipe"]
    study += ["--n-per-class", "2", "--seeds", "1", "2", "--set", "cgan.epochs=1"]
    study += ["--out", "study/tiny", "--remote", "origin"]

    clones = []
    for name in ("a", "b", "c"):
        sh(tmp_path, "git", "clone", "-q", "-b", "main", str(shared_git), name)
        clones.append(tmp_path / name)
    runs = [
        subprocess.Popen(
            [*study, "--shard", f"{k}/2"],
            cwd=clone,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for k, clone in ((1, clones[0]), (2, clones[1]))
    ]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert "shard 1/2: 1 of 2 point(s)" in outputs[0] and "1 experiment(s) to queue" in outputs[0]
    assert "shard 2/2: 1 of 2 point(s)" in outputs[1]

    collected = sh(clones[2], *study, "--collect-only", env=env)
    assert "pulled 2 experiment(s)" in collected.stdout
    rows = pd.read_csv(clones[2] / "study/tiny.csv")
    assert sorted(rows["subset_seed"]) == [1, 1, 1, 2, 2, 2]  # each point once
    for clone in clones[:2]:  # the same values as the clone that ran them
        own = pd.read_csv(clone / "study/tiny.csv").set_index(["subset_seed", "source"])
        mine = rows.set_index(["subset_seed", "source"]).loc[own.index]
        assert mine["test_accuracy"].tolist() == own["test_accuracy"].tolist()

    again = sh(clones[0], *study, "--shard", "2/2", env=env)  # the other machine's shard
    assert "0 experiment(s) to queue" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "3/2"], "expected K/N with 1 <= K <= N"),
        (["--remote", "nowhere"], "'nowhere' is not a git remote"),
        (["--remote", "gone"], "git remote 'gone' is not reachable"),
        (["--remote", "origin"], "no default DVC remote"),
    ],
)
def test_bad_shard_or_remote_ends_in_one_line_before_any_experiment(tmp_path, args, message):
    repo, env = make_preset_repo(tmp_path)
    sh(tmp_path, "git", "init", "-q", "--bare", "origin.git")
    sh(repo, "git", "remote", "add", "origin", str(tmp_path / "origin.git"))
    sh(repo, "git", "remote", "add", "gone", str(tmp_path / "missing.git"))
    study = [sys.executable, str(REPO / "scripts/study.py"), "--configs", "recipe"]
    result = sh(repo, *study, "--n-per-class", "2", "--seeds", "1", *args, env=env, check=False)
    assert result.returncode == 2 or result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert sh(repo, "dvc", "queue", "status", env=env).stdout.count("Queued") == 0


def test_the_docs_tables_are_generated_from_the_committed_rows() -> None:
    from fewshot_results.pages import GENERATED_PAGES, results_page
    from fewshot_results.stats import paired_differences

    rows = pd.read_csv(REPO / "docs/results/study/study.csv")
    paired = paired_differences(rows)
    for page in GENERATED_PAGES:
        text = (REPO / page).read_text()
        assert "<!-- table:presets -->" in text or "<!-- table:all-presets -->" in text
        assert results_page(rows, paired, REPO / page) == text, (
            f"{page}'s tables are stale: make pages"
        )
