"""The classifiers trained on each source (the recipe's MLP, LeNet, the strong CNN) and the
judge that scores generated images; apart from the GAN networks (fewshot/gan_models.py)."""

from __future__ import annotations

import torch
from torch import nn

from fewshot.data import N_CLASSES


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
    # NHWC, as the CGAN: oneDNN runs the CNN's convolutions about 12% faster on a CPU, and
    # loaded weights keep the layout. Only 4-D weights change; the maths is the same.
    return CLASSIFIERS[arch]().to(memory_format=torch.channels_last)
