"""Benchmark: the project's implementation against the recipe's original loop, in one process.

    python -m bench.run                       # CPU or CUDA (device: auto), short settings
    python -m bench.run --cgan-epochs 100 --per-class 1000 --classifier-epochs 10   # full size
    python -m bench.run --check               # exit 1 when a ratio misses its target

Both sides run the same networks at the recipe's hyperparameters on the same data, on the
same machine, one after the other; each is warmed up first. What is reported (and checked)
is the ratio of throughputs, project / recipe, which transfers between machines far better
than absolute times. The full `dvc repro` time is measured by scripts/time_stages.py.

Then a roofline line per CGAN loop: the floating-point work of one training epoch (convolutions
and matrix products, forward and backward, counted by torch's FlopCounterMode) over its measured
time, against the machine's peak measured in the same run (a large fp32 matrix product), so
"compute-bound" is a number rather than a guess.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench import recipe
from fewshot import paths
from fewshot.classifier_models import build_classifier
from fewshot.classify import train_classifier
from fewshot.data import load_image_folder, load_subset
from fewshot.device import resolve_device
from fewshot.gan import build_cgan, train_cgan
from fewshot.generation import write_image_folder
from fewshot.params import load_params
from fewshot.pngio import png_pool
from fewshot.tensors import to_classifier_input, to_gan_input
from fewshot.training import seeded_rng

# The targets: minimum speed-up over the recipe's loop, per device type.
TARGETS = {
    "cpu": {"CGAN training": 2.0, "generate + write PNGs": 10.0},
    "cuda": {"CGAN training": 8.0, "generate + write PNGs": 10.0},
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations (2 per multiply-add) of the matrix work `fn` does."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def peak_flops(
    device: torch.device,
    n: int = 2048,
    reps: int = 8,
    dtype: torch.dtype = torch.float32,
    trials: int = 3,
) -> float:
    """FLOP/s of a large matrix product: the most this device does on dense work. The best of
    `trials` timings, since a peak measured during a hiccup would overstate every share of it."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    a @ b  # warm-up
    seconds = min(timed(lambda: [a @ b for _ in range(reps)], device) for _ in range(trials))
    return 2 * n**3 * reps / seconds


