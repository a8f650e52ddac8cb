"""Stage 2: keep n_per_class real images per class from the TRAIN split only.

Writes the images with their train-split indices (subset.npz) and the indices alone as CSV,
so anyone can audit exactly which images the GAN and the classifiers saw.
"""

import numpy as np
import pandas as pd

from fewshot import paths
from fewshot.data import N_CLASSES, SPLIT_FILES, load_split, save_subset, select_subset, sha256_file
from fewshot.figures import image_grid
from fewshot.io import atomic_dir
from fewshot.schema import common
from fewshot.schema.base import load_sections
from fewshot.stage import run


def main() -> None:
    params = load_sections(common)
    images, labels = load_split(paths.RAW_DIR, "train")
    n = params["n_per_class"]
    indices = select_subset(labels, n, params["data"]["subset"], params["seed"])
    with atomic_dir(paths.REAL_DIR) as tmp:
        source = sha256_file(paths.RAW_DIR / SPLIT_FILES["train"][0])
        save_subset(tmp / paths.SUBSET_FILE.name, images[indices], labels[indices], indices, source)
        table = pd.DataFrame({"train_index": indices, "label": labels[indices]})
        table.to_csv(tmp / paths.SUBSET_INDICES.name, index=False)
        # Up to 10 real images per class, one row per class, to set beside the GAN's grids.
        shown = np.concatenate([indices[c * n : c * n + min(n, 10)] for c in range(N_CLASSES)])
        image_grid(images[shown], nrow=min(n, 10)).save(tmp / "preview.png")
    counts = np.bincount(labels[indices], minlength=N_CLASSES)
    print(
        f"kept {len(indices)} of {len(labels)} training images ({params['data']['subset']}): "
        f"{counts.tolist()} per class -> {paths.REAL_DIR}/"
    )


if __name__ == "__main__":
    run(main)
