"""fewshot_results.registry: which classifier a configuration trains, from its preset or the
registry's retired overrides."""

from __future__ import annotations

import pytest

from fewshot_results.registry import classifier_of


def test_a_configuration_is_classified_from_its_preset_or_the_registry() -> None:
    assert classifier_of("protocol") == "strong"  # conf/experiment/protocol.yaml
    assert classifier_of("sweep-recipe-h100-lenet") == "lenet"  # the registry's overrides
    with pytest.raises(ValueError, match="no-such-config.*conf/registry.yaml"):
        classifier_of("no-such-config")  # unknown: an error, not a guess from the name


def test_each_baseline_preset_is_the_protocol_with_its_classifier_preset() -> None:
    from fewshot_results.compose import composed
    from fewshot_results.registry import baselines

    protocol = composed(["experiment=protocol"])
    mixing = {"synthetic_fraction": protocol["classifier"]["synthetic_fraction"]}
    assert baselines(), "conf/registry.yaml names no baselines"
    for classifier, preset in baselines().items():
        params = composed([f"experiment={preset}"])
        alone = composed([f"classifier={classifier}"])["classifier"]
        assert params["classifier"] == {**alone, **mixing}, preset
        assert {k: v for k, v in params.items() if k != "classifier"} == {
            k: v for k, v in protocol.items() if k != "classifier"
        }, f"{preset}: more than the classifier differs from protocol"


def test_every_classifier_the_committed_search_chose_has_its_preset() -> None:
    import pandas as pd

    from fewshot_results.pages import SEARCH_ROWS
    from fewshot_results.tuned import tuned_points
    from tests.conftest import REPO

    tuned = tuned_points(pd.read_csv(REPO / SEARCH_ROWS))
    assert not tuned.empty
    missing = tuned[tuned["preset"].isna()]["classifier"].tolist()
    assert not missing, f"add {missing} to conf/registry.yaml baselines, with a preset"
