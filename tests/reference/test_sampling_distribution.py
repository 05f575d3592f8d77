"""reference.decoding.sampling_distribution against torch.softmax(z / T)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reference.decoding import sampling_distribution
from tests.reference.conftest import assert_close, to_torch


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 7])
def test_sampling_distribution_matches_torch(temperature, rng):
    logits = rng.normal(scale=2.0, size=(3, 4, 9))
    assert_close(sampling_distribution(logits, temperature), torch.softmax(to_torch(logits) / temperature, dim=-1))


def test_a_tiny_temperature_is_greedy_without_overflow(rng):
    logits = rng.normal(size=8)
    probs = sampling_distribution(logits, 1e-4)
    assert np.all(np.isfinite(probs)) and probs[np.argmax(logits)] == pytest.approx(1.0)
    assert_close(probs, torch.softmax(to_torch(logits) / 1e-4, dim=-1))


def test_a_high_temperature_flattens(rng):
    logits = rng.normal(size=6)
    assert np.ptp(sampling_distribution(logits, 100.0)) < np.ptp(sampling_distribution(logits, 1.0))


@pytest.mark.parametrize("temperature", [0, -1.0, float("inf"), True, "2"])
def test_bad_temperatures_are_refused(temperature):
    with pytest.raises(ValueError, match="temperature"):
        sampling_distribution(np.zeros(3), temperature)
