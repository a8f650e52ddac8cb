"""Which real training images does the generator never come near? Mode dropping, per image.

Draws `--draws` images per class from a trained generator (as `generate` does: its
`generate.sampling`, then `generate.normalise`), gives each to its nearest real training
image of its class (pixels), and counts how many each real image gets. An even spread gives
every real image draws / n_per_class; a style the generator dropped (MNIST's crossed 7) gets
none. Writes a table per class and a figure of each class's least-covered real images. For an
instance-conditioned generator (`cgan.instance_dim` > 0) a second figure, `<out>-instances.png`,
shows for each class's two least-covered real images the real neighbours the discriminator saw
for them and what the generator draws when conditioned on them. With `--marked-class C
--marked i j ...` (positions among class C's real images, as `instance_neighbourhoods.py`
numbers them: a style marked by eye), it also reports the share of class C's draws nearest a
marked image against the marked share of the real images (`<out>-marked.csv`), and draws each
marked image beside the draws nearest to it (`<out>-marked.png`: whether the generator offers
the style at all; pixel coverage can count a closed-top 4 as covered by open-top ones).
`--space classifier` gives each draw to its nearest real image in the penultimate features
of the experiment's real-only CNN (trained on the real subset alone) instead of in pixels:
does a feature space that must tell 4 from 9 see the closed-top 4s as uncovered? Reads no
test data.

    python -m research.coverage.diagnose_coverage                      # the workspace's generator
    python -m research.coverage.diagnose_coverage --exp \
        study-mnist-fewshot-15k-strong-select-half-n100-s2
    python -m research.coverage.diagnose_coverage --exp ... --marked-class 7 --marked 2 12 23 29 45
    python -m research.coverage.diagnose_coverage --exp ... --space classifier --marked-class 4 \
        --marked ...
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from fewshot import paths  # noqa: E402
from fewshot.coverage import neighbour_counts  # noqa: E402
from fewshot.data import N_CLASSES, load_subset  # noqa: E402
from fewshot.ensemble import build, members_of  # noqa: E402
from fewshot.gan import sample  # noqa: E402
from fewshot.gan_models import InstanceGenerator, build_generator  # noqa: E402
from fewshot.generation import as_source_samples, draw_class  # noqa: E402
from fewshot.instances import class_neighbours  # noqa: E402
from fewshot.io import load_state  # noqa: E402
from fewshot.normalise import normalise_class, real_geometry  # noqa: E402
from fewshot.params import load_params  # noqa: E402
from fewshot.tensors import to_classifier_input, to_uint8  # noqa: E402
from research.experiments import experiment_files, marked_positions  # noqa: E402

SHOWN = 12  # least-covered real images shown per class
PROBED, PROBE_NEIGHBOURS, PROBE_DRAWS = 2, 5, 8  # the instance figure: rows per class, columns
NEAREST_DRAWS = 8  # the marked figure: draws shown beside each marked real image


def classifier_features(arch: str, members: int, checkpoint: Path) -> Callable:
    """uint8 images (N, 28, 28) -> the penultimate features (N, 128) of the real-only CNN
    (its first member): the space in which `--space classifier` counts coverage."""
    if arch != "cnn":
        raise SystemExit(f"error: --space classifier needs classifier.arch cnn, not {arch!r}")
    model = members_of(load_state(checkpoint, build(arch, members)))[0].eval()
    body = torch.nn.Sequential(*list(model.net)[:-2])  # up to the pooled features

    @torch.no_grad()
    def features(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([body(chunk) for chunk in to_classifier_input(images.numpy()).split(1000)])

    return features


def conditioned_draws(
    netg: InstanceGenerator, instance: int, cls: int, count: int, rng: torch.Generator
) -> torch.Tensor:
    """`count` uint8 images (count, 28, 28) the generator draws conditioned on real image
    `instance` (an index into the subset), with BatchNorm's running statistics."""
    noise = torch.randn(count, netg.noise_dim, generator=rng)
    labels, instances = torch.full((count,), cls), torch.full((count,), instance)
    return to_uint8(sample(netg, noise, labels, instances))


