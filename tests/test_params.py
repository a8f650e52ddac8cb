"""params.yaml validation: every bad value is named with what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from fewshot.errors import ParamError
from fewshot.params import load_params, validate_params
from tests.conftest import REPO

DEFAULTS = yaml.safe_load((REPO / "params.yaml").read_text())


def with_value(path: str, value) -> dict:
    params = copy.deepcopy(DEFAULTS)
    *parents, leaf = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = value
    return params


def test_committed_defaults_are_valid_and_the_recipe() -> None:
    params = load_params(REPO / "params.yaml")
    assert params["n_per_class"] == 100 and params["data"]["subset"] == "first"
    assert params["cgan"]["loss"] == "lsgan" and params["cgan"]["epochs"] == 100
    assert params["classifier"]["arch"] == "mlp" and params["generate"]["per_class"] == 1000


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("n_per_class", 0, r"'n_per_class' = 0 is invalid: expected an integer >= 1"),
        ("n_per_class", -5, r"'n_per_class' = -5 is invalid"),
        ("n_per_class", 5422, r"'n_per_class' = 5422 .* between 1 and 5421, .* of mnist"),
        ("n_per_class", 2.5, r"'n_per_class' = 2.5 is invalid: expected an integer"),
        ("n_per_class", True, r"'n_per_class' = True is invalid"),
        (
            "data.dataset",
            "cifar10",
            r"'data.dataset' = 'cifar10' .* one of 'mnist', 'fashion-mnist'",
        ),
        ("data.subset", "last", r"'data.subset' = 'last' .* one of 'first', 'random'"),
        ("device", "tpu", r"'device' = 'tpu' .* one of 'auto', 'cpu', 'cuda'"),
        ("cgan.lr", 0, r"'cgan.lr' = 0 is invalid: expected a number > 0"),
        ("cgan.loss", "wgan", r"'cgan.loss' = 'wgan' .* one of 'lsgan', 'bce', 'hinge'"),
        ("cgan.beta1", 1.0, r"'cgan.beta1' = 1.0 is invalid"),
        ("classifier.arch", "resnet", r"'classifier.arch' = 'resnet' .* 'mlp', 'lenet'"),
        ("classifier.epochs", "ten", r"'classifier.epochs' = 'ten' is invalid"),
        ("generate.per_class", 0, r"'generate.per_class' = 0 is invalid"),
        ("cgan", 5, r"'cgan' must be a mapping"),
        ("cgan.diffaugment", "yes", r"'cgan.diffaugment' = 'yes' .* one of 'none', 'translation'"),
        ("cgan.generator", "stylegan", r"'cgan.generator' = 'stylegan' .* one of 'recipe'"),
        ("cgan.mode_seeking", -1.0, r"'cgan.mode_seeking' = -1.0 is invalid"),
        ("cgan.mode_seeking_form", "dssgan", r"one of 'msgan', 'capped'"),
        ("cgan.steps", -5, r"'cgan.steps' = -5 is invalid: expected an integer >= 0"),
        ("cgan.fake_labels", "same", r"'cgan.fake_labels' = 'same' .* one of 'batch', 'random'"),
        ("generate.sampling", "train", r"'generate.sampling' = 'train' .* one of 'source', 'eval'"),
        ("generate.normalise", "mnist", r"'generate.normalise' = 'mnist' .* 'centre', 'scale_"),
        (
            "generate.noise_scale",
            0,
            r"'generate.noise_scale' = 0 is invalid: expected a number > 0",
        ),
        ("cgan.diffaugment", 1, r"'cgan.diffaugment' = 1 is invalid"),
        ("cgan.ema", 1.0, r"'cgan.ema' = 1.0 is invalid"),
        ("cgan.discriminator", "stylegan", r"one of 'recipe', 'projection'"),
        ("classifier.schedule", "cosine", r"one of 'constant', 'onecycle'"),
        ("classifier.label_smoothing", 0.9, r"'classifier.label_smoothing' = 0.9 is invalid"),
        ("cgan.precision", "fp16", r"'cgan.precision' = 'fp16' .* one of 'auto', 'fp32', 'bf16'"),
    ],
)
def test_bad_values_are_named(path: str, value, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        validate_params(with_value(path, value))


def test_fashion_mnist_bound_is_its_own() -> None:
    params = with_value("data.dataset", "fashion-mnist")
    params["n_per_class"] = 6000
    validate_params(params)
    params["n_per_class"] = 6001
    with pytest.raises(ParamError, match=r"between 1 and 6000, .* of fashion-mnist"):
        validate_params(params)


def test_unknown_key_is_named_with_the_allowed_ones() -> None:
    params = with_value("cgan.epoch", 5)  # a typo of cgan.epochs, as `dvc exp run -S` allows
    with pytest.raises(
        ParamError, match=r"unknown key 'cgan.epoch'. Allowed keys here: .*cgan.epochs"
    ):
        validate_params(params)
    params = copy.deepcopy(DEFAULTS)
    params["n_per_clas"] = 10
    with pytest.raises(ParamError, match=r"unknown key 'n_per_clas'"):
        validate_params(params)


def test_missing_key_and_bad_file(tmp_path: Path) -> None:
    params = copy.deepcopy(DEFAULTS)
    del params["seed"]
    with pytest.raises(ParamError, match=r"missing key 'seed'"):
        validate_params(params)
    with pytest.raises(ParamError, match=r"file not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("seed: [1,\n")
    with pytest.raises(ParamError, match=r"not valid YAML"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ParamError, match=r"not valid YAML"):  # safe_load refuses to run code
        load_params(tmp_path / "params.yaml")


def test_few_shot_options_that_need_each_other() -> None:
    params = with_value("cgan.aux_weight", 1.0)  # the recipe's D has no classifier head
    with pytest.raises(ParamError, match=r"'cgan.aux_weight' = 1.0 needs .* 'cgan.discriminator'"):
        validate_params(params)
    params["cgan"]["discriminator"] = "fewshot"
    validate_params(params)
    params = with_value("cgan.mode_seeking", 1.0)
    params["cgan"]["batch_size"] = 1
    with pytest.raises(ParamError, match=r"'cgan.batch_size' must be at least 2, got 1"):
        validate_params(params)
    params = with_value("cgan.mode_seeking", 1.0)
    params["cgan"]["mode_seeking_form"] = "capped"
    params["n_per_class"] = 1
    with pytest.raises(ParamError, match=r"'capped' .* 'n_per_class' must be at least 2, got 1"):
        validate_params(params)


def composed(tmp_path: Path, *overrides: str) -> dict:
    """params.yaml as `dvc exp run -S ...` would compose it from conf/."""
    from fewshot_results.compose import compose

    out = tmp_path / "params.yaml"
    compose(list(overrides), out)
    return validate_params(yaml.safe_load(out.read_text()))


def test_committed_params_are_the_composed_defaults(tmp_path: Path) -> None:
    from fewshot_results.compose import compose

    compose([], tmp_path / "params.yaml")
    assert (tmp_path / "params.yaml").read_text() == (REPO / "params.yaml").read_text(), (
        "params.yaml differs from conf/: run `make params`"
    )


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("cgan=recipe", {"cgan": {"fake_labels": "random"}, "generate": {"sampling": "source"}}),
        ("cgan=fewshot", {"cgan": {"generator": "fewshot"}, "generate": {"sampling": "eval"}}),
        ("classifier=lenet", {"classifier": {"arch": "lenet", "epochs": 10, "batch_size": 10}}),
        ("classifier=strong", {"classifier": {"arch": "cnn", "augment": True}}),
    ],
)
def test_every_preset_composes_to_valid_params(tmp_path: Path, preset: str, expected) -> None:
    params = composed(tmp_path, preset)
    for section, values in expected.items():
        assert {k: params[section][k] for k in values} == values


def test_a_key_on_top_of_a_preset_and_a_bad_preset(tmp_path: Path) -> None:
    assert composed(tmp_path, "cgan=fewshot", "cgan.steps=7")["cgan"]["steps"] == 7
    with pytest.raises(Exception, match="cgan/nosuch"):
        composed(tmp_path, "cgan=nosuch")
