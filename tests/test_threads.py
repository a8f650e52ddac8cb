"""fewshot/threads.py: threads from the CPUs a process may use, shared among side-by-side jobs,
OpenMP waiting passively, and the user's own settings left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from fewshot.threads import (
    SET_HERE,
    busy_elsewhere,
    cgroup_cpu_quota,
    configure,
    thread_count,
    usable_cpus,
)
from tests.conftest import REPO


def test_the_count_is_the_cpus_shared_among_jobs_unless_the_user_set_it() -> None:
    assert thread_count({}, 2) == 2
    assert thread_count({"FEWSHOT_JOBS": "2"}, 16) == 8
    assert thread_count({"FEWSHOT_JOBS": "3"}, 2) == 1  # never below one
    assert thread_count({"FEWSHOT_JOBS": "x"}, 4) == 4  # nonsense is one job
    assert thread_count({"OMP_NUM_THREADS": "3", "FEWSHOT_JOBS": "2"}, 16) == 3


def test_cpus_other_processes_keep_busy_are_left_to_them() -> None:
    assert thread_count({}, 2, busy=0.1) == 2  # a browser tab is not a busy core
    assert thread_count({}, 2, busy=0.9) == 1
    assert thread_count({}, 16, busy=3.2) == 13
    assert thread_count({"FEWSHOT_JOBS": "2"}, 16, busy=12.0) == 4
    assert thread_count({}, 2, busy=2.0) == 1  # never below one
    # a 4-CPU quota on a 64-CPU host where other containers keep 10 busy: still 4
    assert thread_count({}, 4, busy=10.0, runnable=64) == 4


def test_a_busy_process_is_seen_and_its_cpu_left_alone() -> None:
    cpus = usable_cpus()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        seen = busy_elsewhere(set(os.sched_getaffinity(0)), seconds=0.5)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "FEWSHOT_"))}
        count = configure(env)
    finally:
        busy.kill()
        busy.wait()
    assert 0.7 <= seen <= cpus + 0.1  # at least the spinning loop (others may add)
    assert count <= max(1, cpus - 1)  # the looping process keeps its core
    assert busy_elsewhere({0}, stat=Path("/nonexistent")) == 0.0  # unreadable: no load seen


def test_the_cgroup_quota_caps_the_cpus(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path) is None  # no cgroup files: no quota
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 1.5
    assert usable_cpus(tmp_path) == min(len(os.sched_getaffinity(0)), 1)
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(v1) == 3.0


def test_configure_sets_passive_waiting_and_keeps_the_user_s_choices() -> None:
    env: dict[str, str] = {"FEWSHOT_JOBS": "64", "FEWSHOT_THREADS": "fixed"}
    assert configure(env) == 1
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and env["OMP_NUM_THREADS"] == "1"
    mine = {"OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": "3"}
    configure(mine)
    assert mine["OMP_WAIT_POLICY"] == "ACTIVE" and mine["OMP_NUM_THREADS"] == "3"
    untouched = {"FEWSHOT_THREADS": "default"}
    assert configure(untouched) is None and untouched == {"FEWSHOT_THREADS": "default"}
    # A child inherits what its parent's configure set, and decides again; what the user, or
    # the parent for its child, set stays.
    parent = {"FEWSHOT_THREADS": "fixed", "FEWSHOT_JOBS": "64"}
    configure(parent)
    child = {**parent, "FEWSHOT_JOBS": "1"}
    child[SET_HERE] = child[SET_HERE].replace(str(os.getpid()), "1")  # another process's
    assert configure(child) == usable_cpus() and child["OMP_WAIT_POLICY"] == "PASSIVE"
    pinned = {**parent, "FEWSHOT_JOBS": "1", "OMP_NUM_THREADS": "5"}
    pinned[SET_HERE] = pinned[SET_HERE].replace(str(os.getpid()), "1")
    assert configure(pinned) == 5
    again = dict(parent)  # this process: decided once
    again["FEWSHOT_JOBS"] = "1"
    assert configure(again) == 1


def test_a_stage_process_sets_its_threads_before_torch_loads() -> None:
    """`python -m stages.<name>` runs stages/__init__.py first: torch starts with the count
    (`fixed`: from the CPUs and jobs alone, whatever else runs)."""
    code = "import stages, os, torch; print(torch.get_num_threads(), os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_", "FEWSHOT_"))}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO,
        env={**env, "FEWSHOT_JOBS": "2", "FEWSHOT_THREADS": "fixed"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.split() == [str(max(1, usable_cpus() // 2)), "PASSIVE"]