def real_subset() -> tuple[np.ndarray, np.ndarray, str]:
    """The pipeline's real subset when `dvc repro` made one, else random digits-sized noise
    (the timings depend on shapes, not pixel values)."""
    if paths.SUBSET_FILE.is_file():
        images, labels, _ = load_subset(paths.SUBSET_FILE)
        return images, labels, str(paths.SUBSET_FILE)
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 100)
    return rng.integers(0, 256, (1000, 28, 28), dtype=np.uint8), labels, "random images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--cgan-epochs", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=200, help="generated images per class")
    parser.add_argument("--classifier-epochs", type=int, default=1)
    parser.add_argument(
        "--real-per-class", type=int, default=100, help="real images per class for the CGAN"
    )
    parser.add_argument(
        "--precision", default="fp32", choices=("fp32", "bf16"), help="the project's CGAN only"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    device = resolve_device(args.device)
    params = load_params()
    cgan_cfg = {**params["cgan"], "epochs": args.cgan_epochs, "precision": args.precision}
    clf_cfg = {**params["classifier"], "epochs": args.classifier_epochs, "arch": "mlp"}
    images, labels, source = real_subset()
    keep = np.concatenate([np.flatnonzero(labels == c)[: args.real_per_class] for c in range(10)])
    images, labels = images[keep], labels[keep]
    x, y = to_gan_input(images, device), torch.from_numpy(labels).to(device)

    def project_cgan(epochs: int) -> torch.nn.Module:
        rng = seeded_rng(0, device)
        netg, netd = build_cgan(cgan_cfg, device)
        train_cgan(netg, netd, x, y, {**cgan_cfg, "epochs": epochs}, rng)
        return netg

    results: dict[str, tuple[float, float, str]] = {}  # name -> (recipe s, project s, unit)
    recipe.train_cgan(images, labels, 1, device)  # warm-up: allocator, kernels, threads
    project_cgan(1)
    n = args.cgan_epochs * len(images)
    results["CGAN training"] = (
        timed(lambda: recipe.train_cgan(images, labels, args.cgan_epochs, device), device),
        timed(lambda: project_cgan(args.cgan_epochs), device),
        f"{n} image-steps",
    )

    # One epoch of each loop, its work counted apart from its timing (counting slows it).
    roofline = {
        "recipe loop": (
            count_flops(lambda: recipe.train_cgan(images, labels, 1, device)),
            results["CGAN training"][0] / args.cgan_epochs,
        ),
        "project loop": (
            count_flops(lambda: project_cgan(1)),
            results["CGAN training"][1] / args.cgan_epochs,
        ),
    }
    peak = peak_flops(device)
    # bf16 autocast runs the convolutions in bf16, whose peak (where the CPU has bf16 units)
    # is another number: measured too, so "of peak" compares like with like.
    peak_bf16 = peak_flops(device, dtype=torch.bfloat16) if args.precision == "bf16" else None

    netg = project_cgan(1).eval()
    with tempfile.TemporaryDirectory() as tmp:
        per_class, n_images = args.per_class, 10 * args.per_class
        with png_pool() as pool:  # forked before the timed work, as in the generate stage
            sampling = params["generate"]["sampling"]  # the source's way by default
            write = lambda out: write_image_folder(  # noqa: E731
                netg, out, per_class, 1000, seeded_rng(0, device), pool, sampling=sampling
            )
            recipe.generate(netg, Path(tmp) / "warm", 2, device)
            write(Path(tmp) / "warm_project")
            old_way = lambda: recipe.generate(netg, Path(tmp) / "recipe", per_class, device)  # noqa: E731
            results["generate + write PNGs"] = (
                timed(old_way, device),
                timed(lambda: write(Path(tmp) / "project"), device),
                f"{n_images} PNGs",
            )
        folder = Path(tmp) / "project"

        def project_classifier() -> None:
            imgs, labs = load_image_folder(folder)  # reading the PNGs is part of the job
            model = build_classifier("mlp").to(device)
            xs, ys = to_classifier_input(imgs, device), torch.from_numpy(labs).to(device)
            train_classifier(model, xs, ys, clf_cfg, seeded_rng(0, device))

        results["classifier training (MLP, batch 10)"] = (
            timed(lambda: recipe.train_classifier(folder, args.classifier_epochs, device), device),
            timed(project_classifier, device),
            f"{args.classifier_epochs} epoch(s) on {n_images} PNGs",
        )

    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.machine() + " CPU"
    print(
        f"\nbench on {name}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"project CGAN in {args.precision}; data: {source}\n"
    )
    print("| work | size | recipe loop (s) | project (s) | speed-up | target |")
    print("|:--|:--|--:|--:|--:|:--|")
    missed = []
    for work, (old, new, size) in results.items():
        ratio = old / new
        target = TARGETS[device.type].get(work)
        verdict = ""
        if target is not None:
            verdict = f">= {target:g}x " + ("met" if ratio >= target else "MISSED")
            if ratio < target:
                missed.append(work)
        print(f"| {work} | {size} | {old:.2f} | {new:.2f} | {ratio:.2f}x | {verdict} |")
    print(f"\nroofline: peak {peak / 1e9:.1f} GFLOP/s (fp32 {2048}^3 matrix product)")
    if peak_bf16 is not None:
        print(f"bf16 peak {peak_bf16 / 1e9:.1f} GFLOP/s (the same product in bf16)")
    print("\n| CGAN training | GFLOP per epoch | s per epoch | GFLOP/s | of fp32 peak |")
    print("|:--|--:|--:|--:|--:|")
    for loop, (flops, seconds) in roofline.items():
        rate = flops / seconds
        share = f"{rate / peak:.0%}"
        if peak_bf16 is not None and loop == "project loop":
            share += f" ({rate / peak_bf16:.0%} of bf16 peak)"
        print(f"| {loop} | {flops / 1e9:.2f} | {seconds:.2f} | {rate / 1e9:.1f} | {share} |")
    if args.check and missed:
        sys.exit(f"bench: below target: {', '.join(missed)}")


if __name__ == "__main__":
    main()
