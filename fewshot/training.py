"""What every training loop shares: seeding, batching, the optimiser and the step budget.

Data lives on the device as one tensor and batches are index slices of a seeded permutation:
no DataLoader workers, no host synchronisation inside an epoch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import torch

from fewshot.errors import TrainingError


def seeded_rng(seed: int, device: torch.device) -> torch.Generator:
    """Seed torch globally (model init) and return an RNG for data order and noise."""
    # Needed before the first cuBLAS call for deterministic CUDA matmuls.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    return torch.Generator(device=device).manual_seed(seed)


def batches(n: int, batch_size: int, rng: torch.Generator) -> Iterator[torch.Tensor]:
    order = torch.randperm(n, generator=rng, device=rng.device)
    yield from order.split(batch_size)


def check_finite(losses: torch.Tensor, epoch: int, what: str) -> None:
    """Divergence check, once per epoch, on the losses accumulated on the device."""
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        raise TrainingError(
            f"{what} diverged: non-finite loss at epoch {epoch}, step {int(bad[0, 0]) + 1}; "
            "nothing was saved. Lower the learning rate or check the data."
        )


def adam(
    params: Iterator[torch.nn.Parameter],
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> torch.optim.Optimizer:
    """Adam, or AdamW when `decoupled`, as one fused kernel per step. The update is Adam's up
    to rounding; the default form's per-tensor dispatch dominates a small model's step on a
    CPU, such as the recipe's MLP at batch 10."""
    optimiser = torch.optim.AdamW if decoupled else torch.optim.Adam
    return optimiser(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)


def total_steps(n_images: int, cfg: dict[str, Any]) -> tuple[int, int]:
    """(optimiser steps, epochs) of a training run: `steps` when it is set (> 0), else
    `epochs` passes over `n_images`; the last epoch may stop part-way through."""
    per_epoch = math.ceil(n_images / cfg["batch_size"])
    steps = cfg.get("steps", 0) or cfg["epochs"] * per_epoch
    return steps, math.ceil(steps / per_epoch)
