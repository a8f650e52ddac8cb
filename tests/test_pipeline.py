"""End to end: the real `dvc repro` in a temporary git + DVC repository on a tiny dataset."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.repo import (
    N_TEST,
    TINY,
    commit,
    copy_repo,
    make_preset_repo,
    make_repo,
    make_tiny_repo,
    merge,
    sh,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory) -> tuple[Path, dict]:
    return make_tiny_repo(tmp_path_factory.mktemp("e2e"))


def declared_outputs(repo: Path) -> list[Path]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    outs = [Path(o["path"]) for stage in lock["stages"].values() for o in stage.get("outs", [])]
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    plots = [next(iter(p)) if isinstance(p, dict) else p for p in spec["plots"]]
    plot_files = [
        Path(f)
        for p in spec["plots"]
        if isinstance(p, dict)
        for f in next(iter(p.values())).get("y", {})
    ]
    plot_paths = [Path(p) for p in plots if "/" in p] + plot_files
    return outs + [Path(m) for m in spec["metrics"]] + plot_paths


@pytest.fixture(scope="module")
def reproduced(tiny_results, tmp_path_factory) -> tuple[Path, dict, str]:
    """A copy of the tiny pipeline after one `dvc repro` (committed), with that run's output."""
    repo, env, output = tiny_results
    return copy_repo(repo, tmp_path_factory.mktemp("pipeline") / "repo"), env, output


@pytest.fixture(scope="module")
def experimented(reproduced) -> tuple[Path, dict, str]:
    """Then `dvc exp run -S n_per_class=4` on top of the committed results, with its output."""
    repo, env, _ = reproduced
    return repo, env, sh(repo, "dvc", "exp", "run", "-S", "n_per_class=4", env=env).stdout


def stage_names(repo: Path, env: dict) -> list[str]:
    return sh(repo, "dvc", "stage", "list", "--name-only", env=env).stdout.split()


def test_repro_runs_every_stage_and_writes_every_output(reproduced) -> None:
    repo, env, first = reproduced
    stages = stage_names(repo, env)
    assert len(stages) == 14 and stages[0] == "check_params"
    for stage in stages:
        assert f"Running stage '{stage}'" in first
    for path in declared_outputs(repo):
        assert (repo / path).exists(), f"declared output {path} was not written"
    assert len(list((repo / "data/train/synthetic").glob("*/*.png"))) == 10 * 6
    assert sorted(p.name for p in (repo / "data/train/synthetic").iterdir()) == list("0123456789")
    indices = (repo / "data/train/real/indices.csv").read_text().splitlines()
    assert indices[0] == "train_index,label" and len(indices) == 1 + 30


def test_metrics_are_measured_on_the_test_split(reproduced) -> None:
    repo, _, _ = reproduced
    for source in ("real", "synthetic", "mixed"):
        metrics = json.loads((repo / f"metrics/evaluate/{source}.json").read_text())
        assert metrics["test_images"] == N_TEST
        assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["accuracy_tta"] <= 1.0
        assert set(metrics["per_class_accuracy"]) == {str(c) for c in range(10)}
    summary = (repo / "metrics/summary.md").read_text()
    assert "| real " in summary and "label fidelity" in summary
    assert "9 shifted views" in summary  # evaluate.tta_shift 1, the default
    quality = json.loads((repo / "metrics/evaluate_generator.json").read_text())
    assert 0.0 <= quality["label_fidelity"] <= 1.0 and 0.0 <= quality["judge_test_accuracy"] <= 1.0
    assert quality["fid"] >= 0 and quality["fid_real_subset"] >= 0
    assert quality["n_generated"] == 60 and quality["n_scored"] == 30
    worst = str(quality["label_fidelity_min_class"])
    assert quality["label_fidelity_min"] == min(quality["label_fidelity_per_class"].values())
    assert quality["label_fidelity_per_class"][worst] == quality["label_fidelity_min"]
    assert f"label fidelity of the worst class ({worst})" in summary
    assert quality["diversity_ratio"] >= 0 and set(quality["diversity_ratio_per_class"]) == {
        str(c) for c in range(10)
    }
    live = json.loads((repo / "dvclive/train_cgan/metrics.json").read_text())
    assert live["machine"].startswith(("CPU, ", "NVIDIA")) and "torch" in live["machine"]


def test_second_repro_runs_nothing(reproduced) -> None:
    repo, env, _ = reproduced
    again = sh(repo, "dvc", "repro", env=env)
    assert "Running stage" not in again.stdout
    assert "up to date" in sh(repo, "dvc", "status", env=env).stdout


