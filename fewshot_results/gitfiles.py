"""Committed files at a git revision, and commands whose failure is the user's input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


class ReportError(RuntimeError):
    """Bad input: reported in one line, exit status 2."""


def run(*cmd: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReportError(f"`{' '.join(cmd)}` failed: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout


def git_blob(rev: str | None, path: Path | str) -> bytes | None:
    """A committed file's bytes at `rev` (the workspace's when `rev` is None); None if absent."""
    path = Path(path)
    if rev is None:
        return path.read_bytes() if path.is_file() else None
    result = subprocess.run(["git", "show", f"{rev}:{path.as_posix()}"], capture_output=True)
    return result.stdout if result.returncode == 0 else None


def git_file(rev: str | None, path: Path | str) -> str | None:
    """The same, as text."""
    blob = git_blob(rev, path)
    return None if blob is None else blob.decode()


def git_json(rev: str | None, path: Path | str) -> dict[str, Any]:
    text = git_file(rev, path)
    return json.loads(text) if text else {}


def short_commit(rev: str = "HEAD") -> str:
    """The abbreviated hash of `rev`."""
    return run("git", "rev-parse", "--short", rev).strip()
