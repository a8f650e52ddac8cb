"""Model shapes, label conditioning, and the training loops' guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fewshot.errors import TrainingError
from fewshot.io import load_state, save_state
from fewshot.models import (
    MLP,
    Discriminator,
    Generator,
    LeNet,
    ProjectionDiscriminator,
    SmallCNN,
    build_classifier,
    dcgan_init,
)
from fewshot.training import build_cgan, seeded_generator, train_cgan, train_classifier

CGAN_CFG = {
    "epochs": 2,
    "batch_size": 8,
    "noise_dim": 16,
    "base_channels": 8,
    "loss": "lsgan",
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "weight_decay": 1e-5,
    "sample_every": 1,
    "precision": "fp32",
    "discriminator": "recipe",
    "diffaugment": False,
    "ema": 0.0,
}
DATA_EFFICIENT = {
    **CGAN_CFG,
    "discriminator": "projection",
    "loss": "hinge",
    "diffaugment": True,
    "ema": 0.9,
}


def test_generator_output_shape_and_range() -> None:
    netg = Generator(noise_dim=100, base_channels=64).apply(dcgan_init).eval()
    out = netg(torch.randn(4, 100), torch.tensor([0, 3, 7, 9]))
    assert out.shape == (4, 1, 28, 28)
    assert out.min() >= -1 and out.max() <= 1


def test_generator_is_conditioned_on_the_label() -> None:
    torch.manual_seed(0)
    netg = Generator(noise_dim=100).apply(dcgan_init).eval()
    noise = torch.randn(1, 100).repeat(10, 1)
    out = netg(noise, torch.arange(10))
    # Same noise, different labels: every pair of images differs.
    distances = torch.cdist(out.flatten(1), out.flatten(1))
    assert (distances + torch.eye(10)).min() > 1e-3
    torch.testing.assert_close(netg(noise[:2], torch.tensor([4, 4]))[0], out[4])


def test_discriminator_scores_one_value_per_image() -> None:
    netd = Discriminator().apply(dcgan_init)
    assert netd(torch.randn(5, 1, 28, 28), torch.arange(5)).shape == (5,)


def test_recipe_channel_widths() -> None:
    widths_g = [
        m.out_channels for m in Generator().modules() if isinstance(m, torch.nn.ConvTranspose2d)
    ]
    widths_d = [m.out_channels for m in Discriminator().modules() if isinstance(m, torch.nn.Conv2d)]
    assert widths_g == [512, 256, 128, 64, 1] and widths_d == [128, 256, 512, 1]


@pytest.mark.parametrize("arch", ["mlp", "lenet", "cnn"])
def test_classifier_shapes(arch: str) -> None:
    model = build_classifier(arch)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert isinstance(model, {"mlp": MLP, "lenet": LeNet, "cnn": SmallCNN}[arch])


def test_mlp_has_the_recipe_layers() -> None:
    sizes = [
        (m.in_features, m.out_features) for m in MLP().modules() if isinstance(m, torch.nn.Linear)
    ]
    assert sizes == [(784, 400), (400, 200), (200, 100), (100, 10)]


def _train_tiny_cgan(seed: int, images: torch.Tensor) -> Generator:
    gen = seeded_generator(seed, torch.device("cpu"))
    netg, netd = build_cgan(CGAN_CFG, torch.device("cpu"))
    train_cgan(netg, netd, images, torch.arange(len(images)) % 10, CGAN_CFG, gen)
    return netg


def test_cgan_training_is_deterministic_on_cpu(tmp_path) -> None:
    images = torch.rand(20, 1, 28, 28) * 2 - 1
    a, b = _train_tiny_cgan(3, images), _train_tiny_cgan(3, images)
    save_state(tmp_path / "a.pt", a)
    save_state(tmp_path / "b.pt", b)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    c = _train_tiny_cgan(4, images)
    assert not torch.equal(a.state_dict()["net.0.weight"], c.state_dict()["net.0.weight"])
    loaded = load_state(tmp_path / "a.pt", Generator(16, 8))
    torch.testing.assert_close(loaded.state_dict(), a.state_dict())


def test_divergence_names_epoch_and_step() -> None:
    images = torch.rand(20, 1, 28, 28)
    images[13] = float("nan")  # in the second batch of the first epoch, whatever the order
    gen = seeded_generator(0, torch.device("cpu"))
    netg, netd = build_cgan(CGAN_CFG, torch.device("cpu"))
    with pytest.raises(TrainingError, match=r"non-finite loss at epoch 1, step [1-3]"):
        train_cgan(netg, netd, images, torch.arange(20) % 10, CGAN_CFG, gen)


def test_classifier_learns_a_separable_toy_problem() -> None:
    from fewshot.training import predict, to_classifier_input
    from tests.conftest import tiny_split

    images, labels = tiny_split(10, seed=0)
    x, y = to_classifier_input(images), torch.from_numpy(labels).long()
    model = build_classifier("mlp")
    cfg = {"epochs": 5, "batch_size": 10, "lr": 1e-3}
    train_classifier(model, x, y, cfg, seeded_generator(0, torch.device("cpu")))
    assert (predict(model, x, 50) == y).float().mean() > 0.9


def test_load_state_refuses_non_checkpoints(tmp_path) -> None:
    from fewshot.errors import DataError

    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"x.pt: not a checkpoint"):
        load_state(tmp_path / "x.pt", MLP())
    with pytest.raises(DataError, match=r"y.pt: checkpoint not found"):
        load_state(tmp_path / "y.pt", MLP())


def test_bf16_cgan_training_runs_and_leaves_the_discriminator_trainable() -> None:
    images = torch.rand(20, 1, 28, 28) * 2 - 1
    gen = seeded_generator(0, torch.device("cpu"))
    netg, netd = build_cgan(CGAN_CFG, torch.device("cpu"))
    before = netd.state_dict()["net.0.weight"].clone()
    train_cgan(netg, netd, images, torch.arange(20) % 10, {**CGAN_CFG, "precision": "bf16"}, gen)
    assert all(p.requires_grad for p in netd.parameters())
    assert all(p.dtype == torch.float32 for p in netg.parameters())  # autocast, not a cast
    assert not torch.equal(before, netd.state_dict()["net.0.weight"])


def test_projection_discriminator_scores_depend_on_the_label() -> None:
    torch.manual_seed(0)
    netd = ProjectionDiscriminator(base_channels=8)
    images = torch.rand(1, 1, 28, 28).repeat(10, 1, 1, 1) * 2 - 1
    scores = netd(images, torch.arange(10))
    assert scores.shape == (10,)
    assert scores.unique().numel() == 10  # same image, different label, different score


def test_data_efficient_cgan_trains_and_the_ema_lags_the_generator() -> None:
    from fewshot.training import generator_ema

    images = torch.rand(20, 1, 28, 28) * 2 - 1
    gen = seeded_generator(0, torch.device("cpu"))
    netg, netd = build_cgan(DATA_EFFICIENT, torch.device("cpu"))
    assert isinstance(netd, ProjectionDiscriminator)
    ema = generator_ema(netg, DATA_EFFICIENT["ema"])
    seen = []
    train_cgan(
        netg, netd, images, torch.arange(20) % 10, DATA_EFFICIENT, gen,
        on_epoch=lambda epoch, stats: seen.append(stats), ema=ema,
    )  # fmt: skip
    assert len(seen) == 2 and all(np.isfinite(list(s.values())).all() for s in seen)
    weight = "net.0.weight"
    assert not torch.equal(ema.module.state_dict()[weight], netg.state_dict()[weight])
    assert generator_ema(netg, 0.0) is None


def test_gan_losses_match_their_definitions() -> None:
    from fewshot.training import gan_losses

    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-0.5, 0.3])
    d, g = gan_losses("lsgan")
    assert d(real, fake) == pytest.approx(((real - 1) ** 2).mean() + (fake**2).mean())
    assert g(fake) == pytest.approx(((fake - 1) ** 2).mean())
    d, g = gan_losses("hinge")
    assert d(real, fake) == pytest.approx((0.5 + 0.0) / 2 + (0.5 + 1.3) / 2)
    assert g(fake) == pytest.approx(0.1)


def test_diff_augment_keeps_background_range_and_gradients() -> None:
    from fewshot.training import diff_augment

    blank = -torch.ones(4, 1, 28, 28)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(diff_augment(blank, gen), blank)  # padding and holes are background
    x = (torch.rand(8, 1, 28, 28) * 2 - 1).requires_grad_()
    out = diff_augment(x, torch.Generator().manual_seed(1))
    again = diff_augment(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and torch.equal(out, again)
    assert out.min() >= -1 and out.max() <= 1 and not torch.equal(out, x)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_random_affine_is_the_identity_at_zero_range_and_varies_per_image() -> None:
    from fewshot.training import random_affine

    x = torch.rand(6, 1, 28, 28)
    gen = torch.Generator().manual_seed(0)
    same = random_affine(x, gen, degrees=0, scale=0, translate=0, shear=0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    one = x[:1].repeat(6, 1, 1, 1)
    warped = random_affine(one, torch.Generator().manual_seed(0))
    assert warped.shape == one.shape
    assert torch.cdist(warped.flatten(1), warped.flatten(1)).triu(1).gt(0).sum() == 15


def test_augmented_one_cycle_training_reduces_the_loss_and_uses_the_warps() -> None:
    from fewshot.training import to_classifier_input
    from tests.conftest import tiny_split

    images, labels = tiny_split(10, seed=0)
    x, y = to_classifier_input(images), torch.from_numpy(labels).long()
    cfg = {
        "epochs": 6, "batch_size": 20, "lr": 3e-3, "weight_decay": 1e-4,
        "schedule": "onecycle", "label_smoothing": 0.1, "augment": True,
    }  # fmt: skip

    def train(cfg: dict) -> tuple[torch.nn.Module, list[float]]:
        torch.manual_seed(0)
        model, losses = build_classifier("cnn"), []
        train_classifier(
            model, x, y, cfg, seeded_generator(0, torch.device("cpu")),
            on_epoch=lambda epoch, stats: losses.append(stats["loss"]),
        )  # fmt: skip
        return model, losses

    augmented, losses = train(cfg)
    assert losses[-1] < losses[0]
    plain, _ = train({**cfg, "augment": False})
    weight = "net.0.weight"
    assert not torch.equal(augmented.state_dict()[weight], plain.state_dict()[weight])