def test_experiment_reruns_from_subsample_and_reuses_data_and_judge(experimented) -> None:
    repo, env, exp = experimented
    # The data and the judge (trained on the full train split) are reused, not retrained.
    assert "Running stage 'get_data'" not in exp
    assert "Running stage 'train_judge'" not in exp
    for stage in stage_names(repo, env)[2:]:
        if stage != "train_judge":
            assert f"Running stage '{stage}'" in exp


def test_metrics_and_params_diff_show_the_experiment(experimented) -> None:
    repo, env, _ = experimented
    diff = json.loads(sh(repo, "dvc", "metrics", "diff", "--json", env=env).stdout)
    n_train = diff["dvclive/train_classifier/real/metrics.json"]["n_train"]
    assert (n_train["old"], n_train["new"]) == (30, 40)
    params = json.loads(sh(repo, "dvc", "params", "diff", "--json", env=env).stdout)
    assert params["params.yaml"]["n_per_class"]["new"] == 4


def test_test_time_augmentation_turns_off_and_only_evaluation_reruns(experimented) -> None:
    repo, env, _ = experimented
    out = sh(repo, "dvc", "exp", "run", "-S", "evaluate.tta_shift=0", env=env).stdout
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert ran == {"check_params", "compare_sources"} | {
        f"evaluate@{source}" for source in ("real", "synthetic", "mixed")
    }
    for source in ("real", "synthetic", "mixed"):
        metrics = json.loads((repo / f"metrics/evaluate/{source}.json").read_text())
        assert "accuracy_tta" not in metrics and "tta_views" not in metrics
        assert 0.0 <= metrics["accuracy"] <= 1.0
    assert "shifted views" not in (repo / "metrics/summary.md").read_text()


def test_each_stage_depends_only_on_its_params(tiny_results, tmp_path) -> None:
    repo, env = copy_repo(tiny_results[0], tmp_path / "repo"), tiny_results[1]
    assert json.loads(sh(repo, "dvc", "status", "--json", env=env).stdout) == {}
    original = (repo / "params.yaml").read_text()
    try:
        for key, value, stale in [
            # check_params reads every key; evaluate follows a retrained model via its file.
            ("classifier", {"epochs": 3}, {"check_params", "train_classifier@"}),
            # the real-only classifier (an ensemble of them) also chooses generated images
            (
                "classifier",
                {"members": 2},
                {"check_params", "train_classifier@", "generate", "evaluate@"},
            ),
            ("evaluate", {"n_misclassified": 4}, {"check_params", "evaluate@"}),
            ("generate", {"per_class": 7}, {"check_params", "generate"}),
            ("judge", {"epochs": 2}, {"check_params", "train_judge"}),
            ("quality", {"nearest_k": 2}, {"check_params", "evaluate_generator"}),
        ]:
            params = yaml.safe_load(original)
            params[key].update(value)
            (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            status = json.loads(sh(repo, "dvc", "status", "--json", env=env).stdout)
            assert status, f"changing {key} made no stage stale"
            assert {name.split("@")[0] + ("@" if "@" in name else "") for name in status} == stale
    finally:
        (repo / "params.yaml").write_text(original)
    assert json.loads(sh(repo, "dvc", "status", "--json", env=env).stdout) == {}

    # New classifier code, a new classifier param: every cached CGAN stays valid.
    schema = repo / "fewshot/schema/classifier.py"
    schema.write_text(
        schema.read_text().replace('"members": ', '"width": integer(1),\n"members": ')
    )
    assert '"width": integer(1)' in schema.read_text()
    params = yaml.safe_load(original)
    params["classifier"]["width"] = 2
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with open(repo / "fewshot/classifier_models.py", "a") as models:
        models.write("\n# an edited classifier\n")
    status = json.loads(sh(repo, "dvc", "status", "--json", env=env).stdout)
    stale = {name.split("@")[0] for name in status}
    assert {"train_classifier", "evaluate", "check_params"} <= stale
    assert not stale & {"get_data", "subsample", "train_cgan"}, status


def test_a_preset_selects_the_few_shot_cgan_in_one_word(tmp_path) -> None:
    """`dvc exp run -S cgan=fewshot` through DVC's Hydra composition of conf/."""
    repo, env = make_preset_repo(tmp_path)
    # with a two-member ensemble, which also chooses the generated images it keeps, and the
    # generator conditioned on real images (saved with their features, sampled by generate)
    overrides = ["cgan=fewshot", "cgan.steps=3", "classifier.members=2", "generate.oversample=2"]
    overrides += ["cgan.instance_dim=4", "cgan.instance_neighbours=2"]
    # D's real images drawn by how rarely G comes near them, measured after every step
    overrides += ["cgan.coverage_weight=1", "cgan.coverage_every=1"]
    sh(repo, "dvc", "exp", "run", *[a for o in overrides for a in ("-S", o)], env=env)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["cgan"]["generator"] == params["cgan"]["discriminator"] == "fewshot"
    assert params["cgan"]["steps"] == 3 and params["generate"]["sampling"] == "eval"
    assert params["cgan"]["instance_dim"] == 4
    # what the three-subset study measured best for the MLP (docs/results.md)
    assert params["cgan"]["diffaugment"] == "none"
    assert params["generate"]["normalise"] == "scale_centre"
    assert params["generate"]["per_class"] == TINY["generate"]["per_class"]
    cgan = json.loads((repo / "dvclive/train_cgan/metrics.json").read_text())
    assert cgan["mode_seeking_ratio"] > 0  # logged only when mode seeking is on
    assert 0 <= cgan["uncovered_real_images"] <= 1  # logged only with coverage weights
    quality = json.loads((repo / "metrics/evaluate_generator.json").read_text())
    assert quality["n_generated"] == 60 and quality["diversity_ratio"] > 0
    for source in ("real", "synthetic", "mixed"):
        test = json.loads((repo / f"metrics/evaluate/{source}.json").read_text())
        assert test["members"] == 2 and len(test["accuracy_members"]) == 2
        assert test["accuracy"] == test["accuracy_first_k"]["2"]
        assert test["accuracy_single"] == test["accuracy_members"][0]
        live = json.loads((repo / f"dvclive/train_classifier/{source}/metrics.json").read_text())
        assert live["members"] == 2 and live["step"] == 2 * params["classifier"]["epochs"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"n_per_class": 0}, "'n_per_class' = 0 is invalid"),
        ({"n_per_class": 13}, "n_per_class = 13 is more than the 12 training images"),
        ({"data": {"dataset": "svhn"}}, "'data.dataset' = 'svhn' is invalid"),
        ({"cgan": {"epoch": 3}}, "unknown key 'cgan.epoch'"),
    ],
)
def test_bad_params_fail_clearly_and_write_nothing(tmp_path, override, message) -> None:
    repo, env = make_tiny_repo(tmp_path, merge(json.loads(json.dumps(TINY)), override))
    if "n_per_class" in override and override["n_per_class"] > 0:  # needs the data first
        sh(repo, sys.executable, "-m", "stages.get_data", env=env)
    # A stage validates the sections it reads (check_params, heading the DAG, all of them);
    # more images than the data holds is the subset's own check.
    stages = ["check_params", "train_cgan" if "cgan" in override else "subsample"]
    if override.get("n_per_class", 0) > 0:
        stages = ["subsample"]
    for stage in stages:
        result = sh(repo, sys.executable, "-m", f"stages.{stage}", env=env, check=False)
        assert result.returncode == 2, stage
        assert result.stderr.startswith("error: ") and message in result.stderr, stage
        assert "Traceback" not in result.stderr
    assert not (repo / "data/train").exists() and not (repo / "models").exists()


