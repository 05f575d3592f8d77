"""Mistakes in the encoder-decoder pieces (reference/mistakes/seq2seq.py) are real mistakes, each diagnosed as itself."""
from __future__ import annotations

import numpy as np
import pytest

from reference.decoding import attention_decoder_step, bridge
from reference.mistakes import shadowing
from tests.reference.mistakes.checks import check_variants_of, float_inputs

K, S, E, H, VOCAB = 3, 5, 3, 2, 6


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def test_bridge_mistakes(rng):
    final_state, weight = float_inputs(rng, (2, K, H), (H, 2 * H))
    assert len(check_variants_of(bridge, (final_state, weight))) == 3


def test_a_batch_of_one_cannot_show_the_reshape(rng):
    final_state, weight = float_inputs(rng, (2, 1, H), (H, 2 * H))
    with pytest.raises(ValueError, match="batch of one"):
        shadowing(bridge, only=["bridge_reshape_mixes_sentences"])[0].evaluate(final_state, weight)


def decoder_inputs(rng, lengths):
    shapes = {"weight_ih": (4 * H, E), "weight_hh": (4 * H, H), "bias_ih": (4 * H,), "bias_hh": (4 * H,),
              "attention_weight": (H, 2 * H), "combined_weight": (H, 3 * H), "output_weight": (VOCAB, H),
              "output_bias": (VOCAB,)}
    params = dict(zip(shapes, float_inputs(rng, *shapes.values())))
    embedded, h, c, enc = float_inputs(rng, (K, E), (K, H), (K, H), (K, S, 2 * H))
    mask = np.arange(S)[None, :] < np.asarray(lengths)[:, None]
    return embedded, (h, c, enc, mask), params


def test_decoder_step_mistakes(rng):
    checked = check_variants_of(attention_decoder_step, decoder_inputs(rng, [5, 2, 3]), output=0)
    assert len(checked) == 6


def test_decoder_step_mistakes_leave_the_cell_alone(rng):
    """Every variant changes log_probs only: a wrong h' or c' is a cell mistake, diagnosed by lstm_cell."""
    args = decoder_inputs(rng, [5, 2, 3])
    _, (h, c) = attention_decoder_step(*args)
    for entry in shadowing(attention_decoder_step):
        _, (h_variant, c_variant) = entry.evaluate(*args)
        assert np.array_equal(h_variant, h) and np.array_equal(c_variant, c), entry.id
