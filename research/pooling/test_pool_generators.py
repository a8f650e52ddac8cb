"""research/pooling/pool_generators.py: which generated images are pooled, and refusing experiments
that do not share the real subset and the classifier."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from research.experiments import cached, cached_dir
from research.pooling.pool_generators import check_poolable, pooled_files

ROOT = Path(__file__).resolve().parents[2]


def folder(tag: str, per_class: int) -> dict[str, Path]:
    return {
        f"{c}/{n:05d}.png": Path(f"/{tag}/{c}/{n}") for c in range(10) for n in range(per_class)
    }


def test_each_class_takes_its_first_images_from_every_generator_in_turn() -> None:
    chosen = pooled_files([folder("a", 4), folder("b", 4), folder("c", 4)], 5)
    assert len(chosen) == 50
    # 5 over 3 generators: 2, 2, 1; the first by name, renamed apart
    assert sorted(k for k in chosen if k.startswith("7/")) == [
        "7/0-00000.png",
        "7/0-00001.png",
        "7/1-00000.png",
        "7/1-00001.png",
        "7/2-00000.png",
    ]
    assert chosen["7/2-00000.png"] == Path("/c/7/0")
    assert sorted(int(k.split("/")[0]) for k in chosen)[::5] == list(range(10))


def test_one_generator_gives_its_folder_unchanged_but_for_the_names() -> None:
    chosen = pooled_files([folder("a", 3)], 3)
    assert sorted(chosen.values()) == sorted(folder("a", 3).values())


def test_a_generator_with_too_few_images_of_a_class_is_refused() -> None:
    short = {k: v for k, v in folder("b", 4).items() if not k.startswith("3/")}
    with pytest.raises(SystemExit, match="experiment 2 has 0 images of class 3"):
        pooled_files([folder("a", 4), short], 8)


def lock(subset_md5: str) -> dict:
    return {
        "stages": {
            "subsample": {"outs": [{"path": "data/train/real", "md5": subset_md5}]},
            "get_data": {"outs": [{"path": "data/raw", "md5": "raw.dir"}]},
        }
    }


def params(**classifier: object) -> dict:
    return {
        "seed": 3,
        "n_per_class": 100,
        "data": {"dataset": "mnist", "subset": "random"},
        "classifier": {"arch": "cnn", "steps": 2400, **classifier},
        "evaluate": {"batch_size": 1000},
        "generate": {"per_class": 1000, "oversample": 1},
        "cgan": {"coverage_weight": 1.0},
    }


def test_experiments_may_differ_in_their_generator_only() -> None:
    other_gan = {**params(), "cgan": {"instance_dim": 32}}
    check_poolable(["a", "b"], [params(), other_gan], [lock("s.dir"), lock("s.dir")])
    with pytest.raises(SystemExit, match="--exp b: param classifier differs"):
        check_poolable(["a", "b"], [params(), params(steps=4800)], [lock("s.dir")] * 2)
    with pytest.raises(SystemExit, match="--exp b: its data/train/real is not a's"):
        check_poolable(["a", "b"], [params(), params()], [lock("s.dir"), lock("t.dir")])


def test_cached_dir_lists_a_directory_output_s_files_in_the_cache(tmp_path) -> None:
    root = tmp_path / "files/md5"
    (root / "dd").mkdir(parents=True)
    (root / "ee").mkdir()
    (root / "ee/55").write_text("png")
    listing = [{"relpath": "0/00000.png", "md5": "ee55"}]
    (root / "dd/44.dir").write_text(json.dumps(listing))
    lock_ = {
        "stages": {"generate": {"outs": [{"path": "data/train/synthetic", "md5": "dd44.dir"}]}}
    }
    files = cached_dir(lock_, "generate", Path("data/train/synthetic"), tmp_path)
    assert files == {"0/00000.png": root / "ee/55"}
    assert cached(lock_, "generate", Path("data/train/synthetic/0/00000.png"), tmp_path) == (
        root / "ee/55"
    )
    with pytest.raises(SystemExit, match="no directory output data/other"):
        cached_dir(lock_, "generate", Path("data/other"), tmp_path)


def test_shares_split_the_images_as_evenly_as_they_go() -> None:
    from research.pooling.pool_generators import shares

    assert shares(1000, 2) == [500, 500]
    assert shares(1000, 3) == [334, 333, 333]
    assert sum(shares(7, 4)) == 7


def test_only_generate_settings_can_be_changed_and_values_are_read_as_yaml() -> None:
    from research.experiments import with_added_keys
    from research.pooling.pool_generators import parse_sets

    older = with_added_keys(params())  # committed before generate.noise_scale existed
    assert older["generate"]["noise_scale"] == 1.0 and older["generate"]["per_class"] == 1000
    assert parse_sets(["generate.noise_scale=1.25", "generate.oversample=2"], older) == {
        "noise_scale": 1.25,
        "oversample": 2,
    }
    for bad in ("classifier.steps=10", "generate.noise=2", "generate.noise_scale"):
        with pytest.raises(SystemExit, match=f"--set {bad}: expected generate.KEY=VALUE"):
            parse_sets([bad], older)


def test_the_experiments_classifiers_vote_as_one_ensemble_the_first_one_first(tmp_path) -> None:
    import torch

    from fewshot.ensemble import build
    from fewshot.errors import DataError
    from fewshot.io import save_state
    from research.pooling.pool_generators import ensemble_of

    torch.manual_seed(0)
    first, second = build("mlp"), build("mlp", 2)
    save_state(tmp_path / "a.pt", first)
    save_state(tmp_path / "b.pt", second)
    save_state(tmp_path / "c.pt", build("mlp", 2))
    with pytest.raises(DataError, match="not a checkpoint for MLP"):
        ensemble_of([tmp_path / "a.pt", tmp_path / "b.pt"], "mlp", 1)
    voting = ensemble_of([tmp_path / "b.pt", tmp_path / "c.pt"], "mlp", 2)
    assert len(voting.members) == 4
    voting.eval(), second.eval()
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(voting.members[0](x), second.members[0](x))
    assert ensemble_of([tmp_path / "a.pt"] * 2, "mlp", 1)(x).shape == (5, 10)


def test_held_out_images_are_training_images_outside_the_subset_the_same_every_run(
    tmp_path,
) -> None:
    import numpy as np

    from fewshot import paths
    from fewshot.data import save_subset
    from research.pooling.pool_generators import held_out
    from tests.conftest import tiny_split, write_dataset

    write_dataset(tmp_path / paths.RAW_DIR, n_train=12, gz=False)
    images, labels = tiny_split(12, 1)  # what write_dataset wrote as the train split
    subset = np.concatenate([np.flatnonzero(labels == c)[:4] for c in range(10)])
    (tmp_path / paths.REAL_DIR).mkdir(parents=True)
    save_subset(tmp_path / paths.SUBSET_FILE, images[subset], labels[subset], subset, "x")
    held_images, held_labels = held_out(tmp_path, 8)
    assert np.bincount(held_labels).tolist() == [8] * 10
    in_subset = {images[i].tobytes() for i in subset}
    assert not any(image.tobytes() in in_subset for image in held_images)
    assert np.array_equal(held_out(tmp_path, 8)[0], held_images)
    with pytest.raises(SystemExit, match="--validation 9: class 0 has 8 training images"):
        held_out(tmp_path, 9)


def test_a_terminated_run_leaves_no_scratch_workspace_behind(tmp_path) -> None:
    script = (
        "import sys, tempfile, time\n"
        "from research.pooling.pool_generators import exit_on_sigterm\n"
        "exit_on_sigterm()\n"
        f"with tempfile.TemporaryDirectory(dir={str(tmp_path)!r}) as tmp:\n"
        "    print(tmp, flush=True)\n"
        "    time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    workspace = Path(process.stdout.readline().strip())
    assert workspace.is_dir()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    assert not workspace.exists()


def test_an_experiment_committed_before_the_added_keys_validates_as_it_ran() -> None:
    import copy

    import yaml

    from fewshot.params import validate_params
    from research.experiments import ADDED_KEYS, with_added_keys

    current = yaml.safe_load((ROOT / "params.yaml").read_text())
    older = copy.deepcopy(current)
    for section, keys in ADDED_KEYS.items():
        for key in keys:
            assert keys[key] == current[section][key], f"{section}.{key}: not its default"
            del older[section][key]
    assert validate_params(with_added_keys(older)) == current
