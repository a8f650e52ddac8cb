"""Run every pipeline stage with `dvc repro --single-item --force`, timing each one.

Prints a markdown table of wall time per stage (process start, imports and I/O included) and
the total: the numbers the README reports, with the machine they ran on.

    python scripts/time_stages.py [--out results/timings-cpu.md]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time
from pathlib import Path

import torch


def stage_names() -> list[str]:
    out = subprocess.run(
        ["dvc", "stage", "list", "--name-only"], check=True, capture_output=True, text=True
    ).stdout
    return out.split()


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (CUDA), {torch.get_num_threads()} CPU threads"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    rows, total = [], 0.0
    for name in stage_names():
        start = time.perf_counter()
        subprocess.run(["dvc", "repro", "--single-item", "--force", name], check=True)
        seconds = time.perf_counter() - start
        total += seconds
        rows.append(f"| {name} | {seconds:.1f} |")
    table = "\n".join(
        [
            f"Wall time per stage on {machine()}:",
            "",
            "| stage | seconds |",
            "|:--|--:|",
            *rows,
            f"| **total** | **{total:.1f}** |",
            "",
        ]
    )
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)


if __name__ == "__main__":
    main()
