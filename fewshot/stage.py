"""The stage entry point: one clear line for bad input, and each run's wall time and peak
memory in $FEWSHOT_RESOURCE_LOG when it is set.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fewshot.errors import FewshotError


def _process_age() -> float:
    """Seconds since this process started (imports included), from /proc on Linux."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _workspace_params() -> dict[str, Any] | None:
    try:
        return yaml.safe_load(Path("params.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None


def _record_resources(started: float) -> None:
    """Append this stage's wall time and peak memory to $FEWSHOT_RESOURCE_LOG (JSON lines).

    Used by scripts/time_stages.py; stages never write it into their outputs, which must
    not change from run to run.
    """
    log = os.environ.get("FEWSHOT_RESOURCE_LOG")
    if not log:
        return
    torch = sys.modules.get("torch")  # a stage that never imported torch used no GPU
    record = {
        "stage": " ".join([Path(sys.argv[0]).stem, *sys.argv[1:]]),
        "wall_s": round(time.perf_counter() - started, 2),
        "process_s": round(_process_age(), 2),  # with interpreter start and imports
        # ru_maxrss is in KiB on Linux
        "peak_host_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_mib": (
            round(torch.cuda.max_memory_allocated() / 2**20, 1)
            if torch is not None and torch.cuda.is_initialized()
            else None
        ),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        # Which run this was: the study's rows (fewshot_results/rows.py) match it to the
        # experiment with these params.
        "params": _workspace_params(),
    }
    with open(log, "a") as f:
        f.write(json.dumps(record) + "\n")


def run(main: Callable[[], None]) -> None:
    """Run a stage; input errors end it with one clear line and exit status 2."""
    started = time.perf_counter()
    try:
        main()
    except FewshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    _record_resources(started)
