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
