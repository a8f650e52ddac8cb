"""Model shapes, label conditioning, and the training loops' guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fewshot.classifier_models import MLP, LeNet, SmallCNN, build_classifier
from fewshot.classify import predict, train_classifier
from fewshot.errors import TrainingError
from fewshot.gan import build_cgan, train_cgan
from fewshot.gan_models import Discriminator, Generator, ProjectionDiscriminator, dcgan_init
from fewshot.io import load_state, save_state
from fewshot.training import seeded_rng
from fewshot.tta import predict_tta, shifted_views

CGAN_CFG = {
    "generator": "recipe",
    "epochs": 2,
    "steps": 0,
    "fake_labels": "batch",
    "mode_seeking": 0.0,
    "mode_seeking_form": "msgan",
    "aux_weight": 0.0,
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
    "diffaugment": "none",
    "ema": 0.0,
    "instance_dim": 0,
    "instance_neighbours": 3,
    "coverage_weight": 0.0,
    "coverage_every": 500,
}
DATA_EFFICIENT = {
    **CGAN_CFG,
    "discriminator": "projection",
    "loss": "hinge",
    "diffaugment": "translation,cutout",
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
    rng = seeded_rng(seed, torch.device("cpu"))
    netg, netd = build_cgan(CGAN_CFG, torch.device("cpu"))
    train_cgan(netg, netd, images, torch.arange(len(images)) % 10, CGAN_CFG, rng)
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
    rng = seeded_rng(0, torch.device("cpu"))
    netg, netd = build_cgan(CGAN_CFG, torch.device("cpu"))
    with pytest.raises(TrainingError, match=r"non-finite loss at epoch 1, step [1-3]"):
        train_cgan(netg, netd, images, torch.arange(20) % 10, CGAN_CFG, rng)


def test_classifier_learns_a_separable_toy_problem() -> None:
    from fewshot.classify import predict
    from fewshot.tensors import to_classifier_input
    from tests.conftest import tiny_split

    images, labels = tiny_split(10, seed=0)
    x, y = to_classifier_input(images), torch.from_numpy(labels).long()
    model = build_classifier("mlp")
    cfg = {"epochs": 5, "batch_size": 10, "lr": 1e-3}
    train_classifier(model, x, y, cfg, seeded_rng(0, torch.device("cpu")))
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
    rng = seeded_rng(0, torch.device("cpu"))
    netg, netd = build_cgan(CGAN_CFG, torch.device("cpu"))
    before = netd.state_dict()["net.0.weight"].clone()
    train_cgan(netg, netd, images, torch.arange(20) % 10, {**CGAN_CFG, "precision": "bf16"}, rng)
    assert all(p.requires_grad for p in netd.parameters())
    assert all(p.dtype == torch.float32 for p in netg.parameters())  # autocast, not a cast
    assert not torch.equal(before, netd.state_dict()["net.0.weight"])


def test_auto_precision_is_bf16_only_on_a_cpu_with_native_bf16(monkeypatch) -> None:
    from fewshot import device as runtime

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert runtime.resolve_precision("fp32", cpu) == "fp32"
    assert runtime.resolve_precision("bf16", cuda) == "bf16"  # as asked, wherever
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: True)
    assert runtime.resolve_precision("auto", cpu) == "bf16"
    assert runtime.resolve_precision("auto", cuda) == "fp32"  # launch-bound: casts only cost
    assert runtime.autocast(cpu, "auto").fast_dtype == torch.bfloat16
    assert runtime.autocast(cpu, "auto")._enabled
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: False)
    assert runtime.resolve_precision("auto", cpu) == "fp32"
    assert not runtime.autocast(cpu, "auto")._enabled


def test_projection_discriminator_scores_depend_on_the_label() -> None:
    torch.manual_seed(0)
    netd = ProjectionDiscriminator(base_channels=8)
    images = torch.rand(1, 1, 28, 28).repeat(10, 1, 1, 1) * 2 - 1
    scores = netd(images, torch.arange(10))
    assert scores.shape == (10,)
    assert scores.unique().numel() == 10  # same image, different label, different score


def test_data_efficient_cgan_trains_and_the_ema_lags_the_generator() -> None:
    from fewshot.gan import generator_ema

    images = torch.rand(20, 1, 28, 28) * 2 - 1
    rng = seeded_rng(0, torch.device("cpu"))
    netg, netd = build_cgan(DATA_EFFICIENT, torch.device("cpu"))
    assert isinstance(netd, ProjectionDiscriminator)
    ema = generator_ema(netg, DATA_EFFICIENT["ema"])
    seen = []
    train_cgan(
        netg, netd, images, torch.arange(20) % 10, DATA_EFFICIENT, rng,
        on_epoch=lambda epoch, stats: seen.append(stats), ema=ema,
    )  # fmt: skip
    assert len(seen) == 2 and all(np.isfinite(list(s.values())).all() for s in seen)
    weight = "net.0.weight"
    assert not torch.equal(ema.module.state_dict()[weight], netg.state_dict()[weight])
    assert generator_ema(netg, 0.0) is None


def test_gan_losses_match_their_definitions() -> None:
    from fewshot.gan import gan_losses

    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-0.5, 0.3])
    d, g = gan_losses("lsgan")
    assert d(real, fake) == pytest.approx(((real - 1) ** 2).mean() + (fake**2).mean())
    assert g(fake) == pytest.approx(((fake - 1) ** 2).mean())
    d, g = gan_losses("hinge")
    assert d(real, fake) == pytest.approx((0.5 + 0.0) / 2 + (0.5 + 1.3) / 2)
    assert g(fake) == pytest.approx(0.1)


def test_diff_augment_keeps_background_range_and_gradients() -> None:
    from fewshot.augment import diff_augment

    blank = -torch.ones(4, 1, 28, 28)
    rng = torch.Generator().manual_seed(0)
    assert torch.equal(
        diff_augment(blank, rng, "translation,cutout"), blank
    )  # padding and holes are background
    x = (torch.rand(8, 1, 28, 28) * 2 - 1).requires_grad_()
    out = diff_augment(x, torch.Generator().manual_seed(1), "translation,cutout")
    again = diff_augment(x, torch.Generator().manual_seed(1), "translation,cutout")
    assert out.shape == x.shape and torch.equal(out, again)
    assert out.min() >= -1 and out.max() <= 1 and not torch.equal(out, x)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_random_affine_is_the_identity_at_zero_range_and_varies_per_image() -> None:
    from fewshot.classifier_augment import random_affine

    x = torch.rand(6, 1, 28, 28)
    rng = torch.Generator().manual_seed(0)
    same = random_affine(x, rng, degrees=0, scale=0, translate=0, shear=0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    one = x[:1].repeat(6, 1, 1, 1)
    warped = random_affine(one, torch.Generator().manual_seed(0))
    assert warped.shape == one.shape
    assert torch.cdist(warped.flatten(1), warped.flatten(1)).triu(1).gt(0).sum() == 15


def test_elastic_distortion_is_smooth_small_and_different_per_image() -> None:
    from fewshot.classifier_augment import elastic_distort

    x = torch.rand(6, 1, 28, 28)
    same = elastic_distort(x, torch.Generator().manual_seed(0), alpha=0.0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    # A horizontal ramp shows each pixel's x displacement as a change in its value.
    ramp = torch.linspace(-1, 1, 28).expand(6, 1, 28, 28).contiguous()
    moved = elastic_distort(ramp, torch.Generator().manual_seed(0))
    shift = ((moved - ramp) / (2 / 27))[..., 4:-4, 4:-4]  # in pixels, away from the border
    assert 0.3 < shift.abs().mean() < 3  # about 1.4 pixels at alpha 34, sigma 4
    assert (shift[..., 1:] - shift[..., :-1]).abs().mean() < 0.2 * shift.abs().mean()  # smooth
    assert torch.cdist(shift.flatten(1), shift.flatten(1)).triu(1).gt(0).sum() == 15


def test_augmented_one_cycle_training_reduces_the_loss_and_uses_the_warps() -> None:
    from fewshot.tensors import to_classifier_input
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
            model, x, y, cfg, seeded_rng(0, torch.device("cpu")),
            on_epoch=lambda epoch, stats: losses.append(stats["loss"]),
        )  # fmt: skip
        return model, losses

    augmented, losses = train(cfg)
    assert losses[-1] < losses[0]
    plain, _ = train({**cfg, "augment": False})
    weight = "net.0.weight"
    assert not torch.equal(augmented.state_dict()[weight], plain.state_dict()[weight])


FEW_SHOT = {
    **CGAN_CFG,
    "generator": "fewshot",
    "discriminator": "fewshot",
    "loss": "hinge",
    "steps": 7,
    "batch_size": 8,
    "diffaugment": "translation",
    "mode_seeking": 1.0,
    "aux_weight": 1.0,
    "ema": 0.9,
}


def test_mode_seeking_ratio_is_zero_for_a_generator_that_ignores_its_noise() -> None:
    from fewshot.gan import mode_seeking_loss, mode_seeking_ratio

    noise = torch.randn(8, 16)
    same = torch.rand(1, 1, 28, 28).repeat(8, 1, 1, 1)
    assert mode_seeking_ratio(same, noise) == 0
    assert mode_seeking_loss(same, noise) == pytest.approx(1e5)  # 1 / (0 + eps)
    # Pairs (i, i + 4): images differ by 0.5 everywhere, noise by 2 everywhere.
    images = torch.cat([torch.zeros(4, 1, 28, 28), torch.full((4, 1, 28, 28), 0.5)])
    noise = torch.cat([torch.zeros(4, 16), torch.full((4, 16), 2.0)])
    assert mode_seeking_ratio(images, noise) == pytest.approx(0.25)
    assert mode_seeking_loss(images, noise) == pytest.approx(1 / (0.25 + 1e-5))


def test_capped_mode_seeking_stops_at_each_class_real_variety() -> None:
    from fewshot.gan import capped_mode_seeking_loss, class_spread

    # Class 0's real images differ by 0.2 per pixel, class 1's by 0.6; the others by 1.
    images = torch.zeros(20, 1, 28, 28)
    images[10 + 0] += 0.2
    images[10 + 1] += 0.6
    images[10 + 2 :] += 1.0
    labels = torch.arange(20) % 10
    spread = class_spread(images, labels)
    assert torch.allclose(spread, torch.tensor([0.2, 0.6] + [1.0] * 8))
    labels = torch.tensor([0, 1, 0, 1])  # pairs (0, 2) and (1, 3), one per class
    same = torch.rand(1, 1, 28, 28).repeat(4, 1, 1, 1)
    assert capped_mode_seeking_loss(same, labels, spread) == pytest.approx(1.0)  # ignores z
    # Both pairs differ by 0.3: beyond class 0's variety (no push), half of class 1's.
    fakes = torch.cat([torch.zeros(2, 1, 28, 28), torch.full((2, 1, 28, 28), 0.3)])
    assert capped_mode_seeking_loss(fakes, labels, spread).item() == pytest.approx(0.25, abs=1e-5)
    with pytest.raises(ValueError, match="class 9 needs at least 2 real images"):
        class_spread(images[:19], torch.arange(19) % 10)


def test_few_shot_cgan_trains_with_capped_mode_seeking() -> None:
    images = torch.rand(20, 1, 28, 28) * 2 - 1
    cfg = {**FEW_SHOT, "mode_seeking_form": "capped", "steps": 3}
    netg, netd = build_cgan(cfg, torch.device("cpu"))
    before = [p.detach().clone() for p in netg.parameters()]
    seen = []
    train_cgan(
        netg, netd, images, torch.arange(20) % 10, cfg, seeded_rng(0, torch.device("cpu")),
        on_epoch=lambda epoch, stats: seen.append(stats),
    )  # fmt: skip
    assert seen and all(np.isfinite(list(s.values())).all() for s in seen)
    assert any(not torch.equal(b, p) for b, p in zip(before, netg.parameters(), strict=True))


def test_conditional_batchnorm_applies_the_gain_and_bias_of_each_label() -> None:
    from fewshot.gan_models import ConditionalBatchNorm2d

    cbn = ConditionalBatchNorm2d(3)
    with torch.no_grad():
        cbn.gain.weight.copy_(torch.arange(10.0)[:, None].repeat(1, 3))  # gain = label
        cbn.bias.weight.copy_(torch.full((10, 3), 5.0))
        x = torch.randn(64, 3, 4, 4)
        out = cbn(x, torch.full((64,), 2))  # train mode: normalised by the batch, 2 * x_hat + 5
        other = cbn(x, torch.full((64,), 7))
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.full((3,), 5.0), atol=1e-5)
    assert torch.allclose(out.std(dim=(0, 2, 3), unbiased=False), torch.full((3,), 2.0), atol=1e-3)
    # The same input under another label differs by exactly the gains and biases.
    assert torch.allclose(other - 5, (out - 5) * 7 / 2, atol=1e-5)


def test_few_shot_generator_is_conditioned_and_uses_its_noise() -> None:
    from fewshot.gan_models import FewShotGenerator

    torch.manual_seed(0)
    netg = FewShotGenerator(noise_dim=16, base_channels=8).apply(dcgan_init).eval()
    for bn in (netg.bn0, netg.bn1, netg.bn2):  # at init every class has gain 1 and bias 0
        torch.nn.init.normal_(bn.gain.weight, 1.0, 0.5)
        torch.nn.init.normal_(bn.bias.weight, 0.0, 0.5)
    noise = torch.randn(2, 16)
    by_label = netg(noise[:1].repeat(10, 1), torch.arange(10))
    assert by_label.shape == (10, 1, 28, 28) and by_label.abs().max() <= 1
    assert by_label.detach().flatten(1).unique(dim=0).shape[0] == 10
    by_noise = netg(noise, torch.tensor([3, 3]))
    assert not torch.allclose(by_noise[0], by_noise[1])


def test_minibatch_stddev_sees_a_collapsed_batch() -> None:
    from fewshot.gan_models import minibatch_stddev

    same = torch.rand(1, 4, 7, 7).repeat(8, 1, 1, 1)
    varied = torch.rand(8, 4, 7, 7)
    assert minibatch_stddev(same).shape == (8, 5, 7, 7)
    assert minibatch_stddev(same)[:, 4].max() < 1e-3 < minibatch_stddev(varied)[:, 4].min()
    assert minibatch_stddev(varied[:6], group=4).shape == (6, 5, 7, 7)  # group 3 divides 6
    # the channel is the group's population standard deviation, averaged over C, H and W
    x = varied.contiguous(memory_format=torch.channels_last)
    std = x.double().view(4, 2, 4, 7, 7).std(0, unbiased=False).mean((1, 2, 3))
    got = minibatch_stddev(x)[:, 4, 0, 0].double()
    torch.testing.assert_close(got, std.repeat(4), rtol=1e-5, atol=1e-6)


def test_few_shot_cgan_trains_for_its_step_budget_with_every_option_on() -> None:
    from fewshot.gan import generator_ema, total_steps
    from fewshot.gan_models import FewShotDiscriminator, FewShotGenerator

    images = torch.rand(20, 1, 28, 28) * 2 - 1
    rng = seeded_rng(0, torch.device("cpu"))
    netg, netd = build_cgan(FEW_SHOT, torch.device("cpu"))
    assert isinstance(netg, FewShotGenerator) and isinstance(netd, FewShotDiscriminator)
    ema = generator_ema(netg, FEW_SHOT["ema"])
    seen = []
    train_cgan(
        netg, netd, images, torch.arange(20) % 10, FEW_SHOT, rng,
        on_epoch=lambda epoch, stats: seen.append(stats), ema=ema,
    )  # fmt: skip
    # 20 images at batch 8 are 3 steps an epoch: 7 steps end inside the third epoch.
    assert total_steps(20, FEW_SHOT) == (7, 3)
    assert int(ema.n_averaged) == 7 and len(seen) == 3
    assert all(np.isfinite(list(s.values())).all() for s in seen)
    assert all(s["mode_seeking_ratio"] > 0 for s in seen)


@pytest.mark.parametrize("fake_labels", ["batch", "random"])
def test_fake_labels_pair_up_for_mode_seeking(fake_labels: str) -> None:
    from fewshot.gan import _Batches
    from fewshot.gan_models import FewShotGenerator

    y = torch.arange(9) % 10
    cfg = {**FEW_SHOT, "fake_labels": fake_labels, "instance_dim": 0}
    images = torch.rand(9, 1, 28, 28)
    draw = _Batches(FewShotGenerator(noise_dim=8, base_channels=2), images, y, cfg,
                    torch.Generator().manual_seed(0))  # fmt: skip
    batch = draw(torch.arange(9))
    out = batch.y_fake
    assert torch.equal(out[:4], out[4:8])  # pair (i, i + 4) shares its label
    assert torch.equal(batch.y, y) and torch.equal(batch.real, images)
    assert batch.noise.shape == (9, 8) and batch.instances == ()
    if fake_labels == "batch":
        assert torch.equal(out[:4], y[:4]) and out[8] == y[8]


def test_classifier_step_budget_is_the_same_for_any_number_of_images() -> None:
    from fewshot.training import total_steps

    cfg = {"epochs": 3, "steps": 0, "batch_size": 10, "lr": 1e-3}
    assert total_steps(95, cfg) == (30, 3)  # 10 steps an epoch, the last batch of 5
    budget = {**cfg, "steps": 12}
    assert total_steps(95, budget) == (12, 2) and total_steps(1000, budget) == (12, 1)
    steps = []
    model = MLP()
    model.register_forward_hook(lambda *_: steps.append(1))
    images, labels = torch.rand(95, 1, 28, 28), torch.arange(95) % 10
    train_classifier(model, images, labels, budget, seeded_rng(0, torch.device("cpu")))
    assert len(steps) == 12


def test_mixed_batches_hold_the_synthetic_share_and_cycle_each_pool() -> None:
    from fewshot.classify import mixed_batches

    is_synthetic = torch.arange(330) >= 30  # 30 real images, then 300 synthetic
    rng = seeded_rng(0, torch.device("cpu"))
    drawn = list(mixed_batches(is_synthetic, 10, 0.3, 12, rng))
    assert all(len(b) == 10 and int(is_synthetic[b].sum()) == 3 for b in drawn)
    real = torch.cat([b[~is_synthetic[b]] for b in drawn])  # 12 x 7 = 84 real draws
    # Without replacement within a pass: each of the 30 real images once per 30 draws.
    for start in (0, 30):
        assert sorted(real[start : start + 30].tolist()) == list(range(30))
    assert len(set(torch.cat(drawn).tolist())) == 30 + 36


def test_mixed_training_takes_the_fraction_only_with_the_synthetic_mask() -> None:
    seen = []
    model = MLP()
    model.register_forward_hook(lambda _m, args, _out: seen.append(args[0][:, 0, 0, 0].clone()))
    images = torch.zeros(40, 1, 28, 28)
    images[20:] = 1.0  # the "synthetic" half marks itself in a pixel
    labels, cfg = torch.arange(40) % 10, {"epochs": 1, "batch_size": 10, "lr": 1e-3}
    cfg["synthetic_fraction"] = 0.8
    rng = seeded_rng(0, torch.device("cpu"))
    train_classifier(model, images, labels, cfg, rng, is_synthetic=torch.arange(40) >= 20)
    assert [int(batch.sum()) for batch in seen] == [8, 8, 8, 8]
    seen.clear()
    train_classifier(model, images, labels, cfg, rng)  # one source: the fraction is moot
    assert sum(int(batch.sum()) for batch in seen) == 20


def test_oversampling_keeps_the_images_the_scorer_is_surest_of_in_draw_order() -> None:
    from fewshot.generation import most_confident

    images = torch.tensor([10, 200, 50, 200, 90], dtype=torch.uint8).view(5, 1, 1).expand(5, 2, 2)

    def scorer(x: torch.Tensor) -> torch.Tensor:  # class 3 is more likely the brighter it is
        p = torch.zeros(len(x), 10)
        p[:, 3] = x.float().mean(dim=(1, 2)) / 255
        return p

    kept = most_confident(images, 3, 3, scorer)
    assert kept[:, 0, 0].tolist() == [200, 200, 90]  # the three brightest, as drawn
    assert most_confident(images, 3, 1, scorer)[:, 0, 0].tolist() == [200]  # the first tie


def test_write_image_folder_selects_only_with_a_scorer(tmp_path) -> None:
    from fewshot.gan_models import FewShotGenerator
    from fewshot.generation import write_image_folder
    from fewshot.pngio import png_pool

    netg = FewShotGenerator(noise_dim=8, base_channels=2)
    with png_pool() as pool:
        rng = torch.Generator().manual_seed(0)
        with pytest.raises(ValueError, match="needs a scorer"):
            write_image_folder(netg, tmp_path / "a", 3, 2, rng, pool, oversample=2)
        uniform = lambda x: torch.full((len(x), 10), 0.1)  # noqa: E731
        written = write_image_folder(netg, tmp_path / "b", 3, 2, rng, pool, 4, uniform)
    assert written == 30 and len(list((tmp_path / "b").glob("*/*.png"))) == 30


def test_noise_scale_widens_the_noise_and_scale_1_draws_the_same_images() -> None:
    from fewshot.gan_models import FewShotGenerator
    from fewshot.generation import draw_class

    netg = FewShotGenerator(noise_dim=8, base_channels=2).eval()
    seen = []
    netg.register_forward_pre_hook(lambda _, inputs: seen.append(inputs[0].std().item()))

    def draw(scale: float) -> torch.Tensor:
        return draw_class(netg, 3, 4000, 4000, torch.Generator().manual_seed(0), "eval", scale)

    plain = draw_class(netg, 3, 4000, 4000, torch.Generator().manual_seed(0), "eval")
    assert torch.equal(draw(1.0), plain)  # the default images, byte for byte
    assert not torch.equal(draw(2.0), plain)
    assert seen[-1] == pytest.approx(2 * seen[0], rel=1e-6)


def test_source_discriminator_shapes_and_biases() -> None:
    netd = Discriminator(base_channels=64)
    x = torch.randn(3, 1 + 10, 28, 28)
    sizes = []
    for layer in netd.net:
        x = layer(x)
        if isinstance(layer, torch.nn.Conv2d):
            sizes.append(x.shape[-1])
            assert layer.bias is not None
    assert sizes == [9, 9, 3, 1]  # 28 -> 9 -> 9 -> 3 -> 1, as the source
    assert netd(torch.randn(3, 1, 28, 28), torch.tensor([0, 4, 9])).shape == (3,)
    netd.apply(dcgan_init)
    assert all(m.bias.abs().sum() == 0 for m in netd.modules() if isinstance(m, torch.nn.Conv2d))


def test_batched_source_sampling_equals_one_image_at_a_time_in_train_mode() -> None:
    from fewshot.generation import as_source_samples

    torch.manual_seed(0)
    netg = Generator(noise_dim=16, base_channels=8).apply(dcgan_init)
    noise, labels = torch.randn(5, 16), torch.tensor([0, 3, 3, 7, 9])
    with torch.no_grad():
        one_by_one = torch.cat(
            [netg.train()(z[None], y[None]) for z, y in zip(noise, labels, strict=True)]
        )
        batched = as_source_samples(netg)(noise, labels)
    assert torch.allclose(batched, one_by_one, atol=1e-5)
    assert not torch.allclose(batched, netg.eval()(noise, labels), atol=1e-3)


def test_per_image_normalisation_is_torchvision_save_image(tmp_path) -> None:
    from PIL import Image
    from torchvision.utils import save_image

    from fewshot.generation import to_uint8_per_image

    x = torch.rand(3, 1, 28, 28) * 1.4 - 0.9  # not the full [-1, 1] range
    ours = to_uint8_per_image(x)
    for i in range(3):
        save_image(x[i : i + 1], tmp_path / f"{i}.png", normalize=True)
        theirs = np.array(Image.open(tmp_path / f"{i}.png").convert("L"))
        assert np.array_equal(ours[i].numpy(), theirs)


def test_shifted_views_are_the_nine_one_pixel_translations_zero_padded() -> None:
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 2, 2] = 1.0  # centre
    image[0, 0, 0, 4] = 0.5  # a corner pixel that must not wrap round
    views = shifted_views(image, 1)
    assert len(views) == 9 and all(v.shape == image.shape for v in views)
    assert torch.equal(views[4], image)  # no shift
    # Each view moves the centre pixel to one of the nine positions around it, once each.
    positions = {tuple(torch.nonzero(v[0, 0] == 1.0)[0].tolist()) for v in views}
    assert positions == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}
    # Shifted out of the frame, the corner pixel is gone; it never reappears elsewhere.
    assert sum(int((v == 0.5).sum()) for v in views) == 4
    (only,) = shifted_views(image, 0)
    assert torch.equal(only, image)
    with pytest.raises(ValueError, match="shift"):
        shifted_views(image, -1)


def test_tta_averages_the_votes_of_the_shifted_views() -> None:
    # A classifier that says 1 only when the centre pixel is lit, else 0 (with confidence).
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(25, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1, 12] = 20.0
        model[1].bias.copy_(torch.tensor([10.0, 0.0]))
    dot = torch.zeros(1, 1, 5, 5)
    dot[0, 0, 2, 2] = 1.0
    assert predict(model, dot, 10).tolist() == [1]
    # Of the nine one-pixel shifts, only the unshifted view lights the centre: 8 votes to 1.
    assert predict_tta(model, dot, 10, shift=1).tolist() == [0]
    assert predict_tta(model, dot, 10, shift=0).tolist() == [1]
