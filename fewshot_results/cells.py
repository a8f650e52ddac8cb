"""Table cells the pages and the tuned-baseline blocks share: accuracies, paired gaps, counts."""

from __future__ import annotations

import pandas as pd

from fewshot_results.stats import interval_text


def gap_cell(gap: pd.Series) -> str:
    """A paired difference in points with its interval: "+0.11 (-0.02 to +0.23)"."""
    interval = interval_text(gap["ci_low"], gap["ci_high"], none="one subset")
    return f"{100 * gap['mean']:+.2f} ({interval})"


def accuracy_cell(mean: float, sd: float, runs: int) -> str:
    """An accuracy (mean and sd in percent), with its sd where there are two runs or more."""
    spread = "" if runs < 2 else f" ± {sd:.2f}"
    return f"{mean:.2f}{spread}%"


def runs_text(subsets: int, runs: int) -> str:
    text = "1 subset" if subsets == 1 else f"{subsets} subsets"
    return text if runs == subsets else f"{text}, {runs} runs"
