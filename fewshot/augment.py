"""DiffAugment for the GAN's discriminator: batched, per-image, on the device. The classifiers'
training views are apart (fewshot/classifier_augment.py), so changing them never retrains the
CGAN."""

from __future__ import annotations

import torch


def translate(x: torch.Tensor, rng: torch.Generator, fraction: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `fraction` of its size; uncovered pixels become 0."""
    n, _, h, w = x.shape
    shift = int(fraction * h + 0.5)
    dy, dx = (
        torch.randint(-shift, shift + 1, (2, n, 1, 1), generator=rng, device=rng.device)
        .to(x.device)
        .unbind(0)
    )
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    src_r, src_c = rows - dy, cols - dx
    inside = (src_r >= 0) & (src_r < h) & (src_c >= 0) & (src_c < w)
    flat = (src_r.clamp(0, h - 1) * w + src_c.clamp(0, w - 1)).view(n, 1, h * w)
    return x.flatten(2).gather(2, flat.expand(-1, x.shape[1], -1)).view_as(x) * inside.unsqueeze(1)


def cutout(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Zero a square of half the image size at a random centre in each image."""
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    cy, cx = torch.randint(0, h, (2, n, 1, 1), generator=rng, device=rng.device).to(x.device)
    half = h // 4
    hole = ((rows - cy).abs() <= half) & ((cols - cx).abs() <= half)
    return x * (~hole).unsqueeze(1)


def diff_augment(x: torch.Tensor, rng: torch.Generator, policy: str) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020) for images in [-1, 1], `policy` one of DIFFAUGMENT_POLICIES.

    Differentiable, and applied alike to real and fake images in both the D and the G step,
    so D cannot simply memorise 1000 real images. Padding and holes are background (-1).
    """
    if policy == "none":
        return x
    x = x + 1  # background 0, so masking fills with background
    x = translate(x, rng)
    if "cutout" in policy:
        x = cutout(x, rng)
    return x - 1
