"""Smoke test: every way of sampling the generator gives images of the asked shape, and
standing statistics leave the generator it was given untouched."""

from __future__ import annotations

import pytest
import torch

from fewshot.gan_models import FewShotGenerator
from research.generator.diagnose_generator import draw


@pytest.mark.parametrize(
    "mode",
    [
        "eval (running statistics)",
        "train (batch statistics)",
        "train, one image at a time",
        "standing statistics",
    ],
)
def test_each_sampling_mode_draws_one_image_per_label(mode: str) -> None:
    netg = FewShotGenerator(noise_dim=8, base_channels=2)
    before = {k: v.clone() for k, v in netg.state_dict().items()}
    noise, labels = torch.randn(6, 8), torch.arange(6) % 10
    images = draw(netg, mode, noise, labels)
    assert images.shape == (6, 1, 28, 28) and torch.isfinite(images).all()
    if mode == "standing statistics":  # recomputed on a copy
        assert all(torch.equal(before[k], v) for k, v in netg.state_dict().items())
