"""Does the trained generator use its noise? Its variety under each way of sampling it.

Loads models/generator.pt (the `cgan` params say which network) and draws 100 images per
class four ways: eval mode (BatchNorm running statistics, how `generate` samples), train mode
on a batch of 1,000 (batch statistics), eval mode after recomputing the running statistics
from 20 fresh batches ("standing statistics", BigGAN), and train mode one image at a time
(the source's loop: BatchNorm over a batch of one). For each: label fidelity by the judge and
within-class diversity in the judge's features and in pixels. No test data is read.

    python -m research.generator.diagnose_generator [--out docs/results/generator/diagnosis.csv]
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from fewshot import paths
from fewshot.classifier_models import Judge
from fewshot.data import N_CLASSES
from fewshot.device import machine_summary
from fewshot.gan_models import build_generator
from fewshot.io import load_state
from fewshot.params import load_params
from fewshot.quality import judge_outputs, within_class_diversity
from fewshot.tensors import to_uint8

PER_CLASS = 100


@torch.no_grad()
def draw(netg: nn.Module, mode: str, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if mode == "eval (running statistics)":
        return netg.eval()(noise, labels)
    if mode == "train (batch statistics)":
        return netg.train()(noise, labels)
    if mode == "train, one image at a time":
        netg.train()
        return torch.cat([netg(z[None], y[None]) for z, y in zip(noise, labels, strict=True)])
    # standing statistics: cumulative running averages over fresh batches, then eval mode
    netg = copy.deepcopy(netg)
    rng = torch.Generator().manual_seed(1)
    for module in netg.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    netg.train()
    for _ in range(20):
        netg(
            torch.randn(500, netg.noise_dim, generator=rng),
            torch.randint(10, (500,), generator=rng),
        )
    return netg.eval()(noise, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="append the rows to this CSV")
    parser.add_argument("--name", default="", help="a name for this generator in the CSV")
    args = parser.parse_args()
    cfg = load_params()["cgan"]
    netg = load_state(paths.GENERATOR, build_generator(cfg))
    judge = load_state(paths.JUDGE, Judge())
    labels = torch.arange(N_CLASSES).repeat_interleave(PER_CLASS)
    noise = torch.randn(len(labels), cfg["noise_dim"], generator=torch.Generator().manual_seed(0))
    rows = []
    for mode in (
        "eval (running statistics)",
        "train (batch statistics)",
        "eval (standing statistics)",
        "train, one image at a time",
    ):
        images = to_uint8(draw(netg, mode, noise, labels)).numpy()
        feats, pred = judge_outputs(judge, images, 1000, torch.device("cpu"))
        y = labels.numpy()
        rows.append(
            {
                "generator": args.name or cfg["generator"],
                "sampling": mode,
                "label_fidelity": float((pred == y).mean()),
                "diversity_features": float(within_class_diversity(feats, y, PER_CLASS, 0).mean()),
                "diversity_pixels": float(
                    within_class_diversity(images / 255.0, y, PER_CLASS, 0).mean()
                ),
                "machine": machine_summary(),
            }
        )
    table = pd.DataFrame(rows)
    print(table.drop(columns="machine").to_markdown(index=False, floatfmt=".3f"))
    if args.out:
        table.to_csv(args.out, mode="a", header=not args.out.exists(), index=False)


if __name__ == "__main__":
    main()
