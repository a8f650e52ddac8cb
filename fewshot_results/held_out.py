"""The one held-out validation split the research tools score on.

Training images outside the real subset, `per_class` of each class, drawn with a fixed seed so
every run of a subset holds out the same ones. The test split is never read: settings chosen
on these images are not tuned on it.
"""

from __future__ import annotations

import numpy as np

from fewshot.data import N_CLASSES

PER_CLASS = 500  # 5,000 images: the validation set of every tool


def held_out_indices(
    labels: np.ndarray, subset: np.ndarray, per_class: int = PER_CLASS, seed: int = 0
) -> np.ndarray:
    """Train-split indices of `per_class` images of each class outside `subset` (indices)."""
    outside = np.ones(len(labels), dtype=bool)
    outside[subset] = False
    rng, chosen = np.random.default_rng(seed), []
    for c in range(N_CLASSES):
        pool = np.flatnonzero(outside & (labels == c))
        if len(pool) < per_class:
            raise ValueError(
                f"class {c} has {len(pool)} training images outside the subset, fewer than "
                f"{per_class}"
            )
        chosen.append(rng.choice(pool, per_class, replace=False))
    return np.concatenate(chosen)


# How a result row names the split it was scored on (rows of ablation.csv and domain-gap.csv
# from before this split was shared name the one they used).
SPLIT = f"{PER_CLASS} per class outside the subset, seed 0"
