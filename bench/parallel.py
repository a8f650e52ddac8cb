"""Benchmark: experiments side by side at one share of the cores each, against one at a time.

    python -m bench.parallel                    # 3 jobs, 100 steps of each network
    python -m bench.parallel --jobs 2 --steps 300

What `scripts/study.py --jobs N` does to the protocol's two costly stages, measured on this
machine in one run: the few-shot CGAN (conf/cgan/fewshot.yaml with coverage weighting, fp32,
or bf16 with `--cgan-precision bf16`) and the strong CNN (conf/classifier/strong.yaml) each
train `--steps` optimiser steps

- in one process on every core (torch's default threads): the baseline;
- in `--jobs` processes at once, each with cores // jobs threads (at least one), started
  together after a warm-up.

Printed per network: steps per second in all, and the ratio of the two. Small networks scale
badly across threads, so on a few cores side by side wins; on a GPU it does not apply.
Also the minibatch-stddev channel of the few-shot discriminator in two passes by hand against
`torch.var` over the group, the form it replaced; and the floor under the study's protocol at
100 per class for one preset (`--preset`; 3 subsets: its CGAN's steps and three
CNNs' steps each, every CNN evaluated on the 10,000 test images in as many views as its
`evaluate.tta_shift` asks): its counted floating-point work over this machine's peak (a large
fp32 matrix product), the time it would take at 100% of that peak.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.run import count_flops, peak_flops, real_subset
from fewshot.classifier_models import build_classifier
from fewshot.classify import train_classifier
from fewshot.device import machine_summary
from fewshot.gan import build_cgan, generator_ema, train_cgan
from fewshot.gan_models import minibatch_stddev
from fewshot.tensors import to_classifier_input, to_gan_input
from fewshot.training import seeded_rng
from fewshot.tta import view_count
from fewshot_results.compose import composed
from fewshot_results.registry import presets

NETWORKS = ("cgan", "cnn")
WARM_UP_STEPS = 5


def preset(group: str, name: str) -> dict[str, Any]:
    """params `group` as `dvc exp run -S group=name` composes it."""
    return composed([f"{group}={name}"])[group]


def training(network: str, steps: int, precision: str = "fp32") -> tuple[Any, Any]:
    """(warm-up, timed run) of `steps` optimiser steps of `network` on the real subset; the CGAN
    in `precision` (the study pins fp32; bf16 is what `auto` picks on AVX512-BF16 CPUs)."""
    images, labels, _ = real_subset()
    device = torch.device("cpu")
    y = torch.from_numpy(labels)
    if network == "cgan":
        cfg = {**preset("cgan", "fewshot"), "coverage_weight": 1.0, "precision": precision}
        x = to_gan_input(images, device)

        def run(n: int) -> None:
            netg, netd = build_cgan(cfg, device, x, y)
            ema = generator_ema(netg, cfg["ema"])
            train_cgan(netg, netd, x, y, {**cfg, "steps": n}, seeded_rng(0, device), ema=ema)

    else:
        cfg = preset("classifier", "strong")
        x = to_classifier_input(images, device)

        def run(n: int) -> None:
            model = build_classifier(cfg["arch"])
            train_classifier(model, x, y, {**cfg, "steps": n}, seeded_rng(0, device))

    return lambda: run(WARM_UP_STEPS), lambda: run(steps)


def worker(
    network: str, steps: int, threads: int, barrier: Path, jobs: int, precision: str
) -> None:
    """Warm up, wait until all `jobs` workers have, then print the seconds of the timed run."""
    torch.set_num_threads(threads)
    warm_up, timed_run = training(network, steps, precision)
    warm_up()
    barrier.joinpath(str(os.getpid())).touch()
    while len(list(barrier.iterdir())) < jobs:
        time.sleep(0.05)
    start = time.perf_counter()
    timed_run()
    print(time.perf_counter() - start)


def steps_per_second(
    network: str, steps: int, jobs: int, threads: int, precision: str = "fp32"
) -> float:
    """All `jobs` workers' steps over the wall time of the slowest."""
    with tempfile.TemporaryDirectory() as barrier:
        cmd = [sys.executable, "-m", "bench.parallel", "--worker", network]
        cmd += ["--steps", str(steps), "--threads", str(threads), "--barrier", barrier]
        cmd += ["--jobs", str(jobs), "--cgan-precision", precision]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(jobs)]
        outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"error: a {network} worker failed (exit {[p.returncode for p in procs]})")
    return jobs * steps / max(float(out.strip().splitlines()[-1]) for out in outs)


