"""Backpropagation through time for an Elman RNN language model, and gradient clipping.

Both are written out by hand in numpy float64, with no autograd, so the grader
can compare a student's hand-derived gradients line by line. The usual entry
point is :mod:`reference.rnn`, which re-exports both functions.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np

__all__ = ["elman_bptt", "clip_grad_norm"]

ArrayLike = Union[np.ndarray, Sequence]


def _float_array(name: str, value, shape: Tuple[int, ...], form: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from None
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}; expected {form} = {shape}")
    return array


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def elman_bptt(
    inputs: ArrayLike,
    targets: ArrayLike,
    h0: ArrayLike,
    W_xh: ArrayLike,
    W_hh: ArrayLike,
    b_h: ArrayLike,
    W_hy: ArrayLike,
    b_y: ArrayLike,
) -> Tuple[float, Dict[str, np.ndarray]]:
    """Loss and gradients of a one-layer tanh RNN language model, by BPTT.

    Forward, for t = 1..T::

        a_t = W_xh x_t + W_hh h_{t-1} + b_h        h_t = tanh(a_t)
        z_t = W_hy h_t + b_y                        y_t = softmax(z_t)
        loss = -(1/T) sum_t log y_t[target_t]       (mean cross-entropy, nats)

    Backward, for t = T..1, with ``delta_t = dloss/da_t`` and ``delta_{T+1} = 0``::

        dz_t    = (y_t - onehot(target_t)) / T
        dh_t    = W_hy^T dz_t + W_hh^T delta_{t+1}
        delta_t = dh_t * (1 - h_t^2)
        dW_hy += dz_t h_t^T       db_y += dz_t
        dW_xh += delta_t x_t^T    dW_hh += delta_t h_{t-1}^T    db_h += delta_t
        dh0 = W_hh^T delta_1

    Shapes: ``inputs`` (T, I); ``targets`` (T,) integers in 0..V-1; ``h0`` (H,);
    ``W_xh`` (H, I); ``W_hh`` (H, H); ``b_h`` (H,); ``W_hy`` (V, H); ``b_y`` (V,).
    Returns ``(loss, grads)``, ``grads`` a dict with keys ``W_xh``, ``W_hh``,
    ``b_h``, ``W_hy``, ``b_y`` and ``h0``, each shaped like its parameter.
    """
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"inputs has shape {x.shape}; expected (T, I) with T >= 1")
    T, I = x.shape
    W_hh = np.asarray(W_hh, dtype=np.float64)
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1]:
        raise ValueError(f"W_hh has shape {W_hh.shape}; expected a square (H, H)")
    H = W_hh.shape[0]
    W_hy = np.asarray(W_hy, dtype=np.float64)
    if W_hy.ndim != 2 or W_hy.shape[1] != H:
        raise ValueError(f"W_hy has shape {W_hy.shape}; expected (V, H) with H={H} from W_hh")
    V = W_hy.shape[0]
    W_xh = _float_array("W_xh", W_xh, (H, I), f"(H, I) with H={H}, I={I}")
    b_h = _float_array("b_h", b_h, (H,), f"(H,) with H={H}")
    b_y = _float_array("b_y", b_y, (V,), f"(V,) with V={V}")
    h0 = _float_array("h0", h0, (H,), f"(H,) with H={H}")
    targets = np.asarray(targets)
    if targets.shape != (T,) or targets.dtype.kind not in "iu":
        raise ValueError(
            f"targets has shape {targets.shape} and dtype {targets.dtype}; expected (T,) = ({T},) integers"
        )
    bad = np.flatnonzero((targets < 0) | (targets >= V))
    if bad.size:
        raise ValueError(f"targets[{bad[0]}] = {targets[bad[0]]} is out of range; expected 0..V-1 = 0..{V - 1}")

    # Forward: keep every h_t (hs[0] is h0) and every softmax y_t for the backward pass.
    hs = np.zeros((T + 1, H))
    hs[0] = h0
    probs = np.zeros((T, V))
    loss = 0.0
    for t in range(T):
        hs[t + 1] = np.tanh(W_xh @ x[t] + W_hh @ hs[t] + b_h)
        log_y = _log_softmax(W_hy @ hs[t + 1] + b_y)
        probs[t] = np.exp(log_y)
        loss -= log_y[targets[t]] / T

    # Backward through time; ``delta_next`` is delta_{t+1}.
    grads = {name: np.zeros_like(p) for name, p in (("W_xh", W_xh), ("W_hh", W_hh), ("b_h", b_h),
                                                    ("W_hy", W_hy), ("b_y", b_y))}
    delta_next = np.zeros(H)
    for t in reversed(range(T)):
        dz = probs[t].copy()
        dz[targets[t]] -= 1.0
        dz /= T
        grads["W_hy"] += np.outer(dz, hs[t + 1])
        grads["b_y"] += dz
        dh = W_hy.T @ dz + W_hh.T @ delta_next
        delta = dh * (1.0 - hs[t + 1] ** 2)
        grads["W_xh"] += np.outer(delta, x[t])
        grads["W_hh"] += np.outer(delta, hs[t])
        grads["b_h"] += delta
        delta_next = delta
    grads["h0"] = W_hh.T @ delta_next
    return float(loss), grads


def clip_grad_norm(
    grads: Union[Mapping[str, ArrayLike], Sequence[ArrayLike]], max_norm: float
) -> Tuple[Union[Dict[str, np.ndarray], List[np.ndarray]], float]:
    """Scale gradients so their global L2 norm is at most about ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``::

        total_norm = sqrt(sum over arrays g of sum(g**2))
        coef = max_norm / (total_norm + 1e-6)
        g' = g * coef if coef < 1 else g

    ``grads`` is a dict (a dict with the same keys comes back) or a list of
    arrays of any shapes (a list comes back). The inputs are not modified.
    Returns ``(clipped_grads, total_norm)``, ``total_norm`` measured before
    clipping; an empty collection has norm 0.
    """
    max_norm = float(max_norm)
    if not np.isfinite(max_norm) or max_norm < 0:
        raise ValueError(f"max_norm must be a finite number >= 0, got {max_norm}")
    if isinstance(grads, Mapping):
        keys = list(grads)
        arrays = [np.array(grads[k], dtype=np.float64) for k in keys]
    elif isinstance(grads, (list, tuple)):
        keys = None
        arrays = [np.array(g, dtype=np.float64) for g in grads]
    else:
        raise ValueError(f"grads must be a dict or a list of arrays, got {type(grads).__name__}")

    total_norm = float(np.sqrt(sum(np.sum(g * g) for g in arrays))) if arrays else 0.0
    coef = max_norm / (total_norm + 1e-6)
    if coef < 1.0:
        arrays = [g * coef for g in arrays]
    clipped = dict(zip(keys, arrays)) if keys is not None else arrays
    return clipped, total_norm
