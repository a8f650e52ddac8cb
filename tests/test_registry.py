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
