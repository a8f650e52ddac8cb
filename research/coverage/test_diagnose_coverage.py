"""research/coverage/diagnose_coverage.py: finding an experiment's files in
the DVC cache from its dvc.lock (research/experiments.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from research.experiments import cached


def test_cached_finds_a_file_output_and_a_file_inside_a_directory_output(tmp_path) -> None:
    root = tmp_path / "files/md5"

    def store(md5: str, text: str) -> Path:
        path = root / md5[:2] / md5[2:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    generator = store("aa11", "weights")
    subset = store("bb22", "npz")
    store("cc33.dir", json.dumps([{"relpath": "subset.npz", "md5": "bb22"}]))
    lock = {
        "stages": {
            "train_cgan": {"outs": [{"path": "models/generator.pt", "md5": "aa11"}]},
            "subsample": {"outs": [{"path": "data/train/real", "md5": "cc33.dir"}]},
        }
    }
    assert cached(lock, "train_cgan", Path("models/generator.pt"), tmp_path) == generator
    assert cached(lock, "subsample", Path("data/train/real/subset.npz"), tmp_path) == subset
    with pytest.raises(SystemExit, match="no output models/other.pt"):
        cached(lock, "train_cgan", Path("models/other.pt"), tmp_path)


def test_an_instance_conditioned_generator_is_probed_on_its_least_covered_images() -> None:
    from fewshot.gan_models import InstanceGenerator
    from fewshot.instances import instance_features
    from research.coverage.diagnose_coverage import PROBE_DRAWS, conditioned_draws, instance_figure

    real = torch.randint(0, 256, (30, 28, 28), generator=torch.Generator().manual_seed(0))
    labels = torch.arange(10).repeat_interleave(3)
    netg = InstanceGenerator(noise_dim=8, base_channels=4, instance_dim=4).eval()
    netg.set_instances(instance_features(real.float() / 127.5 - 1, 4), labels)
    a = conditioned_draws(netg, 4, 1, 5, torch.Generator().manual_seed(1))
    b = conditioned_draws(netg, 5, 1, 5, torch.Generator().manual_seed(1))
    assert a.shape == (5, 28, 28) and a.dtype == torch.uint8
    assert not torch.equal(a, b)  # the same noise drawn for another real image
    assert not netg.training  # left as it was
    probed = [[3 * c, 3 * c + 1] for c in range(10)]
    figure = instance_figure(netg, real.numpy(), labels.numpy(), probed, 3, torch.Generator(), "t")
    # per probed image: itself, its 2 neighbours, then the draws
    assert len(figure.axes) == 20 * (3 + PROBE_DRAWS)


def test_marked_coverage_compares_the_marked_share_of_draws_with_that_of_real_images() -> None:
    from research.coverage.diagnose_coverage import marked_coverage

    counts = np.array([0, 1, 10, 9, 0])
    assert marked_coverage(counts, [0, 1]) == {
        "marked": 2,
        "real_share": 0.4,
        "draw_share": 0.05,
        "never_nearest": 1,
    }


def test_nearest_draws_are_ordered_by_pixel_distance_and_drawn_beside_each_marked_image() -> None:
    import matplotlib.pyplot as plt

    from research.coverage.diagnose_coverage import NEAREST_DRAWS, marked_figure, nearest_draws

    drawn = torch.arange(10, dtype=torch.uint8).mul(20).view(10, 1, 1).expand(10, 28, 28)
    real = torch.stack([drawn[3] + 1, drawn[8] - 1])  # no ties
    assert nearest_draws(drawn, real, 3).tolist() == [[3, 4, 2], [8, 7, 9]]
    figure = marked_figure(drawn.contiguous(), real, "t")
    assert len(figure.axes) == 2 * (1 + NEAREST_DRAWS)
    plt.close(figure)


def test_marked_positions_are_checked_against_the_class_and_deduplicated() -> None:
    from research.experiments import marked_positions

    labels = np.array([7, 1, 7, 7])
    assert marked_positions(labels, 7, [2, 0, 2], "--class") == [0, 2]
    with pytest.raises(SystemExit, match=r"--marked \[3\]: expected positions 0-2 .* --class 7"):
        marked_positions(labels, 7, [1, 3], "--class")
    with pytest.raises(SystemExit, match="--marked-class 4: the subset has no images"):
        marked_positions(labels, 4, [0], "--marked-class")


def test_classifier_space_is_the_real_only_cnn_s_pooled_features(tmp_path) -> None:
    from fewshot.ensemble import build
    from fewshot.io import save_state
    from research.coverage.diagnose_coverage import classifier_features

    torch.manual_seed(0)
    save_state(tmp_path / "real.pt", build("cnn", 2))
    features = classifier_features("cnn", 2, tmp_path / "real.pt")
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    assert features(images).shape == (3, 128)
    with pytest.raises(SystemExit, match="--space classifier needs classifier.arch cnn"):
        classifier_features("mlp", 1, tmp_path / "real.pt")
