"""Decoding from a language model or a decoder: greedy, beam search, sampling, and attention.

A model is a *step function*::

    step(prev_tokens, state) -> (log_probs, new_state)

- ``prev_tokens``: ``(k,)`` int64, the last token of each of ``k`` hypotheses
  (``bos`` at the first step);
- ``state``: ``None``, an array, or a (nested) tuple/list of arrays, each with
  leading dimension ``k`` (row ``i`` belongs to hypothesis ``i``);
- ``log_probs``: ``(k, V)``, row ``i`` is ``log P(next token | hypothesis i)``;
  each row must be normalised (``logsumexp = 0``);
- ``new_state``: like ``state``, leading dimension ``k``.

When beams are selected the decoders reorder or replicate every state array
along axis 0 (``state[parents]``), so the step function never sees stale rows.

Length convention shared by all decoders: ``max_len`` is the number of step
calls, i.e. of generated symbols *including* ``eos``. Returned tokens exclude
``bos`` and ``eos``, so a sequence that ended with ``eos`` has at most
``max_len - 1`` tokens and one cut off by ``max_len`` has exactly ``max_len``.

:func:`attention` is the score-softmax-average of a seq2seq decoder:
``e_i = score(q, k_i)``, ``alpha = softmax(e)``, ``c = sum_i alpha_i v_i``;
:func:`bridge` and :func:`attention_decoder_step` are the other pieces of an
attentional encoder-decoder (the decoder's initial state, and one decoder step).
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional, Union

import numpy as np

from reference.lm import log_softmax
from reference.rnn import lstm_cell

__all__ = ["Hypothesis", "attention", "attention_decoder_step", "beam_search", "bridge", "greedy_decode", "sample",
           "sampling_distribution"]

StepFunction = Callable[[np.ndarray, Any], "tuple[np.ndarray, Any]"]

# Rows of log_probs must sum to probability 1 within this (float32 models pass).
_NORMALISATION_TOL = 1e-5
_SCORES = ("dot", "scaled_dot", "general", "additive")


class Hypothesis(NamedTuple):
    """A decoded sequence: ``tokens`` (tuple of ints, without bos/eos) and its ``score``."""

    tokens: tuple[int, ...]
    score: float


# ----------------------------------------------------------------------------- helpers


def _as_int(value, what: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return int(value)


def _select_state(state, rows: np.ndarray, what: str = "state"):
    """Every array of ``state`` indexed by ``rows`` along axis 0 (reorder / replicate beams)."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(_select_state(s, rows, f"{what}[{i}]") for i, s in enumerate(state))
    array = np.asarray(state)
    if array.ndim == 0:
        raise ValueError(f"{what} is a scalar: every state array needs a leading beam dimension")
    return array[rows]


def _check_state(state, k: int, what: str) -> None:
    """ValueError unless every array of ``state`` has leading dimension ``k``."""
    if state is None:
        return
    if isinstance(state, (tuple, list)):
        for i, s in enumerate(state):
            _check_state(s, k, f"{what}[{i}]")
        return
    shape = np.shape(state)
    if len(shape) == 0 or shape[0] != k:
        raise ValueError(f"{what} has shape {shape}: its leading dimension must be the number of hypotheses ({k})")


def _call_step(step: StepFunction, prev: list[int], state, eos: int) -> tuple[np.ndarray, Any]:
    """Run one step for ``k = len(prev)`` hypotheses and validate what comes back."""
    k = len(prev)
    _check_state(state, k, "state passed to step")
    out = step(np.asarray(prev, dtype=np.int64), state)
    if not isinstance(out, tuple) or len(out) != 2:
        raise ValueError("step must return a pair (log_probs, new_state)")
    log_probs = np.asarray(out[0], dtype=np.float64)
    if log_probs.ndim != 2 or log_probs.shape[0] != k:
        raise ValueError(f"step returned log_probs of shape {log_probs.shape}, expected ({k}, V)")
    if not 0 <= eos < log_probs.shape[1]:
        raise ValueError(f"eos = {eos} is outside the vocabulary [0, {log_probs.shape[1]})")
    if np.any(np.isnan(log_probs)) or np.any(log_probs == np.inf):
        raise ValueError("step returned log_probs containing NaN or +inf")
    _check_state(out[1], k, "new_state returned by step")
    return log_probs, out[1]


