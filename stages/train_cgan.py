"""Stage 3: train the conditional GAN on the real subset; save the generator.

The recipe's CGAN by default; `cgan.discriminator`, `cgan.loss`, `cgan.diffaugment` and
`cgan.ema` select the data-efficient variant (projection D with spectral norm, hinge loss,
DiffAugment, an EMA generator). With `cgan.ema` > 0 the EMA copy is what is saved.

DVCLive logs per-epoch D/G losses and, every `cgan.sample_every` epochs, a grid from fixed
noise (one row per class) so the plots show how the same latent points evolve.
"""

import time

import torch

from fewshot import paths
from fewshot.data import load_subset
from fewshot.figures import image_grid
from fewshot.io import run, save_state
from fewshot.live import live_epochs, log_epoch
from fewshot.params import load_params
from fewshot.training import (
    build_cgan,
    fixed_sample_inputs,
    generator_ema,
    resolve_device,
    sample,
    seeded_generator,
    to_gan_input,
    to_uint8,
    train_cgan,
)


def main() -> None:
    params = load_params()
    cfg = params["cgan"]
    device = resolve_device(params["device"])
    images, labels, _ = load_subset(paths.SUBSET_FILE)
    gen = seeded_generator(params["seed"], device)
    x, y = to_gan_input(images, device), torch.from_numpy(labels).to(device)
    netg, netd = build_cgan(cfg, device)
    ema = generator_ema(netg, cfg["ema"])
    sampler = netg if ema is None else ema.module  # what the grids show and generate uses
    grid_gen = torch.Generator(device=device).manual_seed(params["seed"] + 1)
    grid_noise, grid_labels = fixed_sample_inputs(cfg["noise_dim"], 10, grid_gen)

    start = time.perf_counter()
    with live_epochs(paths.CGAN_LIVE, cfg["epochs"], "train_cgan") as (live, bar):

        def log(epoch: int, stats: dict[str, float]) -> None:
            images = {}
            if epoch % cfg["sample_every"] == 0 or epoch == cfg["epochs"]:
                grid = to_uint8(sample(sampler, grid_noise, grid_labels))
                images[f"samples/epoch_{epoch:04d}.png"] = image_grid(grid, nrow=10)
            log_epoch(live, bar, epoch, stats, images)

        train_cgan(netg, netd, x, y, cfg, gen, on_epoch=log, ema=ema)
    save_state(paths.GENERATOR, sampler)
    print(
        f"trained on {len(x)} images for {cfg['epochs']} epochs on {device} "
        f"in {time.perf_counter() - start:.1f} s -> {paths.GENERATOR}"
    )


if __name__ == "__main__":
    run(main)
