"""Coverage weighting: D's real images drawn by how rarely the generator comes near them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fewshot.coverage import coverage_weights, neighbour_counts
from fewshot.gan import _CoverageBatches, build_cgan, class_coverage, generator_ema, train_cgan
from tests.test_models import FEW_SHOT


class _FirstOfClass(nn.Module):
    """A generator that always draws the first real image of the class asked for."""

    noise_dim = 4

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        super().__init__()
        self.images, self.labels = images, labels

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        first = torch.stack([(self.labels == y).nonzero()[0, 0] for y in labels.tolist()])
        return self.images[first]


def _data(per_class: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(10 * per_class, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return images * 2 - 1, torch.arange(10).repeat_interleave(per_class)


def test_each_generated_image_counts_for_its_nearest_real_image_only() -> None:
    real = torch.tensor([0, 100, 250], dtype=torch.uint8).view(3, 1, 1).expand(3, 2, 2)
    generated = torch.tensor([5, 10, 90, 120, 20], dtype=torch.uint8).view(-1, 1, 1)
    counts = neighbour_counts(generated.expand(-1, 2, 2), real)
    assert counts.tolist() == [3, 2, 0]  # nothing near the bright style: never nearest


def test_a_generator_that_draws_one_image_per_class_covers_only_those() -> None:
    images, labels = _data()
    counts = class_coverage(_FirstOfClass(images, labels), images, labels, torch.Generator(), 4)
    first = torch.arange(0, 50, 5)
    assert counts[first].tolist() == [4 * 5] * 10  # every draw of the class
    assert counts.sum() == 4 * 50
    assert (counts == 0).sum() == 40


def test_weights_favour_the_uncovered_and_keep_each_class_share() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1])
    counts = torch.tensor([0, 4, 8, 4, 4])
    weights = coverage_weights(counts, labels, power=1.0, draws_per_image=4)
    assert weights[0] > weights[1] > weights[2]
    assert weights[0] / weights[1] == pytest.approx(5)  # (0 + 1) vs (4 + 1)
    # each class's total is its count of real images
    torch.testing.assert_close(weights[:3].sum(), torch.tensor(3.0))
    torch.testing.assert_close(weights[3:].sum(), torch.tensor(2.0))
    torch.testing.assert_close(coverage_weights(counts, labels, power=0.0), torch.ones(5))


def test_batches_then_show_the_discriminator_the_uncovered_images_more_often() -> None:
    images, labels = _data()
    rng = torch.Generator().manual_seed(0)
    batches = _CoverageBatches(labels, {"coverage_weight": 1.0, "coverage_every": 1}, rng)
    assert torch.equal(batches.weights, torch.ones(50))  # uniform until measured
    batches.refresh(_FirstOfClass(images, labels), images)
    assert batches.uncovered == pytest.approx(0.8)
    seen = torch.cat([torch.cat(batches.epoch(8, rng)) for _ in range(200)])
    assert len(seen) == 200 * 50
    shown = torch.bincount(seen, minlength=50).float()
    first = torch.arange(0, 50, 5)
    others = torch.ones(50, dtype=torch.bool)
    others[first] = False
    # weights 1/21 and 1/1 before normalising: the covered images come up ~21x less often
    assert shown[others].mean() > 10 * shown[first].mean()
    per_class = torch.bincount(labels[seen], minlength=10).float() / len(seen)
    torch.testing.assert_close(per_class, torch.full((10,), 0.1), atol=0.01, rtol=0)


def test_a_coverage_weighted_cgan_trains_and_logs_its_uncovered_share() -> None:
    images, labels = _data(per_class=4)
    cfg = {**FEW_SHOT, "noise_dim": 8, "coverage_weight": 1.0, "coverage_every": 2}
    logged = []

    def train(cfg: dict) -> nn.Module:
        torch.manual_seed(0)
        netg, netd = build_cgan(cfg, torch.device("cpu"))
        ema = generator_ema(netg, cfg["ema"])
        train_cgan(
            netg,
            netd,
            images,
            labels,
            cfg,
            torch.Generator().manual_seed(0),
            on_epoch=lambda epoch, stats: logged.append(stats),
            ema=ema,
        )
        return netg

    weighted = train(cfg)
    assert all(0 <= s["uncovered_real_images"] <= 1 for s in logged)
    logged.clear()
    uniform = train({**cfg, "coverage_weight": 0.0})
    assert not any("uncovered_real_images" in s for s in logged)
    first = next(iter(weighted.state_dict()))
    assert not torch.equal(weighted.state_dict()[first], uniform.state_dict()[first])
