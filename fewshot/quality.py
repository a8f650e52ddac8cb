"""How good is the generator? Scores computed in the judge's feature space and in pixel space.

- label fidelity: the judge's prediction agrees with the class the image was generated for;
- domain FID (torchmetrics' Frechet distance on judge features, not Inception's);
- precision / recall / density / coverage (Kynkaanniemi et al. 2019; Naeem et al. 2020,
  via the `prdc` package);
- memorisation: each generated image's nearest real training image, against how close unseen
  real test images come to the same training subset.
"""

from __future__ import annotations

import numpy as np
import torch
from prdc import compute_prdc
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from fewshot.classifier_models import Judge
from fewshot.data import N_CLASSES
from fewshot.tensors import to_classifier_input


@torch.no_grad()
def judge_outputs(
    judge: Judge, images: np.ndarray, batch_size: int, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate-layer features (N, 128) and predicted classes (N,) for uint8 images."""
    judge.eval()
    feats, preds = [], []
    for chunk in np.array_split(images, max(1, -(-len(images) // batch_size))):
        f = judge.embed(to_classifier_input(chunk, device))
        feats.append(f.float().cpu())
        preds.append(judge.head(f).argmax(1).cpu())
    return torch.cat(feats).numpy(), torch.cat(preds).numpy()


class _Precomputed(nn.Identity):
    """Lets torchmetrics' FID take features the judge already computed."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (FID's formula)."""
    fid = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
    fid.update(torch.from_numpy(real).double(), real=True)
    fid.update(torch.from_numpy(fake).double(), real=False)
    return float(fid.compute())


def balanced_sample(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of up to `per_class` items of each class, drawn with `seed`, sorted."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(N_CLASSES)]
    return np.sort(np.concatenate(picks))


def prdc(real: np.ndarray, fake: np.ndarray, nearest_k: int) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` features."""
    scores = compute_prdc(real_features=real, fake_features=fake, nearest_k=nearest_k)
    return {name: float(value) for name, value in scores.items()}


def nearest_neighbours(
    queries: np.ndarray, references: np.ndarray, batch_size: int = 2000, candidates: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """For each uint8 query image, the index of and L2 distance to its nearest reference.

    Distances are in [0, 1] pixel units, so sqrt(784) = 28 is the largest possible. The
    matrix-product form of `torch.cdist` (|a|^2 + |b|^2 - 2ab) is fast but cancels: on some
    CPUs (AMX) it leaves ~0.01 between an image and its exact copy. So it only shortlists
    `candidates` references per query; their distances are then computed from differences,
    exact for identical images on every CPU.
    """
    ref = torch.tensor(references.reshape(len(references), -1), dtype=torch.float32) / 255
    k = min(candidates, len(ref))
    dist, index = [], []
    for chunk in np.array_split(queries, max(1, -(-len(queries) // batch_size))):
        q = torch.tensor(chunk.reshape(len(chunk), -1), dtype=torch.float32) / 255
        shortlist = torch.cdist(q, ref).topk(k, dim=1, largest=False).indices
        exact = (q[:, None, :] - ref[shortlist]).square().sum(-1).sqrt()
        d, pick = exact.min(dim=1)
        dist.append(d)
        index.append(shortlist.gather(1, pick[:, None]).squeeze(1))
    return torch.cat(index).numpy(), torch.cat(dist).numpy()


def memorisation(
    generated: np.ndarray, test: np.ndarray, train_subset: np.ndarray, quantile: float
) -> dict[str, float | np.ndarray]:
    """Near-copies: generated images closer to a training image than all but `quantile` of
    real test images are. An honest generator scores about `quantile`; a copier near 1."""
    gen_index, gen_dist = nearest_neighbours(generated, train_subset)
    _, test_dist = nearest_neighbours(test, train_subset)
    threshold = float(np.quantile(test_dist, quantile))
    return {
        "near_copy_threshold": threshold,
        "near_copy_fraction": float((gen_dist < threshold).mean()),
        "median_nn_distance_generated": float(np.median(gen_dist)),
        "median_nn_distance_test": float(np.median(test_dist)),
        "generated_nn_index": gen_index,
        "generated_nn_distance": gen_dist,
        "test_nn_distance": test_dist,
    }


def within_class_diversity(
    values: np.ndarray, labels: np.ndarray, per_class: int, seed: int
) -> np.ndarray:
    """Mean pairwise L2 distance between items of the same class, per class (N_CLASSES,).

    `values` are feature vectors or images (flattened); up to `per_class` items of each class
    are drawn with `seed`. A generator that ignores its noise scores 0; the same score for
    real test images is what a generator of the real variety reaches.
    """
    flat = values.reshape(len(values), -1).astype(np.float32)
    picks = balanced_sample(labels, per_class, seed)
    scores = []
    for c in range(N_CLASSES):
        members = torch.from_numpy(flat[picks[labels[picks] == c]])
        scores.append(torch.pdist(members).mean().item() if len(members) > 1 else float("nan"))
    return np.array(scores)
