"""Cross-checks of reference.pooling against PyTorch in float64.

"last" against ``h_n`` of ``torch.nn.LSTM`` run on a packed batch (one and two
directions), "mean" and "max" against torch reductions over each sequence's
real steps taken one sequence at a time, the predicted classes against
``torch.argmax``. Padded steps are filled with values
chosen to win a careless max or to skew a careless mean.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from reference.pooling import (
    POOLING_METHODS,
    last_state,
    max_pool,
    mean_pool,
    pool,
    predict_classes,
)
from tests.reference.conftest import assert_close, to_numpy, to_torch


@st.composite
def padded_batches(draw):
    batch, steps = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "batch": batch,
        "steps": steps,
        "input_size": draw(st.integers(1, 3)),
        "hidden": draw(st.integers(1, 4)),
        "bidirectional": draw(st.booleans()),
        "lengths": np.array(draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))),
    }


def packed_lstm(config: dict) -> tuple[np.ndarray, np.ndarray]:
    """Padded outputs (B, T, D*H) and h_n's last layer as (B, D*H) of a random float64 LSTM on a packed batch."""
    rng = np.random.default_rng(config["seed"])
    lstm = torch.nn.LSTM(config["input_size"], config["hidden"], batch_first=True,
                         bidirectional=config["bidirectional"]).double()
    lstm.load_state_dict({k: to_torch(rng.normal(scale=0.7, size=tuple(v.shape))) for k, v in lstm.state_dict().items()})
    x = to_torch(rng.normal(size=(config["batch"], config["steps"], config["input_size"])))
    lengths = torch.as_tensor(config["lengths"], dtype=torch.int64)
    with torch.no_grad():
        out, (h_n, _) = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        padded, _ = pad_packed_sequence(out, batch_first=True, total_length=config["steps"])
    final = torch.cat([h_n[-2], h_n[-1]], dim=1) if config["bidirectional"] else h_n[-1]
    return to_numpy(padded), to_numpy(final)


def with_padding(outputs: np.ndarray, lengths: np.ndarray, value: float) -> np.ndarray:
    """``outputs`` with every padded step set to ``value``."""
    real = np.arange(outputs.shape[1])[None, :, None] < lengths[:, None, None]
    return np.where(real, outputs, value)


@given(config=padded_batches())
def test_last_state_is_h_n_of_a_packed_lstm_in_both_directions(config):
    outputs, h_n = packed_lstm(config)
    for padding in (0.0, 50.0):  # zeros as pad_packed_sequence leaves them, or garbage
        got = last_state(with_padding(outputs, config["lengths"], padding), config["lengths"], config["bidirectional"])
        assert_close(got, h_n, what="last state")
        assert_close(pool(outputs, config["lengths"], "last", config["bidirectional"]), h_n, what="pool last")


@given(config=padded_batches())
def test_mean_pool_matches_torch_mean_over_each_sequence(config):
    outputs, _ = packed_lstm(config)
    expected = torch.stack([to_torch(outputs)[b, :n].mean(dim=0) for b, n in enumerate(config["lengths"])])
    garbage = with_padding(outputs, config["lengths"], 1e3)
    assert_close(mean_pool(garbage, config["lengths"]), expected, what="mean")
    assert_close(pool(garbage, config["lengths"], "mean"), expected, what="pool mean")


@given(config=padded_batches())
def test_max_pool_matches_torch_max_over_each_sequence(config):
    outputs, _ = packed_lstm(config)
    for shift, padding in ((0.0, 0.0), (-1e6, 0.0), (0.0, 1e9)):
        # Real values pushed far below zero: padding of 0 would win a max over the padded tensor.
        real = with_padding(outputs + shift, config["lengths"], padding)
        expected = torch.stack([to_torch(real)[b, :n].max(dim=0).values for b, n in enumerate(config["lengths"])])
        assert_close(max_pool(real, config["lengths"]), expected, what=f"max (shift {shift}, padding {padding})")
        assert_close(pool(real, config["lengths"], "max"), expected, what="pool max")


def test_pooling_a_hand_made_batch():
    # Sequence 0 has 3 real steps, sequence 1 one; padding holds 9s.
    outputs = np.array([[[1.0, -4.0], [3.0, -2.0], [2.0, -3.0], [9.0, 9.0]],
                        [[-5.0, -7.0], [9.0, 9.0], [9.0, 9.0], [9.0, 9.0]]])
    lengths = np.array([3, 1])
    np.testing.assert_array_equal(last_state(outputs, lengths), [[2.0, -3.0], [-5.0, -7.0]])
    # Bidirectional with H = 1: the forward feature at the last real step, the backward feature at step 0.
    np.testing.assert_array_equal(last_state(outputs, lengths, bidirectional=True), [[2.0, -4.0], [-5.0, -7.0]])
    np.testing.assert_array_equal(mean_pool(outputs, lengths), [[2.0, -3.0], [-5.0, -7.0]])
    np.testing.assert_array_equal(max_pool(outputs, lengths), [[3.0, -2.0], [-5.0, -7.0]])


def test_sequences_of_length_one_pool_to_their_only_step(rng):
    outputs = rng.normal(size=(3, 4, 6))
    lengths = np.array([1, 1, 1])
    for method in POOLING_METHODS:
        for bidirectional in (False, True):
            assert_close(pool(outputs, lengths, method, bidirectional), outputs[:, 0], what=method)


def test_pooling_rejects_bad_input_with_a_clear_message(rng):
    outputs = rng.normal(size=(2, 3, 4))
    with pytest.raises(ValueError, match=r"unknown pooling method 'sum'; expected one of last, mean, max"):
        pool(outputs, [1, 2], "sum")
    with pytest.raises(ValueError, match=r"outputs has shape \(3, 4\); expected \(B, T, F\)"):
        mean_pool(outputs[0], [1, 2])
    with pytest.raises(ValueError, match=r"lengths\[1\] = 4 is out of range; every length must be in 1..T = 1..3"):
        max_pool(outputs, [1, 4])
    with pytest.raises(ValueError, match=r"lengths\[0\] = 0 is out of range"):
        last_state(outputs, [0, 2])
    with pytest.raises(ValueError, match=r"lengths has shape \(3,\); expected \(B,\) = \(2,\)"):
        mean_pool(outputs, [1, 2, 3])
    with pytest.raises(ValueError, match=r"lengths must hold integers, got dtype float64"):
        mean_pool(outputs, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"even number of features"):
        last_state(rng.normal(size=(2, 3, 5)), [1, 2], bidirectional=True)


@given(batch=st.integers(1, 5), classes=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_predicted_classes_are_torch_argmax_first_index_on_ties(batch, classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.integers(-2, 3, size=(batch, classes)).astype(np.float64)  # small integers: many ties
    got = predict_classes(logits)
    assert got.dtype == np.int64 and got.shape == (batch,)
    np.testing.assert_array_equal(got, to_numpy(torch.argmax(to_torch(logits), dim=1)))


def test_predict_classes_rejects_bad_logits():
    with pytest.raises(ValueError, match=r"logits has shape \(3,\); expected \(B, C\)"):
        predict_classes(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        predict_classes(np.array([[0.0, np.nan]]))