def _check_normalised(log_probs: np.ndarray) -> None:
    total = np.exp(log_probs).sum(axis=1)
    bad = np.flatnonzero(np.abs(total - 1.0) > _NORMALISATION_TOL)
    if bad.size:
        raise ValueError(
            f"step returned log_probs whose row {bad[0]} sums to probability {total[bad[0]]:.6g}, not 1: "
            "return log-probabilities (apply log_softmax to the logits)"
        )


# ----------------------------------------------------------------------------- greedy and beam


def greedy_decode(step: StepFunction, state, bos: int, eos: int, max_len: int) -> list[int]:
    """Greedy decoding: ``y_t = argmax_w log P(w | bos, y_1 .. y_{t-1})`` until ``eos``.

    Ties go to the lowest token id (``numpy.argmax``). At most ``max_len`` step
    calls (``eos`` counts as one); returns the tokens without ``bos``/``eos``, at
    most ``max_len`` of them. ``state`` has leading dimension 1.
    """
    bos = _as_int(bos, "bos", 0)
    eos = _as_int(eos, "eos", 0)
    max_len = _as_int(max_len, "max_len", 0)
    tokens: list[int] = []
    prev = bos
    for _ in range(max_len):
        log_probs, state = _call_step(step, [prev], state, eos)
        _check_normalised(log_probs)
        prev = int(np.argmax(log_probs[0]))
        if prev == eos:
            break
        tokens.append(prev)
    return tokens


def _normalised_score(total: float, n_tokens: int, length_penalty: float) -> float:
    return total / float(max(1, n_tokens)) ** length_penalty


