"""Classic mistakes in a training step with gradient clipping, shadowing :func:`reference.optim.sgd_step`.

The right order is ``optimizer.zero_grad()``, ``loss.backward()``,
``clip_grad_norm_(model.parameters(), max_norm)``, ``optimizer.step()``: one
factor ``min(1, max_norm / (norm + 1e-6))``, from the norm of ALL gradients
together, scales every gradient before the update ``θ <- θ - lr * g``.

A variant raises where its mistake changes nothing on the given inputs (for
example clipping per parameter when no parameter's gradient is long enough to
be clipped): its output would equal another's, and naming it would mislead.
"""
from __future__ import annotations

import numpy as np

from reference.bptt import clip_grad_norm
from reference.mistakes import mistake
from reference.optim import _check_step, sgd_step

_RIGHT_ORDER = ("The order is: optimizer.zero_grad(); loss.backward(); "
                "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm); optimizer.step().")


def _update(params: dict, grads: dict, lr: float) -> dict:
    return {name: value - lr * grads[name] for name, value in params.items()}


def _needs_clipping(grads: dict, max_norm) -> None:
    if max_norm is None:
        raise ValueError("without max_norm nothing is clipped")
    if clip_grad_norm(grads, max_norm)[1] <= max_norm:
        raise ValueError("the gradient norm is below max_norm: clipping changes nothing")


def _clip_after_step(params, grads, lr, max_norm=None, previous_grads=None):
    params, grads, lr = _check_step(params, grads, lr, max_norm)
    _needs_clipping(grads, max_norm)
    return _update(params, grads, lr)


mistake("sgd_clip_after_step", shadows=sgd_step,
        title="Update made with the unclipped gradients: clipped after optimizer.step(), or not at all",
        explanation="Your parameters moved by -lr * g with the full gradients, whose norm is above max_norm. "
                    "optimizer.step() applies θ <- θ - lr * g with the gradients as they are at that moment, so "
                    "clipping them afterwards changes nothing: clip between loss.backward() and optimizer.step(), "
                    f"by their global norm. {_RIGHT_ORDER}",
        )(_clip_after_step)


def _clip_per_parameter(params, grads, lr, max_norm=None, previous_grads=None):
    params, grads, lr = _check_step(params, grads, lr, max_norm)
    _needs_clipping(grads, max_norm)
    norms = {name: float(np.linalg.norm(g)) for name, g in grads.items()}
    if all(norm <= max_norm for norm in norms.values()):
        raise ValueError("no single gradient is longer than max_norm: clipping each changes nothing")
    return _update(params, {name: g * min(1.0, max_norm / (norms[name] + 1e-6)) for name, g in grads.items()}, lr)


mistake("sgd_clip_per_parameter", shadows=sgd_step,
        title="Each parameter's gradient clipped on its own instead of all together",
        explanation="Clipping the global norm scales ALL gradients by one factor, min(1, max_norm / (norm + 1e-6)) "
                    "with norm = sqrt(Σ over every parameter of Σ g²), so the direction of the update is kept. "
                    "Clipping each tensor by its own norm changes that direction. Call "
                    "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) once, on all parameters.",
        )(_clip_per_parameter)


def _clip_by_value(params, grads, lr, max_norm=None, previous_grads=None):
    params, grads, lr = _check_step(params, grads, lr, max_norm)
    _needs_clipping(grads, max_norm)
    if all(np.all(np.abs(g) <= max_norm) for g in grads.values()):
        raise ValueError("no gradient entry exceeds max_norm: clipping by value changes nothing")
    return _update(params, {name: np.clip(g, -max_norm, max_norm) for name, g in grads.items()}, lr)


mistake("sgd_clip_by_value", shadows=sgd_step,
        title="Gradients clipped by value instead of by their global norm",
        explanation="clip_grad_value_ cuts every entry to [-max_norm, max_norm] separately, which changes the "
                    "direction of the gradient and leaves a long gradient long. Gradient-norm clipping rescales "
                    "the whole gradient: g <- g * min(1, max_norm / (norm + 1e-6)). Use "
                    "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).",
        )(_clip_by_value)


def _no_zero_grad(params, grads, lr, max_norm=None, previous_grads=None):
    params, grads, lr = _check_step(params, grads, lr, max_norm)
    if previous_grads is None:
        raise ValueError("on the first step .grad starts empty: forgetting zero_grad changes nothing")
    _, previous, _ = _check_step(params, previous_grads, lr, max_norm)
    summed = {name: previous[name] + g for name, g in grads.items()}
    return sgd_step(params, summed, lr, max_norm)


mistake("sgd_no_zero_grad", shadows=sgd_step,
        title="optimizer.zero_grad() missing: the previous step's gradients were added to this step's",
        explanation="loss.backward() ADDS the new gradients to what .grad already holds, so without "
                    "optimizer.zero_grad() every step also carries the gradients of the steps before it. Clear "
                    f"them at the start of each step. {_RIGHT_ORDER}",
        )(_no_zero_grad)


def _no_step(params, grads, lr, max_norm=None, previous_grads=None):
    params, grads, lr = _check_step(params, grads, lr, max_norm)
    if lr == 0 or all(not np.any(g) for g in grads.values()):
        raise ValueError("a step of size 0 changes nothing anyway")
    return params


mistake("sgd_no_step", shadows=sgd_step,
        title="optimizer.step() missing: the parameters did not change",
        explanation="loss.backward() and clipping only compute and rescale the gradients; the parameters change "
                    f"when optimizer.step() applies θ <- θ - lr * g. {_RIGHT_ORDER}",
        )(_no_step)
