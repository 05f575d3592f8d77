"""reference.decoding: beam search against brute force, greedy, sampling statistics, attention vs torch."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.decoding import Hypothesis, attention, beam_search, greedy_decode, sample
from reference.lm import log_softmax
from tests.reference.conftest import assert_close, to_torch

seeds = st.integers(0, 2**32 - 1)


class HistoryStep:
    """A tiny recurrent LM over V tokens whose next-token distribution depends on the whole history.

    State ``(h, position)``: ``h`` ``(k, H)`` is an Elman hidden vector, ``position``
    ``(k,)`` counts the steps taken. ``bos`` is the extra input id ``V`` (never
    predicted). Rows are computed one by one with identical operations, so a
    hypothesis gets bit-identical log-probs whether it is alone (brute force)
    or in a beam of any width: exact ties and orderings can be compared.
    """

    def __init__(self, seed: int, vocab: int, hidden: int = 3, uniform: bool = False):
        gen = np.random.default_rng(seed)
        self.vocab, self.bos, self.uniform = vocab, vocab, uniform
        self.embed = gen.normal(size=(vocab + 1, hidden))
        self.recur = gen.normal(scale=0.8, size=(hidden, hidden))
        self.out = gen.normal(scale=1.5, size=(hidden, vocab))
        self.position_bias = gen.normal(scale=0.5, size=(7, vocab))
        self.widths: list[int] = []

    def initial_state(self):
        return np.zeros((1, self.embed.shape[1])), np.zeros(1, dtype=np.int64)

    def __call__(self, prev: np.ndarray, state):
        h, position = state
        k = prev.shape[0]
        assert h.shape[0] == position.shape[0] == k, "decoder passed a state that does not match the beam"
        self.widths.append(k)
        new_h = np.empty_like(h)
        log_probs = np.empty((k, self.vocab))
        for i in range(k):
            new_h[i] = np.tanh(h[i] @ self.recur + self.embed[prev[i]])
            logits = new_h[i] @ self.out + self.position_bias[position[i] % 7]
            log_probs[i] = log_softmax(np.zeros(self.vocab) if self.uniform else logits)
        return log_probs, (new_h, position + 1)


def brute_force(model: HistoryStep, eos: int, max_len: int, length_penalty: float) -> list[Hypothesis]:
    """Every sequence of at most ``max_len`` symbols (ending in eos, or cut at max_len), best first.

    Same score and tie rule as documented in beam_search: sum of log-probs /
    max(1, #tokens) ** length_penalty, ties by the symbol sequence (tokens + eos if ended).
    """
    found: list[tuple[tuple[int, ...], float, bool]] = []

    def visit(tokens, last, state, total):
        if len(tokens) == max_len:
            found.append((tokens, total, False))
            return
        log_probs, new_state = model(np.array([last]), state)
        for word in range(model.vocab):
            extended = total + float(log_probs[0, word])
            if word == eos:
                found.append((tokens, extended, True))
            else:
                visit(tokens + (word,), word, new_state, extended)

    visit((), model.bos, model.initial_state(), 0.0)
    ranked = sorted(
        (-(total / float(max(1, len(tokens))) ** length_penalty), tokens + (eos,) if ended else tokens, tokens)
        for tokens, total, ended in found
    )
    return [Hypothesis(tokens, -neg) for neg, _, tokens in ranked]


def search_space_size(vocab: int, max_len: int) -> int:
    """Sequences ending in eos with < max_len tokens, plus the (V-1)^max_len cut-off ones."""
    return sum((vocab - 1) ** n for n in range(max_len + 1))


def assert_same_hypotheses(actual: list[Hypothesis], expected: list[Hypothesis]) -> None:
    assert [h.tokens for h in actual] == [h.tokens for h in expected]
    assert_close(np.array([h.score for h in actual]), np.array([h.score for h in expected]), what="scores")


# ----------------------------------------------------------------------------- beam search


@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 1.0])
@given(seed=seeds, vocab=st.integers(2, 5), max_len=st.integers(0, 4), data=st.data())
def test_beam_as_wide_as_the_search_space_returns_the_brute_force_ranking(length_penalty, seed, vocab, max_len, data):
    eos = data.draw(st.integers(0, vocab - 1), label="eos")
    model = HistoryStep(seed, vocab)
    size = search_space_size(vocab, max_len)
    expected = brute_force(model, eos, max_len, length_penalty)
    assert len(expected) == size
    found = beam_search(model, model.initial_state(), model.bos, eos, size, max_len, length_penalty)
    assert_same_hypotheses(found, expected)
    # So the exact best comes first, and any top-N prefix is the brute-force top-N.
    top = data.draw(st.integers(1, size), label="top_n")
    assert_same_hypotheses(found[:top], expected[:top])
    assert max(model.widths, default=1) <= size


@given(seed=seeds, vocab=st.integers(2, 5), max_len=st.integers(1, 4))
def test_beam_wider_than_the_search_space_returns_every_sequence_once(seed, vocab, max_len):
    model = HistoryStep(seed, vocab)
    found = beam_search(model, model.initial_state(), model.bos, 0, 1000, max_len, 1.0)
    assert len(found) == len({h.tokens for h in found}) == search_space_size(vocab, max_len)
    assert_same_hypotheses(found, brute_force(model, 0, max_len, 1.0))


def _rescore(model: HistoryStep, tokens: tuple[int, ...], eos: int, max_len: int) -> float:
    """Sum of log-probs of ``tokens`` (+ eos if it ended: fewer than max_len tokens)."""
    state, last, total = model.initial_state(), model.bos, 0.0
    for word in tokens + ((eos,) if len(tokens) < max_len else ()):
        log_probs, state = model(np.array([last]), state)
        total += float(log_probs[0, word])
        last = word
    return total


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@given(seed=seeds, vocab=st.integers(2, 6), max_len=st.integers(1, 6), beam_size=st.integers(1, 4))
def test_narrow_beam_returns_at_most_beam_size_sorted_hypotheses_with_their_true_scores(
    length_penalty, seed, vocab, max_len, beam_size
):
    model = HistoryStep(seed, vocab)
    found = beam_search(model, model.initial_state(), model.bos, 1 % vocab, beam_size, max_len, length_penalty)
    assert 1 <= len(found) <= beam_size
    assert all(isinstance(h, Hypothesis) and isinstance(h.tokens, tuple) for h in found)
    assert all(1 % vocab not in h.tokens and len(h.tokens) <= max_len for h in found)
    scores = [h.score for h in found]
    assert scores == sorted(scores, reverse=True)
    for h in found:
        expected = _rescore(model, h.tokens, 1 % vocab, max_len) / max(1, len(h.tokens)) ** length_penalty
        assert math.isclose(h.score, expected, rel_tol=1e-12, abs_tol=1e-12)
    assert max(model.widths) <= beam_size


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@given(seed=seeds, vocab=st.integers(2, 6), max_len=st.integers(0, 8), data=st.data())
def test_greedy_decode_equals_beam_search_with_beam_one(length_penalty, seed, vocab, max_len, data):
    eos = data.draw(st.integers(0, vocab - 1), label="eos")
    model = HistoryStep(seed, vocab)
    greedy = greedy_decode(model, model.initial_state(), model.bos, eos, max_len)
    (best,) = beam_search(model, model.initial_state(), model.bos, eos, 1, max_len, length_penalty)
    assert list(best.tokens) == greedy
    assert len(greedy) <= max_len and eos not in greedy


def test_ties_are_broken_by_symbol_sequence_lexicographically_in_a_uniform_model():
    # V = 3, eos = 1, every log-prob -log 3. Step 1 keeps (0,) and (eos,) (lowest ids);
    # the beam shrinks to one; step 2 keeps (0, 0). With length_penalty = 1 both
    # survivors score -log 3 exactly, and (0, 0) < (1,) = (eos,) puts (0, 0) first.
    model = HistoryStep(0, 3, uniform=True)
    log3 = math.log(3.0)
    raw = beam_search(model, model.initial_state(), model.bos, 1, 2, 2, 0.0)
    assert raw == [Hypothesis((), -log3), Hypothesis((0, 0), -2 * log3)]
    normalised = beam_search(model, model.initial_state(), model.bos, 1, 2, 2, 1.0)
    assert normalised == [Hypothesis((0, 0), -log3), Hypothesis((), -log3)]
    assert greedy_decode(model, model.initial_state(), model.bos, 1, 3) == [0, 0, 0]
    assert greedy_decode(model, model.initial_state(), model.bos, 0, 3) == []
    wide = beam_search(model, model.initial_state(), model.bos, 1, 100, 3, 0.5)
    assert_same_hypotheses(wide, brute_force(model, 1, 3, 0.5))


def test_ties_across_parents_go_to_the_lexicographically_smaller_tokens_not_the_earlier_beam():
    # Bigram model with power-of-two probabilities, V = 3, eos = 2, bos = 3. Step 1 (beam 2):
    # (1,) = -log 2 leads (beam slot 0), (0,) = -log 4 ties (eos,) and wins on the lower id.
    # Step 2: (1, eos) = -2 log 2 first; then (1, 0), (1, 1) and (0, 0) all score exactly
    # -log 2 - log 4. The beam keeps (0, 0): the earlier beam (1,) does NOT win the tie.
    probs = np.array([[1 / 2, 1 / 4, 1 / 4], [1 / 4, 1 / 4, 1 / 2], [1, 1, 1], [1 / 4, 1 / 2, 1 / 4]])

    def bigram(prev, state):
        return np.log(probs[prev]), state

    log2, log4 = math.log(0.5), math.log(0.25)
    found = beam_search(bigram, None, 3, 2, 2, 2)
    assert found == [Hypothesis((1,), log2 + log2), Hypothesis((0, 0), log4 + log2)]
    assert log4 + log2 == log2 + log4  # the tie really is exact


def test_max_len_zero_gives_the_empty_hypothesis_without_calling_the_model():
    model = HistoryStep(1, 4)
    assert beam_search(model, model.initial_state(), model.bos, 0, 3, 0) == [Hypothesis((), 0.0)]
    assert greedy_decode(model, model.initial_state(), model.bos, 0, 0) == []
    assert sample(model, model.initial_state(), model.bos, 0, 0, rng=0) == []
    assert model.widths == []


def test_decoders_accept_a_single_array_state_and_a_none_state(rng):
    table = log_softmax(rng.normal(size=(5, 4)))  # bigram model, bos = 4

    def bigram(prev, state):
        return table[prev], state

    def counting(prev, state):
        return table[prev], state + 1

    expected = greedy_decode(bigram, None, 4, 0, 6)
    assert greedy_decode(counting, np.zeros((1, 2)), 4, 0, 6) == expected
    assert list(beam_search(counting, np.zeros((1, 2)), 4, 0, 1, 6)[0].tokens) == expected
    assert beam_search(bigram, None, 4, 0, 3, 6) == beam_search(counting, np.zeros(1), 4, 0, 3, 6)


# ----------------------------------------------------------------------------- sampling


def _sampling_probs(log_probs: np.ndarray, temperature: float, top_k) -> np.ndarray:
    """Independent torch version: softmax(log_probs / T) over the top_k ids."""
    scaled = to_torch(log_probs) / temperature
    if top_k is not None:
        cut = torch.topk(scaled, top_k).values[-1]
        scaled = scaled.masked_fill(scaled < cut, -math.inf)
    return torch.softmax(scaled, dim=-1).numpy()


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.6, 3)])
def test_sample_frequencies_of_all_two_step_outcomes_are_within_five_sigma(temperature, top_k):
    # Tolerance: for each outcome o with probability p, |count_o - N p| <= 5 sqrt(N p (1 - p)) (+1 for p ~ 0);
    # outcomes with p = 0 (cut by top_k) must never occur.
    model, eos, draws = HistoryStep(7, 4), 2, 12_000
    first_lp, first_state = model(np.array([model.bos]), model.initial_state())
    first = _sampling_probs(first_lp[0], temperature, top_k)
    expected = {(): first[eos]}
    for word in range(model.vocab):
        if word == eos:
            continue
        second_lp, _ = model(np.array([word]), first_state)
        second = _sampling_probs(second_lp[0], temperature, top_k)
        for nxt in range(model.vocab):
            outcome = (word,) if nxt == eos else (word, nxt)
            expected[outcome] = first[word] * second[nxt]
    assert math.isclose(sum(expected.values()), 1.0, rel_tol=1e-12)

    gen = np.random.default_rng(123)
    counts: dict[tuple[int, ...], int] = {}
    for _ in range(draws):
        outcome = tuple(sample(model, model.initial_state(), model.bos, eos, 2, temperature, top_k, gen))
        counts[outcome] = counts.get(outcome, 0) + 1
    assert set(counts) <= set(expected)
    for outcome, p in expected.items():
        count = counts.get(outcome, 0)
        if p < 1e-15:
            assert count == 0, f"outcome {outcome} has probability 0 but was drawn {count} times"
        else:
            bound = 5 * math.sqrt(draws * p * (1 - p)) + 1
            assert abs(count - draws * p) <= bound, f"outcome {outcome}: {count} draws, expected {draws * p:.1f}"


@given(seed=seeds, vocab=st.integers(2, 6))
def test_sample_is_reproducible_with_the_same_seed(seed, vocab):
    model = HistoryStep(seed, vocab)
    runs = [
        sample(model, model.initial_state(), model.bos, 0, 12, 1.3, None, np.random.default_rng(seed))
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert sample(model, model.initial_state(), model.bos, 0, 12, 1.3, None, seed) == runs[0]


def test_sample_differs_across_seeds():
    model = HistoryStep(3, 6)
    outputs = {tuple(sample(model, model.initial_state(), model.bos, 0, 10, 1.5, rng=s)) for s in range(20)}
    assert len(outputs) > 5


@given(seed=seeds, vocab=st.integers(2, 6), max_len=st.integers(0, 8))
def test_sample_with_tiny_temperature_or_top_k_one_is_greedy(seed, vocab, max_len):
    model = HistoryStep(seed, vocab)
    greedy = greedy_decode(model, model.initial_state(), model.bos, 0, max_len)
    for draw in range(3):
        cold = sample(model, model.initial_state(), model.bos, 0, max_len, temperature=1e-9, rng=draw)
        top1 = sample(model, model.initial_state(), model.bos, 0, max_len, temperature=5.0, top_k=1, rng=draw)
        assert cold == top1 == greedy


def test_sample_with_top_k_only_emits_the_k_most_likely_first_tokens():
    model = HistoryStep(11, 6)
    first_lp, _ = model(np.array([model.bos]), model.initial_state())
    allowed = set(np.argsort(-first_lp[0])[:2].tolist())
    gen = np.random.default_rng(5)
    firsts = {tuple(sample(model, model.initial_state(), model.bos, 99 % 6, 1, 2.0, 2, gen)) for _ in range(400)}
    symbols = {f[0] if f else 99 % 6 for f in firsts}
    assert symbols == allowed


# ----------------------------------------------------------------------------- decoder errors


def _model_with(log_probs=None, state_rows=None):
    def step(prev, state):
        k = prev.shape[0]
        out = np.log(np.full((k, 4), 0.25)) if log_probs is None else log_probs
        return out, np.zeros((state_rows or k, 2))

    return step


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: greedy_decode(_model_with(np.zeros((1, 4))), None, 0, 1, 3), r"row 0 sums to probability 4"),
        (lambda: beam_search(_model_with(np.zeros((2, 4)) - np.log(4)), None, 0, 1, 2, 3), r"shape \(2, 4\), expected \(1, V\)"),
        (lambda: greedy_decode(_model_with(state_rows=3), None, 0, 1, 3), "new_state returned by step has shape"),
        (lambda: beam_search(_model_with(), np.zeros((2, 2)), 0, 1, 2, 3), "leading dimension must be the number"),
        (lambda: beam_search(_model_with(), None, 0, 1, 0, 3), "beam_size must be >= 1"),
        (lambda: beam_search(_model_with(), None, 0, 1, 2, 3, float("nan")), "length_penalty"),
        (lambda: greedy_decode(_model_with(), None, 0, 1, -1), "max_len must be >= 0"),
        (lambda: greedy_decode(_model_with(), None, 0, 4, 2), r"eos = 4 is outside the vocabulary \[0, 4\)"),
        (lambda: sample(_model_with(), None, 0, 1, 2, temperature=0.0), "temperature must be positive"),
        (lambda: sample(_model_with(), None, 0, 1, 2, temperature=-1.0), "temperature must be positive"),
        (lambda: sample(_model_with(), None, 0, 1, 2, top_k=0), "top_k must be >= 1"),
        (lambda: sample(_model_with(), None, 0, 1, 2, rng="seed"), "rng must be"),
        (lambda: greedy_decode(lambda p, s: np.zeros((1, 4)), None, 0, 1, 2), "pair"),
    ],
)
def test_decoders_reject_bad_input_with_a_value_error_saying_what(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------- attention


def _attention_torch(q, k, v, mask, score, weight):
    """A direct torch computation (bmm, masked_fill, softmax) in float64."""
    q, k, v = to_torch(q), to_torch(k), to_torch(v)
    if score in ("dot", "scaled_dot"):
        e = torch.bmm(k, q.unsqueeze(-1)).squeeze(-1)
        if score == "scaled_dot":
            e = e / math.sqrt(q.shape[-1])
    elif score == "general":
        e = torch.bmm((q @ to_torch(weight)).unsqueeze(1), k.transpose(1, 2)).squeeze(1)
    else:
        w_query, w_key, vec = (to_torch(weight[name]) for name in ("W_query", "W_key", "v"))
        e = torch.tanh((q @ w_query.T).unsqueeze(1) + k @ w_key.T) @ vec
    if mask is not None:
        e = e.masked_fill(~torch.from_numpy(mask), -math.inf)
    alpha = torch.softmax(e, dim=-1)
    return torch.bmm(alpha.unsqueeze(1), v).squeeze(1), alpha


@pytest.mark.parametrize("score", ["dot", "scaled_dot", "general", "additive"])
@given(
    seed=seeds,
    batch=st.integers(1, 3),
    positions=st.integers(1, 6),
    d=st.integers(1, 4),
    dk=st.integers(1, 4),
    dv=st.integers(1, 3),
    masked=st.booleans(),
)
def test_attention_matches_torch_with_masked_weights_exactly_zero(score, seed, batch, positions, d, dk, dv, masked):
    gen = np.random.default_rng(seed)
    if score in ("dot", "scaled_dot"):
        dk = d
    hidden = 3
    q = gen.normal(size=(batch, d))
    k = gen.normal(size=(batch, positions, dk))
    v = gen.normal(size=(batch, positions, dv))
    weight = {
        "general": gen.normal(size=(d, dk)),
        "additive": {
            "W_query": gen.normal(size=(hidden, d)),
            "W_key": gen.normal(size=(hidden, dk)),
            "v": gen.normal(size=hidden),
        },
    }.get(score)
    mask = None
    if masked:
        mask = gen.random((batch, positions)) < 0.5
        mask[np.arange(batch), gen.integers(0, positions, size=batch)] = True  # no empty row
    context, weights = attention(q, k, v, mask=mask, score=score, weight=weight)
    expected_context, expected_weights = _attention_torch(q, k, v, mask, score, weight)
    assert_close(weights, expected_weights, what="weights")
    assert_close(context, expected_context, what="context")
    assert_close(weights.sum(axis=1), np.ones(batch), what="row sums")
    if mask is not None:
        assert np.all(weights[~mask] == 0.0)
    if score == "additive":
        as_tuple = (weight["W_query"], weight["W_key"], weight["v"])
        assert_close(attention(q, k, v, mask=mask, score=score, weight=as_tuple)[1], weights)


def test_attention_without_mask_equals_an_all_true_mask(rng):
    q, k, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 5))
    plain = attention(q, k, v, score="scaled_dot")
    full = attention(q, k, v, mask=np.ones((2, 4), dtype=bool), score="scaled_dot")
    assert_close(plain[0], full[0])
    assert_close(plain[1], full[1])


def test_attention_with_one_open_position_copies_its_value(rng):
    q, k, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 4, 3)) * 50, rng.normal(size=(2, 4, 5))
    mask = np.zeros((2, 4), dtype=bool)
    mask[0, 2] = mask[1, 0] = True
    context, weights = attention(q, k, v, mask=mask)
    assert np.array_equal(weights, mask.astype(float))
    assert_close(context, v[[0, 1], [2, 0]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mask": np.array([[True, True, False], [False, False, False]])}, "mask row 1 masks every position"),
        ({"mask": np.ones((2, 3), dtype=int)}, "mask must be boolean"),
        ({"mask": np.ones((3, 2), dtype=bool)}, r"mask must have shape \(B, S\) = \(2, 3\)"),
        ({"score": "cosine"}, "score must be one of"),
        ({"score": "general"}, "needs weight"),
        ({"score": "general", "weight": np.zeros((3, 4))}, r"shape \(D, Dk\) = \(4, 4\), got \(3, 4\)"),
        ({"score": "additive", "weight": {"W_query": np.zeros((2, 4))}}, "missing"),
        ({"score": "additive", "weight": (np.zeros((2, 4)), np.zeros((3, 4)), np.zeros(2))}, "W_key"),
    ],
)
def test_attention_rejects_bad_input_with_a_value_error_saying_what(kwargs, message, rng):
    q, k, v = rng.normal(size=(2, 4)), rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 5))
    with pytest.raises(ValueError, match=message):
        attention(q, k, v, **kwargs)


def test_attention_rejects_mismatched_shapes_and_non_finite_input(rng):
    q, k, v = rng.normal(size=(2, 4)), rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 5))
    with pytest.raises(ValueError, match="needs keys with the query size"):
        attention(q[:, :3], k, v)
    with pytest.raises(ValueError, match="batch/positions disagree"):
        attention(q, k, v[:, :2])
    with pytest.raises(ValueError, match=r"query \(B, D\)"):
        attention(q[0], k, v)
    k[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="keys contains NaN"):
        attention(q, k, v)
