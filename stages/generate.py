"""Stage 4: generate `generate.per_class` images per class as a torchvision ImageFolder.

data/train/synthetic/<class>/<n>.png, from the generator in eval mode, in batches on the
device; PNG encoding runs in parallel worker processes while the next batch is generated.
The folder appears only once every file is written.
"""

import time

import torch
from tqdm import tqdm

from fewshot import paths
from fewshot.data import N_CLASSES
from fewshot.io import atomic_dir, load_state, run
from fewshot.models import Generator
from fewshot.params import load_params
from fewshot.pngio import png_pool, write_pngs
from fewshot.training import resolve_device, sample, seeded_generator, to_uint8


def main() -> None:
    params = load_params()
    cfg, per_class = params["cgan"], params["generate"]["per_class"]
    device = resolve_device(params["device"])
    netg = load_state(paths.GENERATOR, Generator(cfg["noise_dim"], cfg["base_channels"]))
    start = time.perf_counter()
    with png_pool() as pool, atomic_dir(paths.SYNTHETIC_DIR) as tmp:
        netg.to(device)
        gen = seeded_generator(params["seed"], device)
        jobs = []
        for cls in range(N_CLASSES):
            folder = tmp / str(cls)
            folder.mkdir()
            for first in range(0, per_class, params["generate"]["batch_size"]):
                count = min(params["generate"]["batch_size"], per_class - first)
                labels = torch.full((count,), cls, device=device)
                noise = torch.randn(count, cfg["noise_dim"], generator=gen, device=device)
                images = to_uint8(sample(netg, noise, labels)).cpu().numpy()
                jobs.append(pool.apply_async(write_pngs, (folder, first, images)))
        written = sum(job.get() for job in tqdm(jobs, desc="generate", unit="batch"))
    print(
        f"wrote {written} PNGs ({per_class} per class) on {device} "
        f"in {time.perf_counter() - start:.1f} s -> {paths.SYNTHETIC_DIR}/"
    )


if __name__ == "__main__":
    run(main)
