"""Atomic writes and safe checkpoint loading.

A stage killed half-way must never leave a file that looks complete: everything is written
to a temporary name in the same folder and renamed into place.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fewshot.errors import DataError

if TYPE_CHECKING:
    import torch


def _remove_stale_temporaries(path: Path) -> None:
    """Remove what a killed run left: temporaries are named `.<name>.<random>.tmp`.

    They are also listed in .dvcignore, so until then they never change a folder's hash.
    """
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
        _remove_stale_temporaries(path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
        _remove_stale_temporaries(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _on_cpu(value: Any) -> Any:
    """A state_dict entry on the CPU: a tensor, or a module's extra state (a dict of them)."""
    if isinstance(value, dict):
        return {k: _on_cpu(v) for k, v in value.items()}
    return value.detach().cpu()


def save_state(path: str | Path, module: torch.nn.Module) -> None:
    """Save a `state_dict` (tensors only) atomically and byte-for-byte reproducibly.

    Saving through a buffer keeps the temporary file's name out of the zip archive, so the same
    weights always give the same bytes (and the same DVC hash).
    """
    import torch  # here, not at the top: stages that train nothing start without it

    state = {k: _on_cpu(v) for k, v in module.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_state(path: str | Path, module: torch.nn.Module) -> torch.nn.Module:
    """Load a `state_dict` with `weights_only=True`: a checkpoint can never run code."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found (run the stage that trains it first)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
    except (RuntimeError, EOFError, KeyError, ValueError, pickle.UnpicklingError) as exc:
        raise DataError(f"{path}: not a checkpoint for {type(module).__name__} ({exc})") from None
    return module
