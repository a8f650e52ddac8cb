"""The classifiers' training loop and batched prediction."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fewshot.classifier_augment import elastic_distort, training_view
from fewshot.training import adam, batches, check_finite, total_steps

EpochCallback = Callable[[int, dict[str, float]], None]


def _draws(pool: torch.Tensor, count: int, rng: torch.Generator) -> torch.Tensor:
    """`count` indices from `pool`: reshuffled passes, each index once per pass."""
    if count == 0:
        return pool[:0]
    passes = -(-count // len(pool))
    perms = [torch.randperm(len(pool), generator=rng, device=rng.device) for _ in range(passes)]
    return pool[torch.cat(perms)][:count]


def mixed_batches(
    is_synthetic: torch.Tensor,
    batch_size: int,
    fraction: float,
    n_batches: int,
    rng: torch.Generator,
) -> Iterator[torch.Tensor]:
    """Index batches with round(fraction * batch_size) synthetic images each, the rest real.

    Each pool is drawn without replacement and reshuffled when it runs out, so the 1,000 real
    images keep their weight beside 10,000 generated ones whatever their numbers."""
    takes = [batch_size - round(fraction * batch_size), round(fraction * batch_size)]
    pools = [(~is_synthetic).nonzero().squeeze(1), is_synthetic.nonzero().squeeze(1)]
    real, synthetic = (
        _draws(pool, take * n_batches, rng).view(n_batches, take)
        for pool, take in zip(pools, takes, strict=True)
    )
    yield from torch.cat([real, synthetic], 1)


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: dict[str, Any],
    rng: torch.Generator,
    on_epoch: EpochCallback | None = None,
    is_synthetic: torch.Tensor | None = None,
) -> None:
    """Cross-entropy over shuffled mini-batches: Adam at a constant rate, as the recipe trains
    its MLP, unless the config asks for weight decay (AdamW), a one-cycle schedule, label
    smoothing, per-image training views (`training_view`) or elastic distortion (inputs in [0, 1],
    background 0).

    `cfg["steps"]` > 0 is a budget in optimiser steps, whatever the number of images, so a
    classifier costs the same on 1,000 real or 10,000 synthetic images; else `cfg["epochs"]`.
    With `is_synthetic` (the mixed source) and `cfg["synthetic_fraction"]` > 0, every batch
    holds that share of synthetic images (`mixed_batches`); else batches are drawn from all.
    """
    decay = cfg.get("weight_decay", 0.0)
    opt = adam(model.parameters(), cfg["lr"], weight_decay=decay, decoupled=bool(decay))
    total, epochs = total_steps(len(images), cfg)
    per_epoch = math.ceil(len(images) / cfg["batch_size"])
    schedule = None
    if cfg.get("schedule", "constant") == "onecycle":
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total)
    smoothing = cfg.get("label_smoothing", 0.0)
    fraction = cfg.get("synthetic_fraction", 0.0) if is_synthetic is not None else 0.0
    model.train()
    done = 0
    for epoch in range(1, epochs + 1):
        losses = torch.zeros(per_epoch, device=images.device)
        correct = torch.zeros((), dtype=torch.long, device=images.device)
        seen = 0
        if fraction:
            order = mixed_batches(is_synthetic, cfg["batch_size"], fraction, per_epoch, rng)
        else:
            order = batches(len(images), cfg["batch_size"], rng)
        for step, idx in enumerate(order):
            if done == total:
                losses = losses[:step]
                break
            x = images[idx]
            x = training_view(x, cfg, rng)
            if cfg.get("elastic"):
                x = elastic_distort(x, rng)
            logits = model(x)
            loss = F.cross_entropy(logits, labels[idx], label_smoothing=smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
            losses[step] = loss.detach()
            correct += (logits.argmax(1) == labels[idx]).sum()
            seen += len(idx)
            done += 1
        check_finite(losses, epoch, "classifier training")
        if on_epoch:
            on_epoch(epoch, {"loss": losses.mean().item(), "acc": correct.item() / seen})


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Predicted class per image, in eval mode."""
    model.eval()
    return torch.cat([model(chunk).argmax(1) for chunk in images.split(batch_size)])
