"""Stage: train the judge, a compact CNN, on the FULL training split (never the test split).

The judge only scores generated images (label fidelity, feature space for FID and
precision/recall); it never picks models or settings. It has its own seed so that sweeps
over the pipeline's `seed` reuse one cached judge.
"""

import time
from functools import partial

import torch

from fewshot import paths
from fewshot.classifier_models import Judge
from fewshot.classify import train_classifier
from fewshot.data import load_split
from fewshot.device import resolve_device
from fewshot.io import save_state
from fewshot.live import live_epochs, log_epoch
from fewshot.schema import common, judge
from fewshot.schema.base import load_sections
from fewshot.stage import run
from fewshot.tensors import to_classifier_input
from fewshot.training import seeded_rng


def main() -> None:
    params = load_sections(common, judge)
    cfg = params["judge"]
    device = resolve_device(params["device"])
    checksums = paths.checksum_file(params["data"]["dataset"])
    images, labels = load_split(paths.RAW_DIR, "train", checksum_file=checksums)
    rng = seeded_rng(cfg["seed"], device)
    x, y = to_classifier_input(images, device), torch.from_numpy(labels).to(device)
    network = Judge().to(device, memory_format=torch.channels_last)

    start = time.perf_counter()
    with live_epochs(paths.JUDGE_LIVE, cfg["epochs"], "train_judge") as (live, bar):
        train_classifier(network, x, y, cfg, rng, on_epoch=partial(log_epoch, live, bar))
        live.log_metric("n_train", len(x), plot=False)
    save_state(paths.JUDGE, network)
    print(
        f"judge trained on {len(x)} train images for {cfg['epochs']} epochs on {device} "
        f"in {time.perf_counter() - start:.1f} s -> {paths.JUDGE}"
    )


if __name__ == "__main__":
    run(main)
