"""reference.lm against PyTorch in float64: log-softmax, token NLL, cross-entropy, perplexity."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from reference.lm import cross_entropy, lm_targets, log_softmax, perplexity, token_nll
from tests.reference.conftest import assert_close, to_torch

seeds = st.integers(0, 2**32 - 1)
lead_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
vocab_sizes = st.integers(1, 7)


def _batch(seed: int, lead: tuple[int, ...], vocab: int, ignore_index: int = -100, scale: float = 3.0):
    """Random logits (*lead, V) and targets (*lead) with about a third ignored."""
    gen = np.random.default_rng(seed)
    logits = gen.normal(scale=scale, size=lead + (vocab,))
    targets = gen.integers(0, vocab, size=lead)
    targets[gen.random(lead) < 0.35] = ignore_index
    return logits, targets


def _torch_ce(logits: np.ndarray, targets: np.ndarray, reduction: str, ignore_index: int = -100):
    """torch cross_entropy with the class axis moved from last to second (for >2-D inputs)."""
    z = to_torch(logits)
    if z.ndim > 2:
        z = torch.movedim(z, -1, 1)
    return F.cross_entropy(z, to_torch(targets), ignore_index=ignore_index, reduction=reduction)


# ----------------------------------------------------------------------------- log_softmax


@given(seed=seeds, lead=lead_shapes, vocab=vocab_sizes, data=st.data())
def test_log_softmax_matches_torch_on_any_axis(seed, lead, vocab, data):
    logits = np.random.default_rng(seed).normal(scale=5.0, size=lead + (vocab,))
    axis = data.draw(st.integers(-logits.ndim, logits.ndim - 1), label="axis")
    assert_close(log_softmax(logits, axis=axis), torch.log_softmax(to_torch(logits), dim=axis))


@pytest.mark.parametrize("scale", [1e4, 1e6, 1e300])
def test_log_softmax_is_finite_and_matches_torch_for_huge_logits(scale, rng):
    logits = rng.normal(size=(5, 6)) * scale
    logits[0] = scale  # equal maxima
    logits[1, 0] = -scale
    ours = log_softmax(logits)
    assert np.all(np.isfinite(ours))
    assert_close(ours, torch.log_softmax(to_torch(logits), dim=-1))
    assert_close(np.exp(ours).sum(axis=-1), np.ones(5))


def test_log_softmax_gives_minus_inf_for_minus_inf_logits_like_torch():
    logits = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]])
    ours = log_softmax(logits)
    expected = torch.log_softmax(to_torch(logits), dim=-1).numpy()
    assert ours[0, 1] == -np.inf
    assert_close(ours[0, [0, 2]], expected[0, [0, 2]])
    assert np.all(np.isnan(ours[1])) and np.all(np.isnan(expected[1]))


# ----------------------------------------------------------------------------- token_nll and cross_entropy


@given(seed=seeds, lead=lead_shapes, vocab=vocab_sizes)
def test_token_nll_equals_torch_unreduced_cross_entropy_with_zeros_at_ignored(seed, lead, vocab):
    logits, targets = _batch(seed, lead, vocab)
    nll = token_nll(logits, targets)
    assert_close(nll, _torch_ce(logits, targets, "none"))
    assert np.all(nll[targets == -100] == 0.0)
    assert np.all(nll >= 0.0)


def test_token_nll_is_minus_log_of_the_target_probability_in_a_hand_example():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]]))
    assert_close(token_nll(logits, np.array([0, 2])), np.array([math.log(2.0), -math.log(0.7)]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(seed=seeds, lead=lead_shapes, vocab=vocab_sizes)
def test_cross_entropy_matches_torch_for_2d_and_3d_logits_with_ignore_index(reduction, seed, lead, vocab):
    logits, targets = _batch(seed, lead, vocab)
    expected = _torch_ce(logits, targets, reduction)
    ours = cross_entropy(logits, targets, reduction=reduction)
    if reduction == "none":
        assert_close(ours, expected)
    else:
        assert isinstance(ours, float)
        # hypothesis can ignore every target: torch's mean is NaN then, and so is ours.
        np.testing.assert_allclose(ours, expected.item(), rtol=1e-8, atol=1e-10, equal_nan=True)


@pytest.mark.parametrize("ignore_index", [0, 3, -1])
def test_cross_entropy_ignore_index_may_be_a_real_class_like_torch(ignore_index, rng):
    logits = rng.normal(size=(2, 5, 4))
    targets = rng.integers(0, 4, size=(2, 5))
    targets[0, :2] = ignore_index if ignore_index >= 0 else -1
    for reduction in ("mean", "sum", "none"):
        expected = _torch_ce(logits, targets, reduction, ignore_index=ignore_index)
        assert_close(cross_entropy(logits, targets, ignore_index=ignore_index, reduction=reduction), expected)


@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_cross_entropy_with_every_target_ignored_is_nan_mean_zero_sum_zero_tokens_like_torch(shape, rng):
    logits = rng.normal(size=shape + (5,))
    targets = np.full(shape, -100)
    assert math.isnan(cross_entropy(logits, targets)) and math.isnan(_torch_ce(logits, targets, "mean").item())
    assert cross_entropy(logits, targets, reduction="sum") == _torch_ce(logits, targets, "sum").item() == 0.0
    assert_close(cross_entropy(logits, targets, reduction="none"), _torch_ce(logits, targets, "none"))
    assert math.isnan(perplexity(logits, targets))


def test_cross_entropy_ignores_inf_logits_at_ignored_positions():
    logits = np.array([[1.0, 2.0, 3.0], [np.inf, np.nan, 0.0]])
    targets = np.array([2, -100])
    assert_close(token_nll(logits, targets)[1], 0.0)
    assert_close(cross_entropy(logits, targets), -log_softmax(logits[0])[2])


def test_cross_entropy_accepts_an_unbatched_logit_vector_like_torch(rng):
    logits = rng.normal(size=5)
    expected = F.cross_entropy(to_torch(logits), torch.tensor(3))
    assert_close(cross_entropy(logits, np.int64(3)), expected)


# ----------------------------------------------------------------------------- perplexity


@given(seed=seeds, batch=st.integers(1, 4), steps=st.integers(1, 6), vocab=st.integers(2, 7))
def test_perplexity_on_a_padded_batch_is_exp_of_torch_mean_cross_entropy(seed, batch, steps, vocab):
    gen = np.random.default_rng(seed)
    logits = gen.normal(scale=2.0, size=(batch, steps, vocab))
    targets = gen.integers(0, vocab, size=(batch, steps))
    lengths = gen.integers(1, steps + 1, size=batch)
    targets[np.arange(steps)[None, :] >= lengths[:, None]] = -100  # right padding
    expected = math.exp(_torch_ce(logits, targets, "mean").item())
    assert math.isclose(perplexity(logits, targets), expected, rel_tol=1e-8)


def test_perplexity_weights_tokens_not_sentences_in_a_hand_example():
    # Sentence 0: one token with p = 1/2. Sentence 1: three tokens with p = 1/8 each.
    # Token-weighted: exp(-(log 1/2 + 3 log 1/8) / 4) = 2 ** (10/4) = 2 ** 2.5.
    # Mean of per-sentence perplexities: (2 + 8) / 2 = 5, a different number.
    probs = np.full((2, 3, 8), 1 / 8)
    probs[0, 0, 0] = 0.5
    probs[0, 0, 1:] = 0.5 / 7
    targets = np.array([[0, -100, -100], [1, 2, 3]])
    ppl = perplexity(np.log(probs), targets)
    assert math.isclose(ppl, 2**2.5, rel_tol=1e-12)
    per_sentence = [perplexity(np.log(probs[i]), targets[i]) for i in range(2)]
    assert_close(np.array(per_sentence), np.array([2.0, 8.0]))
    assert abs(ppl - np.mean(per_sentence)) > 0.3


def test_perplexity_of_the_uniform_model_is_the_vocabulary_size():
    assert math.isclose(perplexity(np.zeros((3, 4, 11)), np.ones((3, 4), dtype=int)), 11.0, rel_tol=1e-12)


# ----------------------------------------------------------------------------- lm_targets


def test_lm_targets_prepends_bos_to_inputs_and_appends_eos_to_targets():
    inputs, targets = lm_targets(np.array([5, 6, 7]), bos=1, eos=2)
    assert inputs.tolist() == [1, 5, 6, 7] and targets.tolist() == [5, 6, 7, 2]
    assert inputs.dtype == targets.dtype == np.int64
    # Each input predicts the next one: targets[:-1] == inputs[1:].
    assert np.array_equal(targets[:-1], inputs[1:])


def test_lm_targets_of_an_empty_sentence_is_bos_predicting_eos():
    inputs, targets = lm_targets(np.array([], dtype=np.int64), bos=1, eos=2)
    assert inputs.tolist() == [1] and targets.tolist() == [2]


def test_lm_targets_on_a_2d_batch_treats_each_row_as_a_full_sentence():
    inputs, targets = lm_targets(np.array([[5, 6], [7, 8]]), bos=0, eos=9)
    assert inputs.tolist() == [[0, 5, 6], [0, 7, 8]]
    assert targets.tolist() == [[5, 6, 9], [7, 8, 9]]


# ----------------------------------------------------------------------------- errors


def test_target_out_of_vocabulary_raises_naming_its_position():
    logits = np.zeros((2, 3, 4))
    targets = np.zeros((2, 3), dtype=int)
    targets[1, 2] = 4
    with pytest.raises(ValueError, match=r"targets\[1, 2\] = 4 is outside \[0, V\) with V = 4"):
        token_nll(logits, targets)
    targets[1, 2] = -1
    with pytest.raises(ValueError, match=r"targets\[1, 2\] = -1"):
        cross_entropy(logits, targets)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: token_nll(np.zeros((2, 4)), np.zeros(3, dtype=int)), "does not match logits shape"),
        (lambda: token_nll(np.zeros((2, 4)), np.zeros(2)), "integer token ids"),
        (lambda: token_nll(np.zeros((2, 4)), np.array([True, False])), "integer token ids"),
        (lambda: token_nll(np.array(1.0), np.array(0)), "vocabulary axis"),
        (lambda: cross_entropy(np.zeros((2, 4)), np.zeros(2, dtype=int), reduction="avg"), "reduction"),
        (lambda: log_softmax(np.zeros((2, 4)), axis=2), "axis 2 is out of range"),
        (lambda: log_softmax(np.zeros((2, 0))), "empty axis"),
        (lambda: log_softmax(np.array(["a"])), "real numbers"),
        (lambda: lm_targets(np.zeros((1, 2, 3), dtype=int), 0, 1), "1-D"),
        (lambda: lm_targets(np.array([1.5]), 0, 1), "integer token ids"),
        (lambda: lm_targets(np.array([1]), 0.0, 1), "bos must be an integer"),
        (lambda: perplexity(np.zeros((2, 4)), np.array([0, 9])), r"targets\[1\] = 9"),
    ],
)
def test_bad_input_raises_value_error_saying_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()
