"""Instance features and neighbourhoods for the instance-conditioned CGAN (IC-GAN, Casanova et
al. 2021), computed from the real subset alone.

A class-conditional generator learns each class's common styles and drops the ones only a few
real images show (the crossed 7, the 1 with a flag and a base). Conditioning the generator on
one real image's features as well as its class, and showing the discriminator that image's
nearest real neighbours as the real data for that condition, gives every real image a
neighbourhood the generator must draw; sampling the conditioning image uniformly then draws
every real image's neighbourhood equally often, the rare styles included.

IC-GAN takes its features from a self-supervised network trained on the dataset. Here the
features are the real subset's own principal components: nothing but the n_per_class images
per class goes into the generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def instance_features(images: torch.Tensor, dim: int) -> torch.Tensor:
    """Unit-length projections (N, dim) of the images (N, ...) on their top `dim` principal
    components: the subset's own coordinates for "which real image is this like"."""
    x = images.flatten(1).float()
    if not 1 <= dim <= min(x.shape):
        raise ValueError(
            f"instance features of dimension {dim} need 1 <= dim <= min(images, pixels) = "
            f"{min(x.shape)}"
        )
    x = x - x.mean(0)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    # The sign of each component is arbitrary; fix it so the same images give the same features.
    v = v[:dim] * torch.sign(v[:dim].sum(1, keepdim=True) + 1e-12)
    return F.normalize(x @ v.T, dim=1)


def class_neighbours(features: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """For each image, the indices (N, k) of its k nearest images of the same class by cosine
    similarity of `features`, itself first: the real images the discriminator sees for it."""
    counts = torch.bincount(labels)
    smallest = int(counts[counts > 0].min())
    if not 1 <= k <= smallest:
        raise ValueError(
            f"{k} neighbours per image need 1 <= k <= the smallest class's count ({smallest})"
        )
    similarity = features @ features.T
    similarity[labels[:, None] != labels[None, :]] = -torch.inf
    similarity.fill_diagonal_(torch.inf)  # itself first, even next to a duplicate
    return similarity.topk(k, dim=1).indices
