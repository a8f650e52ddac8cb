"""The classifiers' training views: a random affine warp of chosen ranges, horizontal flips
and random erasing, each drawn per image and batched on the device.

Apart from fewshot/augment.py (the GAN's DiffAugment, which `train_cgan` depends on), so a
new classifier view never retrains the CGAN.
"""

from __future__ import annotations

from typing import Any

import torch

from fewshot.augment import random_affine


def hflip(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Mirror each image left to right with probability 1/2 (clothes, never digits)."""
    flip = torch.rand(len(x), generator=rng, device=rng.device).to(x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def random_erasing(
    x: torch.Tensor,
    rng: torch.Generator,
    p: float,
    area: tuple[float, float] = (0.02, 0.33),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """Zero one random rectangle per image with probability `p` (Zhong et al. 2020, as
    torchvision's RandomErasing with value 0, the background): its area a uniform share of the
    image in `area`, its aspect ratio log-uniform in `ratio`, clipped to fit."""
    n, _, h, w = x.shape

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=rng, device=rng.device).to(x.device) * (high - low) + low

    erase = uniform(0, 1) < p
    target = uniform(*area) * h * w
    aspect = torch.exp(uniform(*(float(torch.log(torch.tensor(r))) for r in ratio)))
    eh = (target * aspect).sqrt().round().clamp(1, h)
    ew = (target / aspect).sqrt().round().clamp(1, w)
    top = (uniform(0, 1) * (h - eh + 1)).floor()
    left = (uniform(0, 1) * (w - ew + 1)).floor()
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (
        (rows >= top.view(-1, 1, 1))
        & (rows < (top + eh).view(-1, 1, 1))
        & (cols >= left.view(-1, 1, 1))
        & (cols < (left + ew).view(-1, 1, 1))
    )
    hole = inside & erase.view(-1, 1, 1)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def training_view(x: torch.Tensor, cfg: dict[str, Any], rng: torch.Generator) -> torch.Tensor:
    """The augmented batch a classifier trains on, as `cfg` (the `classifier` params) asks:
    affine warp, then flip, then erasing. With the defaults it draws exactly what the strong
    CNN always drew, so configurations cited before these options reproduce."""
    if cfg.get("augment"):
        x = random_affine(
            x,
            rng,
            degrees=cfg.get("affine_degrees", 15.0),
            scale=cfg.get("affine_scale", 0.15),
            translate=cfg.get("affine_translate", 0.2),
            shear=cfg.get("affine_shear", 0.15),
        )
    if cfg.get("hflip"):
        x = hflip(x, rng)
    if cfg.get("erasing", 0.0) > 0:
        x = random_erasing(x, rng, cfg["erasing"])
    return x
