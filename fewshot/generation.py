"""Batched generation into a torchvision ImageFolder, PNGs encoded by worker processes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from multiprocessing.pool import Pool
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from fewshot.data import N_CLASSES
from fewshot.gan import sample
from fewshot.normalise import Geometry, normalise_class
from fewshot.pngio import write_pngs
from fewshot.tensors import to_uint8

# Class probabilities (N, N_CLASSES) for uint8 images (N, 28, 28).
Scorer = Callable[[torch.Tensor], torch.Tensor]


class _BatchNormOfOne(nn.Module):
    """A train-mode BatchNorm applied to each image alone, batched: over a batch of one,
    BatchNorm's statistics are that image's own per-channel statistics (instance norm)."""

    def __init__(self, bn: nn.BatchNorm2d) -> None:
        super().__init__()
        self.bn = bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.instance_norm(x, weight=self.bn.weight, bias=self.bn.bias, eps=self.bn.eps)


def as_source_samples(netg: nn.Module) -> nn.Module:
    """A copy of `netg` that generates as the source does, one image per call with the
    generator left in training mode, but for a whole batch at once."""
    netg = copy.deepcopy(netg)
    for module in list(netg.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, child_name, _BatchNormOfOne(child))
    return netg


def to_uint8_per_image(x: torch.Tensor) -> torch.Tensor:
    """torchvision's save_image(x, normalize=True) for one image: each image stretched to
    its own min-max range, then x * 255 + 0.5 truncated. (N, 1, 28, 28) -> (N, 28, 28)."""
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    high = x.amax(dim=(1, 2, 3), keepdim=True)
    x = (x - low) / (high - low).clamp(min=1e-5)
    return x.squeeze(1).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)


def draw_class(
    netg: nn.Module,
    cls: int,
    count: int,
    batch_size: int,
    rng: torch.Generator,
    sampling: str = "eval",
    noise_scale: float = 1.0,
) -> torch.Tensor:
    """`count` uint8 images (count, 28, 28) of class `cls`, the noise from `rng` times
    `noise_scale` (the standard deviation; the generator trained at 1).

    `sampling` "eval": BatchNorm's running statistics, [-1, 1] mapped to [0, 255] (the
    project's choice); "source": as `as_source_samples` and `to_uint8_per_image` describe.
    """
    chunks = []
    for first in range(0, count, batch_size):
        n = min(batch_size, count - first)
        labels = torch.full((n,), cls, device=rng.device)
        noise = torch.randn(n, netg.noise_dim, generator=rng, device=rng.device) * noise_scale
        if sampling == "source":
            with torch.no_grad():
                chunks.append(to_uint8_per_image(netg(noise, labels)))
        else:
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
    sampling: str = "eval",
    normalise: str = "none",
    geometry: Geometry | None = None,
    noise_scale: float = 1.0,
) -> int:
    """Write `per_class` images of each class as <folder>/<class>/<n:05d>.png; return the count.

    The generator runs on `rng`'s device (`sampling` and `noise_scale` as in `draw_class`)
    while the pool encodes earlier classes; the noise comes from `rng`, so a seed gives the
    same images.
    `normalise` (params.NORMALISE_MODES) moves and scales each image to the real images'
    `geometry` before anything else sees it. With `oversample` k > 1, k * per_class images
    are drawn per class and the `per_class` that `scorer` is most confident belong to the
    class are kept.
    """
    if oversample > 1 and scorer is None:
        raise ValueError("oversampling needs a scorer to choose the images to keep")
    if sampling == "source":
        netg = as_source_samples(netg)
    jobs = []
    for cls in tqdm(range(N_CLASSES), desc="generate", unit="class"):
        (folder / str(cls)).mkdir(parents=True)
        count = per_class * oversample
        images = draw_class(netg, cls, count, batch_size, rng, sampling, noise_scale)
        images = normalise_class(images, cls, normalise, geometry)
        if oversample > 1:
            images = most_confident(images, cls, per_class, scorer)
        images = images.cpu().numpy()
        for first in range(0, per_class, batch_size):
            chunk = images[first : first + batch_size]
            jobs.append(pool.apply_async(write_pngs, (folder / str(cls), first, chunk)))
    return sum(job.get() for job in jobs)