def beam_search(
    step: StepFunction,
    state,
    bos: int,
    eos: int,
    beam_size: int,
    max_len: int,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """Beam search with a shrinking beam; returns up to ``beam_size`` hypotheses, best first.

    Score of a hypothesis ``y_1 .. y_n`` (tokens without ``bos``/``eos``)::

        score = ( sum_t log P(y_t | y_<t) [+ log P(eos | y_1..y_n) if it ended] ) / max(1, n) ** length_penalty

    ``n`` counts the tokens only (``eos`` is not counted; ``max(1, n)`` guards the
    empty hypothesis); ``length_penalty = 0`` gives the raw log-probability.

    Algorithm (the CS224n-style budget): ``beam_size - #finished`` hypotheses
    are alive. At each of at most ``max_len`` steps every live hypothesis is
    extended by every token; the best ``beam_size - #finished`` extensions by
    raw log-probability are kept; those ending in ``eos`` are set aside as
    finished, the others stay alive. Search stops when no hypothesis is alive
    or after ``max_len`` steps, when the survivors (``max_len`` tokens, no
    ``eos``) are returned too. Nothing is pruned on the basis of a bound, so
    when ``beam_size`` is at least the number of sequences of at most
    ``max_len`` symbols the result is exactly the best-first list of all of
    them, for every length penalty; with ``beam_size = 1`` it is exactly
    :func:`greedy_decode`.

    Ties (equal scores, both when pruning and in the returned order) are broken
    by the emitted symbol sequence (tokens followed by ``eos`` if it ended)
    in lexicographic order of token ids: at one step this is "earlier parent in
    that order, then lower token id", and it matches ``argmax`` in greedy decoding.

    Shapes: ``state`` has leading dimension 1; the step function is called
    with ``k <= beam_size`` hypotheses. ``tokens`` is a tuple of Python ints.
    """
    bos = _as_int(bos, "bos", 0)
    eos = _as_int(eos, "eos", 0)
    beam_size = _as_int(beam_size, "beam_size", 1)
    max_len = _as_int(max_len, "max_len", 0)
    length_penalty = float(length_penalty)
    if not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be finite, got {length_penalty}")

    live_tokens: list[tuple[int, ...]] = [()]
    live_scores = np.zeros(1)
    finished: list[tuple[tuple[int, ...], float]] = []
    for _ in range(max_len):
        if not live_tokens:
            break
        prev = [t[-1] if t else bos for t in live_tokens]
        log_probs, new_state = _call_step(step, prev, state, eos)
        _check_normalised(log_probs)
        k, vocab = log_probs.shape
        candidates = (live_scores[:, None] + log_probs).ravel()
        # Rank of each parent in lexicographic order of its tokens (all have the same length).
        parent_rank = np.empty(k, dtype=np.int64)
        parent_rank[sorted(range(k), key=live_tokens.__getitem__)] = np.arange(k)
        parents = np.repeat(np.arange(k), vocab)
        words = np.tile(np.arange(vocab), k)
        order = np.lexsort((words, parent_rank[parents], -candidates))
        keep = order[: beam_size - len(finished)]
        next_tokens, next_scores, next_parents = [], [], []
        for index in keep:
            parent, word, total = int(parents[index]), int(words[index]), float(candidates[index])
            if word == eos:
                finished.append((live_tokens[parent], total))
            else:
                next_tokens.append(live_tokens[parent] + (word,))
                next_scores.append(total)
                next_parents.append(parent)
        live_tokens, live_scores = next_tokens, np.asarray(next_scores, dtype=np.float64)
        state = _select_state(new_state, np.asarray(next_parents, dtype=np.int64))

    # Survivors of the last step were cut off by max_len: returned too, without eos.
    ended = [(tokens, total, tokens + (eos,)) for tokens, total in finished]
    cut = [(tokens, float(total), tokens) for tokens, total in zip(live_tokens, live_scores)]
    ranked = [
        (-_normalised_score(total, len(tokens), length_penalty), symbols, tokens)
        for tokens, total, symbols in ended + cut
    ]
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [Hypothesis(tokens, -neg) for neg, _, tokens in ranked[:beam_size]]


# ----------------------------------------------------------------------------- sampling


def _sampling_distribution(log_probs: np.ndarray, temperature: float, top_k: Optional[int]) -> np.ndarray:
    """``softmax(log_probs / T)`` restricted to the ``top_k`` most likely ids (ties: lower id)."""
    scaled = log_probs / temperature
    if top_k is not None and top_k < scaled.size:
        keep = np.argsort(-scaled, kind="stable")[:top_k]
        masked = np.full_like(scaled, -np.inf)
        masked[keep] = scaled[keep]
        scaled = masked
    probs = np.exp(log_softmax(scaled))
    if np.any(np.isnan(probs)):
        raise ValueError("step returned a log_probs row in which every token has probability 0 (-inf)")
    return probs


def sampling_distribution(logits, temperature: float = 1.0) -> np.ndarray:
    """The distribution sampling with a temperature draws from: ``p = softmax(z / temperature)``.

    ``p_i = exp(z_i / T - m) / sum_j exp(z_j / T - m)`` with ``m = max_j z_j / T``, so
    small temperatures (large ``z / T``) do not overflow. ``T < 1`` sharpens the
    distribution (``T -> 0`` puts all mass on the argmax), ``T > 1`` flattens it.

    Shapes: ``logits`` ``(..., V)`` -> ``(..., V)`` float64, each row summing to 1.
    """
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, (int, float, np.number)):
        raise ValueError(f"temperature must be a number, got {temperature!r}")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be positive and finite, got {temperature}")
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"logits must have a non-empty vocabulary axis, got shape {z.shape}")
    return np.exp(log_softmax(z / float(temperature)))


