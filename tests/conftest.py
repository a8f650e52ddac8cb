"""Shared fixtures: small IDX datasets written by the tests themselves."""

from __future__ import annotations

import gzip
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from fewshot.data import SPLIT_FILES, sha256_file

REPO = Path(__file__).resolve().parents[1]


def load_script(name: str):
    """A command-line tool of scripts/ as a module, to test its argument handling (the tools
    are thin: everything else is tested in the packages they import)."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write unsigned bytes as IDX, the format of the MNIST files, to build small datasets."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.tobytes())


def tiny_split(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images a classifier can learn: class c lights up a band at rows 2c..2c+5, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(10, dtype=np.uint8), n_per_class)
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 * c : 2 * c + 6, 4:24] = 255
    return images, labels


def write_dataset(folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = True) -> Path:
    """Write the four IDX files (gzipped like MNIST's) and return a matching sha256 file."""
    folder.mkdir(parents=True, exist_ok=True)
    sums = []
    for split, n, seed in (("train", n_train, 1), ("test", n_test, 2)):
        for name, array in zip(SPLIT_FILES[split], tiny_split(n, seed), strict=True):
            plain = folder / name
            write_idx(plain, array)
            sums.append(f"{sha256_file(plain)}  {name}")
            if gz:
                with gzip.GzipFile(folder / f"{name}.gz", "wb", mtime=0) as f:
                    f.write(plain.read_bytes())
                plain.unlink()
    checksum_file = folder / "sums.sha256"
    checksum_file.write_text("\n".join(sums) + "\n")
    return checksum_file


@pytest.fixture
def tiny_source(tmp_path: Path) -> tuple[Path, Path]:
    """(folder of four .gz IDX files, their checksum file)."""
    folder = tmp_path / "source"
    return folder, write_dataset(folder)


@pytest.fixture(scope="session")
def tiny_results(tmp_path_factory) -> tuple[Path, dict, str]:
    """The tiny pipeline after one `dvc repro`, committed, with that run's output: built once
    per session; each test module works on its own copy (tests/repo.py: copy_repo)."""
    from tests.repo import commit, make_tiny_repo, sh

    repo, env = make_tiny_repo(tmp_path_factory.mktemp("tiny-results"))
    output = sh(repo, "dvc", "repro", env=env).stdout
    commit(repo, "tiny pipeline with results")
    return repo, env, output
