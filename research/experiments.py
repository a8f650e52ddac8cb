"""Reading what DVC experiments committed, from their git refs, without touching the
workspace. Used by hand-run scripts only (no stage imports it)."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import numpy as np
import yaml


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


def cached(lock: dict, stage: str, path: Path, cache: Path) -> Path:
    """The file in DVC cache `cache` of output `path` of `stage` in a dvc.lock (inside a
    directory output too)."""
    root = cache / "files/md5"
    for out in lock["stages"][stage]["outs"]:
        md5, parent = out["md5"], Path(out["path"])
        if parent == path:
            return root / md5[:2] / md5[2:]
        if md5.endswith(".dir") and parent in path.parents:
            return cached_dir(lock, stage, parent, cache)[path.relative_to(parent).as_posix()]
    raise SystemExit(f"error: {stage} has no output {path} in the experiment's dvc.lock")


def cached_dir(lock: dict, stage: str, path: Path, cache: Path) -> dict[str, Path]:
    """Every file of directory output `path` of `stage` in a dvc.lock: its path inside the
    directory -> the file in DVC cache `cache`."""
    root = cache / "files/md5"
    for out in lock["stages"][stage]["outs"]:
        if Path(out["path"]) == path and out["md5"].endswith(".dir"):
            md5 = out["md5"]
            listing = json.loads((root / md5[:2] / md5[2:]).read_text())
            return {e["relpath"]: root / e["md5"][:2] / e["md5"][2:] for e in listing}
    raise SystemExit(f"error: {stage} has no directory output {path} in the experiment's dvc.lock")


@functools.cache
def dvc_cache() -> Path:
    """This repository's DVC cache directory (`dvc cache dir`)."""
    out = subprocess.run(["dvc", "cache", "dir"], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


# Params keys added after experiments were committed, at the value those experiments ran with
# (each its default in params.yaml: a new key's default keeps the old behaviour).
ADDED_KEYS = {
    "cgan": {"coverage_weight": 0.0, "coverage_every": 500},
    "generate": {"noise_scale": 1.0},
    "evaluate": {"tta_shift": 1},
}


def with_added_keys(params: dict) -> dict:
    """`params` with every key added since (ADDED_KEYS) at the value it implicitly had."""
    for section, keys in ADDED_KEYS.items():
        params[section] = {**keys, **params[section]}
    return params


def experiment_lock(name: str) -> tuple[dict, dict]:
    """Experiment `name`'s params (with keys added since, `with_added_keys`) and dvc.lock, as
    committed in its ref."""
    ref = experiment_ref(name)
    params = with_added_keys(yaml.safe_load(committed(ref, "params.yaml")))
    return params, yaml.safe_load(committed(ref, "dvc.lock"))


def experiment_files(name: str, outputs: list[tuple[str, Path]]) -> tuple[dict, list[Path]]:
    """Experiment `name`'s params and the cached files of its `(stage, path)` outputs, without
    touching the workspace (`dvc exp apply` would)."""
    params, lock = experiment_lock(name)
    cache = dvc_cache()
    files = [cached(lock, stage, path, cache) for stage, path in outputs]
    for file in files:
        if not file.exists():
            raise SystemExit(f"error: {name}'s {file} is not in the DVC cache; `dvc pull` it")
    return params, files


def marked_positions(labels: np.ndarray, cls: int, marked: list[int], flag: str) -> list[int]:
    """`marked` (positions among class `cls`'s images of a subset, a style marked by eye),
    checked and sorted without repeats; exits naming `flag` (the class option) when the class
    is absent or a position is out of range."""
    size = int((labels == cls).sum())
    if not size:
        raise SystemExit(f"error: {flag} {cls}: the subset has no images of that class")
    bad = [i for i in marked if not 0 <= i < size]
    if bad:
        raise SystemExit(
            f"error: --marked {bad}: expected positions 0-{size - 1} among the {size} images "
            f"of {flag} {cls}"
        )
    return sorted(set(marked))
