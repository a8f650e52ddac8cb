"""Stage 7: one table comparing the training sources on the real test set.

Beside each real-test accuracy sits the accuracy on the model's own training data, the
number the blog reported, so the gap between the two is visible in every run.
"""

import json

import pandas as pd

from fewshot import paths
from fewshot.io import atomic_path
from fewshot.schema import cgan, classifier, common, quality
from fewshot.schema.base import load_sections
from fewshot.stage import run


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def generator_table(m: dict, near_copy_quantile: float) -> str:
    """The generator's scores beside the same scores for the real subset (the floor)."""
    worst = f"label fidelity of the worst class ({m['label_fidelity_min_class']})"
    rows = [  # (score, generated, real subset, shown as a percentage)
        ("label fidelity (judge agrees with the conditioned class)", m["label_fidelity"], None, 1),
        (worst, m["label_fidelity_min"], None, 1),
        ("domain FID to the test set (lower is better)", m["fid"], m["fid_real_subset"], 0),
        ("precision", m["precision"], m["real_subset_precision"], 0),
        ("recall", m["recall"], m["real_subset_recall"], 0),
        ("density", m["density"], m["real_subset_density"], 0),
        ("coverage", m["coverage"], m["real_subset_coverage"], 0),
        ("within-class diversity / real test's (judge features)", m["diversity_ratio"], None, 0),
        ("within-class diversity / real test's (pixels)", m["diversity_ratio_pixels"], None, 0),
        ("near-copies of a training image", m["near_copy_fraction"], None, 1),
    ]
    shown = [
        [name, *("" if v is None else percent(v) if as_pct else f"{v:.4f}" for v in (gen, real))]
        for name, gen, real, as_pct in rows
    ]
    frame = pd.DataFrame(shown, columns=["generator score", "generated", "real subset"])
    return (
        f"Generator, scored by a judge CNN with {m['judge_test_accuracy']:.2%} real-test "
        f"accuracy ({m['n_scored']} images per side; a near-copy is closer to a training image "
        f"than {1 - near_copy_quantile:.0%} of real test images are):\n\n"
        + frame.to_markdown(index=False, colalign=("left", "right", "right"), disable_numparse=True)
        + "\n"
    )


def title(params: dict) -> str:
    """Dataset, real images per class, generator and classifier: what the run compares."""
    subset = "the first" if params["data"]["subset"] == "first" else "a random subset of"
    return (
        f"{params['data']['dataset']}: {subset} {params['n_per_class']} real images per class, "
        f"generator `{params['cgan']['generator']}`, classifier `{params['classifier']['arch']}` "
        f"(seed {params['seed']})"
    )


def main() -> None:
    params = load_sections(common, cgan, classifier, quality)
    rows = []
    for source in paths.SOURCES:
        test = json.loads(paths.eval_metrics(source).read_text())
        train = json.loads((paths.classifier_live(source) / "metrics.json").read_text())
        row = {
            "source": source,
            "training images": int(train["n_train"]),
            "accuracy on own training data": train["accuracy_on_own_training_data"],
            "accuracy on real test set": test["accuracy"],
        }
        if "accuracy_tta" in test:  # evaluate.tta_shift 0 leaves it out
            row[f"the same, {test['tta_views']} shifted views"] = test["accuracy_tta"]
        rows.append({**row, "test images": test["test_images"]})
    table = pd.DataFrame(rows)
    accuracy = table.set_index("source")["accuracy on real test set"]
    gap = accuracy["mixed"] - accuracy["real"]
    shown = table.copy()
    for column in shown.columns:
        if column.startswith(("accuracy", "the same")):
            shown[column] = shown[column].map(percent)
    markdown = (
        f"### {title(params)}\n\n"
        + shown.to_markdown(index=False)
        + f"\n\nMixed minus real: {100 * gap:+.2f} points on the real test set "
        f"({test['test_images']} images).\n\n"
        + generator_table(
            json.loads(paths.GENERATOR_METRICS.read_text()),
            params["quality"]["near_copy_quantile"],
        )
    )
    with atomic_path(paths.METRICS / "summary.md") as tmp:
        tmp.write_text(markdown)
    with atomic_path(paths.PLOTS / "summary" / "accuracy.csv") as tmp:
        table[["source", "accuracy on real test set"]].rename(
            columns={"accuracy on real test set": "accuracy"}
        ).to_csv(tmp, index=False)
    print(markdown)


if __name__ == "__main__":
    run(main)
