"""The conditional GANs' networks: the recipe's DCGAN, the projection discriminator and the
few-shot generator and discriminator (the classifiers are in fewshot/classifier_models.py, so
editing one never retrains a CGAN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fewshot.data import N_CLASSES


def one_hot(labels: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, N_CLASSES).float()


class Generator(nn.Module):
    """The source's generator: noise + one-hot label as 110 channels at 1x1, upsampled
    1 -> 2 -> 4 -> 8 -> 14 -> 28 by transposed convolutions (with biases, as in the source)."""

    def __init__(self, noise_dim: int = 100, base_channels: int = 64) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        c = base_channels

        def up(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> list[nn.Module]:
            return [
                nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]

        self.net = nn.Sequential(
            *up(noise_dim + N_CLASSES, c * 8, 2, 1, 0),  # 1 -> 2
            *up(c * 8, c * 4, 4, 2, 1),  # 2 -> 4
            *up(c * 4, c * 2, 4, 2, 1),  # 4 -> 8
            *up(c * 2, c, 2, 2, 1),  # 8 -> 14
            nn.ConvTranspose2d(c, 1, 4, 2, 1),  # 14 -> 28
            nn.Tanh(),
        )

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = one_hot(labels)[:, :, None, None]
        return self.net(torch.cat([noise.view(len(noise), -1, 1, 1), cond], dim=1))


class Discriminator(nn.Module):
    """The source's discriminator: image + one-hot label broadcast as 10 extra channels,
    28 -> 9 -> 9 -> 3 -> 1 with 3x3 kernels (stride 3, 1, 3, 1), biases, a raw score out.

    The loss decides what the score means: MSE against 0/1 (LSGAN, the recipe) or
    BCE-with-logits, which is the DCGAN's sigmoid + BCE in one numerically stable step.
    """

    def __init__(self, base_channels: int = 64) -> None:
        super().__init__()
        c = base_channels * 2  # 128 / 256 / 512 at the recipe's 64
        self.net = nn.Sequential(
            nn.Conv2d(1 + N_CLASSES, c, 3, 3, 0),  # 28 -> 9
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c, c * 2, 3, 1, 1),  # 9 -> 9
            nn.BatchNorm2d(c * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c * 2, c * 4, 3, 3, 1),  # 9 -> 3
            nn.BatchNorm2d(c * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c * 4, 1, 3, 1, 0),  # 3 -> 1
        )

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = one_hot(labels)[:, :, None, None].expand(-1, -1, *images.shape[2:])
        return self.net(torch.cat([images, cond], dim=1)).view(-1)


def _sn_body(c: int) -> nn.Sequential:
    """The spectral-norm convolutions of both projection discriminators: 28 -> 14 -> 7."""
    sn = nn.utils.parametrizations.spectral_norm
    return nn.Sequential(
        sn(nn.Conv2d(1, c, 3, 1, 1)),
        nn.LeakyReLU(0.1),
        sn(nn.Conv2d(c, c * 2, 4, 2, 1)),  # 28 -> 14
        nn.LeakyReLU(0.1),
        sn(nn.Conv2d(c * 2, c * 4, 4, 2, 1)),  # 14 -> 7
        nn.LeakyReLU(0.1),
    )


class ProjectionDiscriminator(nn.Module):
    """Spectral-normalised CNN with a projection head (Miyato & Koyama 2018).

    score(x, y) = w . phi(x) + embed(y) . phi(x): the label enters as an inner product with
    the image features instead of as 10 constant input channels. No BatchNorm: spectral
    normalisation alone keeps D Lipschitz, and real and fake batches stay independent.
    """

    def __init__(self, base_channels: int = 64) -> None:
        super().__init__()
        c = base_channels
        sn = nn.utils.parametrizations.spectral_norm
        self.features = _sn_body(c)
        self.linear = sn(nn.Linear(c * 4, 1))
        self.embed = sn(nn.Embedding(N_CLASSES, c * 4))

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        phi = self.features(images).sum(dim=(2, 3))  # global sum pooling
        return self.linear(phi).view(-1) + (self.embed(labels) * phi).sum(1)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine, then a per-class gain and bias (de Vries et al. 2017).

    The label modulates every feature map of every layer instead of entering once as ten
    constant channels at 1x1, which the recipe's generator can learn to ignore.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(N_CLASSES, channels)
        self.bias = nn.Embedding(N_CLASSES, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain = self.gain(labels)[:, :, None, None]
        bias = self.bias(labels)[:, :, None, None]
        return self.bn(x) * gain + bias


class FewShotGenerator(nn.Module):
    """A generator sized for 28x28 digits: noise -> 7x7 -> 14 -> 28, conditional BatchNorm.

    The label enters twice: as a one-hot beside the noise (a class signal from the first
    step, when every class's BatchNorm gain is still 1) and through every BatchNorm.
    Widths 8c, 4c, 2c at 7, 14 and 28 pixels: about 14 million multiply-adds per image at
    base_channels 16, most of it in the two transposed convolutions.
    """

    def __init__(self, noise_dim: int = 100, base_channels: int = 16, extra_dim: int = 0) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        c = base_channels
        # extra_dim: more conditioning beside the noise (InstanceGenerator's instance features)
        self.fc = nn.Linear(noise_dim + N_CLASSES + extra_dim, c * 8 * 7 * 7)
        self.bn0 = ConditionalBatchNorm2d(c * 8)
        self.up1 = nn.ConvTranspose2d(c * 8, c * 4, 4, 2, 1, bias=False)  # 7 -> 14
        self.bn1 = ConditionalBatchNorm2d(c * 4)
        self.up2 = nn.ConvTranspose2d(c * 4, c * 2, 4, 2, 1, bias=False)  # 14 -> 28
        self.bn2 = ConditionalBatchNorm2d(c * 2)
        self.out = nn.Conv2d(c * 2, 1, 3, 1, 1)

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([noise.view(len(noise), -1), one_hot(labels)], dim=1), labels)

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(len(z), -1, 7, 7)
        x = F.relu(self.bn0(x, labels))
        x = F.relu(self.bn1(self.up1(x), labels))
        x = F.relu(self.bn2(self.up2(x), labels))
        return torch.tanh(self.out(x))


class InstanceGenerator(FewShotGenerator):
    """`FewShotGenerator` conditioned on one real image's features besides its class
    (IC-GAN, fewshot/instances.py): G(z, y, h_i) should draw what real image i's nearest
    neighbours look like.

    `set_instances` gives it the real subset's features (N, instance_dim) and labels; they are
    saved with the weights as the module's extra state. Called as any generator, G(noise,
    labels), it picks each image's instance uniformly among its class's real images from the
    first noise coordinate (its normal CDF is uniform: the integer part of u * count picks the
    instance and the fractional part, uniform again and independent of it, becomes a fresh
    normal coordinate), so every caller samples it without knowing instances exist. Training
    passes `instances` (indices into the subset) explicitly.
    """

    def __init__(self, noise_dim: int = 100, base_channels: int = 16, instance_dim: int = 32):
        super().__init__(noise_dim, base_channels, extra_dim=instance_dim)
        self.instance_dim = instance_dim
        self.features = torch.zeros(0, instance_dim)
        self.labels = torch.zeros(0, dtype=torch.long)

    def set_instances(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """The real images to condition on: features (N, instance_dim) and labels (N,)."""
        if features.shape != (len(labels), self.instance_dim):
            raise ValueError(
                f"instance features must be ({len(labels)}, {self.instance_dim}), "
                f"got {tuple(features.shape)}"
            )
        missing = sorted(set(range(N_CLASSES)) - set(labels.tolist()))
        if missing:
            raise ValueError(f"no real image to condition on for class(es) {missing}")
        self.features = features.detach().float().cpu()
        self.labels = labels.detach().long().cpu()
        # What sampling needs, once: each class's instances side by side, where each starts.
        self._by_class = torch.argsort(self.labels, stable=True)
        self._counts = torch.bincount(self.labels, minlength=N_CLASSES)
        self._starts = torch.cumsum(self._counts, 0) - self._counts

    def get_extra_state(self) -> dict[str, torch.Tensor]:
        return {"features": self.features, "labels": self.labels}

    def set_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        self.set_instances(state["features"], state["labels"])

    def pick_instances(
        self, noise: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(noise with a fresh first coordinate, a uniformly drawn instance of each label)."""
        if not len(self.labels):
            raise RuntimeError("InstanceGenerator has no instances: call set_instances first")
        labels_cpu = labels.cpu()
        counts = self._counts[labels_cpu].to(noise.device)
        u = torch.special.ndtr(noise[:, 0].double()) * counts
        k = u.floor().clamp(max=counts - 1)
        noise = noise.clone()
        noise[:, 0] = torch.special.ndtri((u - k).clamp(1e-9, 1 - 1e-9)).to(noise.dtype)
        return noise, self._by_class[self._starts[labels_cpu] + k.long().cpu()].to(labels.device)

    def forward(
        self, noise: torch.Tensor, labels: torch.Tensor, instances: torch.Tensor | None = None
    ) -> torch.Tensor:
        if instances is None:
            noise, instances = self.pick_instances(noise, labels)
        h = self.features.to(noise.device)[instances.to(noise.device)]
        z = torch.cat([noise.view(len(noise), -1), one_hot(labels), h.to(noise.dtype)], dim=1)
        return self.decode(z, labels)


