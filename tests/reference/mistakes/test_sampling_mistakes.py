"""Mistakes with the sampling temperature (reference/mistakes/sampling.py) are real mistakes, each diagnosed as itself."""
from __future__ import annotations

import numpy as np
import pytest

from reference.decoding import sampling_distribution
from reference.mistakes import get
from tests.reference.mistakes.checks import check_variants_of


@pytest.mark.parametrize("temperature", [0.001, 0.5, 2.0])
def test_temperature_mistakes(temperature):
    logits = np.random.default_rng(20261122).normal(scale=1.5, size=(3, 8))
    check_variants_of(sampling_distribution, (logits, temperature))


def test_a_small_temperature_multiplied_is_almost_uniform():
    logits = np.array([3.0, 1.0, -2.0, 0.5])
    assert np.ptp(get("temperature_multiplied").evaluate(logits, 0.001)) < 0.01
    assert sampling_distribution(logits, 0.001)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("mistake_id", ["temperature_multiplied", "temperature_ignored"])
def test_no_temperature_mistake_at_temperature_one(mistake_id):
    with pytest.raises(ValueError, match="temperature 1"):
        get(mistake_id).evaluate(np.zeros(3), 1.0)