def sample(
    step: StepFunction,
    state,
    bos: int,
    eos: int,
    max_len: int,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    rng: Union[np.random.Generator, int, None] = None,
) -> list[int]:
    """Ancestral sampling with temperature and top-k: ``y_t ~ p_t`` until ``eos``.

    ``p_t = softmax(log P(. | y_<t) / temperature)`` over the ``top_k`` most likely
    ids (all ids when ``top_k`` is None or ``>= V``; ties at the cut go to the
    lower id), renormalised; ``temperature -> 0`` tends to greedy decoding,
    ``temperature = 1`` samples from the model. One draw per step, by inverse
    CDF: ``u = rng.random()``, ``y_t = min{i : cumsum(p_t)[i] > u * sum(p_t)}``,
    so a seeded ``numpy.random.Generator`` (or an int seed) reproduces the
    sequence; ``rng=None`` uses ``numpy.random.default_rng()``. The rows of
    ``log_probs`` need not be normalised here (they are renormalised anyway).

    At most ``max_len`` step calls (``eos`` counts as one); returns tokens without
    ``bos``/``eos``. ``state`` has leading dimension 1.
    """
    bos = _as_int(bos, "bos", 0)
    eos = _as_int(eos, "eos", 0)
    max_len = _as_int(max_len, "max_len", 0)
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, (int, float, np.number)):
        raise ValueError(f"temperature must be a number, got {temperature!r}")
    temperature = float(temperature)
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be positive and finite, got {temperature}")
    if top_k is not None:
        top_k = _as_int(top_k, "top_k", 1)
    if rng is None:
        rng = np.random.default_rng()
    elif isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        rng = np.random.default_rng(int(rng))
    elif not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")

    tokens: list[int] = []
    prev = bos
    for _ in range(max_len):
        log_probs, state = _call_step(step, [prev], state, eos)
        probs = _sampling_distribution(log_probs[0], temperature, top_k)
        cdf = np.cumsum(probs)
        index = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
        # u * sum can round up to the total: fall back to the last id with mass.
        prev = min(index, int(np.flatnonzero(probs > 0)[-1]))
        if prev == eos:
            break
        tokens.append(prev)
    return tokens


# ----------------------------------------------------------------------------- attention


def _attention_weights(weight, score: str, d: int, dk: int) -> tuple[np.ndarray, ...]:
    """The parameters of a ``general`` or ``additive`` score, checked against the shapes."""
    if weight is None:
        raise ValueError(f"score={score!r} needs weight (see the docstring of attention)")
    if score == "general":
        w = np.asarray(weight, dtype=np.float64)
        if w.shape != (d, dk):
            raise ValueError(f"general attention weight must have shape (D, Dk) = ({d}, {dk}), got {w.shape}")
        return (w,)
    if isinstance(weight, dict):
        missing = {"W_query", "W_key", "v"} - set(weight)
        if missing:
            raise ValueError(f"additive attention weight is missing {sorted(missing)}")
        parts = (weight["W_query"], weight["W_key"], weight["v"])
    elif isinstance(weight, (tuple, list)) and len(weight) == 3:
        parts = tuple(weight)
    else:
        raise ValueError("additive attention weight must be a dict {'W_query', 'W_key', 'v'} or a tuple (W_query, W_key, v)")
    w_query, w_key, v = (np.asarray(p, dtype=np.float64) for p in parts)
    if v.ndim != 1:
        raise ValueError(f"additive attention v must have shape (A,), got {v.shape}")
    a = v.shape[0]
    if w_query.shape != (a, d) or w_key.shape != (a, dk):
        raise ValueError(
            f"additive attention needs W_query (A, D) = ({a}, {d}) and W_key (A, Dk) = ({a}, {dk}), "
            f"got {w_query.shape} and {w_key.shape}"
        )
    return w_query, w_key, v