def image_rows(
    rows: list[list[np.ndarray]], arrow_column: int, arrow: str, title: str, cell: tuple
) -> plt.Figure:
    """A figure of rows of uint8 images, each starting with a real image: column 0 titled
    "real", column `arrow_column` titled `arrow`; `cell` is (width, height) per image."""
    columns = len(rows[0])
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(columns * cell[0], len(rows) * cell[1]), squeeze=False
    )
    for ax_row, shown in zip(axes, rows, strict=True):
        for ax, image in zip(ax_row, shown, strict=True):
            ax.imshow(image, cmap="gray", vmin=0, vmax=255)
            ax.axis("off")
        ax_row[0].set_title("real", fontsize=6)
        ax_row[arrow_column].set_title(arrow, fontsize=6, loc="left")
    figure.suptitle(title, fontsize=7)
    figure.tight_layout()
    return figure


def instance_figure(
    netg: InstanceGenerator,
    real: np.ndarray,
    real_labels: np.ndarray,
    probed: list[list[int]],
    k: int,
    rng: torch.Generator,
    title: str,
) -> plt.Figure:
    """Per probed real image (subset indices, a list per class): itself, its nearest real
    neighbours of its class as D saw them, and what G draws conditioned on it."""
    neighbours = class_neighbours(netg.features, torch.as_tensor(real_labels), k)
    shown_real = 1 + min(k - 1, PROBE_NEIGHBOURS)
    rows = [
        [real[j] for j in neighbours[i][:shown_real].tolist()]
        + list(conditioned_draws(netg, i, cls, PROBE_DRAWS, rng).numpy())
        for cls, chosen in enumerate(probed)
        for i in chosen
    ]
    return image_rows(rows, shown_real, "drawn for it ->", title, (0.6, 0.62))


def marked_coverage(counts: np.ndarray, marked: list[int]) -> dict[str, float]:
    """How well the draws cover the marked real images (positions into `counts`): their share
    of the real images, of the draws (nearest one of them), and how many are never nearest."""
    return {
        "marked": len(marked),
        "real_share": len(marked) / len(counts),
        "draw_share": float(counts[marked].sum() / counts.sum()),
        "never_nearest": int((counts[marked] == 0).sum()),
    }


def nearest_draws(drawn: torch.Tensor, real: torch.Tensor, count: int) -> torch.Tensor:
    """Indices (len(real), count) of the `count` draws nearest each real image (pixels), nearest
    first: what the generator offers for a style, whether or not those draws are nearer to
    another real image."""
    distances = torch.cdist(real.flatten(1).float(), drawn.flatten(1).float())
    return distances.topk(count, dim=1, largest=False).indices


