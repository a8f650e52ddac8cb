"""A faithful copy of the source's code (seed 000), the baseline the benchmark compares to.

The networks are the project's `Generator` and `Discriminator`, which are the source's; fake
labels are drawn at random and images generated in training mode, as the source does. What
differs from the project is the loop around them:
a DataLoader applying ToTensor + Normalize per image every epoch, labels moved to the device
per batch, D's weight gradients computed in the G step and discarded, a host sync per step
(`.item()` for the loss lists), generation one image at a time with one `save_image` each,
and a classifier trained from a DataLoader over the PNG ImageFolder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.datasets import ImageFolder
from torchvision.utils import save_image

from fewshot.classifier_models import build_classifier
from fewshot.gan_models import Discriminator, Generator, dcgan_init


class ArrayImages(Dataset):
    """uint8 arrays served as PIL images through torchvision transforms, like datasets.MNIST."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def train_cgan(images: np.ndarray, labels: np.ndarray, epochs: int, device: torch.device):
    gan_transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
    )
    loader = DataLoader(ArrayImages(images, labels, gan_transform), batch_size=50, shuffle=True)
    netg, netd = Generator().to(device), Discriminator().to(device)
    netg.apply(dcgan_init)
    netd.apply(dcgan_init)
    adam = {"lr": 2e-4, "betas": (0.5, 0.999), "weight_decay": 1e-5}
    opt_g = torch.optim.Adam(netg.parameters(), **adam)
    opt_d = torch.optim.Adam(netd.parameters(), **adam)
    d_losses, g_losses = [], []
    for _ in range(epochs):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            ones = torch.ones(len(x), device=device)
            zeros = torch.zeros(len(x), device=device)
            netd.zero_grad()
            loss_real = F.mse_loss(netd(x, y), ones)
            fake_y = torch.randint(10, (len(x),), device=device)  # as the source
            fake = netg(torch.randn(len(x), 100, device=device), fake_y)
            loss_fake = F.mse_loss(netd(fake.detach(), fake_y), zeros)
            loss_d = loss_real + loss_fake
            loss_d.backward()
            opt_d.step()

            netg.zero_grad()
            loss_g = F.mse_loss(netd(fake, fake_y), ones)
            loss_g.backward()
            opt_g.step()
            d_losses.append(loss_d.item())
            g_losses.append(loss_g.item())
    return netg


@torch.no_grad()
def generate(netg: Generator, out: Path, per_class: int, device: torch.device) -> int:
    netg.train()  # the source never switches G to eval mode
    for cls in range(10):
        (out / str(cls)).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = netg(torch.randn(1, 100, device=device), torch.tensor([cls], device=device))
            save_image(image, out / str(cls) / f"{i}.png", normalize=True)
    return 10 * per_class


def train_classifier(folder: Path, epochs: int, device: torch.device) -> torch.nn.Module:
    dataset = ImageFolder(
        str(folder), transform=transforms.Compose([transforms.Grayscale(), transforms.ToTensor()])
    )
    loader = DataLoader(dataset, batch_size=10, shuffle=True)
    model = build_classifier("mlp").to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(epochs):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return model