def _attention_inputs(query, keys, values, score: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``query``, ``keys``, ``values`` as float64 arrays, checked against each other and the score."""
    if score not in _SCORES:
        raise ValueError(f"score must be one of {_SCORES}, got {score!r}")
    q = np.asarray(query, dtype=np.float64)
    k = np.asarray(keys, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if q.ndim != 2 or k.ndim != 3 or v.ndim != 3:
        raise ValueError(
            f"need query (B, D), keys (B, S, Dk), values (B, S, Dv); got {q.shape}, {k.shape}, {v.shape}"
        )
    batch, d = q.shape
    if k.shape[0] != batch or v.shape[:2] != k.shape[:2]:
        raise ValueError(f"batch/positions disagree: query {q.shape}, keys {k.shape}, values {v.shape}")
    positions, dk = k.shape[1:]
    if positions == 0:
        raise ValueError("keys have no positions (S = 0): nothing to attend to")
    for name, array in (("query", q), ("keys", k), ("values", v)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or inf")
    if score in ("dot", "scaled_dot") and dk != d:
        raise ValueError(f"score={score!r} needs keys with the query size D = {d}, got Dk = {dk}")
    return q, k, v


def _attention_scores(q: np.ndarray, k: np.ndarray, score: str, weight) -> np.ndarray:
    """The scores ``e[b, s] = score(q_b, k_{b,s})`` ``(B, S)``, before any mask."""
    d, dk = q.shape[1], k.shape[2]
    if score == "dot":
        return np.einsum("bd,bsd->bs", q, k)
    if score == "scaled_dot":
        return np.einsum("bd,bsd->bs", q, k) / math.sqrt(d)
    if score == "general":
        (w,) = _attention_weights(weight, score, d, dk)
        return np.einsum("bd,de,bse->bs", q, w, k)
    w_query, w_key, vec = _attention_weights(weight, score, d, dk)
    return np.tanh((q @ w_query.T)[:, None, :] + k @ w_key.T) @ vec


def _attention_mask(mask, shape: tuple[int, int]) -> Optional[np.ndarray]:
    """``mask`` checked to be a bool ``(B, S)`` array with a True in every row (None stays None)."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise ValueError(f"mask must be boolean (True = attend), got dtype {m.dtype}; use mask.astype(bool)")
    if m.shape != shape:
        raise ValueError(f"mask must have shape (B, S) = {shape}, got {m.shape}")
    empty = np.flatnonzero(~m.any(axis=1))
    if empty.size:
        raise ValueError(f"mask row {empty[0]} masks every position: attention over nothing is undefined")
    return m


def attention(query, keys, values, mask=None, score: str = "dot", weight=None) -> tuple[np.ndarray, np.ndarray]:
    """One attention read per batch row: scores, softmax over positions, weighted average.

    ``e[b, s] = score(q_b, k_{b,s})``, ``alpha[b] = softmax_s(e[b])`` over the
    positions with ``mask[b, s] = True``, ``c_b = sum_s alpha[b, s] v_{b,s}``, with

    - ``"dot"``: ``q . k`` (needs ``Dk = D``);
    - ``"scaled_dot"``: ``q . k / sqrt(D)`` (needs ``Dk = D``);
    - ``"general"`` (multiplicative): ``q^T W k``, ``weight = W`` of shape ``(D, Dk)``;
    - ``"additive"`` (Bahdanau): ``v^T tanh(W_query q + W_key k)``, ``weight`` a dict
      ``{"W_query": (A, D), "W_key": (A, Dk), "v": (A,)}`` or the tuple
      ``(W_query, W_key, v)`` in that order.

    Masked positions (``mask = False``) get score ``-inf`` and therefore weight
    exactly 0.0. A row with every position masked has no distribution to take:
    it raises ValueError naming the row (PyTorch would return NaN).

    Shapes: ``query`` ``(B, D)``, ``keys`` ``(B, S, Dk)``, ``values`` ``(B, S, Dv)``,
    ``mask`` ``(B, S)`` bool or None -> ``context`` ``(B, Dv)``, ``weights`` ``(B, S)``.
    """
    q, k, v = _attention_inputs(query, keys, values, score)
    e = _attention_scores(q, k, score, weight)
    m = _attention_mask(mask, e.shape)
    if m is not None:
        e = np.where(m, e, -np.inf)
    # exp(-inf - max) is exactly 0.0, so masked positions carry no weight at all.
    unnormalised = np.exp(e - e.max(axis=1, keepdims=True))
    weights = unnormalised / unnormalised.sum(axis=1, keepdims=True)
    context = np.einsum("bs,bsv->bv", weights, v)
    return context, weights


# ----------------------------------------------------------------------------- encoder-decoder pieces

_DECODER_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "attention_weight", "combined_weight",
                   "output_weight", "output_bias")


