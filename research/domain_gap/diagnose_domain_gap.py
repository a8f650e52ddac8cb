"""Why does a classifier trained on generated digits fail on real ones? Four probes, no test data.

Draws 1,000 images per class from a trained few-shot generator and compares them with the real
subset it was trained on (`data.subset=random`, the given seed), scored on 5,000 OTHER training
images outside the subset (fewshot_results/held_out.py; the test split is never read):

- pixel statistics: ink per image, share of exactly-black pixels, share of grey (0.02-0.5);
- the recipe's MLP trained on the real subset, on the generated images, and on the generated
  images with their intensities mapped to the real ones (histogram matching: same ink, same
  grey levels) or with faint pixels (< 0.1) set to black: if the MLP gains, the gap is
  intensity; if not, it is shape; and with each image moved (`centre`) or scaled and moved
  (`scale_centre`) to the real subset's centre of mass and digit size (fewshot/normalise.py):
  if the MLP gains, the gap is geometry;
- geometry: the spread of the centre of mass (pixels) and the longer side of the stroke box;
- a 1-nearest-neighbour classifier in pixels from each training set: how close the generated
  images come to real digits, with no training at all.

    python -m research.domain_gap.diagnose_domain_gap --generator models/generator.pt \
        --subset-seed 1

An experiment's generator is the cache file its `dvc.lock` names for `models/generator.pt`
(`.dvc/cache/files/md5/<first 2>/<rest>`), or `dvc exp apply NAME` then the default path.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fewshot import paths
from fewshot.classifier_models import MLP
from fewshot.classify import predict, train_classifier
from fewshot.data import N_CLASSES, load_split
from fewshot.device import machine_summary
from fewshot.gan_models import build_generator
from fewshot.io import load_state
from fewshot.normalise import centre_of_mass, longer_side, normalise_class, real_geometry
from fewshot.tensors import to_classifier_input
from fewshot.training import seeded_rng
from fewshot_results.held_out import SPLIT
from research.ablation.ablate_cgan import MLP_CFG, generate, preset, subset_and_held_out


def pixel_stats(images: np.ndarray) -> dict[str, float]:
    x = images.astype(np.float32) / 255.0
    centre = centre_of_mass(torch.from_numpy(x)).numpy()
    return {
        "ink_per_image": float(x.sum((1, 2)).mean()),
        "black_share": float((images == 0).mean()),
        "grey_share": float(((x > 0.02) & (x < 0.5)).mean()),
        "centre_of_mass_std_px": float(np.hypot(*(centre - centre.mean(0)).std(0))),
        "longer_side_px": float(longer_side(torch.from_numpy(x)).mean()),
    }


def normalised(images: np.ndarray, labels: np.ndarray, mode: str, geometry) -> np.ndarray:
    out = torch.from_numpy(images.copy())
    for cls in range(N_CLASSES):
        at = torch.from_numpy(labels == cls)
        out[at] = normalise_class(out[at], cls, mode, geometry)
    return out.numpy()


def histogram_matched(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`images` with each pixel replaced by the reference pixel of the same rank."""
    order = np.argsort(images.ravel(), kind="stable")
    ranks = np.sort(reference.ravel())
    matched = np.empty(images.size, np.uint8)
    matched[order] = ranks[np.arange(images.size) * len(ranks) // images.size]
    return matched.reshape(images.shape)


def nearest_neighbour_accuracy(
    train: np.ndarray, train_labels: np.ndarray, valid: np.ndarray, valid_labels: np.ndarray
) -> float:
    a = torch.from_numpy(train.reshape(len(train), -1)).float()
    b = torch.from_numpy(valid.reshape(len(valid), -1)).float()
    nearest = torch.cat([torch.cdist(chunk, a).argmin(1) for chunk in b.split(500)]).numpy()
    return float((train_labels[nearest] == valid_labels).mean())


def mlp_predictions(train: np.ndarray, train_labels: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The classes the recipe's MLP trained on `train` (seed 0) predicts for `valid`."""
    torch.manual_seed(0)
    mlp = MLP()
    rng = seeded_rng(0, torch.device("cpu"))
    train_classifier(mlp, to_classifier_input(train), torch.from_numpy(train_labels), MLP_CFG, rng)
    return predict(mlp, to_classifier_input(valid), 1000).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", type=Path, default=paths.GENERATOR)
    parser.add_argument("--preset", default="fewshot", help="conf/cgan/ preset it was built by")
    parser.add_argument("--subset-seed", type=int, default=1)
    parser.add_argument("--n-per-class", type=int, default=100)
    parser.add_argument("--name", default="", help="a name for this generator in the CSV")
    parser.add_argument("--out", type=Path, help="append the rows to this CSV")
    args = parser.parse_args()

    images, labels = load_split(paths.RAW_DIR, "train")
    subset, valid = subset_and_held_out(labels, args.n_per_class, args.subset_seed)
    valid_images, valid_labels = images[valid], labels[valid]
    cfg = preset(args.preset, [])
    netg = load_state(args.generator, build_generator(cfg))
    fake, fake_labels = generate(netg, 1000, cfg["noise_dim"])

    real = images[subset]
    geometry = real_geometry(real, labels[subset])
    training_sets = {
        "real subset": (real, labels[subset]),
        "generated": (fake, fake_labels),
        "generated, histogram-matched to real": (histogram_matched(fake, real), fake_labels),
        "generated, pixels < 0.1 set to black": (np.where(fake < 26, 0, fake), fake_labels),
        "generated, centred": (normalised(fake, fake_labels, "centre", geometry), fake_labels),
        "generated, scaled and centred": (
            normalised(fake, fake_labels, "scale_centre", geometry),
            fake_labels,
        ),
    }
    rows = []
    for name, (train, train_labels) in training_sets.items():
        pred = mlp_predictions(train, train_labels, valid_images)
        hit = pred == valid_labels
        per_class = np.array([hit[valid_labels == c].mean() for c in range(N_CLASSES)])
        worst = int(per_class.argmin())
        mistaken_for = np.bincount(pred[valid_labels == worst], minlength=N_CLASSES)
        mistaken_for[worst] = -1
        rows.append(
            {
                "generator": args.name or str(args.generator),
                "subset_seed": args.subset_seed,
                "training_set": name,
                **pixel_stats(train),
                "mlp_accuracy": float(hit.mean()),
                "nn1_accuracy": nearest_neighbour_accuracy(
                    train, train_labels, valid_images, valid_labels
                ),
                "mlp_per_class": " ".join(f"{a:.3f}" for a in per_class),
                "mlp_worst_class": worst,
                "mlp_worst_class_mistaken_for": int(mistaken_for.argmax()),
                "validation": SPLIT,
                "machine": machine_summary(),
            }
        )
        print(f"{name}: MLP {100 * hit.mean():.2f}%, per class {rows[-1]['mlp_per_class']}")
    table = pd.DataFrame(rows)
    print(
        table.drop(columns=["machine", "generator", "mlp_per_class"]).to_markdown(
            index=False, floatfmt=".3f"
        )
    )
    if args.out:  # new columns (scores added later) stay aligned with their header
        if args.out.exists():
            table = pd.concat([pd.read_csv(args.out), table], ignore_index=True)
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