def marked_figure(drawn: torch.Tensor, real: torch.Tensor, title: str) -> plt.Figure:
    """Each marked real image (a row) beside the draws of its class nearest to it."""
    nearest = nearest_draws(drawn, real, NEAREST_DRAWS)
    rows = [
        [image.numpy(), *drawn[near].numpy()] for image, near in zip(real, nearest, strict=True)
    ]
    return image_rows(rows, 1, "nearest draws ->", title, (0.8, 0.85))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp", help="a DVC experiment's generator (default: the workspace's)")
    parser.add_argument("--draws", type=int, default=4000, help="images drawn per class")
    parser.add_argument("--out", type=Path, default=Path("docs/results/coverage/coverage"))
    parser.add_argument("--marked-class", type=int, help="the class of the --marked images")
    parser.add_argument(
        "--noise-scale", type=float, help="sample as generate.noise_scale (default: the params')"
    )
    parser.add_argument(
        "--space",
        choices=("pixels", "classifier"),
        default="pixels",
        help="where draws find their nearest real image (classifier: the real-only CNN's features)",
    )
    parser.add_argument(
        "--marked", type=int, nargs="+", default=[], help="positions among its real images"
    )
    args = parser.parse_args()
    if bool(args.marked) != (args.marked_class is not None):
        raise SystemExit("error: --marked and --marked-class go together")
    outputs = [("train_cgan", paths.GENERATOR), ("subsample", paths.SUBSET_FILE)]
    if args.space == "classifier":
        outputs.append(("train_classifier@real", paths.classifier_file("real")))
    if args.exp:
        params, files = experiment_files(args.exp, outputs)
    else:
        params, files = load_params(), [path for _, path in outputs]
    generator, subset = files[:2]
    space = (
        classifier_features(params["classifier"]["arch"], params["classifier"]["members"], files[2])
        if args.space == "classifier"
        else lambda images: images
    )
    cgan, generate = params["cgan"], dict(params["generate"])
    if args.noise_scale is not None:
        generate["noise_scale"] = args.noise_scale
    netg = load_state(generator, build_generator(cgan))
    if generate["sampling"] == "source":
        netg = as_source_samples(netg)
    real, real_labels, _ = load_subset(subset)
    source = args.exp or "the workspace's generator"
    if generate["noise_scale"] != 1:
        source += f"; noise scaled by {generate['noise_scale']:g}"
    if args.space == "classifier":
        source += "; nearest in the real-only CNN's features"
    if args.marked:
        args.marked = marked_positions(
            real_labels, args.marked_class, args.marked, "--marked-class"
        )
    geometry = real_geometry(real, real_labels)
    rng = torch.Generator().manual_seed(params["seed"])
    rows, least, probed = [], [], []
    for cls in range(N_CLASSES):
        drawn = draw_class(
            netg, cls, args.draws, 1000, rng, generate["sampling"], generate["noise_scale"]
        )
        drawn = normalise_class(drawn, cls, generate["normalise"], geometry)
        mine = torch.as_tensor(real[real_labels == cls])
        counts = neighbour_counts(space(drawn), space(mine)).numpy()
        fair = args.draws / len(mine)
        rows.append(
            {
                "class": cls,
                "real_images": len(mine),
                "even_share": fair,
                "never_nearest": int((counts == 0).sum()),
                "under_a_tenth_of_even": int((counts < fair / 10).sum()),
                "most": int(counts.max()),
            }
        )
        if cls == args.marked_class:
            marked = {"class": cls, **marked_coverage(counts, args.marked)}
            marked_drawn, marked_real = drawn, mine[args.marked]
        order = np.argsort(counts, kind="stable")[:SHOWN]
        least.append([(mine[i].numpy(), int(counts[i])) for i in order])
        probed.append(np.flatnonzero(real_labels == cls)[order[:PROBED]].tolist())
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table_csv, least_png = (args.out.with_name(args.out.name + end) for end in (".csv", ".png"))
    table.to_csv(table_csv, index=False)
    print(table.to_markdown(index=False, floatfmt=".0f"))
    if args.marked:
        marked_csv = args.out.with_name(args.out.name + "-marked.csv")
        pd.DataFrame([marked]).to_csv(marked_csv, index=False)
        print(
            f"class {marked['class']}: the {marked['marked']} marked real images are "
            f"{marked['real_share']:.1%} of its real images and nearest to "
            f"{marked['draw_share']:.1%} of its draws; {marked['never_nearest']} never nearest"
        )
        title = (
            f"Class {marked['class']}'s marked real images and the {NEAREST_DRAWS} nearest of "
            f"its {args.draws} draws\n({source})"
        )
        marked_png = args.out.with_name(args.out.name + "-marked.png")
        marked_figure(marked_drawn, marked_real, title).savefig(marked_png, dpi=130)
        print(f"-> {marked_csv}, {marked_png}")
    figure, axes = plt.subplots(N_CLASSES, SHOWN, figsize=(SHOWN * 0.8, N_CLASSES * 0.95))
    for cls, row in enumerate(least):
        for ax, (image, count) in zip(axes[cls], row, strict=True):
            ax.imshow(image, cmap="gray", vmin=0, vmax=255)
            ax.set_title(str(count), fontsize=7, color="crimson" if count == 0 else "black")
            ax.axis("off")
    figure.suptitle(
        f"Real training images with the fewest of {args.draws} generated neighbours per class"
        f"\n({source}; even share {args.draws // params['n_per_class']})",
        fontsize=8,
    )
    figure.tight_layout()
    figure.savefig(least_png, dpi=110)
    print(f"-> {table_csv}, {least_png}")
    if isinstance(netg, InstanceGenerator):
        title = (
            f"Each class's {PROBED} least-covered real images, their nearest real images of the "
            f"class (what D saw for them), and what G draws conditioned on them\n({source})"
        )
        k = cgan["instance_neighbours"]
        figure = instance_figure(netg, real, real_labels, probed, k, rng, title)
        out = args.out.with_name(args.out.name + "-instances.png")
        figure.savefig(out, dpi=110)
        print(f"-> {out}")


if __name__ == "__main__":
    main()
