"""fewshot_results.experiments and shards: experiment names, the queue, lingering workers,
the stages' share of the CPUs, and slices of a grid."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fewshot.threads import SET_HERE, configure, usable_cpus
from fewshot_results.experiments import (
    experiment_name,
    experiments,
    parse_name,
    parse_queue_status,
    stage_env,
    stop_lingering_workers,
)


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
    # The study's own process configured its threads; its stages decide theirs again.
    study = {"FEWSHOT_THREADS": "fixed"}
    configure(study)
    stage = stage_env(2, study)
    stage[SET_HERE] = stage[SET_HERE].replace(str(os.getpid()), "1")  # another process
    assert configure(stage) == max(1, usable_cpus() // 2)


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
