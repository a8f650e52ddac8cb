"""Training loops for the CGAN and the classifiers, and the shared device/seed handling.

Data lives on the device as one tensor and batches are index slices of a seeded permutation:
no DataLoader workers, no host synchronisation inside an epoch. Losses are accumulated on the
device and read once per epoch, which is also where divergence (NaN/Inf) is detected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fewshot.errors import ParamError, TrainingError
from fewshot.models import N_CLASSES, Discriminator, Generator, dcgan_init

EpochCallback = Callable[[int, dict[str, float]], None]


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


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; asking for `cuda` without one is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamError("params.yaml: 'device' = 'cuda' but no CUDA device is available")
    return torch.device(name)


def seeded_generator(seed: int, device: torch.device) -> torch.Generator:
    """Seed torch globally (model init) and return a generator for data order and noise."""
    # Needed before the first cuBLAS call for deterministic CUDA matmuls.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    return torch.Generator(device=device).manual_seed(seed)


def batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    order = torch.randperm(n, generator=gen, device=gen.device)
    yield from order.split(batch_size)


def _check_finite(losses: torch.Tensor, epoch: int, what: str) -> None:
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        raise TrainingError(
            f"{what} diverged: non-finite loss at epoch {epoch}, step {int(bad[0, 0]) + 1}; "
            "nothing was saved. Lower the learning rate or check the data."
        )


def gan_loss(name: str) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """LSGAN (MSE to 0/1, the recipe) or DCGAN (sigmoid + BCE, as logits for stability)."""
    if name == "lsgan":
        return lambda score, target: F.mse_loss(score, torch.full_like(score, target))
    if name == "bce":
        return lambda score, target: F.binary_cross_entropy_with_logits(
            score, torch.full_like(score, target)
        )
    raise ValueError(f"unknown GAN loss {name!r}")


def build_cgan(cfg: dict[str, Any], device: torch.device) -> tuple[Generator, Discriminator]:
    netg = Generator(cfg["noise_dim"], cfg["base_channels"])
    netd = Discriminator(cfg["base_channels"])
    netg.apply(dcgan_init)
    netd.apply(dcgan_init)
    # NHWC is what oneDNN and cuDNN run fastest; the maths is unchanged.
    return (
        netg.to(device, memory_format=torch.channels_last),
        netd.to(device, memory_format=torch.channels_last),
    )


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast for `precision: bf16` (weights and optimiser state stay fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def fixed_sample_inputs(
    noise_dim: int, per_class: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise and labels for a grid with one row per class (row-major, `per_class` columns)."""
    labels = torch.arange(N_CLASSES, device=gen.device).repeat_interleave(per_class)
    noise = torch.randn(len(labels), noise_dim, generator=gen, device=gen.device)
    return noise, labels


@torch.no_grad()
def sample(netg: Generator, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Generator output in eval mode (BatchNorm running statistics), restoring train mode."""
    was_training = netg.training
    netg.eval()
    images = netg(noise, labels)
    netg.train(was_training)
    return images


def train_cgan(
    netg: Generator,
    netd: Discriminator,
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: dict[str, Any],
    gen: torch.Generator,
    on_epoch: EpochCallback | None = None,
) -> None:
    """The recipe's loop: per batch, one D step on real + fake, then one G step.

    D's weights are frozen during the G step: the recipe computed their gradients there and
    then zeroed them unused, so skipping them changes nothing but the time.
    """
    criterion = gan_loss(cfg["loss"])
    images = images.contiguous(memory_format=torch.channels_last)
    amp = autocast(images.device, cfg["precision"])
    adam = {
        "lr": cfg["lr"],
        "betas": (cfg["beta1"], cfg["beta2"]),
        "weight_decay": cfg["weight_decay"],
    }
    opt_g = torch.optim.Adam(netg.parameters(), **adam)
    opt_d = torch.optim.Adam(netd.parameters(), **adam)
    steps = -(-len(images) // cfg["batch_size"])
    for epoch in range(1, cfg["epochs"] + 1):
        losses = torch.zeros(steps, 2, device=images.device)
        for step, idx in enumerate(batches(len(images), cfg["batch_size"], gen)):
            real, y = images[idx], labels[idx]
            noise = torch.randn(len(idx), netg.noise_dim, generator=gen, device=gen.device)
            with amp:
                fake = netg(noise, y)
                scores = netd(real, y).float(), netd(fake.detach(), y).float()
            opt_d.zero_grad(set_to_none=True)
            loss_d = criterion(scores[0], 1.0) + criterion(scores[1], 0.0)
            loss_d.backward()
            opt_d.step()

            netd.requires_grad_(False)
            with amp:
                score = netd(fake, y).float()
            opt_g.zero_grad(set_to_none=True)
            loss_g = criterion(score, 1.0)
            loss_g.backward()
            opt_g.step()
            netd.requires_grad_(True)
            losses[step] = torch.stack([loss_d.detach(), loss_g.detach()])
        _check_finite(losses, epoch, "CGAN training")
        if on_epoch:
            mean = losses.mean(0).tolist()
            on_epoch(epoch, {"loss_d": mean[0], "loss_g": mean[1]})


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: dict[str, Any],
    gen: torch.Generator,
    on_epoch: EpochCallback | None = None,
) -> None:
    """Adam + cross-entropy over shuffled mini-batches, as the recipe trains its MLP."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    steps = -(-len(images) // cfg["batch_size"])
    model.train()
    for epoch in range(1, cfg["epochs"] + 1):
        losses = torch.zeros(steps, device=images.device)
        correct = torch.zeros((), dtype=torch.long, device=images.device)
        for step, idx in enumerate(batches(len(images), cfg["batch_size"], gen)):
            logits = model(images[idx])
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses[step] = loss.detach()
            correct += (logits.argmax(1) == labels[idx]).sum()
        _check_finite(losses, epoch, "classifier training")
        if on_epoch:
            on_epoch(epoch, {"loss": losses.mean().item(), "acc": correct.item() / len(images)})


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Predicted class per image, in eval mode."""
    model.eval()
    return torch.cat([model(chunk).argmax(1) for chunk in images.split(batch_size)])
