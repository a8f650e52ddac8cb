"""Stage 3: train the conditional GAN on the real subset; save the generator.

The recipe's CGAN by default; the `cgan` params select the few-shot variant (conditional
BatchNorm generator, projection discriminator, hinge loss, DiffAugment, mode seeking, an
auxiliary classifier, an EMA generator, a budget in steps). With `cgan.ema` > 0 the EMA copy
is what is saved.

DVCLive logs per-epoch D/G losses (and the mode-seeking ratio when it is on) and, every
`cgan.sample_every` epochs, a grid from fixed noise (one row per class) so the plots show how
the same latent points evolve.
"""

import time

import torch

from fewshot import paths
from fewshot.data import load_subset
from fewshot.device import resolve_device, resolve_precision
from fewshot.figures import image_grid
from fewshot.gan import (
    build_cgan,
    fixed_sample_inputs,
    generator_ema,
    sample,
    train_cgan,
)
from fewshot.io import save_state
from fewshot.live import live_epochs, log_epoch
from fewshot.schema import cgan, common
from fewshot.schema.base import load_sections
from fewshot.stage import run
from fewshot.tensors import to_gan_input, to_uint8
from fewshot.training import seeded_rng, total_steps


def main() -> None:
    params = load_sections(common, cgan)
    cfg = params["cgan"]
    device = resolve_device(params["device"])
    images, labels, _ = load_subset(paths.SUBSET_FILE)
    rng = seeded_rng(params["seed"], device)
    x, y = to_gan_input(images, device), torch.from_numpy(labels).to(device)
    netg, netd = build_cgan(cfg, device, x, y)
    ema = generator_ema(netg, cfg["ema"])
    sampler = netg if ema is None else ema.module  # what the grids show and generate uses
    grid_rng = torch.Generator(device=device).manual_seed(params["seed"] + 1)
    grid_noise, grid_labels = fixed_sample_inputs(cfg["noise_dim"], 10, grid_rng)

    steps, epochs = total_steps(len(x), cfg)
    precision = resolve_precision(cfg["precision"], device)
    start = time.perf_counter()
    with live_epochs(paths.CGAN_LIVE, epochs, "train_cgan") as (live, bar):
        live.summary["precision"] = precision  # what `auto` chose on this machine

        def log(epoch: int, stats: dict[str, float]) -> None:
            images = {}
            if epoch % cfg["sample_every"] == 0 or epoch == epochs:
                grid = to_uint8(sample(sampler, grid_noise, grid_labels))
                images[f"samples/epoch_{epoch:04d}.png"] = image_grid(grid, nrow=10)
            log_epoch(live, bar, epoch, stats, images)

        train_cgan(netg, netd, x, y, cfg, rng, on_epoch=log, ema=ema)
    save_state(paths.GENERATOR, sampler)
    print(
        f"trained on {len(x)} images for {steps} steps ({epochs} epochs) on {device} in "
        f"{precision}, {time.perf_counter() - start:.1f} s -> {paths.GENERATOR}"
    )


if __name__ == "__main__":
    run(main)
