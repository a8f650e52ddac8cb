"""fewshot_results/held_out.py: the one validation split is balanced, outside the subset, the same
every run, and refuses a size the data cannot give."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_results.held_out import held_out_indices


def test_the_split_is_balanced_outside_the_subset_and_the_same_every_run() -> None:
    labels = np.repeat(np.arange(10), 30)
    subset = np.concatenate([np.flatnonzero(labels == c)[:10] for c in range(10)])
    held = held_out_indices(labels, subset, per_class=15)
    assert np.bincount(labels[held]).tolist() == [15] * 10
    assert not set(held) & set(subset)
    assert np.array_equal(held, held_out_indices(labels, subset, per_class=15))
    with pytest.raises(ValueError, match="class 0 has 20 training images outside the subset"):
        held_out_indices(labels, subset, per_class=21)
