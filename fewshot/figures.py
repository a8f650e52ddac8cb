"""Image grids (torchvision) and annotated figures (matplotlib) that stages save as plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # stages run headless
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from fewshot.io import atomic_path  # noqa: E402


def image_grid(images: torch.Tensor | np.ndarray, nrow: int) -> Image.Image:
    """uint8 images (N, 28, 28) as one grey grid, `nrow` images per row."""
    from torchvision.utils import make_grid  # imported here: evaluate needs no torchvision

    x = torch.as_tensor(images).cpu().unsqueeze(1)
    grid = make_grid(x, nrow=nrow, padding=2, pad_value=255)
    return Image.fromarray(grid[0].cpu().numpy())


def save_image_grid(path: str | Path, images: torch.Tensor | np.ndarray, nrow: int) -> None:
    with atomic_path(path) as tmp:
        image_grid(images, nrow).save(tmp, format="PNG")


def save_misclassified(
    path: str | Path, images: np.ndarray, true: np.ndarray, pred: np.ndarray, title: str
) -> None:
    """A grid of misclassified test images, each titled 'true -> predicted'."""
    n = len(images)
    cols = 8
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.25 + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{true[i]} \u2192 {pred[i]}", fontsize=8, color="crimson")
    if n == 0:
        axes.flat[0].text(0.5, 0.5, "no errors", ha="center", va="center")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def save_nearest_neighbours(
    path: str | Path,
    generated: np.ndarray,
    neighbours: np.ndarray,
    distances: np.ndarray,
    labels: np.ndarray,
    pairs_per_class: int,
) -> None:
    """Per class, the generated images closest to a training image, each beside that image.

    Rows are classes; each pair is (generated, its nearest real training image), titled with
    their L2 distance, so near-copies stand out.
    """
    classes = np.unique(labels)
    fig, axes = plt.subplots(
        len(classes),
        2 * pairs_per_class,
        figsize=(2 * pairs_per_class * 0.9, len(classes) * 1.0 + 0.5),
        squeeze=False,
    )
    for row, cls in zip(axes, classes, strict=True):
        members = np.flatnonzero(labels == cls)
        closest = members[np.argsort(distances[members], kind="stable")][:pairs_per_class]
        for ax in row:
            ax.axis("off")
        for j, i in enumerate(closest):
            row[2 * j].imshow(generated[i], cmap="gray", vmin=0, vmax=255)
            row[2 * j].set_title(f"gen {cls}", fontsize=7)
            row[2 * j + 1].imshow(neighbours[i], cmap="gray", vmin=0, vmax=255)
            row[2 * j + 1].set_title(f"real d={distances[i]:.1f}", fontsize=7, color="navy")
    fig.suptitle("Generated images nearest to a training image, each beside it", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
