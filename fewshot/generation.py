"""Batched generation into a torchvision ImageFolder, PNGs encoded by worker processes."""

from __future__ import annotations

from multiprocessing.pool import Pool
from pathlib import Path

import torch
from tqdm import tqdm

from fewshot.models import N_CLASSES, Generator
from fewshot.pngio import write_pngs
from fewshot.training import sample, to_uint8


def write_image_folder(
    netg: Generator,
    folder: Path,
    per_class: int,
    batch_size: int,
    gen: torch.Generator,
    pool: Pool,
) -> int:
    """Write `per_class` images of each class as <folder>/<class>/<n:05d>.png; return the count.

    The generator runs in eval mode on `gen`'s device, one batch while the pool encodes the
    previous ones; the noise comes from `gen`, so a seed gives the same images every time.
    """
    jobs = []
    for cls in range(N_CLASSES):
        (folder / str(cls)).mkdir(parents=True)
        for first in range(0, per_class, batch_size):
            count = min(batch_size, per_class - first)
            labels = torch.full((count,), cls, device=gen.device)
            noise = torch.randn(count, netg.noise_dim, generator=gen, device=gen.device)
            images = to_uint8(sample(netg, noise, labels)).cpu().numpy()
            jobs.append(pool.apply_async(write_pngs, (folder / str(cls), first, images)))
    return sum(job.get() for job in tqdm(jobs, desc="generate", unit="batch"))
