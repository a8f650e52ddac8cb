"""Markdown written from the rows: the tables of the study, and the generated blocks of the
README and the results page (between `<!-- name -->` markers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fewshot_results.cells import accuracy_cell, gap_cell, runs_text
from fewshot_results.machines import machine_name
from fewshot_results.registry import baselines, curves, headline, preset_description, presets
from fewshot_results.search_grid import ROWS_DIR, candidate_order
from fewshot_results.stats import interval_text, search_summary, summarise
from fewshot_results.tuned import SEARCH_GRID, tuned_answer, tuned_points, tuned_table


def paired_markdown(paired: pd.DataFrame) -> str:
    """The paired table in points, as the results page shows it."""
    shown = paired.assign(
        mean=(100 * paired["mean"]).map("{:+.2f}".format),
        interval=[
            interval_text(low, high)
            for low, high in zip(paired["ci_low"], paired["ci_high"], strict=True)
        ],
    )
    columns = ["dataset", "config", "n_per_class", "comparison", "subsets", "mean", "interval"]
    return shown[[*columns, "verdict", "per_subset"]].to_markdown(
        index=False, disable_numparse=True
    )


RESULTS_PAGE = Path("docs/results.md")
SEARCH_ROWS = ROWS_DIR / f"{SEARCH_GRID}.csv"


# Pages whose tables the tabulation writes (between <!-- table:... --> markers).
GENERATED_PAGES = (RESULTS_PAGE, Path("README.md"))


def headline_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows the preset table is made of: MNIST at 100 real images per class."""
    return rows[(rows["dataset"] == "mnist") & (rows["n_per_class"] == 100)]


