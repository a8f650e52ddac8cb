"""Test-time augmentation: a classifier's vote averaged over shifted copies of each image.

Kept apart from the training code (`fewshot/classify.py`) so that evaluating with it does
not invalidate any cached classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def view_count(shift: int) -> int:
    """How many views `shifted_views` makes for `shift`."""
    return (2 * shift + 1) ** 2


def shifted_views(images: torch.Tensor, shift: int) -> list[torch.Tensor]:
    """Every translation of (N, C, H, W) images by -shift..shift pixels in x and y.

    Zero padding: the classifiers' inputs are in [0, 1] on a black background, so a shifted
    copy is the same digit drawn `shift` pixels over, nothing wrapped round.
    """
    if shift < 0:
        raise ValueError(f"shift must be >= 0, got {shift}")
    height, width = images.shape[-2:]
    padded = F.pad(images, (shift, shift, shift, shift))
    offsets = range(2 * shift + 1)
    return [padded[..., dy : dy + height, dx : dx + width] for dy in offsets for dx in offsets]


@torch.no_grad()
def predict_tta(
    model: nn.Module, images: torch.Tensor, batch_size: int, shift: int
) -> torch.Tensor:
    """Predicted class per image from the class probabilities averaged over every shifted
    view ((2 * shift + 1)^2 of them), in eval mode."""
    model.eval()
    predictions = []
    for chunk in images.split(batch_size):
        probs = sum(model(view).softmax(1) for view in shifted_views(chunk, shift))
        predictions.append(probs.argmax(1))
    return torch.cat(predictions)
