"""Model shapes, label conditioning, and the training loops' guarantees."""

from __future__ import annotations

import pytest
import torch

from fewshot.errors import TrainingError
from fewshot.io import load_state, save_state
from fewshot.models import MLP, Discriminator, Generator, LeNet, build_classifier, dcgan_init
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


@pytest.mark.parametrize("arch", ["mlp", "lenet"])
def test_classifier_shapes(arch: str) -> None:
    model = build_classifier(arch)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert isinstance(model, {"mlp": MLP, "lenet": LeNet}[arch])


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
