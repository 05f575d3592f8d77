"""Classic mistakes in hand-written BPTT and gradient clipping, shadowing :mod:`reference.bptt`.

Notation as in the oracle :func:`reference.bptt.elman_bptt`: ``a_t = W_xh x_t +
W_hh h_{t-1} + b_h``, ``h_t = tanh(a_t)``, ``z_t = W_hy h_t + b_y``, the loss is
the mean cross-entropy over the T steps and ``delta_t = dloss/da_t``. Every
variant first runs the oracle on its arguments, so bad arguments are refused
with the oracle's own message, then computes what the mistaken code returns.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from reference.bptt import clip_grad_norm, elman_bptt
from reference.mistakes import mistake

ArrayLike = np.ndarray | Sequence
Grads = Mapping[str, ArrayLike] | Sequence[ArrayLike]

# ------------------------------------------------------------------ elman_bptt


def _bptt(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, *, through_time: bool = True, derivative: str = "h_t",
          mean: bool = True, w_hh_state: str = "h_{t-1}", h0_through_w_hh: bool = True):
    """``elman_bptt`` with one knob turned away from the correct recurrence (the defaults are correct).

    ``derivative`` is the factor that turns dh_t into delta_t: ``"h_t"`` (1 - h_t^2),
    ``"none"``, ``"tanh_again"`` (1 - tanh(h_t)^2) or ``"h_{t-1}"`` (1 - h_{t-1}^2);
    ``w_hh_state`` is the state in dW_hh's outer product.
    """
    elman_bptt(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y)  # the oracle's argument checks
    x, targets = np.asarray(inputs, dtype=np.float64), np.asarray(targets)
    h0, W_xh, W_hh, b_h, W_hy, b_y = (np.asarray(a, dtype=np.float64) for a in (h0, W_xh, W_hh, b_h, W_hy, b_y))
    T = len(x)
    scale = 1.0 / T if mean else 1.0
    hs, probs, loss = [h0], [], 0.0
    for t in range(T):
        hs.append(np.tanh(W_xh @ x[t] + W_hh @ hs[-1] + b_h))
        z = W_hy @ hs[-1] + b_y
        y = np.exp(z - z.max())
        probs.append(y / y.sum())
        loss -= np.log(probs[-1][targets[t]]) * scale
    factor = {"h_t": lambda t: 1.0 - hs[t + 1] ** 2, "none": lambda t: 1.0,
              "tanh_again": lambda t: 1.0 - np.tanh(hs[t + 1]) ** 2, "h_{t-1}": lambda t: 1.0 - hs[t] ** 2}[derivative]
    grads = {name: np.zeros_like(p) for name, p in (("W_xh", W_xh), ("W_hh", W_hh), ("b_h", b_h),
                                                    ("W_hy", W_hy), ("b_y", b_y))}
    delta_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        dz = probs[t].copy()
        dz[targets[t]] -= 1.0
        dz *= scale
        grads["W_hy"] += np.outer(dz, hs[t + 1])
        grads["b_y"] += dz
        dh = W_hy.T @ dz + (W_hh.T @ delta_next if through_time else 0.0)
        delta = dh * factor(t)
        grads["W_xh"] += np.outer(delta, x[t])
        grads["W_hh"] += np.outer(delta, hs[t] if w_hh_state == "h_{t-1}" else hs[t + 1])
        grads["b_h"] += delta
        delta_next = delta
    grads["h0"] = W_hh.T @ delta_next if h0_through_w_hh else delta_next
    return float(loss), grads


def _bptt_mistake(id: str, title: str, explanation: str, **knob):
    """Register the ``elman_bptt`` variant that turns ``knob``."""

    def variant(inputs: ArrayLike, targets: ArrayLike, h0: ArrayLike, W_xh: ArrayLike, W_hh: ArrayLike,
                b_h: ArrayLike, W_hy: ArrayLike, b_y: ArrayLike) -> tuple[float, dict[str, np.ndarray]]:
        return _bptt(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, **knob)

    variant.__name__ = id
    mistake(id, shadows=elman_bptt, title=title, explanation=explanation)(variant)


_bptt_mistake(
    "bptt_no_gradient_through_time",
    title="BPTT stops after one step: dh_t lacks the term W_hh^T delta_{t+1}",
    explanation="The hidden state h_t feeds the loss at step t and, through h_{t+1}, at every later step, so its "
                "gradient has two terms: dh_t = W_hy^T dz_t + W_hh^T delta_{t+1}. Going backwards from t = T with "
                "delta_{T+1} = 0, carry delta_t over to the step before.",
    through_time=False)

_bptt_mistake(
    "bptt_missing_tanh_derivative",
    title="BPTT without the tanh derivative: delta_t = dh_t",
    explanation="h_t = tanh(a_t), so the gradient reaching a_t is delta_t = dh_t * (1 - h_t^2), elementwise; "
                "every gradient of W_xh, W_hh, b_h and h0 goes through this factor.",
    derivative="none")

_bptt_mistake(
    "bptt_tanh_applied_twice",
    title="BPTT tanh derivative computed as 1 - tanh(h_t)^2 instead of 1 - h_t^2",
    explanation="The derivative of tanh at a_t is 1 - tanh(a_t)^2, and tanh(a_t) is h_t itself: "
                "delta_t = dh_t * (1 - h_t^2). Applying tanh again to the stored h_t squashes it twice.",
    derivative="tanh_again")

_bptt_mistake(
    "bptt_derivative_of_previous_state",
    title="BPTT tanh derivative taken at the previous state: 1 - h_{t-1}^2",
    explanation="delta_t = dh_t * (1 - h_t^2) uses the state that step t produced, h_t = tanh(a_t). If you "
                "keep h0 at index 0 of your list of states, h_t is at index t + 1.",
    derivative="h_{t-1}")

_bptt_mistake(
    "bptt_recurrent_gradient_with_current_state",
    title="BPTT gradient of W_hh built from h_t instead of h_{t-1}",
    explanation="W_hh multiplies the previous state in a_t = W_xh x_t + W_hh h_{t-1} + b_h, so "
                "dW_hh += delta_t h_{t-1}^T. If you keep h0 at index 0 of your list of states, h_{t-1} is at "
                "index t.",
    w_hh_state="h_t")

_bptt_mistake(
    "bptt_initial_state_without_w_hh",
    title="BPTT gradient of h0 taken as delta_1 instead of W_hh^T delta_1",
    explanation="h0 enters the loss only through a_1 = W_xh x_1 + W_hh h0 + b_h, so dh0 = W_hh^T delta_1: the "
                "same step back through W_hh as every other dh_t.",
    h0_through_w_hh=False)

_bptt_mistake(
    "bptt_sum_over_steps",
    title="BPTT loss summed over the steps instead of averaged",
    explanation="The loss is the mean cross-entropy, loss = -(1/T) sum_t log y_t[target_t], so the loss and "
                "every gradient carry the factor 1/T: dz_t = (y_t - onehot(target_t)) / T. Your values are T "
                "times too large.",
    mean=False)

# -------------------------------------------------------------- clip_grad_norm


def _unpack(grads: Grads) -> tuple[list[str] | None, list[np.ndarray]]:
    if isinstance(grads, Mapping):
        return list(grads), [np.array(grads[key], dtype=np.float64) for key in grads]
    return None, [np.array(g, dtype=np.float64) for g in grads]


def _pack(keys: list[str] | None, arrays: list[np.ndarray]):
    return dict(zip(keys, arrays)) if keys is not None else arrays


def _norm(arrays: list[np.ndarray]) -> float:
    return float(np.sqrt(sum(np.sum(g * g) for g in arrays))) if arrays else 0.0


def _clipped(arrays: list[np.ndarray], norm: float, max_norm: float) -> list[np.ndarray]:
    coef = float(max_norm) / (norm + 1e-6)
    return [g * coef for g in arrays] if coef < 1.0 else arrays


@mistake("clip_per_tensor", shadows=clip_grad_norm,
         title="Each gradient array clipped by its own norm instead of by the total norm",
         explanation="Clipping by the global norm rescales all arrays by one common factor, "
                     "max_norm / (total_norm + 1e-6) with total_norm = sqrt(sum over arrays g of sum(g^2)), so the "
                     "direction of the whole gradient is kept. Clipping every array to max_norm separately changes "
                     "that direction and can leave a total norm far above max_norm.")
def clip_per_tensor(grads: Grads, max_norm: float):
    clip_grad_norm(grads, max_norm)  # the oracle's argument checks
    keys, arrays = _unpack(grads)
    clipped = [_clipped([g], _norm([g]), max_norm)[0] for g in arrays]
    return _pack(keys, clipped), _norm(arrays)


@mistake("clip_norm_without_sqrt", shadows=clip_grad_norm,
         title="Gradient norm computed without the square root (the sum of squares)",
         explanation="The L2 norm is total_norm = sqrt(sum over arrays g of sum(g^2)). Without the square root you "
                     "compare the squared norm with max_norm, so you clip at the wrong threshold and by the wrong "
                     "factor, and return the wrong total_norm.")
def clip_norm_without_sqrt(grads: Grads, max_norm: float):
    clip_grad_norm(grads, max_norm)
    keys, arrays = _unpack(grads)
    squared = float(sum(np.sum(g * g) for g in arrays)) if arrays else 0.0
    return _pack(keys, _clipped(arrays, squared, max_norm)), squared


@mistake("clip_always_rescales", shadows=clip_grad_norm,
         title="Gradients rescaled to max_norm even when their norm is already below it",
         explanation="Clipping only ever shrinks: with coef = max_norm / (total_norm + 1e-6), multiply by coef only "
                     "if coef < 1 and otherwise leave the gradients unchanged. Multiplying always stretches small "
                     "gradients up to max_norm.")
def clip_always_rescales(grads: Grads, max_norm: float):
    clip_grad_norm(grads, max_norm)
    keys, arrays = _unpack(grads)
    norm = _norm(arrays)
    coef = float(max_norm) / (norm + 1e-6)
    return _pack(keys, [g * coef for g in arrays]), norm


@mistake("clip_by_value", shadows=clip_grad_norm,
         title="Each gradient element clipped to [-max_norm, max_norm] instead of rescaling by the norm",
         explanation="np.clip(g, -max_norm, max_norm) is clipping by value (torch.nn.utils.clip_grad_value_). "
                     "Clipping by norm multiplies every array by max_norm / (total_norm + 1e-6) when that factor is "
                     "below 1, with total_norm = sqrt(sum over arrays g of sum(g^2)).")
def clip_by_value(grads: Grads, max_norm: float):
    clip_grad_norm(grads, max_norm)
    keys, arrays = _unpack(grads)
    return _pack(keys, [np.clip(g, -float(max_norm), float(max_norm)) for g in arrays]), _norm(arrays)


@mistake("clip_norm_after_clipping", shadows=clip_grad_norm,
         title="total_norm returned after clipping instead of before",
         explanation="Like torch.nn.utils.clip_grad_norm_, return the total norm of the gradients you were given, "
                     "measured before any rescaling (it is what you log to watch for exploding gradients); after "
                     "clipping it would be about max_norm whenever clipping happened.")
def clip_norm_after_clipping(grads: Grads, max_norm: float):
    clipped, _ = clip_grad_norm(grads, max_norm)
    return clipped, _norm(_unpack(clipped)[1])
