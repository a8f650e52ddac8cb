"""The recipe's conditional DCGAN and the two classifiers, written to read like the recipe."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

N_CLASSES = 10


def one_hot(labels: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, N_CLASSES).float()


class Generator(nn.Module):
    """Noise + one-hot label as 110 channels at 1x1, upsampled 1 -> 2 -> 4 -> 8 -> 14 -> 28."""

    def __init__(self, noise_dim: int = 100, base_channels: int = 64) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        c = base_channels

        def up(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> list[nn.Module]:
            return [
                nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]

        self.net = nn.Sequential(
            *up(noise_dim + N_CLASSES, c * 8, 2, 1, 0),  # 1 -> 2
            *up(c * 8, c * 4, 4, 2, 1),  # 2 -> 4
            *up(c * 4, c * 2, 4, 2, 1),  # 4 -> 8
            *up(c * 2, c, 2, 2, 1),  # 8 -> 14
            nn.ConvTranspose2d(c, 1, 4, 2, 1, bias=False),  # 14 -> 28
            nn.Tanh(),
        )

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = one_hot(labels)[:, :, None, None]
        return self.net(torch.cat([noise.view(len(noise), -1, 1, 1), cond], dim=1))


class Discriminator(nn.Module):
    """Image + one-hot label broadcast as 10 extra channels; a raw score out (no sigmoid).

    The loss decides what the score means: MSE against 0/1 (LSGAN, the recipe) or
    BCE-with-logits, which is the DCGAN's sigmoid + BCE in one numerically stable step.
    """

    def __init__(self, base_channels: int = 64) -> None:
        super().__init__()
        c = base_channels * 2  # 128 / 256 / 512 at the recipe's 64
        self.net = nn.Sequential(
            nn.Conv2d(1 + N_CLASSES, c, 4, 2, 1, bias=False),  # 28 -> 14
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c, c * 2, 4, 2, 1, bias=False),  # 14 -> 7
            nn.BatchNorm2d(c * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c * 2, c * 4, 3, 2, 1, bias=False),  # 7 -> 4
            nn.BatchNorm2d(c * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c * 4, 1, 4, 1, 0, bias=False),  # 4 -> 1
        )

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cond = one_hot(labels)[:, :, None, None].expand(-1, -1, *images.shape[2:])
        return self.net(torch.cat([images, cond], dim=1)).view(-1)


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
        self.features = nn.Sequential(
            sn(nn.Conv2d(1, c, 3, 1, 1)),
            nn.LeakyReLU(0.1),
            sn(nn.Conv2d(c, c * 2, 4, 2, 1)),  # 28 -> 14
            nn.LeakyReLU(0.1),
            sn(nn.Conv2d(c * 2, c * 4, 4, 2, 1)),  # 14 -> 7
            nn.LeakyReLU(0.1),
        )
        self.linear = sn(nn.Linear(c * 4, 1))
        self.embed = sn(nn.Embedding(N_CLASSES, c * 4))

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        phi = self.features(images).sum(dim=(2, 3))  # global sum pooling
        return self.linear(phi).view(-1) + (self.embed(labels) * phi).sum(1)


DISCRIMINATORS = {"recipe": Discriminator, "projection": ProjectionDiscriminator}


def dcgan_init(module: nn.Module) -> None:
    """DCGAN weight init: conv weights N(0, 0.02); BatchNorm scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class MLP(nn.Module):
    """The recipe's classifier: 784-400-200-100-10 with ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, 400),
            nn.ReLU(),
            nn.Linear(400, 200),
            nn.ReLU(),
            nn.Linear(200, 100),
            nn.ReLU(),
            nn.Linear(100, N_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LeNet(nn.Module):
    """LeNet-style CNN: conv 6 and 16 channels (3x3) with max-pooling, then FC 120-84-10."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3),  # 28 -> 26
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 13
            nn.Conv2d(6, 16, 3),  # -> 11
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, N_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class Judge(nn.Module):
    """The referee for generated images: a compact CNN trained on the full train split.

    Its `embed` output (the penultimate layer) is the feature space of the domain FID,
    precision/recall and density/coverage; its predictions give label fidelity.
    """

    num_features = 128

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_relu(1, 16),
            *_conv_bn_relu(16, 16),
            nn.MaxPool2d(2),  # 28 -> 14
            *_conv_bn_relu(16, 32),
            *_conv_bn_relu(32, 32),
            nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, self.num_features),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.num_features, N_CLASSES))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SmallCNN(nn.Module):
    """A small modern CNN: 5 conv layers with BatchNorm, dropout, global average pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            *_conv_bn_relu(1, 32),
            *_conv_bn_relu(32, 32),
            nn.MaxPool2d(2),  # 28 -> 14
            nn.Dropout(0.1),
            *_conv_bn_relu(32, 64),
            *_conv_bn_relu(64, 64),
            nn.MaxPool2d(2),  # 14 -> 7
            nn.Dropout(0.1),
            *_conv_bn_relu(64, 128),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(128, N_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


CLASSIFIERS = {"mlp": MLP, "lenet": LeNet, "cnn": SmallCNN}


def build_classifier(arch: str) -> nn.Module:
    return CLASSIFIERS[arch]()
