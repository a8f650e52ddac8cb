"""fewshot_results.figures: curves only where a configuration has two sizes or more."""

from __future__ import annotations

import pandas as pd

from fewshot_results.stats import summarise


def test_figures_draw_curves_only_where_there_is_a_curve(tmp_path) -> None:
    from fewshot_results.figures import plot_curves

    def rows(config: str, sizes: list[int]) -> list[dict]:
        return [
            {
                "dataset": "mnist",
                "config": config,
                "n_per_class": n,
                "source": source,
                "subset_seed": seed,
                "test_accuracy": accuracy,
            }
            for n in sizes
            for source, accuracy in (("real", 0.9), ("synthetic", 0.6), ("mixed", 0.88))
            for seed in (1, 2, 3)
        ]

    table = summarise(pd.DataFrame(rows("recipe", [10, 100]) + rows("fewshot", [100])))
    written = plot_curves(table, tmp_path / "study")
    # one curve panel (recipe has two sizes), one side-by-side figure at 100 (two configs there)
    assert written == [tmp_path / "study-mnist.png", tmp_path / "study-mnist-n100.png"]
    assert all(path.stat().st_size > 0 for path in written)
    only_one_size = summarise(pd.DataFrame(rows("fewshot", [100])))
    assert plot_curves(only_one_size, tmp_path / "alone") == []
