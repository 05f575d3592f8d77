"""One training update: stochastic gradient descent after clipping the global gradient norm.

The order of a training step in PyTorch is::

    optimizer.zero_grad()          # .grad of every parameter back to zero
    loss.backward()                # .grad = dJ/dtheta
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()               # theta <- theta - lr * .grad

:func:`sgd_step` computes the parameters after it, in float64, from the
parameters and the gradients of this step.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from reference.bptt import clip_grad_norm

__all__ = ["sgd_step"]


def _as_arrays(values: Mapping, what: str) -> dict[str, np.ndarray]:
    if not isinstance(values, Mapping):
        raise ValueError(f"{what} must be a dict of arrays keyed by parameter name, got {type(values).__name__}")
    return {name: np.array(value, dtype=np.float64) for name, value in values.items()}


def _check_step(params, grads, lr, max_norm) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """``params`` and ``grads`` as float64 dicts with the same keys and shapes, and ``lr`` as a float."""
    params, grads = _as_arrays(params, "params"), _as_arrays(grads, "grads")
    if set(params) != set(grads):
        raise ValueError(f"params and grads must have the same keys; params only: {sorted(set(params) - set(grads))}, "
                         f"grads only: {sorted(set(grads) - set(params))}")
    for name, value in params.items():
        if grads[name].shape != value.shape:
            raise ValueError(f"grads[{name!r}] has shape {grads[name].shape}, the parameter {value.shape}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not np.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
    if max_norm is not None and (isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.number))):
        raise ValueError(f"max_norm must be a number or None, got {max_norm!r}")
    return params, grads, float(lr)


def sgd_step(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float,
             max_norm: float | None = None,
             previous_grads: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The parameters after one SGD step on gradients clipped to a global norm of ``max_norm``.

    As ``clip_grad_norm_(parameters, max_norm)`` followed by ``torch.optim.SGD(lr=lr).step()``
    (no momentum, no weight decay)::

        norm = sqrt( sum over every parameter p of sum(g_p ** 2) )
        g_p' = g_p * min(1, max_norm / (norm + 1e-6))          (g_p' = g_p when max_norm is None)
        theta_p' = theta_p - lr * g_p'

    One factor scales every gradient, computed from the norm of all of them
    together. ``previous_grads`` is what each parameter's ``.grad`` held before
    this step's ``backward()`` (the previous step's clipped gradients, or None):
    ``optimizer.zero_grad()`` clears it, so it does not change the result; it is
    an argument so that what code that forgets to clear it computes can be
    expressed on the same inputs (:mod:`reference.mistakes.optim`).

    Shapes: ``params`` and ``grads`` dicts with the same keys, ``grads[k]`` of
    the shape of ``params[k]``; returns a new dict of float64 arrays with those keys.
    """
    params, grads, lr = _check_step(params, grads, lr, max_norm)
    if previous_grads is not None:
        _check_step(params, previous_grads, lr, max_norm)
    if max_norm is not None:
        grads, _ = clip_grad_norm(grads, max_norm)
    return {name: value - lr * grads[name] for name, value in params.items()}
