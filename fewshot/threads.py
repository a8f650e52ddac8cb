"""How many CPU threads the networks use and how idle ones wait: decided here, once, before
torch loads (OpenMP reads its environment when the library is loaded).

- The count: the CPUs this process may use (its affinity mask and the cgroup's CPU quota, not
  the host's core count), divided among the jobs run side by side ($FEWSHOT_JOBS, which
  `study --jobs N` sets for its stages).
- The wait: passive. OpenMP's workers otherwise spin for a while at every barrier, burning a
  core that another process on the machine needs; beside one busy process the CGAN then slowed
  about 4x instead of sharing the cores (bench/contention.py measures it).

Override as for any OpenMP program: `OMP_NUM_THREADS=N` sets the count, `OMP_WAIT_POLICY=ACTIVE`
the wait; `FEWSHOT_THREADS=default` leaves both to torch and OpenMP, as before this module.
Nothing here imports torch.
"""

from __future__ import annotations

import math
import os
import sys
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


def usable_cpus(root: Path = CGROUP) -> int:
    """CPUs this process may run on: its affinity mask, capped by the cgroup's quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return cpus


def thread_count(environ: MutableMapping[str, str], cpus: int) -> int:
    """OMP_NUM_THREADS when set, else the usable CPUs shared among $FEWSHOT_JOBS jobs."""
    if environ.get("OMP_NUM_THREADS", "").isdigit() and int(environ["OMP_NUM_THREADS"]) > 0:
        return int(environ["OMP_NUM_THREADS"])
    jobs = environ.get("FEWSHOT_JOBS", "1")
    jobs = int(jobs) if jobs.isdigit() and int(jobs) > 0 else 1
    return max(1, cpus // jobs)


def configure(environ: MutableMapping[str, str] = os.environ) -> int | None:
    """Set the thread count and passive waiting for this process; return the count (None when
    FEWSHOT_THREADS=default leaves them alone). Call it before torch is imported; after, the
    count still applies but the wait policy no longer can."""
    if environ.get("FEWSHOT_THREADS") == "default":
        return None
    count = thread_count(environ, usable_cpus())
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        environ.setdefault(name, str(count))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(count)
    return count