def stddev_ratio(reps: int = 200) -> tuple[float, float]:
    """Milliseconds per forward and backward of the stddev channel on a discriminator-sized
    batch (32 x 64 x 7 x 7, NHWC): torch.var over the group, then the two passes."""
    x = torch.randn(32, 64, 7, 7).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()

    def by_var(t: torch.Tensor) -> torch.Tensor:
        std = t.view(4, 8, 64, 7, 7).var(0, unbiased=False).add(1e-8).sqrt()
        return torch.cat([t, std.mean((1, 2, 3), keepdim=True).repeat(4, 1, 7, 7)], 1)

    times = []
    for form in (by_var, minibatch_stddev):
        for _ in range(5):
            form(x).sum().backward()
        start = time.perf_counter()
        for _ in range(reps):
            form(x).sum().backward()
        times.append(1e3 * (time.perf_counter() - start) / reps)
    return times[0], times[1]


def protocol_floor(preset: str, subsets: int = 3, sources: int = 3) -> tuple[float, float]:
    """(TFLOP of the preset's training and evaluation at 100 per class, seconds at this CPU's
    fp32 peak)."""
    params = composed([f"experiment={preset}"])
    _, cgan_step = training("cgan", 1)
    _, cnn_step = training("cnn", 1)
    model = build_classifier("cnn").eval()
    with torch.no_grad():
        per_image = count_flops(lambda: model(torch.rand(100, 1, 28, 28))) / 100
    shift = params["evaluate"]["tta_shift"]
    views = 1 + (view_count(shift) if shift else 0)  # the test set as is, then shifted
    work = subsets * (
        params["cgan"]["steps"] * count_flops(cgan_step)
        + sources * params["classifier"]["steps"] * count_flops(cnn_step)
        + sources * 10_000 * views * per_image
    )
    return work / 1e12, work / peak_flops(torch.device("cpu"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3, help="processes side by side")
    parser.add_argument("--steps", type=int, default=100, help="optimiser steps per process")
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument(
        "--preset", choices=presets(), default="protocol", metavar="PRESET",
        help="the preset (conf/experiment/) whose protocol floor to count (default protocol)",
    )  # fmt: skip
    parser.add_argument(
        "--cgan-precision", choices=("fp32", "bf16"), default="fp32",
        help="the CGAN's arithmetic (default fp32, as the study pins it; bf16 runs fast only "
        "on CPUs with AVX512-BF16 or AMX)",
    )  # fmt: skip
    parser.add_argument("--worker", choices=NETWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--barrier", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jobs < 1 or args.steps < 1:
        parser.error("--jobs and --steps must be at least 1")
    if args.worker:
        worker(args.worker, args.steps, args.threads, args.barrier, args.jobs, args.cgan_precision)
        return
    cores = torch.get_num_threads()
    shared = max(1, cores // args.jobs)
    print(
        f"bench on {machine_summary()}; {args.steps} steps per process; "
        f"few-shot CGAN in {args.cgan_precision}\n"
    )
    print(f"| network | 1 job x {cores} threads (steps/s) | {args.jobs} jobs x {shared} "
          "thread(s) (steps/s) | side by side |")  # fmt: skip
    print("|:--|--:|--:|--:|")
    for network in args.networks:
        alone = steps_per_second(network, args.steps, 1, cores, args.cgan_precision)
        side_by_side = steps_per_second(network, args.steps, args.jobs, shared, args.cgan_precision)
        print(f"| {network} | {alone:.2f} | {side_by_side:.2f} | {side_by_side / alone:.2f}x |")
    old, new = stddev_ratio()
    print(
        f"\nminibatch stddev, forward + backward: torch.var {old:.2f} ms, two passes "
        f"{new:.2f} ms: {old / new:.2f}x"
    )
    tflop, seconds = protocol_floor(args.preset)
    print(
        f"\nthe protocol at 100 per class ({args.preset}): {tflop:.0f} TFLOP, "
        f"{seconds / 60:.0f} min at this CPU's fp32 peak (a floor: small convolutions run "
        "well below it)"
    )


if __name__ == "__main__":
    main()