def test_corrupt_data_fails_clearly_and_writes_nothing(tmp_path) -> None:
    repo, env = make_tiny_repo(tmp_path)
    gz = tmp_path / "mnist/train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:100])
    result = sh(repo, sys.executable, "-m", "stages.get_data", env=env, check=False)
    assert result.returncode == 2
    assert "train-images-idx3-ubyte.gz: cannot decompress" in result.stderr
    assert not (repo / "data/raw").exists()


SMOKE = {
    "n_per_class": 5,
    "cgan": {"epochs": 1, "sample_every": 1},
    "generate": {"per_class": 20},
    "classifier": {"epochs": 1},
    "judge": {"epochs": 1},
}


@pytest.mark.skipif(
    not os.environ.get("MNIST_DIR"),
    reason="real-MNIST smoke run needs MNIST_DIR (`make test` sets it from ../shared/mnist)",
)
def test_real_mnist_smoke(tmp_path) -> None:
    """The committed checksums, the real files, the recipe's networks: one epoch, end to end."""
    repo, env = make_repo(tmp_path, Path(os.environ["MNIST_DIR"]), SMOKE)
    commit(repo, "smoke configuration")
    sh(repo, "dvc", "repro", env=env)
    for source in ("real", "synthetic", "mixed"):
        metrics = json.loads((repo / f"metrics/evaluate/{source}.json").read_text())
        assert metrics["dataset"] == "mnist" and metrics["test_images"] == 10_000
        assert 0.0 <= metrics["accuracy"] <= 1.0
    assert len(list((repo / "data/train/synthetic").glob("*/*.png"))) == 200
    quality = json.loads((repo / "metrics/evaluate_generator.json").read_text())
    assert quality["judge_test_accuracy"] > 0.95  # one epoch on the full train split
