"""Classic mistakes in greedy decoding, beam search and attention, shadowing :mod:`reference.decoding`.

The decoders' variants drive the same step function as the oracles, through
the oracles' own checks (``_call_step``), and differ in one rule only: when a
hypothesis stops, what its tokens hold, how many steps ``max_len`` allows,
which length divides the score. Notation of the handout: a hypothesis
``y_1 .. y_n`` holds neither ``bos`` nor ``eos``; its score is
``(sum_t log P(y_t | y_<t) [+ log P(eos | y)]) / max(1, n) ** length_penalty``.
Attention: ``e_i = score(q, k_i)``, ``alpha = softmax(e)`` over the real
positions, ``a = sum_i alpha_i v_i``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from reference.decoding import (
    Hypothesis,
    _as_int,
    _attention_inputs,
    _attention_mask,
    _attention_scores,
    _call_step,
    _check_normalised,
    _normalised_score,
    _select_state,
    attention,
    beam_search,
    greedy_decode,
)
from reference.mistakes import mistake

# A decoder that ignores max_len is followed this far; a step function that never picks eos would loop forever.
_RUNAWAY_STEPS = 1000

# ---------------------------------------------------------------------- greedy decoding


def _greedy(step, state, bos, eos, max_len, *, steps: Callable[[int], int] = lambda max_len: max_len,
            stop_at_eos: bool = True, keep_eos: bool = False, with_bos: bool = False) -> list[int]:
    """Greedy decoding with one rule changed: the number of step calls, what happens at eos, bos kept."""
    bos, eos, max_len = _as_int(bos, "bos", 0), _as_int(eos, "eos", 0), _as_int(max_len, "max_len", 0)
    tokens, prev = ([bos] if with_bos else []), bos
    for _ in range(steps(max_len)):
        log_probs, state = _call_step(step, [prev], state, eos)
        _check_normalised(log_probs)
        prev = int(np.argmax(log_probs[0]))
        if prev == eos and stop_at_eos:
            tokens += [eos] if keep_eos else []
            return tokens
        tokens.append(prev)
    if steps(max_len) > max_len:
        raise ValueError(f"no eos within {_RUNAWAY_STEPS} steps: a decoder that ignores max_len would still run")
    return tokens


def _greedy_variant(**rules) -> Callable:
    def variant(step, state, bos, eos, max_len):
        return _greedy(step, state, bos, eos, max_len, **rules)
    return variant


mistake("greedy_returns_eos", shadows=greedy_decode,
        title="Greedy decoding returns eos with the tokens",
        explanation="eos only marks the end: when the most probable token is eos, stop and return the tokens "
                    "chosen before it. Append y_t to the output after checking that it is not eos.",
        )(_greedy_variant(keep_eos=True))

mistake("greedy_no_eos_stop", shadows=greedy_decode,
        title="Greedy decoding does not stop at eos",
        explanation="Your decoder keeps going after it picks eos, until max_len step calls, and returns eos and "
                    "whatever follows it. Stop as soon as y_t = argmax_w log P(w | y_<t) is eos (and leave eos "
                    "out of the tokens).",
        )(_greedy_variant(stop_at_eos=False))

mistake("greedy_ignores_max_len", shadows=greedy_decode,
        title="Greedy decoding ignores max_len and runs until eos",
        explanation="max_len is the maximum number of step calls (eos included): a model that never picks eos "
                    "must still stop, with max_len tokens. Loop with for _ in range(max_len), not while True.",
        )(_greedy_variant(steps=lambda max_len: max_len + _RUNAWAY_STEPS))


def _greedy_one_step_short(step, state, bos, eos, max_len):
    if _as_int(max_len, "max_len", 0) == 0:
        raise ValueError("with max_len = 0 there is no step to lose")
    return _greedy(step, state, bos, eos, max_len, steps=lambda max_len: max_len - 1)


mistake("greedy_one_step_short", shadows=greedy_decode,
        title="Greedy decoding makes max_len - 1 step calls instead of max_len",
        explanation="max_len counts step calls, i.e. generated symbols including eos: a sequence cut off by "
                    "max_len has exactly max_len tokens, and with max_len = 1 one token comes back when it is "
                    "not eos.",
        )(_greedy_one_step_short)

mistake("greedy_returns_bos", shadows=greedy_decode,
        title="Greedy decoding returns bos as the first token",
        explanation="bos is the input of the first step (y_0 = bos), not a generated token: start the output "
                    "empty and return only y_1, y_2, ... (without bos and eos).",
        )(_greedy_variant(with_bos=True))

# ---------------------------------------------------------------------- beam search


def _beam(step, state, bos, eos, beam_size, max_len, length_penalty, *, finish_at_eos: bool = True,
          shrink: bool = True, length: Callable[[tuple, bool], int] = lambda tokens, ended: len(tokens),
          with_bos: bool = False) -> list[Hypothesis]:
    """The oracle's beam search (same pruning and tie rules) with one rule changed.

    ``finish_at_eos=False`` extends hypotheses through eos like any token;
    ``shrink=False`` keeps ``beam_size`` extensions at every step however many
    have finished; ``length(tokens, ended)`` is the n that divides the score;
    ``with_bos`` returns bos as every hypothesis' first token.
    """
    bos, eos = _as_int(bos, "bos", 0), _as_int(eos, "eos", 0)
    beam_size, max_len = _as_int(beam_size, "beam_size", 1), _as_int(max_len, "max_len", 0)
    length_penalty = float(length_penalty)
    live_tokens: list[tuple[int, ...]] = [()]
    live_scores = np.zeros(1)
    finished: list[tuple[tuple[int, ...], float]] = []
    for _ in range(max_len):
        if not live_tokens:
            break
        log_probs, new_state = _call_step(step, [t[-1] if t else bos for t in live_tokens], state, eos)
        _check_normalised(log_probs)
        k, vocab = log_probs.shape
        candidates = (live_scores[:, None] + log_probs).ravel()
        parent_rank = np.empty(k, dtype=np.int64)
        parent_rank[sorted(range(k), key=live_tokens.__getitem__)] = np.arange(k)
        parents, words = np.repeat(np.arange(k), vocab), np.tile(np.arange(vocab), k)
        order = np.lexsort((words, parent_rank[parents], -candidates))
        next_tokens, next_scores, next_parents = [], [], []
        for index in order[: beam_size - (len(finished) if shrink else 0)]:
            parent, word, total = int(parents[index]), int(words[index]), float(candidates[index])
            if word == eos and finish_at_eos:
                finished.append((live_tokens[parent], total))
            else:
                next_tokens.append(live_tokens[parent] + (word,))
                next_scores.append(total)
                next_parents.append(parent)
        live_tokens, live_scores = next_tokens, np.asarray(next_scores, dtype=np.float64)
        state = _select_state(new_state, np.asarray(next_parents, dtype=np.int64))
    ended = [(tokens, total, tokens + (eos,), True) for tokens, total in finished]
    cut = [(tokens, float(total), tokens, False) for tokens, total in zip(live_tokens, live_scores)]
    ranked = sorted((-_normalised_score(total, length(tokens, done), length_penalty), symbols, tokens)
                    for tokens, total, symbols, done in ended + cut)
    prefix = (bos,) if with_bos else ()
    return [Hypothesis(prefix + tokens, -neg) for neg, _, tokens in ranked[:beam_size]]


def _beam_variant(penalty: Callable[[float], float] = lambda lp: lp, same_as_oracle_when: Callable[[float], bool] =
                  lambda lp: False, **rules) -> Callable:
    """A beam-search variant with the oracle's signature; it raises where it would compute the oracle's answer."""
    def variant(step, state, bos, eos, beam_size, max_len, length_penalty=0.0):
        if same_as_oracle_when(float(length_penalty)):
            raise ValueError(f"with length_penalty = {length_penalty} this mistake changes nothing")
        return _beam(step, state, bos, eos, beam_size, max_len, penalty(float(length_penalty)), **rules)
    return variant


_SCORE_TEXT = "score = total / max(1, n) ** length_penalty, where n counts the tokens y_1 .. y_n only"

mistake("beam_no_eos_stop", shadows=beam_search,
        title="Beam search keeps extending hypotheses that emitted eos",
        explanation="A hypothesis whose new token is eos is finished: set it aside (without eos), never extend "
                    "it again, and let the beam shrink to beam_size - #finished. Yours treats eos like any "
                    "other token, so eos appears inside the returned hypotheses and they all run to max_len.",
        )(_beam_variant(finish_at_eos=False))

mistake("beam_always_length_normalised", shadows=beam_search,
        title="Beam search divides every score by the length, whatever length_penalty says",
        explanation=f"The final ranking uses {_SCORE_TEXT}. With length_penalty = 0 that is the raw sum of "
                    "log-probabilities (no division); dividing by n is only the case length_penalty = 1.",
        )(_beam_variant(penalty=lambda lp: 1.0, same_as_oracle_when=lambda lp: lp == 1.0))

mistake("beam_length_penalty_ignored", shadows=beam_search,
        title="Beam search ranks by the raw sum of log-probabilities when a length penalty is asked",
        explanation=f"After the search, rank the hypotheses by {_SCORE_TEXT}, and return that score: the raw sum "
                    "is only the case length_penalty = 0. (While searching, prune by the raw total.)",
        )(_beam_variant(penalty=lambda lp: 0.0, same_as_oracle_when=lambda lp: lp == 0.0))

mistake("beam_bos_in_length", shadows=beam_search,
        title="Beam search counts bos in the length that divides the score",
        explanation=f"The length penalty uses {_SCORE_TEXT}: bos is the input of the first step, not a token "
                    "of the hypothesis, so it is not counted (and neither is eos).",
        )(_beam_variant(same_as_oracle_when=lambda lp: lp == 0.0, length=lambda tokens, ended: len(tokens) + 1))

mistake("beam_eos_in_length", shadows=beam_search,
        title="Beam search counts eos in the length of finished hypotheses",
        explanation=f"The length penalty uses {_SCORE_TEXT}: eos adds its log-probability to the total of a "
                    "finished hypothesis, but it is not one of its tokens and does not count in n.",
        )(_beam_variant(same_as_oracle_when=lambda lp: lp == 0.0, length=lambda tokens, ended: len(tokens) + ended))

mistake("beam_returns_bos", shadows=beam_search,
        title="Beam search returns bos as the first token of every hypothesis",
        explanation="Start from one empty hypothesis whose last token is bos (feed bos to the first step), and "
                    "return the tokens y_1 .. y_n only: bos is neither part of the tokens nor of the length n.",
        )(_beam_variant(with_bos=True, length=lambda tokens, ended: len(tokens) + 1))

mistake("beam_does_not_shrink", shadows=beam_search,
        title="Beam search keeps beam_size live hypotheses after some have finished",
        explanation="In this beam search (as in the CS224n assignment) the beam shrinks: at each step keep the "
                    "best beam_size - #finished extensions by raw total log-probability, so that the search "
                    "ends with at most beam_size hypotheses in all. Yours keeps beam_size extensions every "
                    "step and finds other hypotheses.",
        )(_beam_variant(shrink=False))

# ---------------------------------------------------------------------- attention


def _softmax(e: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # a column that is masked everywhere gives NaN, as in PyTorch
        unnormalised = np.exp(e - e.max(axis=axis, keepdims=True))
        return unnormalised / unnormalised.sum(axis=axis, keepdims=True)


def _masked_attention(query, keys, values, mask, score, weight, *, fill: float = -np.inf, axis: int = 1,
                      mask_after: bool = False, values_from: Callable | None = None):
    """Attention with one rule changed: what masked scores become, the softmax axis, where the mask goes,
    what is averaged (``values_from(keys)`` instead of the values)."""
    q, k, v = _attention_inputs(query, keys, values, score)
    e = _attention_scores(q, k, score, weight)
    m = _attention_mask(mask, e.shape)
    if (m is None or m.all()) and (fill != -np.inf or mask_after):
        raise ValueError("without padding the mask changes nothing")
    if m is not None:
        e = e if mask_after else np.where(m, e, fill)
    weights = _softmax(e, axis)
    if mask_after:
        weights = weights * m
    averaged = v if values_from is None else values_from(k)
    return np.einsum("bs,bsv->bv", weights, averaged), weights


def _attention_without_mask(query, keys, values, mask=None, score="dot", weight=None):
    if mask is None or np.asarray(mask).all():
        raise ValueError("without padding the mask changes nothing")
    return attention(query, keys, values, None, score, weight)


mistake("attention_no_mask", shadows=attention,
        title="Attention ignores the padding mask",
        explanation="Padded source positions are not words: give them the score -inf before the softmax "
                    "(scores.masked_fill(~src_mask, float('-inf'))), so that alpha is exactly 0 there and the "
                    "weights of the real words sum to 1.",
        )(_attention_without_mask)


def _attention_variant(**rules) -> Callable:
    def variant(query, keys, values, mask=None, score="dot", weight=None):
        return _masked_attention(query, keys, values, mask, score, weight, **rules)
    return variant


mistake("attention_mask_after_softmax", shadows=attention,
        title="Attention masks the weights after the softmax instead of the scores before it",
        explanation="Zeroing alpha at padded positions after the softmax leaves weights that no longer sum to 1. "
                    "Set the scores e of padded positions to -inf before the softmax; the softmax then gives "
                    "them weight 0 and renormalises over the real words.",
        )(_attention_variant(mask_after=True))

mistake("attention_masked_scores_zero", shadows=attention,
        title="Attention sets the scores of padded positions to 0 instead of -inf",
        explanation="A score of 0 still gets weight exp(0) / sum_j exp(e_j) > 0 after the softmax (scores * mask "
                    "does this too). Padded positions must get the score -inf, so that their weight is exactly 0.",
        )(_attention_variant(fill=0.0))

mistake("attention_softmax_over_batch", shadows=attention,
        title="Attention takes the softmax over the batch instead of over the source positions",
        explanation="alpha_t = softmax(e_t) normalises each sentence's scores over its positions i = 1 .. S: "
                    "with scores of shape (B, S) that is softmax(scores, dim=1) (or dim=-1), not dim=0.",
        )(_attention_variant(axis=0))


def _context_from_projected_keys(query, keys, values, mask=None, score="dot", weight=None):
    if score != "general":
        raise ValueError("only the general score projects the keys")
    return _masked_attention(query, keys, values, mask, score, weight,
                             values_from=lambda k: k @ np.asarray(weight, dtype=np.float64).T)


mistake("attention_context_from_projected_keys", shadows=attention,
        title="Attention averages the projected keys W_att h^e_i instead of the encoder states h^e_i",
        explanation="W_att only serves the scores e_{t,i} = (h^d_t)^T W_att h^e_i. The context is the average "
                    "of the encoder states themselves, a_t = sum_i alpha_{t,i} h^e_i, of size 2H: multiply alpha "
                    "with enc_hiddens, not with att_projection(enc_hiddens).",
        )(_context_from_projected_keys)
