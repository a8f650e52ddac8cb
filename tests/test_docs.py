"""The docs a user reads: short, and every link and anchor in them resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCS = sorted(
    [REPO / "README.md", *(REPO / "docs").rglob("*.md"), *(REPO / "research").rglob("*.md")]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, seen, fenced = set(), {}, False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"^#+\s+(.*)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # not inside code
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z]+:", t)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_and_anchor_resolves(doc: Path) -> None:
    broken = []
    for target in links(doc):
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no such heading")
    assert not broken, "\n".join(broken)


def test_the_readme_and_the_results_page_stay_short() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 200
    results = (REPO / "docs/results.md").read_text()
    assert len(results.splitlines()) <= 400 and "## Contents" in results


SOURCES = ("real", "synthetic", "mixed")
INTERVAL = re.compile(r"([+\-−]\d+\.\d\d) to ([+\-−]\d+\.\d\d)")


def test_every_interval_the_readme_and_results_page_type_comes_from_the_rows() -> None:
    """A verdict's 95% interval, typed in prose, is one the study computed from the committed
    rows (docs/results/study/study-paired.csv): rerunning the tabulation cannot leave it stale."""
    import pandas as pd

    paired = pd.read_csv(REPO / "docs/results/study/study-paired.csv")
    computed = {
        (f"{100 * low:+.2f}", f"{100 * high:+.2f}")
        for low, high in zip(paired["ci_low"], paired["ci_high"], strict=True)
    }
    typed = []
    for page in (REPO / "README.md", REPO / "docs/results.md"):
        prose = re.sub(r"<!-- (\S+) -->.*?<!-- /\1 -->", "", page.read_text(), flags=re.S)
        typed += [(low, high) for low, high in INTERVAL.findall(prose.replace("−", "-"))]
    assert typed, "no interval found: has the wording changed?"
    stale = [f"{low} to {high}" for low, high in typed if (low, high) not in computed]
    assert not stale, f"intervals not in study-paired.csv: {stale}"


def test_the_default_run_the_readme_quotes_is_the_committed_one() -> None:
    """The README's numbers for the default `make repro` are those of the committed metrics/,
    so rerunning the pipeline and committing its outputs cannot leave them stale unnoticed."""
    import json

    readme = (REPO / "README.md").read_text()
    quoted = re.search(r"real (\d+\.\d\d)%, synthetic (\d+\.\d\d)%,\s+mixed (\d+\.\d\d)%", readme)
    assert quoted, "the README no longer quotes the default run: has the wording changed?"
    metrics = {s: json.loads((REPO / f"metrics/evaluate/{s}.json").read_text()) for s in SOURCES}
    committed = [f"{100 * metrics[s]['accuracy']:.2f}" for s in SOURCES]
    assert list(quoted.groups()) == committed
