"""Stage 5: train the classifier on one training source: real, synthetic or mixed.

The same architecture, settings and seed for every source, so the only difference between
the three models is the data they saw. Also records accuracy on the model's OWN training data:
that is what the blog's 99.9% measured, kept here to set beside the real-test number.
With `classifier.members` > 1 it trains that many copies with seeds drawn from `seed` and
saves them as one ensemble (`fewshot/ensemble.py`).
"""

import argparse
from functools import partial

import numpy as np
import torch
from dvclive import Live
from tqdm import tqdm

from fewshot import paths
from fewshot.classifier_models import build_classifier
from fewshot.classify import predict, train_classifier
from fewshot.data import load_image_folder, load_subset
from fewshot.device import resolve_device
from fewshot.ensemble import assemble, member_seed
from fewshot.io import save_state
from fewshot.live import live_epochs, log_epoch
from fewshot.schema import classifier, common
from fewshot.schema.base import load_sections
from fewshot.stage import run
from fewshot.tensors import to_classifier_input
from fewshot.training import seeded_rng, total_steps


def load_source(source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training images, labels and which are synthetic, of one source; never the test split."""
    parts = []
    if source in ("real", "mixed"):
        parts.append((*load_subset(paths.SUBSET_FILE)[:2], False))
    if source in ("synthetic", "mixed"):
        parts.append((*load_image_folder(paths.SYNTHETIC_DIR), True))
    images, labels = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
    return images, labels, np.concatenate([np.full(len(p[1]), p[2]) for p in parts])


def log_member_epoch(
    live: Live, bar: tqdm, offset: int, epoch: int, stats: dict[str, float]
) -> None:
    """`log_epoch` at step `offset + epoch`: each member's epochs follow the previous one's."""
    log_epoch(live, bar, offset + epoch, stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", choices=paths.SOURCES, required=True)
    source = parser.parse_args().source
    params = load_sections(common, classifier)
    cfg = params["classifier"]
    device = resolve_device(params["device"])
    images, labels, synthetic = load_source(source)
    x, y = to_classifier_input(images, device), torch.from_numpy(labels).to(device)
    is_synthetic = torch.from_numpy(synthetic).to(device) if source == "mixed" else None

    live_dir = paths.classifier_live(source)
    members = cfg["members"]
    _, epochs = total_steps(len(x), cfg)
    trained = []
    with live_epochs(live_dir, epochs * members, f"train_classifier@{source}") as (live, bar):
        for member in range(members):
            # Seeded before it is built: member 0 is the single classifier, weights and all.
            rng = seeded_rng(member_seed(params["seed"], member), device)
            model = build_classifier(cfg["arch"]).to(device)
            # One DVCLive step per epoch, the members one after another.
            log = partial(log_member_epoch, live, bar, member * epochs)
            train_classifier(model, x, y, cfg, rng, on_epoch=log, is_synthetic=is_synthetic)
            trained.append(model)
        model = assemble(trained)
        own_accuracy = (predict(model, x, 1000) == y).float().mean().item()
        live.log_metric("accuracy_on_own_training_data", own_accuracy, plot=False)
        live.log_metric("n_train", len(x), plot=False)
        live.log_metric("members", members, plot=False)
    save_state(paths.classifier_file(source), model)
    print(
        f"{cfg['arch']} x {members} on {source} ({len(x)} images): {own_accuracy:.2%} on its own "
        f"training data -> {paths.classifier_file(source)}"
    )


if __name__ == "__main__":
    run(main)
