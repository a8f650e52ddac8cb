"""The real-only baseline search: grids checked before any work, points run once (resumable
across lanes), scored on held-out training images only, and a choice per dataset and size."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fewshot_results import search
from fewshot_results.search import append_row, done_keys, read_rows
from fewshot_results.search_grid import Point, candidate_order, load_search
from fewshot_results.stats import search_summary
from tests.conftest import REPO, tiny_split


def test_the_committed_grid_names_classifier_presets_and_runs_first_subsets_first() -> None:
    points = load_search("baseline", REPO / "conf/study")
    assert points[0] == Point(1, "fashion-mnist", 100, "strong") and points[-1].subset_seed == 2
    firsts = [p for p in points if p.subset_seed == 1]
    assert points[: len(firsts)] == firsts  # every candidate's first subset before any second
    assert {p.dataset for p in points} == {"mnist", "fashion-mnist"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("presets: [recipe]\n", "expected a `search:` list"),
        (
            "search:\n  - {dataset: mnist, n_per_class: [10], seeds: [1]}\n",
            "missing \\['classifiers'\\]",
        ),
        (
            "search:\n  - {dataset: mnist, n_per_class: [10], seeds: [1], classifiers: [nope]}\n",
            "no classifier preset conf/classifier/nope.yaml",
        ),
    ],
)
def test_a_bad_grid_ends_in_one_line_naming_the_file(tmp_path: Path, text: str, message: str):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(SystemExit, match=message):
        load_search("bad", tmp_path)
    with pytest.raises(SystemExit, match="no .*missing.yaml"):
        load_search("missing", tmp_path)


def test_a_point_trains_on_its_subset_and_scores_on_held_out_images_only() -> None:
    images, labels = tiny_split(20, seed=1)
    point = Point(subset_seed=1, dataset="mnist", n_per_class=3, classifier="mlp")
    row = search.run_point(point, images, labels, "abc1234", held_out_per_class=5)
    assert row["validation_images"] == 50 and 0.0 <= row["validation_accuracy"] <= 1.0
    assert row["classifier"] == "mlp" and row["commit"] == "abc1234" and row["train_s"] >= 0
    assert set(row) == set(search.COLUMNS)


def test_rows_append_under_a_lock_and_finished_points_are_skipped(tmp_path, monkeypatch) -> None:
    out = tmp_path / "search.csv"
    points = [Point(1, "mnist", 10, "strong"), Point(1, "mnist", 10, "strong-mild")]
    ran = []

    def fake(point: Point, *_args) -> dict:
        ran.append(point)
        return {**dict(zip(search.COLUMNS, [point.dataset, point.n_per_class, point.classifier,
                                            point.subset_seed, 0.9, 5000, 10, 1.0, 1, "cpu",
                                            "abc"], strict=True))}  # fmt: skip

    monkeypatch.setattr(search, "run_point", fake)
    monkeypatch.setattr(search, "train_split", lambda dataset: (None, None))
    append_row(out, fake(points[0]))  # another lane finished the first
    search.run_search(points, out)
    assert ran == [points[0], points[1]]  # the first only by the lane above
    assert done_keys(read_rows(out)) == {p.key for p in points}
    assert len(read_rows(out)) == 2


def summary_rows(points: list[tuple]) -> pd.DataFrame:
    rows = pd.DataFrame(
        points,
        columns=["dataset", "n_per_class", "classifier", "subset_seed", "validation_accuracy"],
    )
    return rows.assign(validation_images=5000)


def test_the_summary_chooses_on_the_subsets_every_candidate_ran_on() -> None:
    rows = summary_rows(
        [
            ("mnist", 10, "strong", 1, 0.94),
            ("mnist", 10, "strong", 2, 0.95),
            ("mnist", 10, "strong-mild", 1, 0.96),
            ("mnist", 10, "strong-mild", 2, 0.955),
            ("mnist", 10, "strong-mild-short", 1, 0.955),  # on subset 1 only
            ("mnist", 20, "strong", 1, 0.97),
        ]
    )
    table = search_summary(rows, ["strong", "strong-mild", "strong-mild-short"])
    # on subset 1, the one all three share: strong-mild 0.96 beats short's 0.955 (whose mean
    # over its one subset is above strong-mild's 0.9575 over two)
    assert table.loc[table["chosen"], "classifier"].tolist() == ["strong-mild", "strong"]
    assert table.set_index("classifier").loc["strong-mild", "count"] == 2


def test_a_lead_within_one_standard_error_goes_to_the_candidate_the_grid_lists_first() -> None:
    # margin at 0.95 over 5,000 held-out images: sqrt(0.95 * 0.05 / 5000) = 0.0031
    rows = summary_rows(
        [
            ("mnist", 10, "strong", 1, 0.9412),
            ("mnist", 10, "strong-mild", 1, 0.9498),
            ("mnist", 10, "strong-mild-decay", 1, 0.9504),  # +0.0006: within the margin
            ("mnist", 20, "strong", 1, 0.9618),
            ("mnist", 20, "strong-mild", 1, 0.9686),  # +0.0068: beyond it
        ]
    )
    order = ["strong", "strong-mild", "strong-mild-decay"]
    table = search_summary(rows, order)
    assert table.loc[table["chosen"], "classifier"].tolist() == ["strong-mild", "strong-mild"]
    assert table["margin"].iloc[0] == pytest.approx((0.9504 * 0.0496 / 5000) ** 0.5)
    # listed the other way round, the lead within the margin goes to decay
    reverse = search_summary(rows, order[::-1])
    assert reverse.loc[reverse["chosen"], "classifier"].tolist()[0] == "strong-mild-decay"
    # a point with no score yet takes no part
    missing = pd.concat([rows, rows.iloc[[0]].assign(subset_seed=2, validation_accuracy=None)])
    assert search_summary(missing, order)["chosen"].sum() == 2


def test_the_committed_grid_lists_each_candidate_after_the_preset_it_changes() -> None:
    import yaml

    order = candidate_order("baseline", REPO / "conf/study")
    assert order[0] == "strong"
    for name in order[1:]:
        text = (REPO / "conf/classifier" / f"{name}.yaml").read_text()
        parent = next(d for d in yaml.safe_load(text)["defaults"] if d != "_self_")
        assert parent in order and order.index(parent) < order.index(name), name


def test_the_command_line_runs_part_of_a_grid_or_names_what_matched_nothing(
    monkeypatch, capsys
) -> None:
    from tests.conftest import load_script

    main = load_script("search").main
    monkeypatch.chdir(REPO)
    argv = ["search.py", "--datasets", "mnist", "--n-per-class", "10", "--seeds", "2", "--plan"]
    monkeypatch.setattr("sys.argv", argv)
    main()
    planned = capsys.readouterr().out.splitlines()
    assert len(planned) == 4 and all(
        "seed=2, dataset='mnist', n_per_class=10" in p for p in planned
    )
    monkeypatch.setattr("sys.argv", ["search.py", "--n-per-class", "7", "--plan"])
    with pytest.raises(SystemExit):
        main()
    assert "no point of conf/study/baseline.yaml matches" in capsys.readouterr().err
