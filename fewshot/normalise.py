"""Give generated digits the geometry of the real ones, as MNIST gave its digits theirs.

MNIST scaled every digit so its bounding box fits 20x20 pixels and then moved its centre of
mass to the middle of the 28x28 frame, so a real digit's centre of mass varies by about 0.4
pixel. The few-shot preset generator's varies by 1.9 pixels (its discriminator sees every
image shifted by DiffAugment; docs/results.md), and a classifier with no translation
invariance, such as the recipe's MLP, learns those shifts as if they were shapes.
`normalise` redoes MNIST's construction on each generated image, with the targets (centre
of mass and bounding-box size per class) measured on the real training subset, never on
test data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fewshot.data import N_CLASSES

INK = 0.5  # a pixel at least half-bright is stroke, not anti-aliasing or a generator's haze
SCALE_LIMITS = (0.5, 2.0)  # never blow a speck up into a digit, nor shrink one to a speck


@dataclass(frozen=True)
class Geometry:
    """Per class: where real images have their centre of mass (row, col) and how long
    the longer side of their bounding box is, in pixels."""

    centre: torch.Tensor  # (N_CLASSES, 2)
    side: torch.Tensor  # (N_CLASSES,)


def centre_of_mass(x: torch.Tensor) -> torch.Tensor:
    """(N, H, W) intensities -> (N, 2) centre of mass (row, col); the frame's middle for an
    empty image."""
    n, h, w = x.shape
    mass = x.sum((1, 2))
    rows = (x.sum(2) * torch.arange(h, dtype=x.dtype)).sum(1)
    cols = (x.sum(1) * torch.arange(w, dtype=x.dtype)).sum(1)
    middle = torch.tensor([(h - 1) / 2, (w - 1) / 2], dtype=x.dtype).expand(n, 2)
    centre = torch.stack([rows, cols], 1) / mass.clamp(min=1e-9)[:, None]
    return torch.where(mass[:, None] > 0, centre, middle)


def longer_side(x: torch.Tensor, ink: float = INK) -> torch.Tensor:
    """(N, H, W) intensities in [0, 1] -> (N,) the longer side of the box around pixels
    >= `ink`, in pixels (0 for an image without one)."""

    def extent(on: torch.Tensor) -> torch.Tensor:  # (N, L) bool -> last - first + 1
        length = on.shape[1]
        first = on.float().argmax(1)
        last = length - 1 - on.flip(1).float().argmax(1)
        return torch.where(on.any(1), last - first + 1, 0)

    stroke = x >= ink
    return torch.maximum(extent(stroke.any(2)), extent(stroke.any(1))).float()


def real_geometry(images: np.ndarray, labels: np.ndarray) -> Geometry:
    """Per-class mean centre of mass and median longer side of uint8 images (N, 28, 28)."""
    x = torch.as_tensor(images).float() / 255.0
    labels = torch.as_tensor(labels)
    centres, sides = [], []
    for cls in range(N_CLASSES):
        of_class = x[labels == cls]
        if len(of_class) == 0:
            raise ValueError(f"no real image of class {cls} to measure")
        centres.append(centre_of_mass(of_class).mean(0))
        sides.append(longer_side(of_class).median())
    return Geometry(torch.stack(centres), torch.stack(sides))


def normalise(
    images: torch.Tensor, centre: torch.Tensor, side: float | None = None
) -> torch.Tensor:
    """uint8 images (N, H, W) -> uint8, each resampled (bilinear) so its centre of mass is
    at `centre` (row, col) and, if `side` is given, the longer side of its stroke box is
    `side` pixels (scaled about the centre of mass, aspect ratio kept)."""
    x = images.float() / 255.0
    n, h, w = x.shape
    mass_at = centre_of_mass(x)
    scale = torch.ones(n)
    if side is not None:
        box = longer_side(x)
        scale = torch.where(box > 0, side / box.clamp(min=1), 1.0).clamp(*SCALE_LIMITS)
    # Output pixel p samples the input at mass_at + (p - centre) / scale.
    rows = torch.arange(h, dtype=x.dtype).view(1, h, 1)
    cols = torch.arange(w, dtype=x.dtype).view(1, 1, w)
    src_row = mass_at[:, 0, None, None] + (rows - centre[0]) / scale[:, None, None]
    src_col = mass_at[:, 1, None, None] + (cols - centre[1]) / scale[:, None, None]
    # grid_sample's coordinates (align_corners=False): -1 and 1 are the outer pixel edges.
    src_row, src_col = torch.broadcast_tensors(src_row, src_col)
    grid = torch.stack([(2 * src_col + 1) / w - 1, (2 * src_row + 1) / h - 1], dim=-1)
    out = F.grid_sample(x[:, None], grid, mode="bilinear", align_corners=False)
    return out[:, 0].mul(255).round().clamp(0, 255).to(torch.uint8)


def normalise_class(
    images: torch.Tensor, cls: int, mode: str, geometry: Geometry | None
) -> torch.Tensor:
    """`normalise` generated images of class `cls` as `mode` (params.NORMALISE_MODES) says:
    "none" leaves them, "centre" moves them, "scale_centre" scales and moves them."""
    if mode == "none":
        return images
    if geometry is None:
        raise ValueError(f"normalise mode {mode!r} needs the real images' geometry")
    side = float(geometry.side[cls]) if mode == "scale_centre" else None
    device = images.device
    return normalise(images.cpu(), geometry.centre[cls], side).to(device)
