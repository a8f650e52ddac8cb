"""What users rely on: leakage guards, faults, determinism, sharing, queues, safe loading."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from fewshot.data import SPLIT_FILES, load_image_folder, load_subset
from fewshot_results.experiments import WORKERS, stop_lingering_workers
from tests.conftest import REPO, write_idx
from tests.repo import commit, copy_repo, sh

pytestmark = pytest.mark.e2e


def lock_hashes(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for s in lock["stages"].values() for o in s.get("outs", [])}


@pytest.fixture(scope="module")
def built(tiny_results, tmp_path_factory) -> tuple[Path, dict]:
    """A copy of the tiny pipeline after one `dvc repro`, committed."""
    repo, env, _ = tiny_results
    return copy_repo(repo, tmp_path_factory.mktemp("guarantees") / "repo"), env


# --- leakage -----------------------------------------------------------------------------


def test_evaluation_refuses_anything_but_the_real_test_split(built) -> None:
    repo, env = built
    test_images = repo / "data/raw" / SPLIT_FILES["test"][0]
    original = test_images.read_bytes()
    images, labels, _ = load_subset(repo / "data/train/real/subset.npz")
    try:
        test_images.chmod(0o644)
        for name, fake in [
            ("training subset", images),
            ("synthetic folder", load_image_folder(repo / "data/train/synthetic")[0]),
        ]:
            write_idx(test_images, fake)
            result = sh(
                repo, "python", "-m", "stages.evaluate", "--source", "real", env=env, check=False
            )
            assert result.returncode == 2, name
            assert f"{test_images.relative_to(repo)}: SHA-256" in result.stderr, name
    finally:
        test_images.write_bytes(original)
    assert sh(repo, "dvc", "status", "--json", env=env).stdout.strip() == "{}"


def test_subset_provenance_is_checked_by_evaluation(built) -> None:
    repo, env = built
    subset = repo / "data/train/real/subset.npz"
    original = subset.read_bytes()
    with np.load(subset, allow_pickle=False) as f:
        arrays = dict(f)
    arrays["source_sha256"] = np.array("0" * 64)  # claims to come from another file
    try:
        np.savez(subset, **arrays)
        result = sh(
            repo, "python", "-m", "stages.evaluate", "--source", "real", env=env, check=False
        )
        assert result.returncode == 2
        assert "subset.npz" in result.stderr and "training split" in result.stderr
    finally:
        subset.write_bytes(original)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("n_per_class=0", "'n_per_class' = 0 is invalid"),
        ("+cgan.epoch=3", "unknown key 'cgan.epoch'"),
    ],
)
def test_bad_param_in_an_experiment_changes_no_output(built, setting, message) -> None:
    repo, env = built
    before, params = lock_hashes(repo), (repo / "params.yaml").read_bytes()
    result = sh(repo, "dvc", "exp", "run", "-S", setting, env=env, check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr
    # DVC leaves the bad value in params.yaml; the next `dvc repro` says how to restore it.
    # (`git checkout` may not: DVC puts the timestamp back, so a same-size edit looks unchanged.)
    assert (repo / "params.yaml").read_bytes() != params
    again = sh(repo, "dvc", "repro", env=env, check=False)
    hint = "git show HEAD:params.yaml > params.yaml"
    assert again.returncode != 0 and hint in again.stdout + again.stderr
    sh(repo, "bash", "-c", hint)
    assert (repo / "params.yaml").read_bytes() == params
    assert "Running stage 'get_data'" not in result.stdout
    assert lock_hashes(repo) == before
    assert sh(repo, "dvc", "status", "--json", env=env).stdout.strip() == "{}"


# --- faults and determinism --------------------------------------------------------------


def test_diverged_training_saves_nothing(built) -> None:
    repo, env = built
    params_file, checkpoint = repo / "params.yaml", repo / "models/generator.pt"
    params, weights = params_file.read_bytes(), checkpoint.read_bytes()
    diverging = yaml.safe_load(params)
    diverging["cgan"]["lr"] = 1e30
    try:
        params_file.write_text(yaml.safe_dump(diverging, sort_keys=False))
        result = sh(repo, "python", "-m", "stages.train_cgan", env=env, check=False)
    finally:
        params_file.write_bytes(params)
    assert result.returncode == 2
    assert re.search(r"diverged: non-finite loss at epoch \d+, step \d+", result.stderr)
    assert checkpoint.read_bytes() == weights  # the previous checkpoint, untouched
    assert not list(checkpoint.parent.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("sig", "stage"), [(signal.SIGTERM, "train_cgan"), (signal.SIGKILL, "generate")]
)
def test_killed_stage_then_repro_is_complete_and_identical(built, sig, stage) -> None:
    repo, env = built
    before = lock_hashes(repo)
    proc = subprocess.Popen(
        ["dvc", "repro", "--force", "--downstream", stage],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    for line in proc.stdout:
        if f"Running stage '{stage}'" in line:
            time.sleep(1.5)  # inside the stage: importing, training or writing
            os.killpg(proc.pid, sig)
            break
    proc.wait(timeout=60)
    assert proc.returncode != 0

    # `dvc repro` finishes the job: DVC may restore the killed stage's outputs from its cache
    # (deps unchanged) without running it, so the bytes must match the lock exactly.
    sh(repo, "dvc", "repro", "--no-run-cache", env=env)
    assert sh(repo, "dvc", "status", "--json", env=env).stdout.strip() == "{}"
    assert lock_hashes(repo) == before, "the repro after the kill gave different bytes"
    assert len(list((repo / "data/train/synthetic").glob("*/*.png"))) == 60
    # A restored stage did not run, so a temporary the kill left may still be there (it is in
    # .dvcignore, so no hash saw it). Truly recomputing the stage removes it and gives the
    # same bytes.
    sh(repo, "dvc", "repro", "--force", "--no-run-cache", "--downstream", stage, env=env)
    assert lock_hashes(repo) == before, "a recomputed stage gave different bytes"
    assert not list(repo.rglob(".*.tmp")), "a temporary survived a rerun of its stage"


def test_forced_rerun_gives_identical_metrics(built) -> None:
    repo, env = built
    before = {p: p.read_bytes() for p in (repo / "metrics").rglob("*.json")}
    sh(
        repo,
        "dvc",
        "repro",
        "--force",
        "--no-run-cache",
        "--downstream",
        "train_classifier@mixed",
        env=env,
    )
    assert {p: p.read_bytes() for p in (repo / "metrics").rglob("*.json")} == before


# --- sharing and concurrency -------------------------------------------------------------


def test_push_clone_pull_is_clean(built, tmp_path) -> None:
    repo, env = built
    sh(repo, "dvc", "remote", "add", "-d", "-f", "local", str(tmp_path / "remote"), env=env)
    commit(repo, "a local DVC remote")
    sh(repo, "dvc", "push", env=env)
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    sh(clone, "dvc", "pull", env=env)
    assert sh(clone, "dvc", "status", "--json", env=env).stdout.strip() == "{}"
    assert "Running stage" not in sh(clone, "dvc", "repro", env=env).stdout
    for path in lock_hashes(repo):
        assert (clone / path).exists(), path


def test_queued_experiments_run_two_at_a_time(built) -> None:
    repo, env = built
    for epochs in (1, 3):  # two tasks, both running at once
        sh(
            repo,
            "dvc",
            "exp",
            "run",
            "--queue",
            "-n",
            f"epochs{epochs}",
            "-S",
            f"classifier.epochs={epochs}",
            env=env,
        )
    sh(repo, "dvc", "queue", "start", "-j", "2", env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = sh(repo, "dvc", "queue", "status", env=env).stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            break
        time.sleep(3)
    sh(repo, "dvc", "queue", "stop", "--kill", env=env, check=False)
    stop_lingering_workers(repo / WORKERS)  # one `queue stop` does not reach (as the study)
    assert status.count("Success") == 2, status
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json", env=env).stdout)
    found = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            rev = exp["revs"][0]
            data = rev["data"]
            epochs = data["params"]["params.yaml"]["data"]["classifier"]["epochs"]
            metrics = data["metrics"]
            steps = metrics["dvclive/train_classifier/real/metrics.json"]["data"]["step"]
            test = metrics["metrics/evaluate/real.json"]["data"]["test_images"]
            found[exp["name"]] = (epochs, steps, test)
    assert found == {"epochs1": (1, 1, 50), "epochs3": (3, 3, 50)}


# --- safe loading ------------------------------------------------------------------------

UNSAFE = [
    (r"\bpickle\.loads?\(", "unpickling"),
    (r"yaml\.load\(", "yaml.load (use safe_load)"),
    (r"allow_pickle\s*=\s*True", "np.load with allow_pickle=True"),
    (r"torch\.load\((?![^)]*weights_only=True)", "torch.load without weights_only=True"),
]


def test_no_unsafe_deserialisation_in_the_code() -> None:
    sources = [p for d in ("fewshot", "stages", "scripts") for p in (REPO / d).rglob("*.py")]
    assert sources
    for path in sources:
        text = path.read_text()
        for pattern, what in UNSAFE:
            assert not re.search(pattern, text), f"{path.relative_to(REPO)}: {what}"


def test_only_evaluation_stages_read_the_test_split() -> None:
    """`evaluate` and `evaluate_generator` score models; nothing that trains may read test."""
    readers = sorted(
        path.name
        for path in (REPO / "stages").glob("*.py")
        if re.search(r"""load_split\([^)]*["']test["']""", path.read_text())
    )
    assert readers == ["evaluate.py", "evaluate_generator.py"]