def bridge(final_state, weight) -> np.ndarray:
    """A decoder's initial state from a bidirectional encoder's final states: ``W [s_fwd; s_bwd]``.

    ``final_state`` is one layer's ``h_n`` (or ``c_n``) as ``nn.LSTM(bidirectional=True)``
    returns it: index 0 the forward direction at each sentence's last word,
    index 1 the backward direction at its first word. Row ``b`` of the result is
    ``W [final_state[0, b]; final_state[1, b]]``.

    Shapes: ``final_state`` ``(2, B, H)``, ``weight`` ``(H_dec, 2H)`` -> ``(B, H_dec)``.
    """
    s = np.asarray(final_state, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if s.ndim != 3 or s.shape[0] != 2:
        raise ValueError(f"final_state must have shape (2, B, H) (forward, backward), got {s.shape}")
    if w.ndim != 2 or w.shape[1] != 2 * s.shape[2]:
        raise ValueError(f"weight must have shape (H_dec, 2H) = (H_dec, {2 * s.shape[2]}), got {w.shape}")
    return np.concatenate([s[0], s[1]], axis=1) @ w.T


def _decoder_params(params) -> dict[str, np.ndarray]:
    """The parameters of :func:`attention_decoder_step` as float64 arrays; a ValueError names any that is missing."""
    missing = [name for name in _DECODER_PARAMS if name not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; it needs {list(_DECODER_PARAMS)}")
    return {name: np.asarray(params[name], dtype=np.float64) for name in _DECODER_PARAMS}


def attention_decoder_step(embedded, state, params) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """One step of an LSTM decoder with multiplicative attention and a combined output layer (Luong et al., 2015)::

        h', c' = LSTMCell(y, (h, c))                           gates i|f|g|o, as torch.nn.LSTMCell
        e_s    = h'^T W_att enc_s,  alpha = softmax(e) over the positions with src_mask True
        a      = sum_s alpha_s enc_s                           (attention queried with the NEW h')
        o      = tanh(W_u [a; h'])                             (context first)
        log P  = log_softmax(W_out o + b_out)

    ``state`` is ``(h, c, enc_hiddens, src_mask)``; ``params`` a mapping with
    ``weight_ih`` ``(4H, E)``, ``weight_hh`` ``(4H, H)``, ``bias_ih`` and
    ``bias_hh`` ``(4H,)`` (the cell), ``attention_weight`` ``W_att`` ``(H, De)``,
    ``combined_weight`` ``W_u`` ``(H, De + H)``, ``output_weight`` ``W_out``
    ``(V, H)`` and ``output_bias`` ``b_out`` ``(V,)``.

    Shapes: ``embedded`` ``(k, E)`` (each row's previous target word, embedded),
    ``h``, ``c`` ``(k, H)``, ``enc_hiddens`` ``(k, S, De)``, ``src_mask`` ``(k, S)``
    bool or None -> ``log_probs`` ``(k, V)`` and ``(h', c')``, ``(k, H)`` each.
    """
    p = _decoder_params(params)
    h, c, enc_hiddens, src_mask = state
    h_next, c_next = lstm_cell(embedded, (h, c), p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    context, _ = attention(h_next, enc_hiddens, enc_hiddens, mask=src_mask, score="general", weight=p["attention_weight"])
    combined = np.tanh(np.concatenate([context, h_next], axis=1) @ p["combined_weight"].T)
    return log_softmax(combined @ p["output_weight"].T + p["output_bias"]), (h_next, c_next)
