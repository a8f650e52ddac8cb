"""Which real images the generator comes near, and showing the discriminator the others more.

A class-conditional GAN trained on 100 images per class learns each class's common styles and
drops the ones only a few real images show (the crossed 7): of thousands of draws, none has a
crossed 7 as its nearest real image (docs/results.md). Uniform real batches give those images
to D as rarely as they occur, so D's loss barely notices the dropped mode. Coverage weighting
(in the spirit of Self-Diagnosing GAN, Lee et al. 2021, with a direct measure in place of
D's scores) redraws, every `cgan.coverage_every` generator steps, a few images per real image
from the generator, gives each to its nearest real image of its class, and samples D's real
images with weight ((count + 1) / (even share + 1)) ** -`cgan.coverage_weight`: a real image
nothing is drawn near comes up more often, until the generator draws near it. Each class
keeps its share of the batches.
"""

from __future__ import annotations

import torch

DRAWS_PER_IMAGE = 4  # generated images per real image at each refresh: the even share


def neighbour_counts(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """How many of `generated` (M, ...) have each of `real` (N, ...) as their nearest, in
    pixels: shape (N,)."""
    nearest = torch.cdist(generated.flatten(1).float(), real.flatten(1).float()).argmin(1)
    return torch.bincount(nearest, minlength=len(real))


def coverage_weights(
    counts: torch.Tensor, labels: torch.Tensor, power: float, draws_per_image: int = DRAWS_PER_IMAGE
) -> torch.Tensor:
    """Sampling weights (N,) for the real images from their coverage `counts`: add-one
    smoothed inverse coverage to `power`, rescaled so every class keeps its share of the
    total (its count of real images). Power 0 gives uniform weights."""
    weights = ((counts.float() + 1) / (draws_per_image + 1)) ** -power
    for cls in labels.unique():
        mine = labels == cls
        weights[mine] *= mine.sum() / weights[mine].sum()
    return weights
