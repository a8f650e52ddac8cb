"""research/instances/instance_neighbourhoods.py: how often a rare style's images are each other's
neighbours, in several feature spaces."""

from __future__ import annotations

import torch

from research.instances.instance_neighbourhoods import (
    feature_spaces,
    gradient_histograms,
    marked_share,
    numbered_figure,
)


def test_marked_share_counts_marked_neighbours_of_marked_images_only() -> None:
    # class 0 on a line: 0, 1, 2 close together (marked 0 and 2), 3, 4 far away
    features = torch.tensor([[1.0, 0.0], [0.99, 0.14], [0.98, 0.2], [0.0, 1.0], [0.1, 0.99]])
    features = torch.nn.functional.normalize(features, dim=1)
    labels = torch.zeros(5, dtype=torch.long)
    marked = torch.tensor([0, 2])
    # k=2: 0's nearest is 1 (unmarked), 2's nearest is 1 (unmarked)
    assert marked_share(features, labels, marked, 2) == 0.0
    # k=3: each also has the other marked image next
    assert marked_share(features, labels, marked, 3) == 0.5


def test_marked_share_never_counts_another_class() -> None:
    features = torch.tensor([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [-1.0, 0.0]])
    features = torch.nn.functional.normalize(features, dim=1)
    labels = torch.tensor([0, 1, 0, 1])
    # image 1 is 0's twin but of class 1: 0's one neighbour is image 2
    assert marked_share(features, labels, torch.tensor([0, 2]), 2) == 1.0


def test_gradient_histograms_put_an_edge_in_its_orientation_bin() -> None:
    x = torch.zeros(2, 1, 28, 28)
    x[0, :, :, 14:] = 1.0  # a vertical edge: horizontal gradient, angle 0
    x[1, :, 14:, :] = 1.0  # a horizontal edge: vertical gradient, angle pi/2
    h = gradient_histograms(x, cell=28, bins=4).view(2, 4)
    assert h[0].argmax() == 0 and h[1].argmax() == 2
    assert h[0, 1:].sum() == 0 and h.sum(1).min() > 0


def test_every_feature_space_gives_one_row_per_image() -> None:
    x = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    labels = torch.arange(2).repeat_interleave(20)
    for name, features in feature_spaces(x, labels, 8).items():
        assert features.shape[0] == 40 and torch.isfinite(features).all(), name


def test_the_figure_numbers_every_image() -> None:
    images = torch.randint(0, 256, (13, 28, 28), dtype=torch.uint8).numpy()
    figure = numbered_figure(images, [2, 5], "title")
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == [str(i) for i in range(13)]
