"""Reviewing a change as CI does: a fresh clone with no DVC cache and no remote.

The tiny pipeline is run and committed twice (base, then head with another n_per_class); the
report and the plots page are then built in a fresh `git clone`, which has no .dvc/cache, and
opened in headless Chromium with the network off.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from fewshot_results import browser as browser_check
from fewshot_results import plots_page, report, stale, stats
from tests.conftest import REPO
from tests.repo import commit, copy_repo, sh

pytestmark = pytest.mark.e2e
REPORT = (sys.executable, str(REPO / "scripts/report.py"))
PLOTS_PAGE = (sys.executable, str(REPO / "scripts/plots_page.py"))


def set_param(repo: Path, key: str, value: int) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def fresh_clone(tiny_results, tmp_path_factory) -> tuple[Path, dict]:
    """A fresh clone of a repository whose last two commits each hold a run's results."""
    root = tmp_path_factory.mktemp("review")
    repo, env = copy_repo(tiny_results[0], root / "repo"), tiny_results[1]  # the base results
    set_param(repo, "n_per_class", 4)
    sh(repo, "dvc", "repro", env=env)
    commit(repo, "head results: n_per_class 4")
    clone = root / "clone"
    sh(root, "git", "clone", "-q", str(repo), str(clone))
    assert not (clone / ".dvc/cache").exists() and not (clone / "data/raw").exists()
    return clone, env


def linked_images(markdown: str) -> list[str]:
    return re.findall(r"!\[[^]]*\]\(([^)]+)\)", markdown)


