"""DVCLive + tqdm around a training loop: one DVCLive step and one progress tick per epoch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dvclive import Live
from PIL import Image
from tqdm import tqdm

from fewshot.device import machine_summary


@contextmanager
def live_epochs(directory: str | Path, epochs: int, desc: str) -> Iterator[tuple[Live, tqdm]]:
    """A DVCLive run that writes no dvc.yaml of its own (the project's declares the plots).

    Its metrics.json records the machine: CPUs and GPUs round differently and a GAN amplifies
    that, so the same seed gives other numbers elsewhere, and a diff should say why.
    """
    with (
        Live(str(directory), dvcyaml=False, save_dvc_exp=False) as live,
        tqdm(total=epochs, desc=desc, unit="epoch") as bar,
    ):
        live.summary["machine"] = machine_summary()
        yield live, bar


def log_epoch(
    live: Live,
    bar: tqdm,
    epoch: int,
    stats: dict[str, float],
    images: dict[str, Image.Image] | None = None,
) -> None:
    """Log one epoch's scalars (and optional images) at step `epoch`, then tick the bar."""
    live.step = epoch
    for name, value in stats.items():
        live.log_metric(name, value)
    for name, image in (images or {}).items():
        live.log_image(name, image)
    live.next_step()
    bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()})
    bar.update()
