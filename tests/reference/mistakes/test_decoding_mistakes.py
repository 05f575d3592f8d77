"""Mistakes in decoding and attention (reference/mistakes/decoding.py) are real mistakes, each diagnosed as itself."""
from __future__ import annotations

import numpy as np
import pytest

from reference.decoding import attention, beam_search, greedy_decode
from reference.lm import log_softmax
from reference.mistakes import shadowing
from reference.mistakes.decoding import _beam
from tests.reference.mistakes.checks import check_variants_of, float_inputs

BOS, EOS, V = 0, 4, 6


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def markov_step(table: np.ndarray):
    """``log P(next | prev, step p) = table[min(p, P-1), prev]``; the state counts the steps."""
    def step(prev, state):
        return table[np.minimum(state, table.shape[0] - 1), prev], state + 1
    return step


def forced_path(rng, path: list[int], positions: int) -> np.ndarray:
    """A table whose greedy path is ``path`` (whatever the previous token): token path[p] gets +6 at step p."""
    logits = rng.normal(size=(positions, V, V))
    for position, token in enumerate(path):
        logits[position, :, token] += 6.0
    logits[len(path):, :, EOS] -= 6.0
    return log_softmax(logits)


def hypotheses_equal(got, candidate) -> bool:
    return len(got) == len(candidate) and all(
        tuple(g.tokens) == tuple(c.tokens) and np.isclose(g.score, c.score, rtol=1e-9, atol=1e-12)
        for g, c in zip(got, candidate))


def same_tokens(got, candidate) -> bool:
    return list(got) == list(candidate)


def test_greedy_mistakes_around_eos(rng):
    # eos is the 4th choice, well within max_len: the eos rules show; the max_len rules cannot.
    table = forced_path(rng, [2, 3, 1, EOS, 5, 5, 5, 5], positions=8)
    checked = check_variants_of(greedy_decode, (markov_step(table), np.zeros(1, np.int64), BOS, EOS, 6),
                                same=same_tokens, skip={"greedy_one_step_short", "greedy_ignores_max_len"})
    assert {"greedy_returns_eos", "greedy_no_eos_stop", "greedy_returns_bos"} <= set(checked)


def test_greedy_mistakes_around_max_len(rng):
    # eos only comes at the 6th choice and max_len = 3: the output is cut off.
    table = forced_path(rng, [2, 3, 1, 5, 2, EOS], positions=8)
    checked = check_variants_of(greedy_decode, (markov_step(table), np.zeros(1, np.int64), BOS, EOS, 3),
                                same=same_tokens, skip={"greedy_returns_eos", "greedy_no_eos_stop"})
    assert {"greedy_one_step_short", "greedy_ignores_max_len", "greedy_returns_bos"} <= set(checked)


def test_a_decoder_that_ignores_max_len_cannot_be_followed_forever(rng):
    never = forced_path(rng, [1] * 8, positions=8)
    variant = shadowing(greedy_decode, only=["greedy_ignores_max_len"])[0]
    with pytest.raises(ValueError, match="no eos within"):
        variant.evaluate(markov_step(never), np.zeros(1, np.int64), BOS, EOS, 3)


def beam_table(seed: int) -> np.ndarray:
    """A table where some hypotheses finish early and others are cut off by max_len."""
    logits = np.random.default_rng(seed).normal(0.0, 1.5, size=(4, V, V))
    logits[..., EOS] += 0.5
    return log_softmax(logits)


@pytest.mark.parametrize("length_penalty", [0.5, 2.0])
def test_beam_search_mistakes(length_penalty):
    args = (markov_step(beam_table(4)), np.zeros(1, np.int64), BOS, EOS, 4, 5)
    found = beam_search(*args, length_penalty=length_penalty)
    assert any(len(h.tokens) == 5 for h in found) and any(len(h.tokens) < 5 for h in found), "cut off and finished"
    checked = check_variants_of(beam_search, args, {"length_penalty": length_penalty}, same=hypotheses_equal)
    assert len(checked) == 7


def test_beam_variants_without_their_rule_are_the_oracle():
    """The shared machinery of the beam variants is the oracle's algorithm itself."""
    for seed in range(5):
        for length_penalty in (0.0, 0.7, 1.0):
            args = (markov_step(beam_table(seed)), np.zeros(1, np.int64), BOS, EOS, 3, 5, length_penalty)
            assert hypotheses_equal(_beam(*args), beam_search(*args))


def test_length_rules_that_change_nothing_are_no_match():
    args = (markov_step(beam_table(3)), np.zeros(1, np.int64), BOS, EOS, 3, 4)
    for mistake_id, length_penalty in (("beam_bos_in_length", 0.0), ("beam_eos_in_length", 0.0),
                                       ("beam_length_penalty_ignored", 0.0), ("beam_always_length_normalised", 1.0)):
        variant = shadowing(beam_search, only=[mistake_id])[0]
        with pytest.raises(ValueError, match="changes nothing"):
            variant.evaluate(*args, length_penalty=length_penalty)


@pytest.mark.parametrize("output", [0, 1])
def test_attention_mistakes_with_the_general_score(rng, output):
    q, k, w = float_inputs(rng, (3, 2), (3, 5, 4), (2, 4))
    mask = np.arange(5)[None, :] < np.array([5, 2, 3])[:, None]
    skip = {"attention_context_from_projected_keys"} if output == 1 else set()  # it has the right weights
    check_variants_of(attention, (q, k, k), {"mask": mask, "score": "general", "weight": w}, output=output, skip=skip)


def test_attention_mistakes_with_the_dot_score(rng):
    q, k, v = float_inputs(rng, (3, 4), (3, 5, 4), (3, 5, 2))
    mask = np.arange(5)[None, :] < np.array([4, 5, 1])[:, None]
    checked = check_variants_of(attention, (q, k, v), {"mask": mask}, output=1,
                                skip={"attention_context_from_projected_keys"})
    assert "attention_no_mask" in checked


def test_mask_mistakes_are_not_tried_without_padding(rng):
    """Without padding a missing mask changes nothing: the variant declines, and is not counted as checked."""
    from grader.diagnosis import diagnose

    q, k = float_inputs(rng, (2, 3), (2, 4, 3))
    full = np.ones((2, 4), dtype=bool)
    got = attention(q, k, k, mask=full)[1] + 0.1
    diagnosis = diagnose(got, attention, (q, k, k), {"mask": full}, output=1)
    assert diagnosis.matched == [] and "attention_no_mask" not in diagnosis.checked
