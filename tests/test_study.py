"""The study end to end (scripts/study.py): a grid queued, run, tabulated and resumed in a
temporary repository; shards over two clones and shared remotes; bad flags in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from fewshot.threads import usable_cpus
from fewshot_results.experiments import (
    STAGE_LOG,
)
from tests.conftest import REPO, load_script
from tests.repo import make_preset_repo, sh


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
