"""Compare CGAN settings quickly, without the test set: one row per run in a CSV.

Trains the CGAN of the `cgan` preset (conf/cgan/) with the given overrides on a random subset
of `n_per_class` TRAIN images per class, then scores 1,000 generated images per class against
5,000 OTHER train images (500 per class outside the subset, fewshot_results/held_out.py; the test
split is never read, so settings chosen here are not tuned on it): label fidelity and features
from the judge (models/judge.pt, `dvc repro train_judge`), recall/coverage, within-class
diversity against the validation images', and a recipe MLP trained on the generated images
alone (with `--strong`, also the strong CNN of conf/classifier/strong.yaml: about 8 more
minutes on a CPU). Rows name the validation split they were scored on.

    python -m research.ablation.ablate_cgan --name ms0.1 --set mode_seeking=0.1 --threads 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from fewshot import paths
from fewshot.classifier_models import Judge, build_classifier
from fewshot.classify import predict, train_classifier
from fewshot.data import N_CLASSES, load_split, select_subset
from fewshot.device import machine_summary
from fewshot.figures import save_image_grid
from fewshot.gan import build_cgan, generator_ema, sample, train_cgan
from fewshot.io import load_state
from fewshot.quality import judge_outputs, prdc, within_class_diversity
from fewshot.tensors import to_classifier_input, to_gan_input, to_uint8
from fewshot.training import seeded_rng
from fewshot_results.held_out import SPLIT, held_out_indices

CONF = Path(__file__).resolve().parents[2] / "conf"
MLP_CFG = {"epochs": 10, "batch_size": 10, "lr": 1e-3}  # the recipe's classifier


def preset(name: str, overrides: list[str]) -> dict:
    """conf/cgan/<name>.yaml over the recipe, then KEY=VALUE overrides (YAML values)."""
    cfg = yaml.safe_load((CONF / "cgan/recipe.yaml").read_text())
    extra = yaml.safe_load((CONF / f"cgan/{name}.yaml").read_text())
    extra.pop("defaults", None)
    cfg.update(extra.get("cgan", extra))  # a preset in the global package nests its keys
    for item in overrides:
        key, _, value = item.partition("=")
        if key not in cfg:
            raise SystemExit(f"error: unknown cgan key {key!r}")
        cfg[key] = yaml.safe_load(value)
    return cfg


def subset_and_held_out(
    labels: np.ndarray, n_per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train-split indices of the random subset of `seed`, and of the held-out images to score
    against (fewshot_results/held_out.py: 500 per class outside the subset; the test split is never
    read)."""
    subset = select_subset(labels, n_per_class, "random", seed)
    return subset, held_out_indices(labels, subset)


def generate(netg: torch.nn.Module, per_class: int, noise_dim: int) -> tuple[np.ndarray, ...]:
    rng = torch.Generator().manual_seed(99)
    labels = torch.arange(N_CLASSES).repeat_interleave(per_class)
    noise = torch.randn(len(labels), noise_dim, generator=rng)
    chunks = [
        to_uint8(sample(netg, z, y))
        for z, y in zip(noise.split(1000), labels.split(1000), strict=True)
    ]
    return torch.cat(chunks).numpy(), labels.numpy()


def held_out_accuracy(
    cfg: dict, fake: np.ndarray, fake_labels: np.ndarray, images: np.ndarray, labels: np.ndarray
) -> float:
    """A classifier of `cfg` trained on the generated images, scored on the held-out ones."""
    model = build_classifier(cfg.get("arch", "mlp"))
    rng = seeded_rng(0, torch.device("cpu"))  # after the model, as the MLP rows were made
    train_classifier(model, to_classifier_input(fake), torch.from_numpy(fake_labels), cfg, rng)
    return float((predict(model, to_classifier_input(images), 1000).numpy() == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--preset", default="fewshot")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--subset-seed", type=int, default=1)
    parser.add_argument("--n-per-class", type=int, default=100)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--strong", action="store_true", help="also score the strong CNN")
    parser.add_argument("--out", type=Path, default=Path("docs/results/ablation/ablation.csv"))
    parser.add_argument("--save-generator", type=Path, help="also save the (EMA) generator here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = preset(args.preset, args.set)
    cpu = torch.device("cpu")

    images, labels = load_split(paths.RAW_DIR, "train")
    subset, valid = subset_and_held_out(labels, args.n_per_class, args.subset_seed)

    rng = seeded_rng(args.subset_seed, cpu)
    x = to_gan_input(images[subset], cpu)
    y = torch.from_numpy(labels[subset].astype(np.int64))
    netg, netd = build_cgan(cfg, cpu, x, y)
    ema = generator_ema(netg, cfg["ema"])
    start = time.perf_counter()
    train_cgan(netg, netd, x, y, cfg, rng, ema=ema)
    seconds = time.perf_counter() - start
    netg = netg if ema is None else ema.module
    if args.save_generator:
        args.save_generator.parent.mkdir(parents=True, exist_ok=True)
        torch.save(netg.state_dict(), args.save_generator)
    fake, fake_labels = generate(netg, 1000, cfg["noise_dim"])

    judge = load_state(paths.JUDGE, Judge())
    fake_feats, fake_pred = judge_outputs(judge, fake, 1000, cpu)
    valid_feats, _ = judge_outputs(judge, images[valid], 1000, cpu)
    fidelity = np.array([(fake_pred[fake_labels == c] == c).mean() for c in range(N_CLASSES)])
    scored = np.concatenate([np.flatnonzero(fake_labels == c)[:100] for c in range(N_CLASSES)])
    scores = prdc(valid_feats, fake_feats[scored], nearest_k=5)

    def diversity(values: np.ndarray, classes: np.ndarray) -> float:
        return float(within_class_diversity(values, classes, 200, seed=0).mean())

    strong = yaml.safe_load((CONF / "classifier/strong.yaml").read_text())
    row = {
        "name": args.name,
        "preset": args.preset,
        "overrides": " ".join(args.set),
        "subset_seed": args.subset_seed,
        "label_fidelity": float((fake_pred == fake_labels).mean()),
        "label_fidelity_min": float(fidelity.min()),
        "label_fidelity_min_class": int(fidelity.argmin()),
        "recall": scores["recall"],
        "coverage": scores["coverage"],
        "diversity_ratio": diversity(fake_feats, fake_labels)
        / diversity(valid_feats, labels[valid]),
        "diversity_ratio_pixels": diversity(fake / 255.0, fake_labels)
        / diversity(images[valid] / 255.0, labels[valid]),
        "synthetic_accuracy_mlp_validation": held_out_accuracy(
            MLP_CFG, fake, fake_labels, images[valid], labels[valid]
        ),
        "synthetic_accuracy_validation": (
            held_out_accuracy(strong, fake, fake_labels, images[valid], labels[valid])
            if args.strong
            else None
        ),
        "validation": SPLIT,
        "train_cgan_s": round(seconds, 1),
        "threads": args.threads,
        "machine": machine_summary(),
        "config": json.dumps(cfg, sort_keys=True),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = pd.DataFrame([row])
    if args.out.exists():  # a new column (a score added later) stays aligned with its header
        rows = pd.concat([pd.read_csv(args.out), rows], ignore_index=True)
    rows.to_csv(args.out, index=False)
    grid = np.concatenate([fake[fake_labels == c][:20] for c in range(N_CLASSES)])
    save_image_grid(args.out.parent / f"ablation-{args.name}.png", grid, nrow=20)
    print(json.dumps({k: v for k, v in row.items() if k != "config"}, indent=1))


if __name__ == "__main__":
    main()
