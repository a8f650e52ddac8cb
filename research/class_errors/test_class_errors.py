"""research/class_errors/class_errors.py reads an experiment's committed evaluation, nothing
else."""

from __future__ import annotations

import json
import subprocess

import pytest

from research.class_errors.class_errors import tables


def commit_experiment(repo, name: str, per_class: dict, pairs: list[tuple[int, int]]) -> None:
    (repo / "metrics/evaluate").mkdir(parents=True, exist_ok=True)
    (repo / "plots/evaluate/confusion").mkdir(parents=True, exist_ok=True)
    metrics = {"accuracy": 0.5, "per_class_accuracy": per_class}
    (repo / "metrics/evaluate/synthetic.json").write_text(json.dumps(metrics))
    rows = "\n".join(f"{a},{p}" for a, p in pairs)
    (repo / "plots/evaluate/confusion/synthetic.csv").write_text(f"actual,predicted\n{rows}\n")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", name)
    git("update-ref", f"refs/exps/ab/cdef/{name}", "HEAD")


def test_tables_give_per_class_accuracy_and_the_shares_of_each_run_s_errors(
    tmp_path, monkeypatch
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    # run s1: two 7s read as 2, one 4 as 9, one right; run s2: one 7 as 2
    commit_experiment(tmp_path, "exp-s1", {"4": 0.5, "7": 0.0}, [(7, 2), (7, 2), (4, 9), (4, 4)])
    commit_experiment(tmp_path, "exp-s2", {"4": 1.0, "7": 0.5}, [(7, 2), (7, 7), (4, 4)])
    monkeypatch.chdir(tmp_path)
    accuracy, top = tables(["exp-s1", "exp-s2"], "synthetic", top=5)
    assert list(accuracy.columns) == ["s1", "s2"]  # named by what differs
    assert accuracy.loc[7].tolist() == [0.0, 50.0]
    assert top.index.tolist() == ["7 -> 2", "4 -> 9"]  # most frequent over both runs first
    assert top.loc["7 -> 2"].tolist() == ["2 (67%)", "1 (100%)"]
    assert top.loc["4 -> 9"].tolist() == ["1 (33%)", "0 (0%)"]


def test_an_unknown_experiment_is_named_in_the_error(tmp_path, monkeypatch) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="no experiment named 'nope'"):
        tables(["nope"], "synthetic", top=3)
