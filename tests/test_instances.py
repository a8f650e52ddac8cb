"""The instance-conditioned CGAN: its features, neighbourhoods, sampling and training."""

from __future__ import annotations

import pytest
import torch

from fewshot.errors import ParamError
from fewshot.gan import build_cgan, generator_ema, train_cgan
from fewshot.gan_models import FewShotGenerator, InstanceGenerator, build_generator
from fewshot.instances import class_neighbours, instance_features
from fewshot.io import load_state, save_state
from fewshot.params import validate_params
from tests.test_models import FEW_SHOT


def _blobs(per_class: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (10 * per_class, 1, 28, 28) in [-1, 1] and their labels, sorted by class."""
    rng = torch.Generator().manual_seed(0)
    images = torch.rand(10 * per_class, 1, 28, 28, generator=rng) * 2 - 1
    return images, torch.arange(10).repeat_interleave(per_class)


def test_instance_features_are_unit_length_principal_coordinates() -> None:
    images, _ = _blobs()
    features = instance_features(images, 8)
    assert features.shape == (60, 8)
    torch.testing.assert_close(features.norm(dim=1), torch.ones(60))
    # The same images in another order get the same features, row for row.
    order = torch.randperm(60, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        instance_features(images[order], 8), features[order], atol=1e-4, rtol=0
    )
    # Two images on one line through the mean differ only along the first component.
    line = torch.stack([torch.full((1, 28, 28), v) for v in (-1.0, 0.0, 1.0)])
    flat = instance_features(line, 1)
    assert flat[0, 0].item() == pytest.approx(-flat[2, 0].item())
    assert abs(flat[0, 0].item()) == pytest.approx(1)
    with pytest.raises(ValueError, match="dimension 61"):
        instance_features(images, 61)


def test_class_neighbours_are_the_nearest_of_the_same_class_itself_first() -> None:
    features = torch.tensor(
        [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]
    )
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    neighbours = class_neighbours(features, labels, 2)
    assert neighbours.tolist() == [[0, 1], [1, 0], [2, 1], [3, 4], [4, 5], [5, 4]]
    # A duplicate image does not push an image out of its own first place.
    twins = class_neighbours(torch.ones(4, 2), torch.tensor([0, 0, 1, 1]), 2)
    assert twins[:, 0].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="smallest class's count"):
        class_neighbours(features, labels, 4)


def _generator(per_class: int = 6) -> InstanceGenerator:
    images, labels = _blobs(per_class)
    netg = InstanceGenerator(noise_dim=8, base_channels=4, instance_dim=5)
    netg.set_instances(instance_features(images, 5), labels)
    return netg


def test_sampling_draws_every_instance_of_the_class_equally_often() -> None:
    netg = _generator()
    rng = torch.Generator().manual_seed(0)
    noise = torch.randn(60_000, 8, generator=rng)
    labels = torch.full((60_000,), 7)
    fresh, instances = netg.pick_instances(noise, labels)
    assert set(instances.tolist()) == set(range(42, 48))  # class 7's six images
    assert (
        torch.bincount(instances, minlength=60)[42:48].float().div(60_000).sub(1 / 6).abs().max()
        < 0.01
    )
    # The first noise coordinate is spent on the choice and redrawn: still N(0, 1), and the
    # same whichever instance was picked; the rest of the noise is untouched.
    assert abs(fresh[:, 0].mean()) < 0.02 and abs(fresh[:, 0].std() - 1) < 0.02
    for i in range(42, 48):
        assert abs(fresh[instances == i, 0].mean()) < 0.06
    torch.testing.assert_close(fresh[:, 1:], noise[:, 1:])


def test_the_generator_is_conditioned_on_the_instance_and_saved_with_it(tmp_path) -> None:
    netg = _generator().eval()
    noise = torch.randn(2, 8).repeat(3, 1)[:2]
    a = netg(noise, torch.tensor([3, 3]), torch.tensor([18, 18]))
    b = netg(noise, torch.tensor([3, 3]), torch.tensor([19, 19]))
    assert (a - b).abs().max() > 1e-4  # same noise and class, another real image
    save_state(tmp_path / "g.pt", netg)
    loaded = load_state(tmp_path / "g.pt", InstanceGenerator(8, 4, 5)).eval()
    torch.testing.assert_close(loaded.features, netg.features)
    torch.testing.assert_close(
        loaded(noise, torch.tensor([3, 4])), netg(noise, torch.tensor([3, 4]))
    )
    # An unconditioned generator's checkpoint has no instances to load.
    save_state(tmp_path / "plain.pt", FewShotGenerator(8, 4))
    with pytest.raises(Exception, match="not a checkpoint"):
        load_state(tmp_path / "plain.pt", InstanceGenerator(8, 4, 5))


def test_build_generator_reads_instance_dim_and_old_params_without_it() -> None:
    cfg = {"generator": "fewshot", "noise_dim": 8, "base_channels": 4}
    assert type(build_generator(cfg)) is FewShotGenerator  # params from before the key
    assert type(build_generator({**cfg, "instance_dim": 5})) is InstanceGenerator


def test_an_instance_conditioned_cgan_trains_and_its_ema_samples_every_class() -> None:
    images, labels = _blobs()
    cfg = {**FEW_SHOT, "instance_dim": 5, "instance_neighbours": 3, "noise_dim": 8}
    with pytest.raises(ValueError, match="needs the real images"):
        build_cgan(cfg, torch.device("cpu"))
    netg, netd = build_cgan(cfg, torch.device("cpu"), images, labels)
    ema = generator_ema(netg, cfg["ema"])
    before = [p.detach().clone() for p in netg.parameters()]
    train_cgan(netg, netd, images, labels, cfg, torch.Generator().manual_seed(0), ema=ema)
    assert all((p - q).abs().max() > 0 for p, q in zip(netg.parameters(), before, strict=True))
    torch.testing.assert_close(ema.module.features, netg.features)
    out = ema.module(torch.randn(10, 8), torch.arange(10))
    assert out.shape == (10, 1, 28, 28) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="only with, an instance-conditioned D"):
        netd(images[:2], labels[:2])


def _params(**cgan) -> dict:
    from fewshot.params import load_params

    params = load_params()
    params["cgan"].update(
        generator="fewshot", discriminator="fewshot", fake_labels="batch", instance_dim=16
    )
    params["cgan"].update(cgan)
    return params


def test_params_name_what_an_instance_conditioned_cgan_needs() -> None:
    validate_params(_params())
    with pytest.raises(ParamError, match="'cgan.generator' = 'fewshot', got 'recipe'"):
        validate_params(_params(generator="recipe"))
    with pytest.raises(ParamError, match="'cgan.fake_labels' = 'batch', got 'random'"):
        validate_params(_params(fake_labels="random"))
    with pytest.raises(ParamError, match="'cgan.instance_neighbours' = 101 is invalid"):
        validate_params(_params(instance_neighbours=101))
    small = _params(instance_dim=40)
    small["n_per_class"] = 3
    with pytest.raises(
        ParamError, match="'cgan.instance_dim' = 40 is invalid: expected at most 30"
    ):
        validate_params(small)
