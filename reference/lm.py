"""Language-model losses: log-softmax, token negative log-likelihood, cross-entropy, perplexity.

Notation (as in the lecture notes): a language model reads ``x^(1) .. x^(t)``
and outputs a distribution ``y_hat^(t) = softmax(z^(t))`` over the vocabulary
of size ``V``; its loss at step ``t`` is ``J^(t) = -log y_hat^(t)[x^(t+1)]``
and

    J = (1/T) sum_t J^(t),        perplexity = exp(J).

Conventions of this module:

- logits ``z`` carry the vocabulary LAST: shape ``(..., V)``; targets have the
  shape of the logits without the last axis, ``(...)``, and hold integer ids.
  (``torch.nn.functional.cross_entropy`` wants the class axis SECOND for
  inputs with more than two axes; move it with ``moveaxis`` before comparing.)
- a target equal to ``ignore_index`` (padding) contributes nothing: its NLL is
  0 and it is not counted in means. Like PyTorch, ``ignore_index`` may be a
  real class id (e.g. ``0`` for ``<pad>``); that class is then never scored.
- all results are computed in float64; losses are in nats (natural log).
- when every target is ignored, the mean loss and the perplexity are NaN (0/0,
  as in PyTorch), the summed loss is 0.0, and the per-token losses are zeros.
"""
from __future__ import annotations

from typing import Union

import numpy as np

__all__ = ["corpus_perplexity", "cross_entropy", "lm_batch", "lm_targets", "log_softmax", "masked_cross_entropy",
           "perplexity", "token_nll"]

_REDUCTIONS = ("mean", "sum", "none")


