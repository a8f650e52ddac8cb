"""Batched generation into a torchvision ImageFolder, PNGs encoded by worker processes."""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing.pool import Pool
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from fewshot.gan import sample
from fewshot.models import N_CLASSES
from fewshot.pngio import write_pngs
from fewshot.runtime import to_uint8

# Class probabilities (N, N_CLASSES) for uint8 images (N, 28, 28).
Scorer = Callable[[torch.Tensor], torch.Tensor]


def draw_class(
    netg: nn.Module, cls: int, count: int, batch_size: int, rng: torch.Generator
) -> torch.Tensor:
    """`count` uint8 images (count, 28, 28) of class `cls`, in eval mode, noise from `rng`."""
    chunks = []
    for first in range(0, count, batch_size):
        n = min(batch_size, count - first)
        labels = torch.full((n,), cls, device=rng.device)
        noise = torch.randn(n, netg.noise_dim, generator=rng, device=rng.device)
        chunks.append(to_uint8(sample(netg, noise, labels)))
    return torch.cat(chunks)


def most_confident(images: torch.Tensor, cls: int, keep: int, scorer: Scorer) -> torch.Tensor:
    """The `keep` images that `scorer` gives the highest probability of class `cls`, in the
    order they were drawn (ties go to the earlier draw)."""
    confidence = scorer(images)[:, cls]
    order = torch.sort(-confidence, stable=True).indices[:keep]
    return images[order.sort().values]


def write_image_folder(
    netg: nn.Module,
    folder: Path,
    per_class: int,
    batch_size: int,
    rng: torch.Generator,
    pool: Pool,
    oversample: int = 1,
    scorer: Scorer | None = None,
) -> int:
    """Write `per_class` images of each class as <folder>/<class>/<n:05d>.png; return the count.

    The generator runs in eval mode on `rng`'s device while the pool encodes earlier classes;
    the noise comes from `rng`, so a seed gives the same images every time. With `oversample`
    k > 1, k * per_class images are drawn per class and the `per_class` that `scorer` is most
    confident belong to the class are kept.
    """
    if oversample > 1 and scorer is None:
        raise ValueError("oversampling needs a scorer to choose the images to keep")
    jobs = []
    for cls in tqdm(range(N_CLASSES), desc="generate", unit="class"):
        (folder / str(cls)).mkdir(parents=True)
        images = draw_class(netg, cls, per_class * oversample, batch_size, rng)
        if oversample > 1:
            images = most_confident(images, cls, per_class, scorer)
        images = images.cpu().numpy()
        for first in range(0, per_class, batch_size):
            chunk = images[first : first + batch_size]
            jobs.append(pool.apply_async(write_pngs, (folder / str(cls), first, chunk)))
    return sum(job.get() for job in jobs)
