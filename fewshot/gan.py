"""The conditional GAN: building it, its losses, and the training loop.

One loop serves the recipe (LSGAN, one D step and one G step per batch of real images) and
the few-shot configuration, which adds, each switched on by a param: DiffAugment on every
image D sees, mode-seeking regularisation, an auxiliary-classifier loss, an EMA generator
and a budget in generator steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from fewshot.augment import diff_augment
from fewshot.coverage import DRAWS_PER_IMAGE, coverage_weights, neighbour_counts
from fewshot.data import N_CLASSES
from fewshot.device import autocast
from fewshot.gan_models import (
    DISCRIMINATORS,
    Discriminator,
    InstanceGenerator,
    build_generator,
    dcgan_init,
)
from fewshot.instances import class_neighbours, instance_features
from fewshot.training import adam, batches, check_finite, total_steps

EpochCallback = Callable[[int, dict[str, float]], None]
GanLosses = tuple[
    Callable[[torch.Tensor, torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]
]


def gan_losses(name: str) -> GanLosses:
    """(D loss of real and fake scores, G loss of fake scores) for `cgan.loss`.

    lsgan: MSE to 1/0 (the recipe); bce: DCGAN's sigmoid + BCE, as logits for stability;
    hinge: the SN-GAN / BigGAN loss.
    """
    if name == "lsgan":

        def to(score: torch.Tensor, target: float) -> torch.Tensor:
            return F.mse_loss(score, torch.full_like(score, target))
    elif name == "bce":

        def to(score: torch.Tensor, target: float) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(score, torch.full_like(score, target))
    elif name == "hinge":
        return (
            lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
            lambda fake: -fake.mean(),
        )
    else:
        raise ValueError(f"unknown GAN loss {name!r}")
    return (lambda real, fake: to(real, 1.0) + to(fake, 0.0)), (lambda fake: to(fake, 1.0))


def mode_seeking_ratio(fakes: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """MSGAN's ratio (Mao et al. 2019) for pairs (first half, second half) drawn for the same
    labels: mean |G(z1, c) - G(z2, c)| / mean |z1 - z2|. Zero for a G that ignores z."""
    h = len(fakes) // 2
    image_gap = (fakes[:h] - fakes[h : 2 * h]).abs().mean()
    noise_gap = (noise[:h] - noise[h : 2 * h]).abs().mean()
    return image_gap / noise_gap


def mode_seeking_loss(fakes: torch.Tensor, noise: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """MSGAN's term for the generator loss: large when different noise gives the same image."""
    return 1.0 / (mode_seeking_ratio(fakes, noise) + eps)


def class_spread(images: torch.Tensor, labels: torch.Tensor, most: int = 500) -> torch.Tensor:
    """Mean |x_i - x_j| over pixels and over pairs of real images of each class, shape
    (N_CLASSES,): how different two real images of a class are, in the GAN's pixel scale.
    At most `most` images per class (the first), which bounds the cost at large n_per_class."""
    spread = torch.zeros(N_CLASSES, device=images.device)
    for cls in range(N_CLASSES):
        x = images[labels == cls][:most].flatten(1).float()
        if len(x) < 2:
            raise ValueError(f"class {cls} needs at least 2 real images to measure its spread")
        gaps = torch.cdist(x, x, p=1) / x.shape[1]
        spread[cls] = gaps.sum() / (len(x) * (len(x) - 1))
    return spread


def capped_mode_seeking_loss(
    fakes: torch.Tensor, labels: torch.Tensor, spread: torch.Tensor
) -> torch.Tensor:
    """Mode seeking that stops at the real images' variety, class by class: for pairs (first
    half, second half) of the same label, mean over pairs of 1 - min(gap / spread[label], 1).
    1 for a G that ignores z, 0 once every pair differs as much as two real images of its
    class do on average. MSGAN's term rewards variety without limit and asks the same
    pixel distance of every class, so a class with little natural variety (a 1 is one
    stroke) can only pay it by drawing other shapes."""
    h = len(fakes) // 2
    gaps = (fakes[:h] - fakes[h : 2 * h]).abs().flatten(1).mean(1)
    return (1 - (gaps / spread[labels[:h]]).clamp(max=1)).mean()


