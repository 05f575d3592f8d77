"""Mistakes in LM batches, losses and perplexity (reference/mistakes/lm.py) are real mistakes, each diagnosed as itself."""
from __future__ import annotations

import math

import numpy as np
import pytest

from grader.diagnosis import diagnose
from reference.lm import corpus_perplexity, lm_batch, masked_cross_entropy
from reference.mistakes import get
from reference.rnn import rnn
from tests.reference.mistakes.checks import check_variants_of, float_inputs

H = 4


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def padded_batch(rng, batch: int, steps: int, vocab: int, scale: float = 1.5):
    """Logits, targets (real ids at padding too, as the assignment's tests put there) and unsorted lengths."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0], lengths[-1] = 2, steps
    return rng.normal(scale=scale, size=(batch, steps, vocab)), rng.integers(0, vocab, size=(batch, steps)), lengths


def test_lm_batch_mistakes():
    # Both mistakes are in the targets; the inputs and lengths are right.
    check_variants_of(lm_batch, ([[5, 7], [4], [8, 6, 3]], 1, 2, 0), output=1, same=np.array_equal)


def test_targets_equal_to_the_inputs_are_diagnosed():
    inputs, _, _ = lm_batch([[5, 7], [4]], 1, 2, 0)
    named = diagnose(inputs, lm_batch, ([[5, 7], [4]], 1, 2, 0), output=1, same=np.array_equal).matched
    assert [entry.id for entry in named] == ["lm_targets_not_shifted"]


def test_loss_mistakes(rng):
    logits, targets, lengths = padded_batch(rng, 4, 6, 9)
    for output in (0, 1):  # the loss and its gradient with respect to the logits
        check_variants_of(masked_cross_entropy, (logits, targets, lengths), output=output,
                          skip={"loss_softmax_overflow"})


def test_overflow_on_large_logits(rng):
    logits, targets, lengths = padded_batch(rng, 3, 5, 7, scale=60.0)
    got = get("loss_softmax_overflow").evaluate(logits, targets, lengths)[0]
    assert not math.isfinite(got)
    named = {entry.id for entry in diagnose(got, masked_cross_entropy, (logits, targets, lengths), output=0).matched}
    assert named == {"loss_softmax_overflow"}
    # The other mistakes stay finite on large logits and are still told apart.
    check_variants_of(masked_cross_entropy, (logits, targets, lengths), output=0, skip={"loss_softmax_overflow"})


def test_overflow_cannot_be_expressed_on_small_logits(rng):
    with pytest.raises(ValueError, match="overflow"):
        get("loss_softmax_overflow").evaluate(*padded_batch(rng, 2, 3, 4))


def test_reading_padding_needs_token_ids_there(rng):
    logits, targets, lengths = padded_batch(rng, 3, 4, 5)
    targets[0, 3] = -100
    with pytest.raises(ValueError, match="padded target"):
        get("loss_counts_padding").evaluate(logits, targets, lengths)


def test_perplexity_mistakes(rng):
    batches = [padded_batch(rng, size, steps, 8) for size, steps in ((3, 5), (1, 2), (5, 7))]
    check_variants_of(corpus_perplexity, (batches,))


def test_final_state_in_sorted_order(rng):
    inputs = rng.normal(size=(3, 5, 2))
    params = dict(zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
                      float_inputs(rng, (4 * H, 2), (4 * H, H), (4 * H,), (4 * H,))))
    lengths = np.array([2, 5, 3])
    for output in (lambda out: out[0], lambda out: out[1][0], lambda out: out[1][1]):
        check_variants_of(rnn, (inputs, params), {"mode": "lstm", "lengths": lengths}, output=output)
    with pytest.raises(ValueError, match="already sorted"):
        get("rnn_final_state_in_sorted_order").evaluate(inputs, params, lengths=np.array([5, 3, 3]))
