"""The verdicts against the tuned real-only baseline: per dataset and size the baseline search
(conf/study/baseline.yaml) covers, the classifier it chose on held-out training images, the
preset that runs the protocol with it (conf/registry.yaml `baselines`), and what its rows say:
the results page's table and the README's answer."""

from __future__ import annotations

import pandas as pd

from fewshot_results.cells import accuracy_cell, gap_cell, runs_text
from fewshot_results.registry import baselines
from fewshot_results.search_grid import candidate_order
from fewshot_results.stats import interval_text, search_summary, t_interval

SEARCH_GRID = "baseline"


def tuned_points(search_rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and size the search ran: the classifier it chose, its held-out mean, and the
    preset that runs the protocol with it (`conf/registry.yaml` baselines; NaN for none)."""
    table = search_summary(search_rows, candidate_order(SEARCH_GRID))
    chosen = table[table["chosen"]].reset_index(drop=True)
    return chosen.assign(preset=chosen["classifier"].map(baselines()))


def _point_rows(rows: pd.DataFrame, point: pd.Series, preset: str) -> pd.DataFrame:
    return rows[
        (rows["dataset"] == point["dataset"])
        & (rows["n_per_class"] == point["n_per_class"])
        & (rows["config"] == preset)
    ]


def _paired_seeds(mine: pd.DataFrame) -> set[int]:
    """The subsets with both a real and a mixed row: those mixed - real is paired on."""
    by_source = mine.groupby("source")["subset_seed"].apply(set)
    return set(by_source.get("real", set())) & set(by_source.get("mixed", set()))


def _select(mine: pd.DataFrame, source: str, seeds: set[int]) -> pd.DataFrame:
    return mine[(mine["source"] == source) & mine["subset_seed"].isin(seeds)]


def _source_cell(mine: pd.DataFrame, source: str, seeds: set[int]) -> str:
    acc = 100 * _select(mine, source, seeds)["test_accuracy"]
    return accuracy_cell(acc.mean(), acc.std(), len(acc)) if len(acc) else "not run"


def _gap(paired: pd.DataFrame, point: pd.Series, preset: str) -> pd.Series | None:
    gap = paired[
        (paired["dataset"] == point["dataset"])
        & (paired["n_per_class"] == point["n_per_class"])
        & (paired["config"] == preset)
        & (paired["comparison"] == "mixed - real")
    ]
    return None if gap.empty else gap.iloc[0]


def _protocol_cell(rows: pd.DataFrame, point: pd.Series, seeds: set[int], source: str) -> str:
    """`protocol`'s accuracy from `source` on the same subsets (all of its own before any ran)."""
    mine = _point_rows(rows, point, "protocol")
    own = set(mine[mine["source"] == source]["subset_seed"])
    shared = own & seeds if seeds else own
    cell = _source_cell(mine, source, shared)
    if shared != seeds:
        cell += f" ({runs_text(len(shared), len(shared))})"
    return cell


def _per_subset(mine: pd.DataFrame, source: str, seeds: set[int]) -> pd.Series:
    return (
        _select(mine, source, seeds).groupby("subset_seed")["test_accuracy"].mean()
    )  # runs on several machines


def real_against_protocol_mixed(rows: pd.DataFrame, point: pd.Series, preset: str) -> str:
    """The tuned preset's real-only accuracy minus `protocol`'s mixed, paired per subset with
    its 95% interval: does the tuned baseline alone match the untuned CNN given generated
    images?"""
    mine = _point_rows(rows, point, preset)
    real = _per_subset(mine, "real", _paired_seeds(mine))
    mixed = _per_subset(_point_rows(rows, point, "protocol"), "mixed", set(real.index))
    gaps = (real - mixed).dropna()
    if gaps.empty:
        return ""
    mean, low, high = t_interval(gaps.to_numpy())
    return gap_cell(pd.Series({"mean": mean, "ci_low": low, "ci_high": high}))


def tuned_table(rows: pd.DataFrame, paired: pd.DataFrame, tuned: pd.DataFrame) -> str:
    """Per dataset and size the search covers: the chosen classifier's preset, its real-only
    and mixed test accuracy on the subsets mixed - real is paired on, and the untuned
    `protocol`'s on those same subsets: can a tuned real-only CNN match generated images added
    to an untuned one?"""
    lines = [
        "| dataset | n per class | baseline (preset) | real only | real only, `protocol` "
        "| mixed | mixed, `protocol` | mixed − real (95% CI) | verdict "
        "| real − mixed of `protocol` (95% CI) | subsets |",
        "|:--|--:|:--|--:|--:|--:|--:|--:|:--|--:|--:|",
    ]
    for _, point in tuned.iterrows():
        preset = point["preset"]
        if not isinstance(preset, str):
            cells = [f"`{point['classifier']}` (no preset)", *[""] * 8]
        else:
            mine = _point_rows(rows, point, preset)
            seeds, gap = _paired_seeds(mine), _gap(paired, point, preset)
            cells = [
                f"`{point['classifier']}` (`{preset}`)",
                _source_cell(mine, "real", seeds),
                _protocol_cell(rows, point, seeds, "real"),
                _source_cell(mine, "mixed", seeds),
                _protocol_cell(rows, point, seeds, "mixed"),
                "" if gap is None else gap_cell(gap),
                "" if gap is None else gap["verdict"],
                real_against_protocol_mixed(rows, point, preset),
                str(len(seeds)),
            ]
        lines.append(f"| {point['dataset']} | {point['n_per_class']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _tuned_part(rows: pd.DataFrame, paired: pd.DataFrame, point: pd.Series) -> str:
    preset, where = point["preset"], f"{point['dataset']} at {point['n_per_class']}"
    if not isinstance(preset, str):
        return f"{where}: `{point['classifier']}` has no preset in conf/registry.yaml `baselines`"
    mine = _point_rows(rows, point, preset)
    seeds, gap = _paired_seeds(mine), _gap(paired, point, preset)
    if gap is None or not seeds:
        reals = set(mine[mine["source"] == "real"]["subset_seed"])
        return f"{where} (`{preset}`): " + (
            f"real only so far, {_source_cell(mine, 'real', reals)}" if reals else "not run yet"
        )
    real, mixed = (_source_cell(mine, source, seeds) for source in ("real", "mixed"))
    numbers = f"{100 * gap['mean']:+.2f}"
    if gap["subsets"] >= 2:
        numbers += f" ({interval_text(gap['ci_low'], gap['ci_high'])})"
    text = (
        f"{where} (`{preset}`, {runs_text(len(seeds), len(seeds))}) real {real}, mixed {mixed}: "
        f"{numbers.replace('-', '−')}, {gap['verdict']}"
    )
    against = real_against_protocol_mixed(rows, point, preset) if preset != "protocol" else ""
    if against:
        text += f" (its real alone − `protocol`'s mixed: {against.replace('-', '−')})"
    return text


def tuned_answer(rows: pd.DataFrame, paired: pd.DataFrame, tuned: pd.DataFrame) -> str:
    """The README's answer against the tuned baseline: per dataset and size, the preset, its
    real-only and mixed accuracy and mixed - real (on the same subsets), worded by its
    interval."""
    parts = [_tuned_part(rows, paired, point) for _, point in tuned.iterrows()]
    if not parts:
        return ""
    return (
        "**Against a real-only CNN tuned per dataset and size** (where the search ran; chosen "
        "on held-out training images, [search](docs/results.md#the-real-only-baseline-per-"
        "dataset-and-size)), mixed − real in points: " + "; ".join(parts) + "."
    )
