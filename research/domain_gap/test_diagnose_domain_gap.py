"""Smoke test: the domain-gap probes give known answers on made-up images."""

from __future__ import annotations

import numpy as np


def test_domain_gap_probes_have_known_answers() -> None:
    from research.domain_gap.diagnose_domain_gap import (
        histogram_matched,
        nearest_neighbour_accuracy,
    )

    rng = np.random.default_rng(0)
    faint = rng.integers(0, 128, (20, 28, 28), dtype=np.uint8)
    bright = rng.integers(100, 256, (20, 28, 28), dtype=np.uint8)
    matched = histogram_matched(faint, bright)
    # the reference's pixel values exactly, in the input's order
    assert np.array_equal(np.sort(matched.ravel()), np.sort(bright.ravel()))
    order = np.argsort(faint.ravel(), kind="stable")
    assert (np.diff(matched.ravel()[order].astype(int)) >= 0).all()
    assert np.array_equal(histogram_matched(faint, faint), faint)

    labels = np.arange(20) % 10
    assert nearest_neighbour_accuracy(bright, labels, bright, labels) == 1.0
    assert nearest_neighbour_accuracy(bright, (labels + 1) % 10, bright, labels) == 0.0
