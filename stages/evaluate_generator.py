"""Stage: score the generator itself, not a classifier trained on its output.

Reads the synthetic ImageFolder, the real training subset and the REAL test split (verified
by SHA-256; this is an evaluation stage). Everything is measured in the judge's feature
space or in pixels; the same scores for the real subset against the test set are the floor
a perfect generator of 100 images per class could reach.
"""

import numpy as np
import pandas as pd

from fewshot import paths
from fewshot.classifier_models import Judge
from fewshot.data import (
    N_CLASSES,
    check_subset_provenance,
    load_image_folder,
    load_split,
    load_subset,
)
from fewshot.device import resolve_device
from fewshot.figures import save_image_grid, save_nearest_neighbours
from fewshot.io import atomic_path, load_state, write_json
from fewshot.quality import (
    balanced_sample,
    frechet_distance,
    judge_outputs,
    memorisation,
    prdc,
    within_class_diversity,
)
from fewshot.schema import common, evaluate, quality
from fewshot.schema.base import load_sections
from fewshot.stage import run


def rounded(scores: dict[str, float], prefix: str = "") -> dict[str, float]:
    return {prefix + name: round(float(value), 6) for name, value in scores.items()}


def main() -> None:
    params = load_sections(common, evaluate, quality)
    cfg = params["quality"]
    dataset = params["data"]["dataset"]
    device = resolve_device(params["device"])
    checksums = paths.checksum_file(dataset)
    check_subset_provenance(paths.SUBSET_FILE, checksums)
    test_images, test_labels = load_split(paths.RAW_DIR, "test", checksum_file=checksums)
    real_images, real_labels, _ = load_subset(paths.SUBSET_FILE)
    fake_images, fake_labels = load_image_folder(paths.SYNTHETIC_DIR)
    judge = load_state(paths.JUDGE, Judge()).to(device)

    batch_size = params["evaluate"]["batch_size"]
    test_feats, test_pred = judge_outputs(judge, test_images, batch_size, device)
    fake_feats, fake_pred = judge_outputs(judge, fake_images, batch_size, device)
    real_feats, _ = judge_outputs(judge, real_images, batch_size, device)

    fidelity = np.array([(fake_pred[fake_labels == c] == c).mean() for c in range(N_CLASSES)])
    # Set sizes bias FID and PRDC, so the generated side is scored at the real subset's size
    # (n_per_class per class) against one fixed sample of test features.
    seed = params["seed"]
    same_size = balanced_sample(fake_labels, params["n_per_class"], seed)
    per_class = cfg["reference_samples"] // N_CLASSES
    reference = test_feats[balanced_sample(test_labels, per_class, seed)]
    k = cfg["nearest_k"]
    copies = memorisation(fake_images, test_images, real_images, cfg["near_copy_quantile"])
    # Within-class variety, generated against real test images of the same class; in pixels
    # (where blur and noise also count) and in the judge's features (where they count less).
    per = cfg["diversity_samples"]
    diversity = {
        "features": (
            within_class_diversity(fake_feats, fake_labels, per, seed),
            within_class_diversity(test_feats, test_labels, per, seed),
        ),
        "pixels": (
            within_class_diversity(fake_images / 255.0, fake_labels, per, seed),
            within_class_diversity(test_images / 255.0, test_labels, per, seed),
        ),
    }
    metrics = {
        "dataset": dataset,
        "judge_test_accuracy": round(float((test_pred == test_labels).mean()), 6),
        "label_fidelity": round(float((fake_pred == fake_labels).mean()), 6),
        "label_fidelity_per_class": {str(c): round(float(f), 6) for c, f in enumerate(fidelity)},
        # The mean hides a class drawn wrong half the time, and that class is what a
        # classifier trained on these images then gets wrong on real digits.
        "label_fidelity_min": round(float(fidelity.min()), 6),
        "label_fidelity_min_class": int(fidelity.argmin()),
        "fid_all_generated": round(frechet_distance(test_feats, fake_feats), 4),
        "fid": round(frechet_distance(test_feats, fake_feats[same_size]), 4),
        "fid_real_subset": round(frechet_distance(test_feats, real_feats), 4),
        **rounded(prdc(reference, fake_feats[same_size], k)),
        **rounded(prdc(reference, real_feats, k), prefix="real_subset_"),
        **rounded({key: v for key, v in copies.items() if np.isscalar(v)}),
        "diversity_ratio": round(
            float(diversity["features"][0].mean() / diversity["features"][1].mean()), 6
        ),
        "diversity_ratio_pixels": round(
            float(diversity["pixels"][0].mean() / diversity["pixels"][1].mean()), 6
        ),
        "diversity_ratio_per_class": {
            str(c): round(float(g / r), 6)
            for c, (g, r) in enumerate(zip(*diversity["features"], strict=True))
        },
        "n_generated": len(fake_images),
        "n_scored": len(same_size),
    }
    write_json(paths.GENERATOR_METRICS, metrics)

    plots = paths.GENERATOR_PLOTS
    quantiles = np.linspace(0, 1, 101)
    tables = {
        "label_fidelity.csv": pd.DataFrame({"class": range(N_CLASSES), "label_fidelity": fidelity}),
        "diversity.csv": pd.DataFrame(
            {
                "class": range(N_CLASSES),
                "generated": diversity["features"][0].round(4),
                "real_test": diversity["features"][1].round(4),
            }
        ),
        "nn_distance.csv": pd.DataFrame(
            {
                "quantile": quantiles.round(2),
                "generated": np.quantile(copies["generated_nn_distance"], quantiles).round(4),
                "real_test": np.quantile(copies["test_nn_distance"], quantiles).round(4),
            }
        ),
    }
    for name, frame in tables.items():
        with atomic_path(plots / name) as tmp:
            frame.to_csv(tmp, index=False)
    # More columns than the training grids, so the variety within a class shows at a glance.
    columns = cfg["grid_columns"]
    shown = np.concatenate([np.flatnonzero(fake_labels == c)[:columns] for c in range(N_CLASSES)])
    save_image_grid(plots / "samples.png", fake_images[shown], nrow=columns)
    save_nearest_neighbours(
        plots / "nearest_neighbours.png",
        fake_images,
        real_images[copies["generated_nn_index"]],
        copies["generated_nn_distance"],
        fake_labels,
        cfg["nn_pairs_per_class"],
    )
    print(
        f"judge {metrics['judge_test_accuracy']:.2%} on the test set; label fidelity "
        f"{metrics['label_fidelity']:.2%} (class {metrics['label_fidelity_min_class']}: "
        f"{metrics['label_fidelity_min']:.2%}); diversity {metrics['diversity_ratio']:.2f}x "
        f"the test set's; FID {metrics['fid']:.2f} (real subset "
        f"{metrics['fid_real_subset']:.2f}); near-copies {metrics['near_copy_fraction']:.2%}"
    )


if __name__ == "__main__":
    run(main)