def build_cgan(
    cfg: dict[str, Any],
    device: torch.device,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator that `cgan.generator` and `cgan.discriminator` name.

    With `cgan.instance_dim` > 0 both are instance-conditioned and the generator is given the
    features of the real `images` (and their `labels`) it trains on, before any EMA copy.
    """
    netg = build_generator(cfg)
    instance_dim = cfg["instance_dim"]
    if instance_dim:
        if images is None or labels is None:
            raise ValueError("an instance-conditioned CGAN needs the real images it trains on")
        netg.set_instances(instance_features(images, instance_dim), labels)
        netd = DISCRIMINATORS[cfg["discriminator"]](cfg["base_channels"], instance_dim=instance_dim)
    else:
        netd = DISCRIMINATORS[cfg["discriminator"]](cfg["base_channels"])
    netg.apply(dcgan_init)
    if isinstance(netd, Discriminator):  # spectral-norm layers keep PyTorch's default init
        netd.apply(dcgan_init)
    # NHWC is what oneDNN and cuDNN run fastest; the maths is unchanged.
    return (
        netg.to(device, memory_format=torch.channels_last),
        netd.to(device, memory_format=torch.channels_last),
    )


def generator_ema(netg: nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of G's weights and BatchNorm statistics to sample from,
    or None when `cgan.ema` is 0 (the recipe samples from G itself)."""
    if decay == 0:
        return None
    return AveragedModel(netg, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def fixed_sample_inputs(
    noise_dim: int, per_class: int, rng: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise and labels for a grid with one row per class (row-major, `per_class` columns)."""
    labels = torch.arange(N_CLASSES, device=rng.device).repeat_interleave(per_class)
    noise = torch.randn(len(labels), noise_dim, generator=rng, device=rng.device)
    return noise, labels


@torch.no_grad()
def sample(
    netg: nn.Module, noise: torch.Tensor, labels: torch.Tensor, *conditions: torch.Tensor
) -> torch.Tensor:
    """Generator output in eval mode (BatchNorm running statistics), restoring train mode.
    `conditions`: more inputs for the generator (an InstanceGenerator's instances)."""
    was_training = netg.training
    netg.eval()
    images = netg(noise, labels, *conditions)
    netg.train(was_training)
    return images


def class_coverage(
    netg: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    rng: torch.Generator,
    draws_per_image: int = DRAWS_PER_IMAGE,
) -> torch.Tensor:
    """For each real image (N,), how many of the `draws_per_image` x its class's count images
    `netg` draws for its class (eval mode) have it as their nearest real image of the class."""
    counts = torch.zeros(len(images), dtype=torch.long, device=images.device)
    for cls in labels.unique().tolist():
        mine = (labels == cls).nonzero().flatten()
        n = draws_per_image * len(mine)
        noise = torch.randn(n, netg.noise_dim, generator=rng, device=rng.device)
        drawn = sample(netg, noise.to(images.device), torch.full((n,), cls, device=mine.device))
        counts[mine] = neighbour_counts(drawn, images[mine])
    return counts


class _CoverageBatches:
    """Batches of real-image indices drawn with `fewshot.coverage` weights, refreshed from
    the sampled generator (the EMA copy when there is one) every `cgan.coverage_every` steps;
    uniform until the first refresh. The draws use their own noise so `rng` sees only the
    batch sampling."""

    def __init__(self, labels: torch.Tensor, cfg: dict[str, Any], rng: torch.Generator):
        self.labels, self.power, self.every = labels, cfg["coverage_weight"], cfg["coverage_every"]
        self.weights = torch.ones(len(labels), device=labels.device)
        seed = int(torch.randint(2**62, (1,), generator=rng, device=rng.device))
        self.draw_rng = torch.Generator(device=rng.device).manual_seed(seed)
        self.uncovered = float("nan")  # share of real images no draw was nearest, last refresh

    def refresh(self, netg: nn.Module, images: torch.Tensor) -> None:
        counts = class_coverage(netg, images, self.labels, self.draw_rng)
        self.uncovered = (counts == 0).float().mean().item()
        self.weights = coverage_weights(counts, self.labels, self.power)

    def epoch(self, batch_size: int, rng: torch.Generator) -> list[torch.Tensor]:
        """One epoch's batches: as many as a pass over the subset, drawn with replacement."""
        n = len(self.labels)
        idx = torch.multinomial(self.weights.to(rng.device), n, replacement=True, generator=rng)
        return list(idx.to(self.labels.device).split(batch_size))


def _paired(t: torch.Tensor, cfg: dict[str, Any]) -> torch.Tensor:
    """With mode seeking, the second half repeats the first so each pair shares its condition."""
    if cfg["mode_seeking"] == 0:
        return t
    h = len(t) // 2
    t = t.clone()
    t[h : 2 * h] = t[:h]
    return t


def _d_outputs(
    netd: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    aux: bool,
    instances: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's score and, for the auxiliary-classifier loss, its class logits. `instances`: the
    conditioning images' features, for an instance-conditioned D."""
    if not aux and instances is None:
        return netd(images, labels).float(), None
    phi = netd.features(images)
    score = netd.score(phi, labels, instances).float()
    return score, netd.classify(phi).float() if aux else None


class _InstanceBatches:
    """What an instance-conditioned CGAN trains on: each batch index i is a conditioning real
    image; D sees one of its `cgan.instance_neighbours` nearest real images of the same class
    (itself included) as the real image for it, and G draws for the same instances."""

    def __init__(self, netg: InstanceGenerator, labels: torch.Tensor, cfg: dict[str, Any]):
        self.features = netg.features.to(labels.device)
        self.neighbours = class_neighbours(self.features, labels, cfg["instance_neighbours"])
        self.cfg = cfg

    def draw(
        self, idx: torch.Tensor, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(the real images D sees, their conditioning features, the instances G draws for,
        theirs), the first and third as indices into the subset."""
        k = self.neighbours.shape[1]
        column = torch.randint(k, idx.shape, generator=rng, device=rng.device).to(idx.device)
        fake = _paired(idx, self.cfg)
        return self.neighbours[idx, column], self.features[idx], fake, self.features[fake]


@dataclass
class Batch:
    """One training step's inputs: the real images D sees and their labels, the labels and
    noise G draws for, and an instance-conditioned pair's conditions (None and () otherwise)."""

    real: torch.Tensor
    y: torch.Tensor
    y_fake: torch.Tensor
    noise: torch.Tensor
    h_real: torch.Tensor | None = None
    h_fake: torch.Tensor | None = None
    instances: tuple[torch.Tensor, ...] = ()


class _Batches:
    """Draws a step's `Batch` from the indices of its real images: G's labels are the real
    batch's (`cgan.fake_labels: batch`) or drawn at random (the source's randint), paired for
    mode seeking; an instance-conditioned CGAN draws its neighbours and instances."""

    def __init__(self, netg: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 cfg: dict[str, Any], rng: torch.Generator) -> None:  # fmt: skip
        self.netg, self.images, self.labels, self.cfg, self.rng = netg, images, labels, cfg, rng
        self.pairs = _InstanceBatches(netg, labels, cfg) if cfg["instance_dim"] else None

    def __call__(self, idx: torch.Tensor) -> Batch:
        rng, y = self.rng, self.labels[idx]
        if self.pairs is None:
            if self.cfg["fake_labels"] == "random":
                y_fake = torch.randint(N_CLASSES, y.shape, generator=rng, device=rng.device)
                y_fake = _paired(y_fake.to(y.device), self.cfg)
            else:
                y_fake = _paired(y, self.cfg)
            batch = Batch(self.images[idx], y, y_fake, noise=torch.empty(0))
        else:
            real_idx, h_real, fake_idx, h_fake = self.pairs.draw(idx, rng)
            batch = Batch(self.images[real_idx], y, self.labels[fake_idx], torch.empty(0),
                          h_real, h_fake, (fake_idx,))  # fmt: skip
        batch.noise = torch.randn(len(idx), self.netg.noise_dim, generator=rng, device=rng.device)
        return batch


class _Objective:
    """The losses, one named piece each, switched on by its param: the adversarial terms
    (`cgan.loss`), AC-GAN's cross-entropy on D's class head (`cgan.aux_weight`: D on real
    images, G on its fakes) and mode seeking (`cgan.mode_seeking`: MSGAN's term, or capped at
    each class's real variety). Every image D sees goes through DiffAugment's
    `cgan.diffaugment` policy, and D runs under the `cgan.precision` autocast."""

    def __init__(self, cfg: dict[str, Any], images: torch.Tensor, labels: torch.Tensor,
                 rng: torch.Generator) -> None:  # fmt: skip
        self.adversarial_d, self.adversarial_g = gan_losses(cfg["loss"])
        self.amp = autocast(images.device, cfg["precision"])
        self.cfg, self.rng = cfg, rng
        self.aux_weight, self.ms_weight = cfg["aux_weight"], cfg["mode_seeking"]
        capped = self.ms_weight > 0 and cfg["mode_seeking_form"] == "capped"
        self.spread = class_spread(images, labels) if capped else None

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.rng, self.cfg["diffaugment"])

    def discriminator(self, netd: nn.Module, batch: Batch, fake: torch.Tensor) -> torch.Tensor:
        """D's loss: the real images scored real, G's (detached) images scored fake."""
        aux = self.aux_weight > 0
        with self.amp:
            real_score, real_logits = _d_outputs(
                netd, self.augment(batch.real), batch.y, aux, batch.h_real
            )
            fake_score, _ = _d_outputs(netd, self.augment(fake), batch.y_fake, False, batch.h_fake)
        loss = self.adversarial_d(real_score, fake_score)
        if aux:
            loss = loss + self.aux_weight * F.cross_entropy(real_logits, batch.y)
        return loss

    def generator(
        self, netd: nn.Module, batch: Batch, fake: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """G's loss (G's images scored real by D, plus mode seeking) and, with mode seeking,
        MSGAN's ratio for the log."""
        aux = self.aux_weight > 0
        with self.amp:
            score, logits = _d_outputs(netd, self.augment(fake), batch.y_fake, aux, batch.h_fake)
        loss = self.adversarial_g(score)
        if aux:
            loss = loss + self.aux_weight * F.cross_entropy(logits, batch.y_fake)
        if self.ms_weight == 0:
            return loss, None
        ratio = mode_seeking_ratio(fake.float(), batch.noise).detach()
        return loss + self.ms_weight * self.mode_seeking(fake, batch), ratio

    def mode_seeking(self, fake: torch.Tensor, batch: Batch) -> torch.Tensor:
        if self.spread is not None:
            return capped_mode_seeking_loss(fake.float(), batch.y_fake, self.spread)
        return mode_seeking_loss(fake.float(), batch.noise)


def train_cgan(
    netg: nn.Module,
    netd: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: dict[str, Any],
    rng: torch.Generator,
    on_epoch: EpochCallback | None = None,
    ema: AveragedModel | None = None,
) -> None:
    """Per batch of real images: (1) one D step on real + fake, (2) one G step on the same
    fakes, with D frozen (the recipe computed D's gradients there and zeroed them unused); an
    `ema` of G is updated after every G step. The losses are `_Objective`'s pieces. Real
    batches are drawn uniformly, or with `cgan.coverage_weight` > 0 by how rarely G draws near
    each real image (`_CoverageBatches`); `cgan.instance_dim` > 0 trains an
    instance-conditioned pair (`_InstanceBatches`). The budget is `cgan.steps` G steps, or
    `cgan.epochs` passes over the real images when it is 0.
    """
    if cfg["aux_weight"] > 0 and not hasattr(netd, "classify"):
        raise ValueError(f"cgan.aux_weight needs a discriminator with a classifier head: {netd}")
    images = images.contiguous(memory_format=torch.channels_last)
    objective = _Objective(cfg, images, labels, rng)
    draw = _Batches(netg, images, labels, cfg, rng)
    covered = _CoverageBatches(labels, cfg, rng) if cfg["coverage_weight"] > 0 else None
    hyper = {
        "lr": cfg["lr"],
        "betas": (cfg["beta1"], cfg["beta2"]),
        "weight_decay": cfg["weight_decay"],
    }
    opt_g, opt_d = adam(netg.parameters(), **hyper), adam(netd.parameters(), **hyper)
    steps, epochs = total_steps(len(images), cfg)
    per_epoch = math.ceil(len(images) / cfg["batch_size"])
    done = 0
    for epoch in range(1, epochs + 1):
        stats = torch.zeros(per_epoch, 3, device=images.device)  # loss_d, loss_g, ms ratio
        if covered is None:
            epoch_batches = batches(len(images), cfg["batch_size"], rng)
        else:
            epoch_batches = covered.epoch(cfg["batch_size"], rng)
        for step, idx in enumerate(epoch_batches):
            if done == steps:
                stats = stats[:step]
                break
            if covered is not None and done and done % covered.every == 0:
                covered.refresh(netg if ema is None else ema.module, images)
            batch = draw(idx)
            with objective.amp:
                fake = netg(batch.noise, batch.y_fake, *batch.instances)

            # (1) Update D
            loss_d = objective.discriminator(netd, batch, fake.detach())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            # (2) Update G
            netd.requires_grad_(False)
            loss_g, ratio = objective.generator(netd, batch, fake)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            netd.requires_grad_(True)
            if ema is not None:
                ema.update_parameters(netg)

            stats[step, 0], stats[step, 1] = loss_d.detach(), loss_g.detach()
            if ratio is not None:
                stats[step, 2] = ratio
            done += 1
        check_finite(stats, epoch, "CGAN training")
        if on_epoch:
            mean = stats.mean(0).tolist()
            logged = {"loss_d": mean[0], "loss_g": mean[1]}
            if cfg["mode_seeking"] > 0:
                logged["mode_seeking_ratio"] = mean[2]
            if covered is not None and not math.isnan(covered.uncovered):
                logged["uncovered_real_images"] = covered.uncovered
            on_epoch(epoch, logged)
