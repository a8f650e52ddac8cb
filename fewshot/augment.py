"""Batched, per-image augmentations that run on the device: DiffAugment for the GAN's
discriminator, a random affine warp for the classifiers."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
