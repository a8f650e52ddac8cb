"""How many CPU threads the networks use and how idle ones wait: decided here, once, before
torch loads (OpenMP reads its environment when the library is loaded).

- The count: the CPUs this process may use (its affinity mask and the cgroup's CPU quota, not
  the host's core count), divided among the jobs run side by side ($FEWSHOT_JOBS, which
  `study --jobs N` sets for its stages), and no more than the CPUs other processes left idle
  when it started (sampled for a quarter of a second): a thread that waits for a core another
  process holds stalls every barrier of the small networks here.
- The wait: passive. OpenMP's workers otherwise spin for a while at every barrier, burning a
  core that another process on the machine needs.
Beside busy processes the CGAN then slows about as a fair share of the cores would, instead of
4-12x (bench/contention.py measures it).

Override as for any OpenMP program: `OMP_NUM_THREADS=N` sets the count, `OMP_WAIT_POLICY=ACTIVE`
the wait. `FEWSHOT_THREADS=fixed` ignores the load (the count depends on the machine alone, so
reruns round alike: the tests use it); `FEWSHOT_THREADS=default` leaves everything to torch
and OpenMP, as before this module. Nothing here imports torch.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpu_quota(root: Path = CGROUP) -> float | None:
    """CPUs the cgroup may use per period (cgroup v2 `cpu.max`, or v1's CFS quota), or None."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def _affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def usable_cpus(root: Path = CGROUP) -> int:
    """CPUs this process may run on: its affinity mask, capped by the cgroup's quota."""
    cpus = len(_affinity())
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return cpus


def _cpu_times(cpus: set[int], stat: Path) -> tuple[int, int]:
    """(busy, total) jiffies of `cpus` so far, from /proc/stat's per-CPU lines."""
    busy = total = 0
    for line in stat.read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(v) for v in values[:8]]
            total += sum(ticks)
            busy += sum(ticks) - ticks[3] - ticks[4]  # less idle and iowait
    return busy, total


def busy_elsewhere(cpus: set[int], seconds: float = 0.25, stat: Path = Path("/proc/stat")) -> float:
    """How many of `cpus` other processes kept busy over `seconds`, while this one slept; 0
    where /proc/stat cannot be read."""
    try:
        busy0, total0 = _cpu_times(cpus, stat)
        time.sleep(seconds)
        busy1, total1 = _cpu_times(cpus, stat)
    except (OSError, ValueError, IndexError):
        return 0.0
    return len(cpus) * (busy1 - busy0) / max(1, total1 - total0)


def thread_count(
    environ: MutableMapping[str, str], cpus: int, busy: float = 0.0, runnable: int | None = None
) -> int:
    """OMP_NUM_THREADS when set; else the usable CPUs shared among $FEWSHOT_JOBS jobs, and no
    more than the CPUs that the `busy` ones leave idle among the `runnable` ones the process may
    run on (its affinity; more than `cpus` under a cgroup quota); at least one."""
    if environ.get("OMP_NUM_THREADS", "").isdigit() and int(environ["OMP_NUM_THREADS"]) > 0:
        return int(environ["OMP_NUM_THREADS"])
    jobs = environ.get("FEWSHOT_JOBS", "1")
    jobs = int(jobs) if jobs.isdigit() and int(jobs) > 0 else 1
    idle = (cpus if runnable is None else runnable) - math.floor(busy + 0.5)
    return max(1, min(cpus // jobs, idle))


# What `configure` set in this process ("pid NAME=value ..."): a child process inherits it,
# drops what is unchanged and decides again; the same process does not decide twice.
SET_HERE = "FEWSHOT_THREADS_SET"
VARIABLES = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def configure(environ: MutableMapping[str, str] = os.environ) -> int | None:
    """Set the thread count and passive waiting for this process; return the count (None when
    FEWSHOT_THREADS=default leaves them alone). Call it before torch is imported; after, the
    count still applies but the wait policy no longer can. Values the user (or a parent, for
    its child) set are kept; those a parent process's `configure` set are decided again."""
    pid, *settings = environ.get(SET_HERE, "").split() or [""]
    if pid == str(os.getpid()) and "OMP_NUM_THREADS" in environ:
        return int(environ["OMP_NUM_THREADS"])  # decided already in this process
    for setting in settings:  # a parent's: dropped where nobody changed them since
        name, _, value = setting.partition("=")
        if environ.get(name) == value:
            del environ[name]
    environ.pop(SET_HERE, None)
    mode = environ.get("FEWSHOT_THREADS", "auto")
    if mode == "default":
        return None
    cpus, runnable = usable_cpus(), _affinity()
    measure = mode != "fixed" and "OMP_NUM_THREADS" not in environ
    busy = busy_elsewhere(runnable) if measure and len(runnable) > 1 else 0.0
    count = thread_count(environ, cpus, busy, len(runnable))
    values = {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(count)}
    values["MKL_NUM_THREADS"] = str(count)
    added = {name: values[name] for name in VARIABLES if name not in environ}
    environ.update(added)
    environ[SET_HERE] = " ".join([str(os.getpid()), *(f"{k}={v}" for k, v in added.items())])
    torch = sys.modules.get("torch")
    if torch is not None and environ is os.environ:
        torch.set_num_threads(int(environ["OMP_NUM_THREADS"]))
    return int(environ["OMP_NUM_THREADS"])
