"""Images as the networks see them: uint8 arrays to scaled float tensors and back."""

from __future__ import annotations

import numpy as np
import torch


def to_gan_input(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [-1, 1], matching the generator's Tanh."""
    x = torch.from_numpy(np.array(images, dtype=np.uint8)).to(device)  # a writable copy
    return (x.float().div(127.5).sub(1.0)).unsqueeze(1)


def to_classifier_input(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1], as torchvision's ToTensor.

    The recipe's classifiers read the PNGs with ToTensor: with [-1, 1] inputs instead, its MLP
    on the 1000 real images scores about 84.5% rather than the recipe's 88%.
    """
    x = torch.from_numpy(np.array(images, dtype=np.uint8)).to(device)
    return x.float().div(255.0).unsqueeze(1)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `to_gan_input` for images in [-1, 1]: (N, 1, 28, 28) -> (N, 28, 28) uint8."""
    return ((x.squeeze(1).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