def minibatch_stddev(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Append the standard deviation across a group of images as one more channel (Karras
    et al. 2018): a batch of near-identical fakes is then visible to D, one image at a time."""
    n, c, h, w = x.shape
    g = min(group, n)
    while n % g:  # the largest group size that divides the batch
        g -= 1
    # Two passes by hand: aten::var over dim 0 is about 5x slower on CPU, the same variance.
    groups = x.view(g, n // g, c, h, w)
    std = (groups - groups.mean(0)).square().mean(0).add(1e-8).sqrt()
    std = std.mean(dim=(1, 2, 3), keepdim=True).repeat(g, 1, h, w)
    return torch.cat([x, std], dim=1)


class FewShotDiscriminator(nn.Module):
    """Spectral-norm CNN sized for 28x28 with a projection head, a minibatch-stddev channel
    and an auxiliary classifier head (AC-GAN) that the few-shot loss can use.

    score(x, y) = w . phi(x) + embed(y) . phi(x), as in `ProjectionDiscriminator`; `classify`
    turns the same features phi(x) into class logits.
    """

    def __init__(self, base_channels: int = 16, stddev_group: int = 4, instance_dim: int = 0):
        super().__init__()
        c = base_channels
        sn = nn.utils.parametrizations.spectral_norm
        self.stddev_group = stddev_group
        self.body = _sn_body(c)
        extra = 1 if stddev_group > 1 else 0
        self.head = nn.Sequential(sn(nn.Conv2d(c * 4 + extra, c * 4, 3, 1, 1)), nn.LeakyReLU(0.1))
        self.linear = sn(nn.Linear(c * 4, 1))
        self.embed = sn(nn.Embedding(N_CLASSES, c * 4))
        self.aux = sn(nn.Linear(c * 4, N_CLASSES))
        # IC-GAN: the conditioning image's features enter as a second projection
        self.instance_embed = (
            sn(nn.Linear(instance_dim, c * 4, bias=False)) if instance_dim else None
        )

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x = self.body(images)
        if self.stddev_group > 1:
            x = minibatch_stddev(x, self.stddev_group)
        return self.head(x).sum(dim=(2, 3))  # global sum pooling

    def score(
        self, phi: torch.Tensor, labels: torch.Tensor, instances: torch.Tensor | None = None
    ) -> torch.Tensor:
        """instances: the conditioning images' features, for an instance-conditioned D."""
        out = self.linear(phi).view(-1) + (self.embed(labels) * phi).sum(1)
        if (instances is None) != (self.instance_embed is None):
            raise ValueError("instance features go with, and only with, an instance-conditioned D")
        if instances is not None:
            out = out + (self.instance_embed(instances.to(phi.dtype)) * phi).sum(1)
        return out

    def classify(self, phi: torch.Tensor) -> torch.Tensor:
        """Class logits from the same features (AC-GAN's auxiliary head)."""
        return self.aux(phi)

    def forward(
        self, images: torch.Tensor, labels: torch.Tensor, instances: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.score(self.features(images), labels, instances)


DISCRIMINATORS = {
    "recipe": Discriminator,
    "projection": ProjectionDiscriminator,
    "fewshot": FewShotDiscriminator,
}
GENERATORS = {"recipe": Generator, "fewshot": FewShotGenerator}


def build_generator(cgan: dict) -> nn.Module:
    """The generator the `cgan` params describe, untrained: `cgan.instance_dim` > 0 makes the
    few-shot generator instance-conditioned. Params written before that key existed (older
    experiments read by the diagnosis scripts) mean 0."""
    instance_dim = cgan.get("instance_dim", 0)
    if instance_dim:
        return InstanceGenerator(cgan["noise_dim"], cgan["base_channels"], instance_dim)
    return GENERATORS[cgan["generator"]](cgan["noise_dim"], cgan["base_channels"])


def dcgan_init(module: nn.Module) -> None:
    """DCGAN weight init: conv weights N(0, 0.02) and biases 0; BatchNorm scale N(1, 0.02),
    shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:  # conditional BN has its own
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
