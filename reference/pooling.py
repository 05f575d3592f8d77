"""Pooling the outputs of an RNN over time, for sequence classification, in numpy float64.

An RNN run over a padded batch gives one output vector per time step,
``outputs (B, T, F)`` with ``F = D*H`` (``D = 2`` for a bidirectional RNN,
whose features are ``[h_fwd^(t); h_bwd^(t)]``, forward half first). Only the
steps ``t < lengths[b]`` are real; what the padded steps hold (zeros after
``pad_packed_sequence``, the state after reading padding without packing, or
anything else) never matters here. A classifier needs one vector per
sequence, ``(B, F)``, and the lecture notes give three ways to get it:

- **last**: the hidden state after the last real word, ``h^(n)``. For the
  forward direction that is step ``n - 1 = lengths[b] - 1``; the backward
  direction reads the sequence right to left, so its state after the *whole*
  sequence sits at step ``0``: ``[h_fwd^(n); h_bwd^(1)]``, the pair that
  ``h_n`` of ``torch.nn.LSTM`` on a packed batch holds.
- **mean**: ``(1 / n) * sum_{t < n} h^(t)``, divided by the true length ``n``,
  not by the padded ``T``.
- **max**: ``max_{t < n} h^(t)_k`` for every feature ``k``. Padding never wins,
  even when every real value is negative (or hugely so).

Lengths are integers with ``1 <= lengths[b] <= T``, in any order.

A linear layer turns the pooled vector ``s`` into logits ``z = W s + b``, and
the classifier predicts ``argmax_c z_c`` (:func:`predict_classes`).
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

__all__ = ["POOLING_METHODS", "last_state", "max_pool", "mean_pool", "pool", "predict_classes"]

ArrayLike = Union[np.ndarray, Sequence]
POOLING_METHODS = ("last", "mean", "max")


def _check(outputs: ArrayLike, lengths: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``outputs`` as float64 (B, T, F) and ``lengths`` as int64 (B,); ValueError naming the problem."""
    try:
        x = np.asarray(outputs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"outputs must be a numeric array: {exc}") from None
    if x.ndim != 3:
        raise ValueError(f"outputs has shape {x.shape}; expected (B, T, F), batch first")
    batch, steps, _ = x.shape
    if batch == 0 or steps == 0:
        raise ValueError(f"outputs has shape {x.shape}; need at least one sequence and one time step")
    raw = np.asarray(lengths)
    if raw.shape != (batch,):
        raise ValueError(f"lengths has shape {raw.shape}; expected (B,) = ({batch},), one length per sequence")
    if raw.dtype == np.bool_ or raw.dtype.kind not in "iu":
        raise ValueError(f"lengths must hold integers, got dtype {raw.dtype}")
    n = raw.astype(np.int64)
    bad = np.flatnonzero((n < 1) | (n > steps))
    if bad.size:
        b = int(bad[0])
        raise ValueError(f"lengths[{b}] = {n[b]} is out of range; every length must be in 1..T = 1..{steps}")
    return x, n


def _real_steps(lengths: np.ndarray, steps: int) -> np.ndarray:
    """(B, T, 1) booleans, True at the real steps ``t < lengths[b]``."""
    return (np.arange(steps)[None, :] < lengths[:, None])[:, :, None]


def last_state(outputs: ArrayLike, lengths: ArrayLike, bidirectional: bool = False) -> np.ndarray:
    """Each sequence's state after reading all of it.

    Unidirectional: ``pooled[b] = outputs[b, lengths[b] - 1]``.
    Bidirectional (``F = 2H``, forward half first)::

        pooled[b, :H] = outputs[b, lengths[b] - 1, :H]   # forward direction, at the last real word
        pooled[b, H:] = outputs[b, 0, H:]                # backward direction, after reading back to the first word

    Shapes: ``outputs`` (B, T, F), ``lengths`` (B,) -> (B, F).
    """
    x, n = _check(outputs, lengths)
    rows = np.arange(x.shape[0])
    pooled = x[rows, n - 1].copy()
    if bidirectional:
        features = x.shape[2]
        if features % 2:
            raise ValueError(f"a bidirectional RNN has an even number of features [h_fwd; h_bwd], got F = {features}")
        half = features // 2
        pooled[:, half:] = x[:, 0, half:]
    return pooled


def mean_pool(outputs: ArrayLike, lengths: ArrayLike) -> np.ndarray:
    """The mean over the real steps: ``pooled[b] = (1 / n_b) * sum_{t < n_b} outputs[b, t]``.

    Padded steps add nothing to the sum and nothing to the count ``n_b = lengths[b]``.
    Shapes: ``outputs`` (B, T, F), ``lengths`` (B,) -> (B, F).
    """
    x, n = _check(outputs, lengths)
    real = _real_steps(n, x.shape[1])
    return np.where(real, x, 0.0).sum(axis=1) / n[:, None]


def max_pool(outputs: ArrayLike, lengths: ArrayLike) -> np.ndarray:
    """The maximum over the real steps, feature by feature: ``pooled[b, k] = max_{t < n_b} outputs[b, t, k]``.

    Padded steps count as ``-inf``, so they never win, even when every real
    value is negative. Shapes: ``outputs`` (B, T, F), ``lengths`` (B,) -> (B, F).
    """
    x, n = _check(outputs, lengths)
    real = _real_steps(n, x.shape[1])
    return np.where(real, x, -np.inf).max(axis=1)


def pool(outputs: ArrayLike, lengths: ArrayLike, method: str, bidirectional: bool = False) -> np.ndarray:
    """Pool ``outputs (B, T, F)`` to ``(B, F)`` by ``method``: ``"last"``, ``"mean"`` or ``"max"``.

    ``bidirectional`` matters only for ``"last"`` (see :func:`last_state`);
    mean and max treat every feature alike.
    """
    if method == "last":
        return last_state(outputs, lengths, bidirectional)
    if method == "mean":
        return mean_pool(outputs, lengths)
    if method == "max":
        return max_pool(outputs, lengths)
    raise ValueError(f"unknown pooling method {method!r}; expected one of {', '.join(POOLING_METHODS)}")


def predict_classes(logits: ArrayLike) -> np.ndarray:
    """The predicted class of every sequence: ``y_hat[b] = argmax_c logits[b, c]``, the first one on a tie.

    Shapes: ``logits`` (B, C) -> int64 class ids (B,), each in ``0..C-1``
    (``torch.argmax(logits, dim=1)``).
    """
    try:
        z = np.asarray(logits, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"logits must be a numeric array: {exc}") from None
    if z.ndim != 2 or 0 in z.shape:
        raise ValueError(f"logits has shape {z.shape}; expected (B, C) with at least one sequence and one class")
    if np.isnan(z).any():
        raise ValueError("logits hold NaN: no class is the largest")
    return z.argmax(axis=1).astype(np.int64)
