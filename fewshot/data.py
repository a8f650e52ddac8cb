"""Reading, verifying and shaping the datasets with numpy. torchvision is imported only where
it is needed (a download, an ImageFolder), so the data stages start fast."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fewshot.errors import DataError

IMAGE_SHAPE = (28, 28)
N_CLASSES = 10
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_FILES = tuple(name for pair in SPLIT_FILES.values() for name in pair)


@dataclass(frozen=True)
class DatasetSource:
    env_var: str  # folder with the four IDX .gz files, for offline use
    default_dir: str | None  # a well-known local copy, used when env_var is unset
    torchvision_class: str  # used to download when no local copy exists


SOURCES = {
    "mnist": DatasetSource("MNIST_DIR", None, "MNIST"),
    "fashion-mnist": DatasetSource(
        "FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist", "FashionMNIST"
    ),
}


# --- IDX format --------------------------------------------------------------------------


def read_idx(path: str | Path) -> np.ndarray:
    """Read an uncompressed IDX file of unsigned bytes (the only type MNIST uses)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    if len(data) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or ndim not in (1, 3):
        raise DataError(
            f"{path}: bad IDX magic {data[:4].hex()}: expected 00000801 (labels) "
            "or 00000803 (images) of unsigned bytes"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise DataError(
            f"{path}: size {len(data)} bytes does not match its header shape {shape} "
            f"({expected} bytes expected); the file is truncated or corrupt"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


# --- checksums ---------------------------------------------------------------------------


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_checksums(path: str | Path) -> dict[str, str]:
    """Parse a `sha256sum`-style file: '<hex>  <name>' per line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checksum file not found")
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name.lstrip("*")] = digest.lower()
    missing = sorted(set(ALL_FILES) - set(sums))
    if missing:
        raise DataError(f"{path}: no checksum for {', '.join(missing)}")
    return sums


def verify_file(path: Path, sums: dict[str, str]) -> None:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    actual = sha256_file(path)
    if actual != sums[path.name]:
        raise DataError(
            f"{path}: SHA-256 {actual} does not match the expected {sums[path.name]}; "
            "the file is corrupt or from another dataset"
        )


# --- fetching ----------------------------------------------------------------------------


def local_source_dir(dataset: str) -> Path | None:
    """The folder to copy the dataset from, or None to download it."""
    source = SOURCES[dataset]
    configured = os.environ.get(source.env_var)
    if configured:
        folder = Path(configured)
        if not folder.is_dir():
            raise DataError(f"{source.env_var}={configured}: not a directory")
        return folder
    if source.default_dir and Path(source.default_dir).is_dir():
        return Path(source.default_dir)
    return None


def _decompress_into(src_dir: Path, dest: Path) -> None:
    for name in ALL_FILES:
        gz, plain = src_dir / f"{name}.gz", src_dir / name
        if gz.is_file():
            try:
                with gzip.open(gz, "rb") as fin, open(dest / name, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            except (OSError, EOFError, zlib.error) as exc:
                raise DataError(f"{gz}: cannot decompress ({exc}); the file is corrupt") from None
        elif plain.is_file():
            shutil.copyfile(plain, dest / name)
        else:
            raise DataError(f"{gz}: file not found (nor an uncompressed {name})")


def _download_into(dataset: str, dest: Path) -> None:
    import torchvision.datasets

    cls = getattr(torchvision.datasets, SOURCES[dataset].torchvision_class)
    root = dest / "download"
    try:
        for train in (True, False):
            cls(root=str(root), train=train, download=True)
    except Exception as exc:  # network failures come in many types
        env = SOURCES[dataset].env_var
        raise DataError(
            f"downloading {dataset} with torchvision failed ({exc}). Offline, set {env} "
            "to a folder holding the four IDX .gz files"
        ) from None
    _decompress_into(root / cls.__name__ / "raw", dest)
    shutil.rmtree(root)


def fetch_dataset(dataset: str, out_dir: Path, checksum_file: Path) -> str:
    """Put the four verified, uncompressed IDX files in `out_dir`; return where they came from.

    Files land in a temporary folder first, so a failure never leaves a half-filled `out_dir`.
    """
    sums = read_checksums(checksum_file)
    local = local_source_dir(dataset)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".fetch-") as tmp:
        tmp_dir = Path(tmp)
        if local is not None:
            _decompress_into(local, tmp_dir)
        else:
            _download_into(dataset, tmp_dir)
        for name in ALL_FILES:
            verify_file(tmp_dir / name, sums)
        for split in SPLIT_FILES:
            _check_split(*_read_split_files(tmp_dir, split), tmp_dir, split)
        staged = tmp_dir / "verified"
        staged.mkdir()
        for name in ALL_FILES:
            (tmp_dir / name).rename(staged / name)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staged.rename(out_dir)
    return str(local) if local else "torchvision download"


# --- splits ------------------------------------------------------------------------------


def _read_split_files(raw_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = SPLIT_FILES[split]
    return read_idx(raw_dir / images_name), read_idx(raw_dir / labels_name)


def _check_split(images: np.ndarray, labels: np.ndarray, raw_dir: Path, split: str) -> None:
    images_path, labels_path = (raw_dir / name for name in SPLIT_FILES[split])
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{images_path}: expected images of shape (N, 28, 28), got {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected a 1-D label file, got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    if labels.size and labels.max() >= N_CLASSES:
        bad = int(labels.max())
        raise DataError(f"{labels_path}: label {bad} is outside 0-{N_CLASSES - 1}")


def load_split(
    raw_dir: str | Path, split: str, checksum_file: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of one split, checked for consistency.

    With `checksum_file`, the files are first verified against it: evaluation uses this to
    prove it reads the real test split and nothing else.
    """
    raw_dir = Path(raw_dir)
    if checksum_file is not None:
        sums = read_checksums(checksum_file)
        for name in SPLIT_FILES[split]:
            verify_file(raw_dir / name, sums)
    images, labels = _read_split_files(raw_dir, split)
    _check_split(images, labels, raw_dir, split)
    return images, labels.astype(np.int64)


# --- the real training subset ------------------------------------------------------------


def select_subset(labels: np.ndarray, n_per_class: int, strategy: str, seed: int) -> np.ndarray:
    """Indices of `n_per_class` training images per class, grouped by class.

    `first` keeps the first N of each class in file order (the recipe); `random` draws
    N per class without replacement from a generator seeded with `seed`.
    """
    counts = np.bincount(labels, minlength=N_CLASSES)
    if counts.min() < n_per_class:
        raise DataError(
            f"n_per_class = {n_per_class} is more than the {counts.min()} training images of "
            f"class {int(counts.argmin())}: expected between 1 and {counts.min()}"
        )
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in range(N_CLASSES):
        members = np.flatnonzero(labels == cls)
        if strategy == "first":
            chosen.append(members[:n_per_class])
        elif strategy == "random":
            chosen.append(np.sort(rng.choice(members, size=n_per_class, replace=False)))
        else:
            raise ValueError(f"unknown subset strategy {strategy!r}")
    return np.concatenate(chosen)


def save_subset(
    path: Path, images: np.ndarray, labels: np.ndarray, indices: np.ndarray, source_sha256: str
) -> None:
    """Save the subset with the SHA-256 of the image file it was drawn from (its provenance)."""
    np.savez(path, images=images, labels=labels, indices=indices, source_sha256=source_sha256)


def load_subset(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, train-split indices) of the real subset; never unpickles."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (run the subsample stage first)")
    with np.load(path, allow_pickle=False) as f:
        return f["images"], f["labels"].astype(np.int64), f["indices"]


def check_subset_provenance(path: str | Path, checksum_file: str | Path) -> None:
    """Fail unless the subset was drawn from the dataset's training split (never the test split)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (run the subsample stage first)")
    sums = read_checksums(checksum_file)
    with np.load(path, allow_pickle=False) as f:
        source = str(f["source_sha256"]) if "source_sha256" in f else "unknown"
    train_name, test_name = SPLIT_FILES["train"][0], SPLIT_FILES["test"][0]
    if source != sums[train_name]:
        what = "the TEST split" if source == sums[test_name] else "an unknown file"
        raise DataError(
            f"{path}: drawn from {what} (SHA-256 {source}), not from the training split "
            f"{train_name} ({sums[train_name]}); rerun the subsample stage"
        )


# --- synthetic ImageFolder ---------------------------------------------------------------


def _read_gray(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def load_image_folder(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an ImageFolder of 28x28 grey PNGs (one folder per class) into arrays."""
    from torchvision.datasets import ImageFolder

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found (run the generate stage first)")
    folder = ImageFolder(str(root), loader=_read_gray)
    expected = [str(c) for c in range(N_CLASSES)]
    if folder.classes != expected:
        raise DataError(f"{root}: expected class folders {expected}, found {folder.classes}")
    images = np.stack([folder[i][0] for i in range(len(folder))])
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{root}: expected 28x28 images, got {images.shape[1:]}")
    return images, np.asarray(folder.targets, dtype=np.int64)