def preset_table(rows: pd.DataFrame, paired: pd.DataFrame, names: tuple[str, ...]) -> str:
    """One row per preset in `names` with rows on MNIST at 100 per class: each source's mean
    +- sd over its runs, mixed - real with its 95% interval over subsets, the runs, machines
    and command (add -S data.subset=random -S seed=K for subset K)."""
    lines = [
        "| preset | real only | synthetic only | mixed | mixed − real (95% CI) | runs | machines "
        "| command |",
        "|:--|--:|--:|--:|--:|--:|:--|:--|",
    ]
    at = headline_rows(rows)
    for preset in names:
        mine = at[at["config"] == preset]
        if mine.empty:
            continue
        cells = []
        for source in ("real", "synthetic", "mixed"):
            acc = 100 * mine[mine["source"] == source]["test_accuracy"]
            cells.append(accuracy_cell(acc.mean(), acc.std(), len(acc)))
        gap = paired[
            (paired["dataset"] == "mnist")
            & (paired["config"] == preset)
            & (paired["n_per_class"] == 100)
            & (paired["comparison"] == "mixed - real")
        ].iloc[0]
        cells.append(gap_cell(gap))
        runs = mine[mine["source"] == "real"]
        cells.append(runs_text(runs["subset_seed"].nunique(), len(runs)))
        cells.append(", ".join(sorted({machine_name(m) for m in runs["machine"]})))
        cells.append(f"`dvc exp run -S experiment={preset}`")
        lines.append(f"| `{preset}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def unmeasured_presets(rows: pd.DataFrame) -> str:
    """The presets with no rows on MNIST at 100 per class (so no row in the preset table),
    each with its description and the rows it has elsewhere."""
    measured = set(headline_rows(rows)["config"])
    items = []
    for preset in presets():
        if preset in measured:
            continue
        elsewhere = rows[rows["config"] == preset][["dataset", "n_per_class"]].drop_duplicates()
        where = ", ".join(f"{d} at {n} per class" for d, n in elsewhere.itertuples(index=False))
        rows_note = f" Study rows: {where}." if where else " No study rows."
        items.append(f"- `{preset}`: {preset_description(preset)}{rows_note}")
    return "\n".join(items)


def verdict_table(paired: pd.DataFrame) -> str:
    """Every mixed - real the README states, worded by its interval: the headline presets',
    the tuned baselines' and Fashion-MNIST's."""
    named = (*headline(), *baselines().values())
    shown = paired[
        (paired["comparison"] == "mixed - real")
        & (paired["config"].isin(named) | (paired["dataset"] == "fashion-mnist"))
    ].sort_values(["dataset", "config", "n_per_class"])
    lines = [
        "| dataset | configuration | n per class | subsets | mixed − real | 95% CI | verdict |",
        "|:--|:--|--:|--:|--:|--:|:--|",
    ]
    for _, r in shown.iterrows():
        name = f"`{r['config']}`"
        interval = interval_text(r["ci_low"], r["ci_high"])
        lines.append(
            f"| {r['dataset']} | {name} | {r['n_per_class']} | {r['subsets']} | "
            f"{100 * r['mean']:+.2f} | {interval} | {r['verdict']} |"
        )
    return "\n".join(lines)


def replace_block(text: str, name: str, content: str) -> str:
    """`text` with what stands between `<!-- name -->` and `<!-- /name -->` replaced."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{content}\n{end}{rest.split(end, 1)[1]}"


def curve_table(table: pd.DataFrame, paired: pd.DataFrame, dataset: str = "mnist") -> str:
    """Per size and curve preset: each source's mean +- sd over its runs and mixed - real with
    its 95% interval over subsets (the figure `study-<dataset>-curve.png` in numbers)."""
    lines = [
        "| n per class | classifier (preset) | real only | synthetic only | mixed "
        "| mixed − real (95% CI) | subsets |",
        "|--:|:--|--:|--:|--:|--:|--:|",
    ]
    mine = table[(table["dataset"] == dataset) & table["config"].isin(curves())]
    gaps = paired[(paired["dataset"] == dataset) & (paired["comparison"] == "mixed - real")]
    for (n, preset), point in mine.groupby(["n_per_class", "config"]):
        by_source = point.set_index("source")
        cells = []
        for source in ("real", "synthetic", "mixed"):
            if source not in by_source.index:
                cells.append("")
                continue
            r = by_source.loc[source]
            cells.append(accuracy_cell(100 * r["mean"], 100 * r["std"], r["runs"]))
        gap = gaps[(gaps["config"] == preset) & (gaps["n_per_class"] == n)]
        if gap.empty:
            cells += ["", ""]
        else:
            cells += [gap_cell(gap.iloc[0]), str(gap.iloc[0]["subsets"])]
        lines.append(f"| {n} | {curves()[preset]} (`{preset}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_answer(paired: pd.DataFrame, dataset: str = "mnist") -> str:
    """The README's answer to "from how many real images per class on do generated images stop
    paying?", worded from each curve preset's mixed - real intervals: every size's gap, in
    bold where its 95% interval is above zero, and the size from which none is."""
    gaps = paired[(paired["dataset"] == dataset) & (paired["comparison"] == "mixed - real")]
    parts = []
    for preset, label in curves().items():
        mine = gaps[gaps["config"] == preset].sort_values("n_per_class")
        if mine.empty:
            continue
        cells, paying = [], []
        for _, r in mine.iterrows():
            text = f"{100 * r['mean']:+.2f} at {r['n_per_class']}".replace("-", "−")
            if r["subsets"] < 2:
                text += " (one subset)"
            elif r["ci_low"] > 0:
                paying.append(int(r["n_per_class"]))
                text = f"**{text}**"
            cells.append(text)
        if paying:
            after = [int(n) for n in mine["n_per_class"] if n > max(paying)]
            verdict = f"a gain shown at {' and '.join(map(str, paying))}"
            verdict += f", none from {after[0]} on" if after else ""
        elif len(mine) == 1:
            verdict = "no gain shown at the one size measured"
        else:
            verdict = "no gain shown at any size"
        parts.append(f"the {label} (`{preset}`) {', '.join(cells)}: {verdict}")
    if not parts:
        return ""
    return (
        "**Where generated images stop paying**, mixed − real in points by real images per "
        "class (bold: 95% interval above zero; [curve](docs/results.md#against-the-number-of-"
        "real-images)): " + "; ".join(parts) + "."
    )


def search_table(search_rows: pd.DataFrame) -> str:
    """The baseline search (docs/results/search/): per dataset, size and candidate classifier,
    its accuracy on held-out training images (mean +- sd over subsets), in bold where it is
    the one chosen so far."""
    lines = [
        "| dataset | n per class | classifier | held-out accuracy | subsets |",
        "|:--|--:|:--|--:|--:|",
    ]
    for r in search_summary(search_rows, candidate_order(SEARCH_GRID)).itertuples():
        cell = accuracy_cell(100 * r.mean, 100 * r.std, r.count)
        name = f"**`{r.classifier}`**" if r.chosen else f"`{r.classifier}`"
        lines.append(f"| {r.dataset} | {r.n_per_class} | {name} | {cell} | {r.count} |")
    return "\n".join(lines)


def results_page(rows: pd.DataFrame, paired: pd.DataFrame, page: Path = RESULTS_PAGE) -> str:
    """The results page with its generated tables brought up to date with the rows."""
    text = page.read_text()
    text = replace_block(text, "table:presets", preset_table(rows, paired, headline()))
    others = tuple(name for name in presets() if name not in headline())
    text = replace_block(text, "table:all-presets", preset_table(rows, paired, headline() + others))
    text = replace_block(text, "list:unmeasured-presets", unmeasured_presets(rows))
    text = replace_block(text, "table:curve", curve_table(summarise(rows), paired))
    text = replace_block(text, "answer:curve", curve_answer(paired))
    if SEARCH_ROWS.is_file():
        search_rows = pd.read_csv(SEARCH_ROWS)
        tuned = tuned_points(search_rows)
        text = replace_block(text, "table:search", search_table(search_rows))
        text = replace_block(text, "table:tuned", tuned_table(rows, paired, tuned))
        text = replace_block(text, "answer:tuned", tuned_answer(rows, paired, tuned))
    return replace_block(text, "table:verdicts", verdict_table(paired))


STUDY_TABLE_HEADER = """# The study: every configuration

Generated from the rows beside this file by `python scripts/study.py --tabulate-only`
(`make pages` writes the README's and the results page's tables from the same rows).
Accuracy on the real test set as a fraction (0.9885 is 98.85%): `mean`, `std`, `min` and `max`
over `runs` (on `subsets` distinct subsets; for the retired runs on the first-100 subset,
`conf/registry.yaml` says so, distinct seeds); `mean_tta` averages 9 shifted views of
each test image, over the `runs_tta` runs that recorded it; `mean_single` is an ensemble's
first member alone (the classifier itself where there is no ensemble).

"""
