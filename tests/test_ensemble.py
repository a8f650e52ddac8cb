"""The classifier ensemble (`classifier.members`): its vote, checkpoints, seeds and metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fewshot.classifier_models import MLP, SmallCNN
from fewshot.ensemble import Ensemble, build, member_seed, members_of
from fewshot.errors import DataError
from fewshot.io import load_state, save_state
from stages.evaluate import ensemble_metrics, member_probabilities


def test_the_vote_is_the_mean_of_the_members_probabilities() -> None:
    torch.manual_seed(0)
    ensemble = build("mlp", 3).eval()
    x = torch.rand(7, 1, 28, 28)
    mean = torch.stack([m(x).softmax(1) for m in ensemble.members]).mean(0)
    torch.testing.assert_close(ensemble(x).softmax(1), mean)
    torch.testing.assert_close(ensemble(x).exp().sum(1), torch.ones(7))
    assert torch.equal(ensemble(x).argmax(1), mean.argmax(1))


def test_one_member_is_the_single_classifier_and_its_checkpoint(tmp_path) -> None:
    assert type(build("cnn", 1)) is SmallCNN
    assert members_of(build("mlp", 1))[0].__class__ is MLP
    save_state(tmp_path / "one.pt", build("mlp", 1))
    load_state(tmp_path / "one.pt", MLP())  # loads as before the ensemble existed


def test_ensemble_checkpoint_round_trip_and_member_count_mismatch(tmp_path) -> None:
    torch.manual_seed(0)
    ensemble = build("mlp", 3)
    save_state(tmp_path / "three.pt", ensemble)
    loaded = load_state(tmp_path / "three.pt", build("mlp", 3))
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(loaded.eval()(x), ensemble.eval()(x))
    with pytest.raises(DataError, match=r"three.pt: not a checkpoint for Ensemble"):
        load_state(tmp_path / "three.pt", build("mlp", 2))
    with pytest.raises(DataError, match=r"three.pt: not a checkpoint for MLP"):
        load_state(tmp_path / "three.pt", build("mlp", 1))


def test_member_seeds_keep_member_zero_and_differ_from_each_other() -> None:
    assert member_seed(5, 0) == 5
    seeds = [member_seed(s, m) for s in range(4) for m in range(1, 6)]
    assert len(set(seeds)) == len(seeds)
    assert member_seed(1, 1) == member_seed(1, 1)  # deterministic
    assert member_seed(1, 1) not in range(100)  # not another experiment's `seed`


def test_ensemble_metrics_known_answer() -> None:
    labels = np.array([0, 1, 2, 0])
    # member 0 right on items 0 and 1; member 1 on items 2 and 3, and only just wrong on 0
    m0 = torch.tensor([[0.6, 0.4, 0.0], [0.0, 0.6, 0.4], [0.6, 0.4, 0.0], [0.0, 0.6, 0.4]])
    m1 = torch.tensor([[0.4, 0.5, 0.1], [0.9, 0.0, 0.1], [0.0, 0.1, 0.9], [0.9, 0.1, 0.0]])
    metrics = ensemble_metrics(torch.stack([m0, m1]), labels)
    assert metrics["accuracy_members"] == [0.5, 0.5]
    assert metrics["accuracy_single"] == 0.5 and metrics["accuracy_member_mean"] == 0.5
    # the mean vote: [0.5, 0.45, 0.05] right, [0.45, 0.3, 0.25] wrong, items 2 and 3 right
    assert metrics["accuracy_first_k"] == {"1": 0.5, "2": 0.75}
    assert ensemble_metrics(m0[None], labels) == {}


def test_member_probabilities_stack_each_members_softmax() -> None:
    torch.manual_seed(0)
    model = build("mlp", 2)
    x = torch.rand(5, 1, 28, 28)
    probs = member_probabilities(model, x, batch_size=2)
    assert probs.shape == (2, 5, 10) and not model.training
    torch.testing.assert_close(probs[1], model.members[1](x).softmax(1))
    assert isinstance(model, Ensemble)
    assert member_probabilities(build("mlp", 1), x, 5).shape == (1, 5, 10)
