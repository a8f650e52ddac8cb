"""Time the whole default pipeline and each stage, with each stage's peak memory.

Runs `dvc repro --force` (every stage, no run-cache shortcuts), then a no-op `dvc repro`,
and prints a markdown table: wall time per stage (process start, imports and I/O
included), peak host RSS and peak GPU memory per stage, the total and the no-op time.
These are the numbers the README reports, with the machine they ran on.

    python scripts/time_stages.py [--out docs/results/bench/cpu/timings.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from fewshot.device import machine_summary


def timed_repro(*args: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(["dvc", "repro", *args], check=True, env=env)
    return time.perf_counter() - start


def table(records: list[dict], total: float, noop: float) -> str:
    rows = []
    for r in records:
        gpu = "-" if r["peak_gpu_mib"] is None else f"{r['peak_gpu_mib']:.0f}"
        rows.append(
            f"| {r['stage']} | {r['process_s']:.1f} | {r['wall_s']:.1f} | "
            f"{r['peak_host_mib']:.0f} | {gpu} |"
        )
    return "\n".join(
        [
            f"`dvc repro --force` on {machine_summary()}:",
            "",
            "| stage | process (s) | of which the stage's work (s) | peak host RSS (MiB) "
            "| peak GPU (MiB) |",
            "|:--|--:|--:|--:|--:|",
            *rows,
            f"| **whole `dvc repro --force`, DVC included** | **{total:.1f}** | | | |",
            f"| no-op `dvc repro` afterwards | {noop:.2f} | | | |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "resources.jsonl"
        total = timed_repro("--force", env={**os.environ, "FEWSHOT_RESOURCE_LOG": str(log)})
        records = [json.loads(line) for line in log.read_text().splitlines()]
    noop = timed_repro()
    text = table(records, total, noop)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
