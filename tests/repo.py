"""A temporary git + DVC repository holding this project's pipeline, for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

PROJECT_FILES = ("dvc.yaml", "params.yaml", "stages", "fewshot", "data/checksums")
TINY = {
    "n_per_class": 3,
    "cgan": {"epochs": 2, "batch_size": 10, "noise_dim": 16, "base_channels": 8, "sample_every": 1},
    "generate": {"per_class": 6, "batch_size": 16},
    "classifier": {"epochs": 2, "batch_size": 10},
    "evaluate": {"batch_size": 25, "n_misclassified": 8},
    "judge": {"epochs": 1, "batch_size": 32},
    "quality": {"nearest_k": 3, "reference_samples": 50, "nn_pairs_per_class": 2},
}
N_TEST = 50  # 5 per class, written by write_dataset


def sh(cwd: Path, *cmd: str, env: dict | None = None, check: bool = True):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def merge(base: dict, override: dict) -> dict:
    for key, value in override.items():
        base[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return base


def make_repo(root: Path, data_dir: Path, params: dict) -> tuple[Path, dict]:
    """A fresh repository holding the project's pipeline, with checksums for `data_dir`."""
    repo = root / "repo"
    repo.mkdir()
    for name in PROJECT_FILES:
        src, dst = REPO / name, repo / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump(merge(defaults, params), sort_keys=False))
    # FEWSHOT_THREADS=fixed: threads from the CPUs alone, not the load of the moment, so a
    # rerun rounds exactly as the run before it (fewshot/threads.py)
    env = dict(os.environ, MNIST_DIR=str(data_dir), DVC_NO_ANALYTICS="1", FEWSHOT_THREADS="fixed")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("DVC_EXP_NAME", None)
    sh(repo, "git", "init", "-q", env=env)
    sh(repo, "git", "config", "user.email", "test@example.invalid")
    sh(repo, "git", "config", "user.name", "test")
    sh(repo, "dvc", "init", "-q", env=env)
    shutil.copytree(REPO / ".dvc/plots", repo / ".dvc/plots")  # dvc.yaml's plot templates
    # `dvc plots show` offline: the page template and the vendored scripts it loads
    shutil.copy(REPO / ".dvc/plots-page.html", repo / ".dvc/plots-page.html")
    shutil.copytree(REPO / "fewshot_results/vendor", repo / "fewshot_results/vendor")
    sh(repo, "dvc", "config", "plots.html_template", "plots-page.html", env=env)
    return repo, env


def commit(repo: Path, message: str) -> None:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", message)


def make_tiny_repo(root: Path, params: dict | None = None) -> tuple[Path, dict]:
    """A committed repository over a tiny dataset the test writes, with that data's checksums."""
    from tests.conftest import write_dataset

    sums = write_dataset(root / "mnist")
    repo, env = make_repo(root, root / "mnist", TINY if params is None else params)
    shutil.copy(sums, repo / "data/checksums/mnist.sha256")
    commit(repo, "tiny pipeline")  # DVCLive needs a commit to exist
    return repo, env


def copy_repo(repo: Path, dest: Path) -> Path:
    """A copy of a repository, git history, DVC cache and workspace alike, without DVC's
    machine-local state (.dvc/tmp: locks, indexes), so tests can change it independently."""
    shutil.copytree(
        repo,
        dest,
        symlinks=True,
        ignore=lambda folder, names: ["tmp"] if Path(folder).name == ".dvc" else [],
    )
    return dest


def make_preset_repo(root: Path) -> tuple[Path, dict]:
    """A tiny repository that composes params.yaml from conf/ as `dvc exp run -S` does."""
    repo, env = make_tiny_repo(root)
    shutil.copytree(REPO / "conf", repo / "conf")
    config = yaml.safe_load((repo / "conf/config.yaml").read_text())
    # The tiny sizes as the base; the chosen preset overrides them (`_self_` comes first).
    (repo / "conf/config.yaml").write_text(yaml.safe_dump(merge(config, TINY), sort_keys=False))
    sh(repo, "dvc", "config", "hydra.enabled", "True", env=env)
    commit(repo, "presets")
    return repo, env
