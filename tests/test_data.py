"""IDX reading, checksums, fetching, subsets and the ImageFolder reader."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from fewshot.data import (
    fetch_dataset,
    load_image_folder,
    load_split,
    read_idx,
    select_subset,
)
from fewshot.errors import DataError
from fewshot.pngio import write_pngs
from fewshot.tensors import to_classifier_input, to_gan_input, to_uint8
from tests.conftest import tiny_split, write_idx


def test_idx_roundtrip(tmp_path: Path) -> None:
    images, labels = tiny_split(3, seed=0)
    write_idx(tmp_path / "i", images)
    write_idx(tmp_path / "l", labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "i"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "l"), labels)


def test_idx_bad_magic_names_file(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x00\x0d\x03" + bytes(12))
    with pytest.raises(DataError, match=r"bad.*bad IDX magic"):
        read_idx(path)


def test_idx_truncated_names_file(tmp_path: Path) -> None:
    path = tmp_path / "images"
    write_idx(path, np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"images: size .* truncated"):
        read_idx(path)


def test_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope: file not found"):
        read_idx(tmp_path / "nope")


def test_fetch_verifies_and_writes(tiny_source, tmp_path: Path, monkeypatch) -> None:
    folder, sums = tiny_source
    monkeypatch.setenv("MNIST_DIR", str(folder))
    out = tmp_path / "raw"
    assert fetch_dataset("mnist", out, sums) == str(folder)
    images, labels = load_split(out, "train", checksum_file=sums)
    assert images.shape == (120, 28, 28) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [12] * 10


def _break(folder: Path, name: str, how: str) -> None:
    gz = folder / f"{name}.gz"
    if how == "missing":
        gz.unlink()
    elif how == "truncated_gz":
        gz.write_bytes(gz.read_bytes()[:-40])
    elif how == "not_gzip":
        gz.write_bytes(b"this is not gzip data at all")
    elif how == "checksum":
        data = bytearray(gzip.decompress(gz.read_bytes()))
        data[-1] ^= 0xFF
        gz.write_bytes(gzip.compress(bytes(data)))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("missing", r"t10k-labels-idx1-ubyte\.gz: file not found"),
        ("truncated_gz", r"t10k-labels-idx1-ubyte\.gz: cannot decompress"),
        ("not_gzip", r"t10k-labels-idx1-ubyte\.gz: cannot decompress"),
        ("checksum", r"t10k-labels-idx1-ubyte: SHA-256 .* does not match"),
    ],
)
def test_fetch_rejects_bad_files_and_writes_nothing(
    tiny_source, tmp_path: Path, monkeypatch, how: str, message: str
) -> None:
    folder, sums = tiny_source
    _break(folder, "t10k-labels-idx1-ubyte", how)
    monkeypatch.setenv("MNIST_DIR", str(folder))
    out = tmp_path / "raw"
    with pytest.raises(DataError, match=message):
        fetch_dataset("mnist", out, sums)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fetch")] == []


def test_fetch_rejects_labels_outside_0_9(tmp_path: Path, monkeypatch) -> None:
    from tests.conftest import write_dataset

    folder = tmp_path / "src"
    write_dataset(folder, gz=False)
    labels = read_idx(folder / "train-labels-idx1-ubyte").copy()
    labels[3] = 11
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    sums = folder / "sums.sha256"  # recompute so only the label check can fail
    from fewshot.data import ALL_FILES, sha256_file

    sums.write_text("".join(f"{sha256_file(folder / n)}  {n}\n" for n in ALL_FILES))
    monkeypatch.setenv("MNIST_DIR", str(folder))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: label 11 is outside 0-9"):
        fetch_dataset("mnist", tmp_path / "raw", sums)


def test_missing_source_dir_is_named(tiny_source, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(DataError, match=r"MNIST_DIR=.*absent: not a directory"):
        fetch_dataset("mnist", tmp_path / "raw", tiny_source[1])
    with pytest.raises(DataError, match=r"nosums: checksum file not found"):
        fetch_dataset("mnist", tmp_path / "raw", tmp_path / "nosums")


def test_subset_counts_first_and_random() -> None:
    labels = np.tile(np.arange(10), 20)
    first = select_subset(labels, 5, "first", seed=0)
    assert np.bincount(labels[first]).tolist() == [5] * 10
    for c in range(10):  # the first five of each class, in file order
        np.testing.assert_array_equal(first[c * 5 : c * 5 + 5], np.flatnonzero(labels == c)[:5])
    a, b = select_subset(labels, 5, "random", 1), select_subset(labels, 5, "random", 1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, select_subset(labels, 5, "random", 2))
    assert np.bincount(labels[a]).tolist() == [5] * 10 and len(set(a)) == 50


def test_subset_larger_than_smallest_class_is_rejected() -> None:
    labels = np.concatenate([np.tile(np.arange(10), 5), [3, 3]])
    with pytest.raises(DataError, match=r"n_per_class = 6 .* 5 training images of class 0"):
        select_subset(labels, 6, "first", 0)


def test_image_folder_roundtrip(tmp_path: Path) -> None:
    images, labels = tiny_split(2, seed=3)
    for c in range(10):
        (tmp_path / str(c)).mkdir()
        write_pngs(tmp_path / str(c), 0, images[labels == c])
    read_images, read_labels = load_image_folder(tmp_path)
    order = np.argsort(labels, kind="stable")
    np.testing.assert_array_equal(read_images, images[order])
    np.testing.assert_array_equal(read_labels, labels[order])


def test_image_folder_needs_ten_class_folders(tmp_path: Path) -> None:
    images, _ = tiny_split(1, seed=0)
    (tmp_path / "cat").mkdir()
    write_pngs(tmp_path / "cat", 0, images[:1])
    with pytest.raises(DataError, match=r"expected class folders"):
        load_image_folder(tmp_path)
    shutil.rmtree(tmp_path / "cat")
    with pytest.raises(DataError, match=r"folder not found"):
        load_image_folder(tmp_path / "missing")


def test_scaling_conventions() -> None:
    images = np.array([[[0, 255]]], dtype=np.uint8).repeat(28, 1).repeat(14, 2)
    gan, clf = to_gan_input(images), to_classifier_input(images)
    assert gan.shape == (1, 1, 28, 28) and (gan.min(), gan.max()) == (-1.0, 1.0)
    assert (clf.min(), clf.max()) == (0.0, 1.0)
    assert torch.equal(to_uint8(gan), torch.from_numpy(images))


def test_wrong_image_shape_names_file(tmp_path: Path) -> None:
    images, labels = tiny_split(1, seed=0)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 32, 32), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: expected images of shape"):
        load_split(tmp_path, "train")
    write_idx(tmp_path / "train-images-idx3-ubyte", images[:7])
    with pytest.raises(DataError, match=r"has 7 images but .* has 10 labels"):
        load_split(tmp_path, "train")


def test_subset_provenance(tiny_source, tmp_path: Path) -> None:
    from fewshot.data import check_subset_provenance, read_checksums, save_subset

    _, sums_file = tiny_source
    sums = read_checksums(sums_file)
    images, labels = tiny_split(1, seed=0)
    subset = tmp_path / "subset.npz"
    save_subset(subset, images, labels, np.arange(10), sums["train-images-idx3-ubyte"])
    check_subset_provenance(subset, sums_file)
    save_subset(subset, images, labels, np.arange(10), sums["t10k-images-idx3-ubyte"])
    with pytest.raises(DataError, match=r"subset.npz: drawn from the TEST split"):
        check_subset_provenance(subset, sums_file)


def test_subset_comes_from_train_and_is_disjoint_from_test(tiny_source, tmp_path, monkeypatch):
    folder, sums = tiny_source
    monkeypatch.setenv("MNIST_DIR", str(folder))
    fetch_dataset("mnist", tmp_path / "raw", sums)
    train_images, train_labels = load_split(tmp_path / "raw", "train")
    test_images, _ = load_split(tmp_path / "raw", "test")
    for strategy in ("first", "random"):
        indices = select_subset(train_labels, 4, strategy, seed=0)
        assert indices.max() < len(train_images) and len(set(indices)) == 40
        subset = {image.tobytes() for image in train_images[indices]}
        assert subset.isdisjoint(image.tobytes() for image in test_images)
