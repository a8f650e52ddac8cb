"""Reading what DVC experiments committed, from their git refs, without touching the
workspace. Used by hand-run scripts only (no stage imports it)."""

from __future__ import annotations

import subprocess


def experiment_ref(name: str) -> str:
    """The git ref DVC keeps experiment `name` under (refs/exps/<baseline>/<name>)."""
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    found = [ref for ref in refs if ref.rsplit("/", 1)[-1] == name]
    if not found:
        raise SystemExit(
            f"error: no experiment named {name!r} in this repository (`dvc exp list -A`)"
        )
    return found[-1]


def committed(ref: str, path: str) -> str:
    """The text of `path` as committed in `ref`."""
    return subprocess.run(
        ["git", "show", f"{ref}:{path}"], check=True, capture_output=True, text=True
    ).stdout
