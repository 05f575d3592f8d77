"""Mistakes in recurrent cells (reference/mistakes/rnn.py) are real mistakes, and each is diagnosed as itself."""
from __future__ import annotations

import numpy as np
import pytest

from reference.rnn import gru_cell, lstm_cell, rnn, rnn_cell
from tests.reference.mistakes.checks import check_variants_of, float_inputs

# input_size == hidden_size, so that swapped and transposed weights are expressible.
B, H = 3, 4


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def test_lstm_cell_mistakes(rng):
    x, h, c, w_ih, w_hh, b_ih, b_hh = float_inputs(rng, (B, H), (B, H), (B, H), (4 * H, H), (4 * H, H), (4 * H,), (4 * H,))
    for output in (0, 1):
        skip = {"lstm_no_tanh_on_cell"} if output == 1 else set()  # c' is the same with or without the tanh on h'
        check_variants_of(lstm_cell, (x, (h, c), w_ih, w_hh, b_ih, b_hh), output=output, skip=skip)


def test_gru_cell_mistakes(rng):
    x, h, w_ih, w_hh, b_ih, b_hh = float_inputs(rng, (B, H), (B, H), (3 * H, H), (3 * H, H), (3 * H,), (3 * H,))
    check_variants_of(gru_cell, (x, h, w_ih, w_hh, b_ih, b_hh))


def test_rnn_cell_mistakes(rng):
    x, h, w_ih, w_hh, b_ih, b_hh = float_inputs(rng, (B, H), (B, H), (H, H), (H, H), (H,), (H,))
    check_variants_of(rnn_cell, (x, h, w_ih, w_hh, b_ih, b_hh))


def test_a_variant_that_cannot_apply_raises_and_is_no_match(rng):
    from grader.diagnosis import diagnose

    x, h, w_ih, w_hh = float_inputs(rng, (B, 2), (B, H), (H, 2), (H, H))
    got = rnn_cell(x, h, w_ih, w_hh) + 1.0
    diagnosis = diagnose(got, rnn_cell, (x, h, w_ih, w_hh))
    assert diagnosis.matched == [] and "rnn_weights_swapped" in diagnosis.checked


def test_running_over_padding(rng):
    inputs = rng.normal(size=(3, 5, 2))
    params = dict(zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
                      float_inputs(rng, (4 * H, 2), (4 * H, H), (4 * H,), (4 * H,))))
    lengths = np.array([5, 2, 3])
    check_variants_of(rnn, (inputs, params), {"mode": "lstm", "lengths": lengths}, output=lambda out: out[1][0])
