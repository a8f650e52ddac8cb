"""fewshot_results.pages: the markdown tables and generated blocks, and that the committed
README and results page match what the rows give."""

from __future__ import annotations

import pandas as pd

from fewshot_results.pages import unmeasured_presets
from fewshot_results.stats import summarise
from tests.conftest import REPO


def test_the_presets_without_rows_are_listed_with_what_they_are() -> None:
    rows = pd.DataFrame(
        {"dataset": ["mnist", "fashion-mnist"], "n_per_class": [100, 100],
         "config": ["protocol", "fewshot-unnormalised"]}
    )  # fmt: skip
    listed = unmeasured_presets(rows)
    assert "`protocol`" not in listed  # it has a row in the preset table
    assert "- `fewshot-select`: The few-shot CGAN, keeping the best 1 in 4" in listed
    assert "`fewshot-unnormalised`: " in listed and "fashion-mnist at 100 per class" in listed


def test_the_strong_cnn_and_mlp_curves_compare_mixed_minus_real_per_size(tmp_path) -> None:
    from fewshot_results.figures import plot_curve_comparison
    from fewshot_results.pages import curve_answer, curve_table
    from fewshot_results.stats import paired_differences

    def rows(config: str, n: int, gains: list[float]) -> list[dict]:
        out = []
        for seed, gain in enumerate(gains, start=1):
            for source, accuracy in (("real", 0.9), ("synthetic", 0.8), ("mixed", 0.9 + gain)):
                out.append({"dataset": "mnist", "config": config, "n_per_class": n,
                            "source": source, "subset_seed": seed, "machine": "cpu",
                            "test_accuracy": accuracy})  # fmt: skip
        return out

    data = pd.DataFrame(
        rows("protocol", 10, [0.02, 0.03, 0.025])  # adds at 10 per class
        + rows("protocol", 100, [0.001, -0.002])  # not at 100
        + rows("fewshot-mlp", 100, [0.02])  # one subset: no interval
        + rows("recipe", 100, [0.5, 0.5])  # not a curve: left out
    )
    table, paired = summarise(data), paired_differences(data)
    lines = curve_table(table, paired).splitlines()[2:]
    assert [line.split(" | ")[:2] for line in lines] == [
        ["| 10", "strong CNN (`protocol`)"],
        ["| 100", "MLP (`fewshot-mlp`)"],
        ["| 100", "strong CNN (`protocol`)"],
    ]
    assert "+2.50 (+1.26 to +3.74)" in lines[0] and lines[0].endswith("| 3 |")
    assert "+2.00 (one subset)" in lines[1]
    assert "90.00 ± 0.00%" in lines[2] and "-0.05 (" in lines[2]
    figure = plot_curve_comparison(table, paired, tmp_path / "study")
    assert figure == tmp_path / "study-mnist-curve.png" and figure.stat().st_size > 0
    one_size = data[data["n_per_class"] == 100]
    assert plot_curve_comparison(summarise(one_size), paired, tmp_path / "x") is None
    # the README's one line: bold where the interval is above zero, and where it stops
    answer = curve_answer(paired)
    assert "(`fewshot-mlp`) +2.00 at 100 (one subset): no gain shown at the one size" in answer
    assert "**+2.50 at 10**, −0.05 at 100: a gain shown at 10, none from 100 on." in answer


def test_the_docs_tables_are_generated_from_the_committed_rows() -> None:
    from fewshot_results.pages import GENERATED_PAGES, results_page
    from fewshot_results.stats import paired_differences

    rows = pd.read_csv(REPO / "docs/results/study/study.csv")
    paired = paired_differences(rows)
    for page in GENERATED_PAGES:
        text = (REPO / page).read_text()
        assert "<!-- table:presets -->" in text or "<!-- table:all-presets -->" in text
        assert results_page(rows, paired, REPO / page) == text, (
            f"{page}'s tables are stale: make pages"
        )


def test_the_tuned_baseline_is_read_from_the_preset_of_the_classifier_the_search_chose() -> None:
    from fewshot_results.stats import paired_differences
    from fewshot_results.tuned import tuned_answer, tuned_points, tuned_table

    search = pd.DataFrame(
        [("mnist", 10, "strong", 1, 0.940), ("mnist", 10, "strong-mild", 1, 0.950),
         ("mnist", 50, "strong", 1, 0.980), ("mnist", 50, "strong-mild", 1, 0.981),
         ("fashion-mnist", 100, "strong", 1, 0.83), ("fashion-mnist", 100, "strong-flip", 1, 0.86)],
        columns=["dataset", "n_per_class", "classifier", "subset_seed", "validation_accuracy"],
    ).assign(validation_images=5000)  # fmt: skip
    tuned = tuned_points(search)
    # at 50 the mild warp's +0.1 is within one standard error (0.2): `strong` stays
    assert tuned[["n_per_class", "preset"]].values.tolist() == [
        [100, "protocol-flip"], [10, "protocol-mild"], [50, "protocol"]
    ]  # fmt: skip
    rows = pd.DataFrame(
        [{"dataset": "mnist", "config": config, "n_per_class": n, "source": source,
          "subset_seed": seed, "machine": "cpu", "test_accuracy": acc + (gain if source ==
          "mixed" else 0)}
         for config, n, acc, gains in (("protocol", 10, 0.94, [0.01, 0.01, 0.012]),
                                       ("protocol-mild", 10, 0.955, [0.001, -0.002, 0.0]),
                                       ("protocol", 50, 0.983, [0.003, 0.002, 0.004]))
         for seed, gain in enumerate(gains, start=1) for source in ("real", "mixed")]
    )  # fmt: skip
    paired = paired_differences(rows)
    lines = tuned_table(rows, paired, tuned).splitlines()[2:]
    assert lines[0].startswith("| fashion-mnist | 100 | `strong-flip` (`protocol-flip`) | not run")
    assert lines[1].startswith("| mnist | 10 | `strong-mild` (`protocol-mild`) | 95.50 ± 0.00% ")
    assert "| 94.00 ± 0.00% |" in lines[1] and "| no difference shown | +0.43" in lines[1]
    assert "| 95.07 ± 0.12% |" in lines[1]  # protocol's mixed on the same subsets
    # the tuned real-only against protocol's mixed, paired per subset: +0.50, +0.50, +0.30
    assert "| +0.43 (+0.15 to +0.72) | 3 |" in lines[1]
    assert lines[2].startswith("| mnist | 50 | `strong` (`protocol`) | 98.30")
    assert "| mixed adds | -0.30 (-0.55 to -0.05) | 3 |" in lines[2]
    answer = tuned_answer(rows, paired, tuned)
    assert "fashion-mnist at 100 (`protocol-flip`): not run yet" in answer
    assert "mnist at 10 (`protocol-mild`, 3 subsets) real 95.50 ± 0.00%, mixed 95.47" in answer
    assert (
        "−0.03 (−0.41 to +0.35), no difference shown (its real alone − `protocol`'s mixed: +0.43"
        in answer
    )
