"""docs/results/MANIFEST.yaml names, for every file under docs/results/, the command that
regenerates it and its producer: no file without an entry, no entry without a file, no command
naming a script or module that does not exist."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import REPO

RESULTS = REPO / "docs/results"
MANIFEST_PATH = RESULTS / "MANIFEST.yaml"
MANIFEST: dict[str, dict] = yaml.safe_load(MANIFEST_PATH.read_text())
SCRIPT = re.compile(r"(?<![\w/.])((?:[\w.-]+/)+[\w.-]+\.py)\b")
MODULE = re.compile(r"(?:^|\s)-m\s+([\w.]+)")
RESULTS_PATH = re.compile(r"docs/results/([^\s`'\"]+)")


def files() -> list[str]:
    return sorted(
        p.relative_to(RESULTS).as_posix()
        for p in RESULTS.rglob("*")
        if p.is_file() and p != MANIFEST_PATH
    )


def matches(glob: str) -> set[str]:
    return {p.relative_to(RESULTS).as_posix() for p in RESULTS.glob(glob) if p.is_file()}


def test_every_entry_says_how_and_by_what() -> None:
    assert MANIFEST, "an empty manifest"
    for glob, entry in MANIFEST.items():
        assert isinstance(entry, dict), glob
        assert {"command", "producer"} <= set(entry), f"{glob}: needs command and producer"
        assert set(entry) <= {"command", "producer", "note", "optional"}, glob
        assert not glob.startswith("/") and ".." not in glob, f"{glob}: relative to docs/results/"


def test_every_file_matches_an_entry() -> None:
    covered = set().union(*(matches(glob) for glob in MANIFEST))
    missing = [f for f in files() if f not in covered]
    assert not missing, f"files under docs/results/ with no entry in MANIFEST.yaml: {missing}"


def test_every_entry_matches_a_file() -> None:
    empty = [g for g, e in MANIFEST.items() if not e.get("optional") and not matches(g)]
    assert not empty, f"MANIFEST.yaml entries matching no file under docs/results/: {empty}"


def module_exists(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()


@pytest.mark.parametrize("glob", list(MANIFEST))
def test_every_command_names_a_tool_that_exists(glob: str) -> None:
    command = " ".join(str(MANIFEST[glob]["command"]).split())
    if command.startswith("none:"):
        assert len(command) > len("none: "), f"{glob}: say what made it and why it is kept"
        return
    scripts, modules = SCRIPT.findall(command), MODULE.findall(command)
    assert scripts or modules, f"{glob}: `{command}` names no script or module"
    assert all((REPO / s).is_file() for s in scripts), f"{glob}: no such script in `{command}`"
    assert all(map(module_exists, modules)), f"{glob}: no such module in `{command}`"
    # an output path it names lies in the entry's folder
    folder = glob.split("/")[0]
    outside = [p for p in RESULTS_PATH.findall(command) if p.split("/")[0] != folder]
    assert not outside, f"{glob}: `{command}` writes outside docs/results/{folder}/"
