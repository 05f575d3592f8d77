"""Mistakes in recurrent cells (reference/mistakes/rnn.py) are real mistakes, and each is diagnosed as itself."""
from __future__ import annotations

import numpy as np
import pytest

from grader.diagnosis import diagnose
from reference.mistakes import get
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
    checked = check_variants_of(rnn_cell, (x, h, w_ih, w_hh, b_ih, b_hh), skip={"rnn_tanh_instead_of_relu"})
    assert {"rnn_weights_transposed", "rnn_input_weights_transposed", "rnn_hidden_weights_transposed"} <= set(checked)


def test_relu_rnn_cell_mistakes(rng):
    x, h, w_ih, w_hh, b_ih, b_hh = float_inputs(rng, (B, H), (B, H), (H, H), (H, H), (H,), (H,))
    only_for_tanh = {"rnn_sigmoid_instead_of_tanh", "rnn_relu_instead_of_tanh"}
    checked = check_variants_of(rnn_cell, (x, h, w_ih, w_hh, b_ih, b_hh), {"nonlinearity": "relu"}, skip=only_for_tanh)
    assert "rnn_tanh_instead_of_relu" in checked
    for mistake_id in only_for_tanh:  # a relu cell cannot make these: the variants refuse, so they never match
        with pytest.raises(ValueError, match="only a tanh cell"):
            get(mistake_id).evaluate(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="relu")


@pytest.mark.parametrize("gates, oracle", [(1, rnn_cell), (4, lstm_cell), (3, gru_cell)])
def test_with_input_size_other_than_hidden_size_swapped_weights_cannot_apply(rng, gates, oracle):
    """The swapped variant refuses (so it is no match); a cell without biases is still named alone."""
    x, h, w_ih, w_hh, b_ih, b_hh = float_inputs(rng, (B, 2), (B, H), (gates * H, 2), (gates * H, H), (gates * H,),
                                                (gates * H,))
    state = (h, h) if oracle is lstm_cell else h
    args = (x, state, w_ih, w_hh, b_ih, b_hh)
    swapped = {"rnn_cell": "rnn_weights_swapped", "lstm_cell": "lstm_weights_swapped", "gru_cell": "gru_weights_swapped"}
    with pytest.raises(ValueError, match="input_size == hidden_size"):
        get(swapped[oracle.__name__]).evaluate(*args)
    short = oracle.__name__.replace("_cell", "")
    got = get(f"{short}_missing_biases").evaluate(*args)
    got = got[0] if oracle is lstm_cell else got
    named = [entry.id for entry in diagnose(got, oracle, args, output=0 if oracle is lstm_cell else None).matched]
    assert named == [f"{short}_missing_biases"]


def test_a_variant_that_cannot_apply_raises_and_is_neither_matched_nor_counted(rng):
    x, h, w_ih, w_hh = float_inputs(rng, (B, 2), (B, H), (H, 2), (H, H))
    got = rnn_cell(x, h, w_ih, w_hh) + 1.0
    diagnosis = diagnose(got, rnn_cell, (x, h, w_ih, w_hh))
    assert diagnosis.matched == [] and "rnn_weights_swapped" not in diagnosis.checked
    assert "rnn_missing_hidden_bias" in diagnosis.checked


def test_running_over_padding(rng):
    inputs = rng.normal(size=(3, 5, 2))
    params = dict(zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
                      float_inputs(rng, (4 * H, 2), (4 * H, H), (4 * H,), (4 * H,))))
    lengths = np.array([5, 2, 3])
    check_variants_of(rnn, (inputs, params), {"mode": "lstm", "lengths": lengths}, output=lambda out: out[1][0])
