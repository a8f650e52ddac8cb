"""The generator scores: each must separate a good generator from a bad one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fewshot.classifier_models import Judge
from fewshot.quality import (
    balanced_sample,
    frechet_distance,
    judge_outputs,
    memorisation,
    nearest_neighbours,
    prdc,
)
from tests.conftest import tiny_split


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift() -> None:
    x = np.random.default_rng(0).normal(size=(2000, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    # Same covariance, mean shifted by 1 in each of 8 dimensions: distance |mu1 - mu2|^2 = 8.
    assert frechet_distance(x, x + 1.0) == pytest.approx(8.0, rel=1e-6)
    y = np.random.default_rng(1).normal(size=(2000, 8))
    assert frechet_distance(x, y) < 0.1 < frechet_distance(x, y * 2)


def test_prdc_separates_a_faithful_sample_from_a_collapsed_and_an_off_sample() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(500, 4))
    faithful = prdc(real, rng.normal(size=(500, 4)), nearest_k=5)
    collapsed = prdc(real, np.zeros((500, 4)) + rng.normal(scale=0.01, size=(500, 4)), 5)
    off = prdc(real, rng.normal(size=(500, 4)) + 10, nearest_k=5)
    assert faithful["precision"] > 0.8 and faithful["recall"] > 0.8
    assert faithful["coverage"] > 0.8
    assert collapsed["precision"] > 0.8 and collapsed["recall"] < 0.1  # one mode, no diversity
    assert collapsed["coverage"] < 0.1
    assert off["precision"] == off["recall"] == off["coverage"] == 0.0


def test_memorisation_flags_copies_and_passes_fresh_samples() -> None:
    train, _ = tiny_split(10, seed=1)
    test, _ = tiny_split(10, seed=2)
    fresh, _ = tiny_split(10, seed=3)
    copies = memorisation(train[::-1].copy(), test, train, quantile=0.01)
    assert copies["near_copy_fraction"] == 1.0
    assert copies["median_nn_distance_generated"] == 0.0
    honest = memorisation(fresh, test, train, quantile=0.01)
    assert honest["near_copy_fraction"] <= 0.05
    assert honest["median_nn_distance_generated"] > 0


def test_nearest_neighbours_finds_the_exact_match_in_pixel_units() -> None:
    refs = np.zeros((3, 28, 28), dtype=np.uint8)
    refs[1] = 255
    refs[2, :14] = 255
    index, dist = nearest_neighbours(refs[[2, 1]], refs, batch_size=1)
    assert index.tolist() == [2, 1] and dist.tolist() == [0.0, 0.0]
    _, dist = nearest_neighbours(refs[[1]], refs[[0]])
    assert dist[0] == pytest.approx(28.0)  # sqrt(784) for all-white vs all-black


@pytest.mark.parametrize("rows", [10, 30, 3000])  # both sides of cdist's 25-row switch
def test_exact_copies_are_at_distance_zero_on_this_cpu(rows: int) -> None:
    # cdist's matrix-product form leaves up to ~0.01 between an image and its copy on AMX
    # CPUs; the exact distance of the shortlisted neighbour must not.
    images = np.random.default_rng(rows).integers(0, 256, (rows, 28, 28), dtype=np.uint8)
    order = np.random.default_rng(0).permutation(rows)
    index, dist = nearest_neighbours(images[order], images, batch_size=1000)
    assert index.tolist() == order.tolist()
    assert dist.tolist() == [0.0] * rows
    # and the true nearest, not a shortlisting accident: one pixel changed is 1/255 away
    moved = images.copy()
    moved[:, 0, 0] ^= 1
    index, dist = nearest_neighbours(moved, images)
    assert index.tolist() == list(range(rows))
    np.testing.assert_allclose(dist, 1 / 255, rtol=1e-5)


def test_balanced_sample_takes_per_class_from_each_and_is_seeded() -> None:
    labels = np.repeat(np.arange(10), 7)
    picks = balanced_sample(labels, 3, seed=0)
    assert np.bincount(labels[picks]).tolist() == [3] * 10
    assert picks.tolist() == balanced_sample(labels, 3, seed=0).tolist()
    assert picks.tolist() != balanced_sample(labels, 3, seed=1).tolist()
    assert len(balanced_sample(labels, 100, seed=0)) == 70  # capped by what exists


def test_judge_features_and_predictions_have_the_documented_shapes() -> None:
    torch.manual_seed(0)
    images, _ = tiny_split(3, seed=0)
    feats, preds = judge_outputs(Judge(), images, batch_size=7, device=torch.device("cpu"))
    assert feats.shape == (30, Judge.num_features) and feats.dtype == np.float32
    assert preds.shape == (30,) and set(preds) <= set(range(10))


def test_within_class_diversity_is_zero_for_copies_and_known_for_two_points() -> None:
    from fewshot.quality import within_class_diversity

    labels = np.repeat(np.arange(10), 6)
    copies = np.ones((60, 5))  # a generator that ignores its noise: one image per class
    assert within_class_diversity(copies, labels, 6, seed=0) == pytest.approx(np.zeros(10))
    two = np.zeros((20, 5))
    two[1::2, 0] = 3.0  # each class: one point at 0 and one at distance 3
    assert within_class_diversity(two, np.repeat(np.arange(10), 2), 6, 0) == pytest.approx(
        np.full(10, 3.0)
    )
