"""Mistakes in pooling and prediction (reference/mistakes/pooling.py) are real mistakes, each diagnosed as itself."""
from __future__ import annotations

import numpy as np
import pytest

from grader.diagnosis import diagnose
from reference.mistakes import get
from reference.pooling import last_state, max_pool, mean_pool, predict_classes
from tests.reference.mistakes.checks import check_variants_of

LENGTHS = np.array([2, 5, 1, 4])  # unsorted, the longest filling the batch, one of length 1
BIDIRECTIONAL_ONLY = {"last_state_backward_wrong_end", "last_state_directions_swapped",
                      "last_state_forward_at_padded_end", "last_state_h_n_reshaped"}


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def outputs_with_padding(rng, features: int, padding: float | None, shift: float = 0.0) -> np.ndarray:
    """Outputs (4, 5, features) whose padded steps hold ``padding`` (None: random values)."""
    values = rng.normal(shift, 1.0, size=(len(LENGTHS), 5, features))
    real = np.arange(5)[None, :, None] < LENGTHS[:, None, None]
    return values if padding is None else np.where(real, values, padding)


@pytest.mark.parametrize("padding", [0.0, None])
def test_bidirectional_last_state_mistakes(rng, padding):
    checked = check_variants_of(last_state, (outputs_with_padding(rng, 6, padding), LENGTHS), {"bidirectional": True})
    assert BIDIRECTIONAL_ONLY | {"last_state_padded_step"} <= set(checked)


def test_unidirectional_last_state_can_only_be_taken_at_the_padded_step(rng):
    outputs = outputs_with_padding(rng, 3, None)
    check_variants_of(last_state, (outputs, LENGTHS), skip=BIDIRECTIONAL_ONLY)
    for mistake_id in BIDIRECTIONAL_ONLY:
        with pytest.raises(ValueError, match="needs two directions"):
            get(mistake_id).evaluate(outputs, LENGTHS)


def test_reshaping_h_n_of_a_single_sequence_is_harmless(rng):
    outputs = rng.normal(size=(1, 3, 4))
    got = get("last_state_h_n_reshaped").evaluate(outputs, [2], bidirectional=True)
    np.testing.assert_array_equal(got, last_state(outputs, [2], bidirectional=True))


def test_mean_pool_mistakes_on_padding_that_is_not_zero(rng):
    check_variants_of(mean_pool, (outputs_with_padding(rng, 3, 7.0), LENGTHS))


def test_max_pool_mistakes_on_padding_that_is_not_zero(rng):
    check_variants_of(max_pool, (outputs_with_padding(rng, 3, 1e3, shift=-2.0), LENGTHS))


@pytest.mark.parametrize("oracle, general, narrow, shift", [
    (mean_pool, "mean_pool_padded_length", "mean_pool_over_padding", 0.0),
    (max_pool, "max_pool_over_padding", "max_pool_masked_with_zero", -3.0),
])
def test_on_zero_padding_only_the_general_mistake_is_named(rng, oracle, general, narrow, shift):
    """Zero padding (as pad_packed_sequence leaves it) makes two mistakes one computation: one explanation is given."""
    outputs = outputs_with_padding(rng, 3, 0.0, shift)
    checked = check_variants_of(oracle, (outputs, LENGTHS), skip={narrow})
    assert general in checked
    with pytest.raises(ValueError, match=f"with zero padding this is {general}"):
        get(narrow).evaluate(outputs, LENGTHS)
    over_every_step = outputs.max(axis=1) if oracle is max_pool else outputs.mean(axis=1)  # what the code does
    assert [match.id for match in diagnose(over_every_step, oracle, (outputs, LENGTHS)).matched] == [general]


def test_prediction_mistakes(rng):
    logits = rng.normal(size=(6, 4))
    check_variants_of(predict_classes, (logits,))


def test_predicting_over_the_batch_is_seen_in_the_values_when_the_batch_has_as_many_rows_as_classes(rng):
    logits = rng.normal(size=(4, 4))
    logits[np.arange(4), [1, 1, 1, 2]] += 5.0  # argmax over the classes [1, 1, 1, 2], over the batch something else
    check_variants_of(predict_classes, (logits,))