def test_report_works_on_a_fresh_clone_and_opens_with_the_results(fresh_clone) -> None:
    clone, env = fresh_clone
    result = sh(clone, *REPORT, "--rev", "HEAD~1", "--strict", env=env)
    text = (clone / "report/report.md").read_text()
    assert "Stale" not in text and "stale" not in result.stderr
    table = text[text.index("| result |") :].split("\n\n")[0]
    for row in ("real only", "synthetic only", "mixed", "mixed − real"):
        assert f"| {row} |" in table
    for row in ("label fidelity (higher better)", "recall (higher better)", "FID, judge"):
        assert f"| {row}" in table
    # Each accuracy with its 95% interval, and a change labelled against its noise.
    assert re.search(r"\| real only \| \d+\.\d\d% \(\d+\.\d–\d+\.\d\) \|", table)
    # The tiny config has no run-to-run spread measured: test-set noise, its limit printed.
    assert re.search(
        r"\| real only \|.*\| (within|\*\*beyond\*\*) test-set noise \(±\d+\.\d\d pt\) \|", table
    )
    assert re.search(r"^# Pipeline report: head \(this branch, [0-9a-f]{7,}\) vs base", text)
    # Everything else is collapsed below the table.
    assert text.index("| result |") < text.index("<details>")
    assert "| n_per_class " in text and "| 3 " in text and "| 4 " in text
    links = linked_images(text)
    assert len(links) >= 6
    for link in links:
        assert (clone / "report" / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", link


def test_stale_results_are_named_first_and_fail_the_strict_report(fresh_clone) -> None:
    clone, env = fresh_clone
    set_param(clone, "n_per_class", 3)  # edited, not rerun
    try:
        result = sh(clone, *REPORT, "--rev", "HEAD~1", "--strict", env=env, check=False)
        assert result.returncode == report.EXIT_STALE, result.stderr
        text = (clone / "report/report.md").read_text()
        assert text.index("Stale results") < text.index("| result |")
        for stage in ("subsample", "train_cgan", "evaluate_generator", "compare_sources"):
            assert f"`{stage}`" in text
        assert "param n_per_class" in text and "`train_judge`" not in text
    finally:
        sh(clone, "git", "checkout", "--", "params.yaml")


@pytest.mark.parametrize(
    ("rev", "message"),
    [
        ("nope", "'nope' is not a git revision"),
        ("EMPTY", "has no dvc.yaml"),
    ],
)
def test_bad_revisions_end_in_one_clear_line(fresh_clone, rev, message) -> None:
    clone, env = fresh_clone
    if rev == "EMPTY":  # a commit of the empty tree: a revision without the pipeline
        empty_tree = sh(clone, "git", "hash-object", "-t", "tree", "/dev/null").stdout.strip()
        rev = sh(clone, "git", "commit-tree", empty_tree, "-m", "empty", env=env).stdout.strip()
    result = sh(clone, *REPORT, "--rev", rev, env=env, check=False)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_workspace_without_results_ends_in_one_clear_line(fresh_clone) -> None:
    clone, env = fresh_clone
    metrics = clone / "metrics/evaluate/real.json"
    saved = metrics.read_bytes()
    metrics.unlink()
    try:
        result = sh(clone, *REPORT, "--rev", "HEAD~1", env=env, check=False)
    finally:
        metrics.write_bytes(saved)
    assert result.returncode == 2 and "run `dvc repro` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_stale_stages_count_code_and_params_but_not_missing_data() -> None:
    lock = {
        "stages": {
            "a": {"deps": [{"path": "src.py"}], "outs": [{"path": "data/a"}]},
            "b": {"deps": [{"path": "data/a"}], "outs": [{"path": "out/b.json"}]},
            "c": {"deps": [{"path": "other.py"}], "outs": [{"path": "out/c.json"}]},
        }
    }
    fresh_clone_status = {"b": [{"changed deps": {"data/a": "deleted"}}]}
    assert stale.stale_stages(fresh_clone_status, lock) == {}
    edited = {
        "a": [{"changed deps": {"src.py": "modified", "params.yaml": {"n": "modified"}}}],
        "b": [{"changed deps": {"data/a": "deleted"}}],
    }
    assert stale.stale_stages(edited, lock) == {
        "a": ["param n modified", "src.py modified"],
        "b": ["after a"],
    }


def test_wilson_interval_matches_its_formula_and_shrinks_with_more_images() -> None:
    low, high = stats.wilson(0.9, 10_000)
    assert low == pytest.approx(0.8940, abs=1e-4) and high == pytest.approx(0.9057, abs=1e-4)
    assert stats.wilson(0.9, 100)[1] - stats.wilson(0.9, 100)[0] > high - low
    assert stats.wilson(1.0, 50)[1] == pytest.approx(1.0)


def test_a_change_is_judged_against_the_larger_limit_which_it_prints() -> None:
    assert stats.change_verdict(0.010, 0.015, 0.002) == "within run-to-run spread (±1.50 pt)"
    assert stats.change_verdict(0.020, 0.015, 0.002) == "**beyond** run-to-run spread (±1.50 pt)"
    assert stats.change_verdict(0.001, None, 0.002) == "within test-set noise (±0.20 pt)"
    assert stats.change_verdict(0.003, None, 0.002).startswith("**beyond** test-set noise")
    # A spread measured smaller than test-set noise cannot call a noise-sized change real.
    assert stats.change_verdict(0.003, 0.001, 0.004) == "within test-set noise (±0.40 pt)"
    assert (
        stats.change_verdict(12.0, 30.0, None, points=False) == "within run-to-run spread (±30.0)"
    )
    assert stats.change_verdict(0.5, None, None) == ""


def test_the_spread_limit_is_a_difference_of_two_runs_with_the_sd_from_few_runs() -> None:
    spread = stats.Spread("x", runs=3, subsets=3, machines=["AMX CPU"], sd={"real": 0.002},
                           across_machines=None)  # fmt: skip
    assert spread.limit("real") == pytest.approx(4.303 * 2**0.5 * 0.002, rel=1e-3)  # t(2)
    many = stats.Spread("x", 31, 31, ["AMX CPU"], {"real": 0.002}, None)
    assert many.limit("real") < spread.limit("real") / 2  # t(30) is near 1.96
    assert spread.limit("synthetic") is None


def test_charts_name_base_and_head_and_draw_base_first() -> None:
    spec = {"data": {"values": [{"rev": "workspace", "v": 1}, {"rev": "main", "v": 2}]}}
    values = plots_page.base_then_head(spec, "main")["data"]["values"]
    assert [(v["rev"], v["v"]) for v in values] == [("base (main)", 2), ("head", 1)]


def test_a_single_revision_chart_keeps_its_marks_but_not_the_revisions_labels() -> None:
    spec = {
        "data": {"values": [{"rev": "workspace", "field": "rev"}]},
        "encoding": {
            "y": {"field": "rev", "type": "nominal"},
            "color": {"field": "source", "title": "trained on"},
            "strokeDash": {"field": "rev"},
            "yOffset": {"field": "rev"},
        },
        "facet": {"column": {"field": "rev"}},
    }
    single = plots_page.one_revision(spec)
    assert (
        single["data"] == spec["data"] and single["encoding"]["color"] == spec["encoding"]["color"]
    )
    assert single["encoding"]["y"] == {
        "field": "rev",
        "type": "nominal",
        "title": None,
        "axis": None,
    }
    assert single["encoding"]["strokeDash"]["legend"] is None
    assert single["encoding"]["yOffset"] == {"field": "rev"}
    assert single["facet"]["column"]["header"] is None


def test_confusion_matrices_are_normalised_over_the_actual_class() -> None:
    # DVC's confusion_normalized divides each cell by the total of its y value.
    plots = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    definitions = [next(iter(p.values())) for p in plots if isinstance(p, dict)]
    confusion = [d for d in definitions if d.get("template") == "confusion_normalized"]
    assert len(confusion) == 3
    assert all(list(c["y"].values()) == ["actual"] and c["x"] == "predicted" for c in confusion)


def test_images_per_source_keep_the_pipelines_order_and_say_what_they_show() -> None:
    folder = "plots/evaluate/misclassified"
    ids = [f"{folder}/{source}.png" for source in ("mixed", "real", "synthetic")]
    assert plots_page.shown(ids, [], [folder]) == [ids[1], ids[2], ids[0]]
    assert plots_page.image_caption(ids[1]) == "misclassified test images, trained on real"


def test_a_diff_with_only_its_header_says_nothing_changed() -> None:
    header = "| Path | Param | HEAD | workspace | Change |\n|---|---|---|---|---|\n"
    assert report.diff_table(header, "No param changed.") == "No param changed."
    row = header + "| params.yaml | n_per_class | 3 | 4 | 1 |\n"
    assert report.diff_table(row, "No param changed.") == row.strip()
    assert report.diff_table("", "No metric changed.") == "No metric changed."


# --- in a real browser ---------------------------------------------------------------------

needs_browser = pytest.mark.skipif(
    browser_check.chromium_path() is None,
    reason="no Chromium: .ci/run installs Debian's `chromium`; set $CHROMIUM to use another",
)


@needs_browser
def test_plots_page_draws_every_chart_and_image_offline(fresh_clone) -> None:
    clone, env = fresh_clone
    sh(clone, *PLOTS_PAGE, "--rev", "HEAD~1", env=env)
    seen = browser_check.inspect(clone / "dvc_plots/index.html")
    assert seen["console_errors"] == [] and seen["blocked_requests"] == []
    assert len(seen["charts"]) >= 10
    for chart in seen["charts"]:
        assert chart["width"] > 0 and chart["marks"] > 20, chart
    assert seen["images"] and all(i["naturalWidth"] > 0 for i in seen["images"])
    assert seen["headings"][1:] == list(plots_page.SECTIONS)
    html = (clone / "dvc_plots/index.html").read_text()
    assert "dvclive/train_cgan/plots/metrics/loss_d.tsv" not in html  # no raw duplicates
    assert ">y<" not in html and '"title": "y"' not in html
    assert any("base (HEAD~1)" in chart["labels"] for chart in seen["charts"])

    # One revision (`make plots`): nothing is named after DVC's "workspace".
    sh(clone, *PLOTS_PAGE, env=env)
    single = browser_check.inspect(clone / "dvc_plots/index.html")
    assert single["console_errors"] == [] and len(single["charts"]) == len(seen["charts"])
    labels = [label for chart in single["charts"] for label in chart["labels"]]
    assert "workspace" not in labels and "predicted" in labels and "actual" in labels


@needs_browser
def test_dvc_plots_show_renders_offline_with_the_vendored_scripts(fresh_clone) -> None:
    """DVC's own command, through .dvc/plots-page.html (`plots.html_template`), no CDN."""
    clone, env = fresh_clone
    sh(clone, "dvc", "plots", "show", env=env)
    html = (clone / "dvc_plots/index.html").read_text()
    assert "https://" not in html.split("<body>")[0]  # no script from a CDN
    assert "../fewshot_results/vendor/vega.min.js" in html
    views = html.count("vegaEmbed(")
    seen = browser_check.inspect(clone / "dvc_plots/index.html", vega_views=views)
    assert views >= 10 and seen["vega_views"] >= views
    assert seen["console_errors"] == [] and seen["blocked_requests"] == []
    assert seen["images"] and all(i["naturalWidth"] > 0 for i in seen["images"])


@needs_browser
def test_report_renders_as_a_github_comment_within_880_px(fresh_clone) -> None:
    clone, env = fresh_clone
    sh(clone, *REPORT, "--rev", "HEAD~1", env=env)
    seen = browser_check.inspect(clone / "report/report.md", width=880)
    assert seen["console_errors"] == [] and seen["blocked_requests"] == []
    assert len(seen["images"]) >= 6 and all(i["naturalWidth"] > 0 for i in seen["images"])
    assert seen["tables"][0] <= 880 and seen["scrollWidth"] <= 880
