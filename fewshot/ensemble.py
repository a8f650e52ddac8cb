"""A classifier of `classifier.members` independently trained copies, voting by their mean
class probabilities.

Kept apart from `fewshot/classifier_models.py` so that the ensemble's code is a dependency of
the stages that train or use the pipeline's classifiers only, not of the judge's.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from fewshot.classifier_models import build_classifier


class Ensemble(nn.Module):
    """Members of one architecture; the output is the log of their mean softmax, so `argmax`
    is the averaged vote and `softmax` gives back the mean probabilities."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([member(x).log_softmax(1) for member in self.members])
        return log_probs.logsumexp(0) - math.log(len(self.members))


def assemble(models: list[nn.Module]) -> nn.Module:
    """One model as itself (its checkpoint as before the ensemble existed), several as an
    `Ensemble`."""
    return models[0] if len(models) == 1 else Ensemble(models)


def build(arch: str, members: int = 1) -> nn.Module:
    """The untrained classifier of `classifier.arch` and `classifier.members`."""
    return assemble([build_classifier(arch) for _ in range(members)])


def member_seed(seed: int, member: int) -> int:
    """Member 0 keeps `seed`, so its model is the single classifier's; the others get seeds
    drawn from (seed, member), independent of every other experiment's `seed`."""
    if member == 0:
        return seed
    return int(np.random.SeedSequence([seed, member]).generate_state(1)[0])


def members_of(model: nn.Module) -> list[nn.Module]:
    """The models whose vote `model` is: its members, or itself."""
    return list(model.members) if isinstance(model, Ensemble) else [model]
