"""Does a feature space put a rare style's real images next to each other?

The instance-conditioned CGAN (`cgan.instance_dim`) shows its discriminator, as the real data
for a real image, that image's k nearest real images of its class. A rare style (MNIST's
crossed 7) is only drawn if its neighbours share it. For real images marked by eye, this
prints the share of their k nearest same-class neighbours that are marked too, in several
feature spaces, against chance ((marked - 1) / (class size - 1)):

- `pca`: the CGAN's own features, the real subset's top principal components
  (fewshot/instances.py);
- `class-pca`: principal components of the class's images alone;
- `pixels`: the centred images;
- `hog`: histograms of gradient orientations (Sobel, 9 bins) per cell of the image.

Without `--marked` it only draws the class's images numbered, to mark them by eye. Reads the
real subset only (no test data, no generator).

    python -m research.instances.instance_neighbourhoods --exp \
        study-mnist-fewshot-15k-ic-strong-half-n100-s2 \
        --class 7 --out docs/results/instances/crossed-7s-s2
    python -m research.instances.instance_neighbourhoods --exp ... --class 7 --marked 2 12 23 \
        --out ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from fewshot import paths  # noqa: E402
from fewshot.data import load_subset  # noqa: E402
from fewshot.instances import class_neighbours, instance_features  # noqa: E402
from fewshot.tensors import to_gan_input  # noqa: E402
from research.experiments import experiment_files, marked_positions  # noqa: E402

SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def per_class_pca(x: torch.Tensor, labels: torch.Tensor, dim: int) -> torch.Tensor:
    """Each image's top `dim` principal components of its own class's images."""
    features = torch.zeros(len(x), dim)
    for cls in labels.unique():
        mine = labels == cls
        features[mine] = instance_features(x[mine], dim)
    return features


def gradient_histograms(x: torch.Tensor, cell: int = 7, bins: int = 9) -> torch.Tensor:
    """Per `cell` x `cell` block, the gradient magnitude summed per orientation bin (N, ...)."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")  # no edge at the image's border
    gx = F.conv2d(padded, SOBEL[None, None])
    gy = F.conv2d(padded, SOBEL.T[None, None])
    orientation = torch.atan2(gy, gx).remainder(torch.pi)
    bin_of = (orientation / torch.pi * bins).long().clamp(max=bins - 1)
    histograms = torch.zeros(len(x), bins, *x.shape[2:]).scatter_(1, bin_of, torch.hypot(gx, gy))
    return F.avg_pool2d(histograms, cell).flatten(1)


def centred_unit(features: torch.Tensor) -> torch.Tensor:
    return F.normalize(features - features.mean(0), dim=1)


def feature_spaces(x: torch.Tensor, labels: torch.Tensor, dim: int) -> dict[str, torch.Tensor]:
    """Name -> features (N, d) of the subset's images `x` (N, 1, 28, 28) in [-1, 1]."""
    return {
        "pca": instance_features(x, dim),
        "class-pca": per_class_pca(x, labels, dim),
        "pixels": centred_unit(x.flatten(1)),
        "hog": centred_unit(gradient_histograms(x)),
    }


def marked_share(
    features: torch.Tensor, labels: torch.Tensor, marked: torch.Tensor, k: int
) -> float:
    """Of the k - 1 nearest same-class neighbours (itself excluded) of each marked image, the
    share that are marked too, over all marked images."""
    is_marked = torch.zeros(len(labels), dtype=torch.bool)
    is_marked[marked] = True
    neighbours = class_neighbours(features, labels, k)[marked, 1:]
    return is_marked[neighbours].float().mean().item()


def numbered_figure(images: np.ndarray, marked: list[int], title: str) -> plt.Figure:
    """The class's images in subset order, numbered, the marked ones titled in red."""
    columns = 10
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.8, rows * 0.9), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
            red = i in marked
            ax.set_title(str(i), fontsize=7, color="crimson" if red else "black")
    figure.suptitle(title, fontsize=8)
    figure.tight_layout()
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp", help="a DVC experiment's real subset (default: the workspace's)")
    parser.add_argument("--class", dest="cls", type=int, required=True)
    parser.add_argument(
        "--marked",
        type=int,
        nargs="*",
        default=[],
        help="the rare style's images: positions "
        "among the class's images in the subset, as numbered in the figure",
    )
    parser.add_argument(
        "--k", type=int, nargs="+", default=[5, 10], help="neighbours, itself included"
    )
    parser.add_argument("--dim", type=int, default=32, help="principal components")
    parser.add_argument("--out", type=Path, default=Path("docs/results/instances/neighbourhoods"))
    args = parser.parse_args()
    if args.exp:
        _, (subset,) = experiment_files(args.exp, [("subsample", paths.SUBSET_FILE)])
    else:
        subset = paths.SUBSET_FILE
    images, labels_np, _ = load_subset(subset)
    args.marked = marked_positions(labels_np, args.cls, args.marked, "--class")
    members = np.flatnonzero(labels_np == args.cls)
    smallest = int(np.bincount(labels_np)[np.unique(labels_np)].min())
    if not all(2 <= k <= smallest for k in args.k):
        raise SystemExit(f"error: --k {args.k}: expected 2 to {smallest} (the smallest class)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    source = args.exp or "the workspace's subset"
    title = f"Class {args.cls} of {source}, in subset order; marked in red: {len(args.marked)}"
    numbered_figure(images[members], args.marked, title).savefig(
        args.out.with_suffix(".png"), dpi=110
    )
    print(f"-> {args.out.with_suffix('.png')}")
    if len(args.marked) < 2:
        return
    x, labels = to_gan_input(images), torch.from_numpy(labels_np)
    marked = torch.as_tensor(members[args.marked])
    chance = (len(args.marked) - 1) / (len(members) - 1)
    rows = [
        {"features": name, "k": k, "marked_share": marked_share(features, labels, marked, k)}
        for name, features in feature_spaces(x, labels, args.dim).items()
        for k in args.k
    ]
    table = pd.DataFrame(rows).assign(chance=chance)
    table.to_csv(args.out.with_suffix(".csv"), index=False)
    print(table.to_markdown(index=False, floatfmt=".2f"))
    print(f"-> {args.out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
