"""The classifiers' training views: a random affine warp of chosen ranges, elastic distortion,
horizontal flips and random erasing, each drawn per image and batched on the device.

Apart from fewshot/augment.py (the GAN's DiffAugment, which `train_cgan` depends on), so a
changed classifier view never retrains the CGAN.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def random_affine(
    x: torch.Tensor,
    rng: torch.Generator,
    degrees: float = 15.0,
    scale: float = 0.15,
    translate: float = 0.2,
    shear: float = 0.15,
) -> torch.Tensor:
    """A different random affine warp per image (rotation, scale, shift, shear), batched.

    torchvision's RandomAffine draws one warp per call, which a batch would share; building
    per-image matrices and resampling once with `grid_sample` keeps the batch on the device
    in one call. Shifts are fractions of the image size, as in RandomAffine.
    """
    n = len(x)

    def uniform(low: float, high: float) -> torch.Tensor:
        return (torch.rand(n, generator=rng, device=rng.device) * (high - low) + low).to(x.device)

    angle = torch.deg2rad(uniform(-degrees, degrees))
    s, sh = uniform(1 - scale, 1 + scale), uniform(-shear, shear)
    tx, ty = uniform(-translate, translate) * 2, uniform(-translate, translate) * 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos / s, (sh * cos - sin) / s, tx], 1),
            torch.stack([sin / s, (sh * sin + cos) / s, ty], 1),
        ],
        1,
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def elastic_distort(
    x: torch.Tensor, rng: torch.Generator, alpha: float = 34.0, sigma: float = 4.0
) -> torch.Tensor:
    """Elastic distortion (Simard et al. 2003), a different field per image, batched.

    Each pixel's displacement is uniform noise in [-1, 1], smoothed by a Gaussian of `sigma`
    pixels and scaled by `alpha` pixels (about 1.4 pixels of smooth wobble at 34 and 4);
    the image is resampled once with `grid_sample`, as `random_affine` does.
    """
    from torchvision.transforms.v2.functional import gaussian_blur

    n, _, h, w = x.shape
    noise = torch.rand(n, 2, h, w, generator=rng, device=rng.device).to(x.device) * 2 - 1
    size = 2 * int(3 * sigma) + 1  # the Gaussian to 3 sigma, as scipy's gaussian_filter
    field = gaussian_blur(noise, [size, size], [sigma, sigma]) * alpha  # pixels, (n, 2, h, w)
    identity = torch.eye(2, 3, dtype=x.dtype, device=x.device).expand(n, 2, 3)
    grid = F.affine_grid(identity, list(x.shape), align_corners=False)
    # One pixel is 2 / size in grid_sample's [-1, 1] coordinates.
    offset = field.permute(0, 2, 3, 1) * torch.tensor([2 / w, 2 / h], device=x.device)
    return F.grid_sample(x, grid + offset.to(x.dtype), align_corners=False, padding_mode="zeros")


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