def _as_logits(logits, what: str = "logits") -> np.ndarray:
    """``logits`` as a float64 array with at least one axis; ValueError otherwise."""
    array = np.asarray(logits)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise ValueError(f"{what} must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 0:
        raise ValueError(f"{what} must have a vocabulary axis, got a scalar")
    return array.astype(np.float64)


def _as_ids(ids, what: str) -> np.ndarray:
    """``ids`` as an int64 array; ValueError for floats, bools or other dtypes."""
    array = np.asarray(ids)
    if array.size and (array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{what} must hold integer token ids, got dtype {array.dtype}")
    return array.astype(np.int64)


def _as_id(value, what: str) -> int:
    """One integer token id (Python or numpy int, not bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer token id, got {value!r}")
    return int(value)


def log_softmax(logits, axis: int = -1) -> np.ndarray:
    """Log-softmax along ``axis``, stable for huge logits.

    ``log_softmax(z)_i = z_i - m - log sum_j exp(z_j - m)`` with ``m = max_j z_j``;
    subtracting ``m`` keeps every ``exp`` in ``(0, 1]`` so logits of ``1e4`` do not
    overflow. ``-inf`` logits get ``-inf`` (probability 0); a slice that is all
    ``-inf`` gives NaN, as in PyTorch.

    Shapes: ``logits`` any shape with at least one axis; the result has the same shape.
    """
    z = _as_logits(logits)
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis {axis} is out of range for logits of shape {z.shape}")
    if z.shape[axis] == 0:
        raise ValueError(f"log_softmax over an empty axis {axis} (logits shape {z.shape})")
    m = np.max(z, axis=axis, keepdims=True)
    # An all -inf slice has m = -inf; keep it from turning finite entries into NaN.
    m = np.where(np.isfinite(m), m, 0.0)
    shifted = z - m
    with np.errstate(divide="ignore", invalid="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _check_targets(z: np.ndarray, targets: np.ndarray, ignore_index: int) -> np.ndarray:
    """The boolean mask of scored targets; ValueError for a bad shape or id (naming the position)."""
    if targets.shape != z.shape[:-1]:
        raise ValueError(
            f"targets shape {targets.shape} does not match logits shape {z.shape}: "
            f"logits must be (..., V) with targets (...), i.e. {z.shape[:-1]}"
        )
    vocab = z.shape[-1]
    scored = targets != ignore_index
    bad = scored & ((targets < 0) | (targets >= vocab))
    if np.any(bad):
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"targets{list(position)} = {int(targets[position])} is outside [0, V) with V = {vocab} "
            f"and is not ignore_index ({ignore_index})"
        )
    return scored


def token_nll(logits, targets, ignore_index: int = -100) -> np.ndarray:
    """Per-token negative log-likelihood in nats, 0 where the target is ignored.

    ``nll[...] = -log_softmax(logits[..., :])[targets[...]]`` if
    ``targets[...] != ignore_index``, else ``0``.

    Shapes: ``logits`` ``(..., V)``, ``targets`` ``(...)`` integer; result ``(...)`` float64.
    A target outside ``[0, V)`` that is not ``ignore_index`` raises ValueError naming its position.
    """
    z = _as_logits(logits)
    ids = _as_ids(targets, "targets")
    ignore_index = _as_id(ignore_index, "ignore_index")
    scored = _check_targets(z, ids, ignore_index)
    if z.shape[-1] == 0:
        raise ValueError(f"logits have an empty vocabulary axis (shape {z.shape})")
    safe = np.where(scored, ids, 0)
    picked = np.take_along_axis(log_softmax(z), safe[..., None], axis=-1)[..., 0]
    # where, not multiplication by the mask: an ignored row may hold inf or NaN logits.
    return np.where(scored, -picked, 0.0)


def cross_entropy(
    logits, targets, ignore_index: int = -100, reduction: str = "mean"
) -> Union[float, np.ndarray]:
    """Token cross-entropy, matching ``torch.nn.functional.cross_entropy``.

    With ``nll`` from :func:`token_nll` and ``N = #{targets != ignore_index}``:

    - ``"mean"``: ``sum(nll) / N`` (a float; NaN when ``N = 0``, as in PyTorch);
    - ``"sum"``: ``sum(nll)`` (a float; 0.0 when ``N = 0``);
    - ``"none"``: ``nll`` itself, shape ``targets.shape`` (zeros at ignored targets).

    Shapes: ``logits`` ``(..., V)`` (vocabulary LAST, unlike PyTorch's ``(N, V, d1, ...)``),
    ``targets`` ``(...)``.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    nll = token_nll(logits, targets, ignore_index)
    if reduction == "none":
        return nll
    total = float(np.sum(nll))
    if reduction == "sum":
        return total
    count = int(np.count_nonzero(np.asarray(targets) != ignore_index))
    return total / count if count else float("nan")


def perplexity(logits, targets, ignore_index: int = -100) -> float:
    """Perplexity of a batch: ``exp`` of the mean NLL over all non-ignored targets.

    ``ppl = exp( sum_{scored tokens} nll / #{scored tokens} )``, the tokens of the
    whole batch weighted equally: this is NOT the mean of per-sentence
    perplexities (nor the exp of the mean of per-sentence mean losses), which
    would over-weight short sentences. When every target is ignored the
    perplexity is undefined and NaN is returned.

    Shapes: ``logits`` ``(..., V)``, ``targets`` ``(...)``.
    """
    return float(np.exp(cross_entropy(logits, targets, ignore_index, reduction="mean")))


def lm_targets(token_ids, bos: int, eos: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-token targets for language-model training (teacher forcing).

    For a sentence ``w_1 .. w_n``: ``inputs = [bos, w_1, .., w_n]`` and
    ``targets = [w_1, .., w_n, eos]``, so the model reading ``inputs[t]`` is
    trained to predict ``targets[t]`` (the last prediction is end-of-sentence).

    Shapes: ``token_ids`` ``(n,)`` -> two ``(n + 1,)`` int64 arrays. A 2-D
    ``(B, n)`` batch is also accepted and treated as ``B`` full-length rows of
    equal length (``bos`` is prepended and ``eos`` appended to every row) ->
    two ``(B, n + 1)`` arrays. For a padded batch of different lengths apply
    this per sentence, then pad (see :mod:`reference.sequence`), so that
    ``eos`` follows each sentence's last real token rather than its padding.
    """
    ids = _as_ids(token_ids, "token_ids")
    bos = _as_id(bos, "bos")
    eos = _as_id(eos, "eos")
    if ids.ndim not in (1, 2):
        raise ValueError(f"token_ids must be 1-D (n,) or 2-D (B, n), got shape {ids.shape}")
    lead = ids.shape[:-1] + (1,)
    inputs = np.concatenate([np.full(lead, bos, dtype=np.int64), ids], axis=-1)
    targets = np.concatenate([ids, np.full(lead, eos, dtype=np.int64)], axis=-1)
    return inputs, targets


# ------------------------------------------------------------- right-padded batches (B, T)


def lm_batch(sentences, bos: int, eos: int, pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A right-padded language-model batch: :func:`lm_targets` per sentence, then padding.

    For sentence ``b`` with words ``w_1 .. w_n``: ``inputs[b] = [bos, w_1, .., w_n, pad, ..]``,
    ``targets[b] = [w_1, .., w_n, eos, pad, ..]`` and ``lengths[b] = n + 1``, so
    ``eos`` follows each sentence's last real word, not its padding.

    Shapes: ``sentences`` a list of ``B`` 1-D id sequences (each may be empty) ->
    ``inputs`` and ``targets`` ``(B, T)`` int64 with ``T = max_b n_b + 1``, ``lengths`` ``(B,)`` int64.
    """
    pad = _as_id(pad, "pad")
    if len(sentences) == 0:
        raise ValueError("lm_batch needs at least one sentence")
    pairs = [lm_targets(_as_ids(sentence, f"sentences[{b}]").reshape(-1), bos, eos)
             for b, sentence in enumerate(sentences)]
    lengths = np.array([len(inputs) for inputs, _ in pairs], dtype=np.int64)
    inputs = np.full((len(pairs), int(lengths.max())), pad, dtype=np.int64)
    targets = inputs.copy()
    for b, (row_inputs, row_targets) in enumerate(pairs):
        inputs[b, : lengths[b]] = row_inputs
        targets[b, : lengths[b]] = row_targets
    return inputs, targets, lengths


def _padded_batch(logits, targets, lengths) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(z, ids, lengths, mask)`` of a right-padded batch, checked; ids at padding are replaced by 0.

    Positions ``t >= lengths[b]`` may hold any id (padding is never read); real
    targets must lie in ``[0, V)``.
    """
    z = _as_logits(logits)
    ids = _as_ids(targets, "targets")
    lengths = _as_ids(lengths, "lengths").reshape(-1)
    if z.ndim != 3 or ids.shape != z.shape[:2] or lengths.shape != z.shape[:1]:
        raise ValueError(f"expected logits (B, T, V), targets (B, T) and lengths (B,); got shapes {z.shape}, "
                         f"{ids.shape} and {lengths.shape}")
    if np.any(lengths < 0) or np.any(lengths > z.shape[1]):
        raise ValueError(f"lengths {lengths.tolist()} must lie in 0..T with T = {z.shape[1]}")
    mask = np.arange(z.shape[1])[None, :] < lengths[:, None]
    bad = mask & ((ids < 0) | (ids >= z.shape[2]))
    if np.any(bad):
        b, t = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"targets[{b}, {t}] = {int(ids[b, t])} is a real target outside [0, V) with V = {z.shape[2]}")
    return z, np.where(mask, ids, 0), lengths, mask


def masked_cross_entropy(logits, targets, lengths) -> tuple[float, np.ndarray]:
    """The loss of a right-padded batch and its gradient: the mean NLL over the real tokens.

    With ``mask[b, t] = t < lengths[b]`` and ``N = sum_b lengths[b]``::

        J = (1/N) sum_{b, t: mask[b, t]} -log softmax(z[b, t])[targets[b, t]]
        dJ/dz[b, t] = mask[b, t] * (softmax(z[b, t]) - onehot(targets[b, t])) / N

    Padding (``t >= lengths[b]``) counts neither in the sum nor in ``N``,
    whatever id it holds; every real token weighs the same (this is not the
    mean of per-sentence means). In nats. ``J`` is NaN when ``N = 0``.

    Shapes: ``logits`` ``(B, T, V)``, ``targets`` ``(B, T)`` integer, ``lengths`` ``(B,)``
    integer in ``0..T`` -> ``(J, dJ/dz)`` with ``dJ/dz`` ``(B, T, V)`` float64.
    """
    z, ids, lengths, mask = _padded_batch(logits, targets, lengths)
    count = int(lengths.sum())
    log_probs = log_softmax(z)
    nll = np.where(mask, -np.take_along_axis(log_probs, ids[..., None], axis=-1)[..., 0], 0.0)
    # where, not a product with the mask: a padded row may hold inf or NaN logits.
    grad = np.where(mask[..., None], (np.exp(log_probs) - np.eye(z.shape[-1])[ids]) / max(count, 1), 0.0)
    return (float(nll.sum() / count) if count else float("nan")), grad


def corpus_perplexity(batches) -> float:
    """Perplexity of a corpus given as right-padded batches of different sizes.

    ``batches`` is a list of ``(logits, targets, lengths)`` triples shaped as in
    :func:`masked_cross_entropy`; with ``nll`` the per-token NLL (nats) and ``N_k``
    the real tokens of batch ``k``::

        perplexity = exp( sum_k sum_{real tokens of batch k} nll  /  sum_k N_k )

    every real token of the corpus weighs the same: this is not the mean of
    per-sentence or per-batch perplexities, nor ``2 **`` of a loss in nats.
    NaN when the corpus has no real token. Returns a Python float.
    """
    if len(batches) == 0:
        raise ValueError("corpus_perplexity needs at least one batch")
    total, count = 0.0, 0
    for logits, targets, lengths in batches:
        loss, _ = masked_cross_entropy(logits, targets, lengths)
        tokens = int(np.sum(lengths))
        total, count = total + (loss * tokens if tokens else 0.0), count + tokens
    return float(np.exp(total / count)) if count else float("nan")
