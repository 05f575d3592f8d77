"""Messages of the ``autograd`` kit that are not mistakes of the catalogue.

Wrong values and gradients are explained by the catalogue of classic mistakes
(:mod:`reference.mistakes.ops`, through :mod:`grader.diagnosis`). What stays
here is what no variant of an oracle can say: how to fix an import, a class
left undecorated, a backward whose result breaks edugrad's calling
convention or that crashes, and what finite differences of the student's own
forward tell about a wrong gradient; and :func:`explain_bare_array`, which
hands a bare array to the catalogue. No student code runs here.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from grader.diagnosis import explain_mismatch
from reference.mistakes.ops import mistakes_about
from reference.ops import run_graph

CLASS_NOT_DECORATED = ("\n{name} is a class: calling it does not run forward. Put @tensor_op on the line above "
                       "`class {name}(Operation):` so that {name}(x) builds a Tensor in the graph.")
NOT_A_TENSOR = {
    "op": "Decorate the Operation class with @tensor_op (from edugrad.ops): the decorated op wraps forward's array in a "
          "Tensor that remembers its inputs, so backward can reach them.",
    "softmax_rows": "Build softmax_rows from ops on Tensors (exp, sum_along_columns, divide, edugrad's minus) and return "
                    "their Tensor, not a numpy array.",
    "cross_entropy_loss": "Build cross_entropy_loss from ops on Tensors (log, multiply, sum_along_columns, edugrad's "
                          "reduce_mean and minus) and return their 0-d Tensor, not a number or an array.",
}
BACKWARD_CRASH = ("Reminder: edugrad's tensor_op applies your backward's result as `inputs[i].grad += grads[i]` for every "
                  "input i, so backward must return a list with one gradient per input, each shaped like that input.")
MODIFIED_INPUT = ("{name} changed its input {label} in place (for example `x -= ...`, `x *= ...` or np.exp(x, out=x)). "
                  "That array is the value of a Tensor in the graph; other ops and backward read it later. "
                  "Compute a new array instead.")

EDUGRAD_NAMES = ("Tensor", "Operation", "tensor_op", "add", "minus", "matmul", "power", "relu", "reduce_sum",
                 "reduce_mean", "copy_rows", "mse_loss")
# The names of each op's inputs, as in the starter code.
ARGUMENTS = {"multiply": ("a", "b"), "lookup_rows": ("matrix", "indices")}


def import_hint(message: str) -> str:
    """A pointer when ops.py imports something edugrad does not have."""
    if "cannot import name" in message and "edugrad" in message:
        return (f"\nedugrad 0.1 provides only {', '.join(EDUGRAD_NAMES)} (in edugrad.ops; Tensor, Operation and tensor_op "
                "also in edugrad.tensor); write everything else yourself in ops.py.")
    return ""


def crash_hint(op: str, message: str) -> str:
    """A pointer for an exception raised inside the student's op."""
    if op == "sum_along_columns" and "broadcast" in message:
        return ("\nLikely cause: grad_output has shape (B,) and numpy broadcasts it along the LAST axis of a (B, D) array. "
                "Give it a column axis first: grad_output[:, np.newaxis] has shape (B, 1) and spreads each row's "
                "gradient over its D columns.")
    return ""


def factor_hint(got: Any, want: Any, what: str) -> str:
    """``got`` is a constant multiple of ``want`` (a lost mean, a sign, a doubled path), or all zero; else ""."""
    try:
        got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    except (TypeError, ValueError):
        return ""
    # "everywhere" needs at least two entries that are not zero: any single number is a multiple of another.
    if got.shape != want.shape or not np.all(np.isfinite(got)) or np.count_nonzero(np.abs(want) > 1e-8) < 2:
        return ""
    if not np.any(got):
        return f"All your {what} are zero."
    factor = float(np.sum(got * want) / np.sum(want * want))
    if abs(factor - 1.0) > 1e-3 and np.allclose(got, factor * want, rtol=1e-5, atol=1e-6):
        if abs(factor + 1.0) < 1e-6:
            return f"Your {what} have the wrong sign everywhere."
        return f"Your {what} are {factor:.4g} times the expected ones everywhere."
    return ""


def finite_difference_verdict(numeric: float, analytic: float, expected: float) -> str:
    """What central differences of the student's own forward say about a wrong gradient."""
    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-4 * (abs(a) + abs(b)) + 1e-6

    if not all(np.isfinite([numeric, analytic, expected])):
        return ""
    if close(numeric, analytic):
        return ("Finite differences of your own forward agree with your gradients, so your backward matches your forward: "
                "it is the forward values that are off (see the forward test).")
    if close(numeric, expected):
        return ("Finite differences of your own forward agree with the expected gradients, so the forward is right and "
                "the mistake is in a backward.")
    return (f"Finite differences of your own forward disagree with your gradients as well (along a random direction: "
            f"{numeric:.6g} numerically, {analytic:.6g} from your backward, {expected:.6g} expected), so a backward is wrong.")


def contract_problem(name: str, grads: Any, arrays: list[np.ndarray], labels: list[str]) -> str | None:
    """Why ``grads`` (what backward returned) breaks edugrad's convention, or None when it does not.

    A bare array is only named here: the catalogue's ``backward_returns_bare_array`` explains it.
    """
    count = len(arrays)
    names = ARGUMENTS.get(name, ("x",))
    wanted = "a list with one gradient per input of forward: `return [" + ", ".join(f"grad_{n}" for n in names) + "]`"
    if isinstance(grads, (np.ndarray, int, float)):
        what = f"a bare numpy array of shape {np.shape(grads)}" if isinstance(grads, np.ndarray) else "a bare number"
        return f"{name}.backward returned {what}; it must return {wanted}."
    if not isinstance(grads, (list, tuple)):
        if grads is None:
            return f"{name}.backward returned None (is its return statement missing?); it must return {wanted}."
        kind = getattr(grads, "type_name", type(grads).__name__)
        return f"{name}.backward returned a {kind}; it must return {wanted}."
    if len(grads) != count:
        extra = (" For the indices, return zeros of their shape (integers have no gradient, but edugrad expects one "
                 "entry).") if name == "lookup_rows" else ""
        return f"{name}.backward returned {len(grads)} gradient(s) for {count} input(s); return {wanted}.{extra}"
    for grad, array, label in zip(grads, arrays, labels):
        if grad is None or hasattr(grad, "type_name"):  # None, or an object that is not data (it stayed in the worker)
            kind = "None" if grad is None else f"an object of type {grad.type_name}"
            return (f"{name}.backward returned {kind} as the gradient of {label}; return an array of its shape "
                    f"{np.shape(array)}.")
        try:
            shape = np.shape(grad)
        except ValueError:  # a ragged nested list
            shape = "ragged"
        if shape != np.shape(array):
            return (f"{name}.backward returned a gradient of shape {shape} for {label}, whose shape is "
                    f"{np.shape(array)}: every gradient must have exactly its input's shape. edugrad adds it with "
                    "`inputs[i].grad += grads[i]`, which broadcasts a wrong shape silently or fails.")
    return None


def explain_bare_array(name: str, grads: np.ndarray, arrays: list[np.ndarray], upstream: np.ndarray) -> None:
    """Diagnose a bare array by what edugrad makes of it, ``inputs[i].grad += grads[i]``, where that is wrong.

    (A (1, D) gradient returned bare gives the right values by luck: row 0 is all of it.)
    """
    effect = {}
    try:
        for i, array in enumerate(arrays):
            effect[f"input{i}"] = np.zeros(np.shape(array))
            effect[f"input{i}"] += np.asarray(grads[i], dtype=float)
    except (IndexError, TypeError, ValueError):  # edugrad fails too, e.g. grads[0] of a 0-d array
        return
    graph, leaves = (lambda o, *tensors: getattr(o, name)(*tensors)), dict(zip(effect, arrays))
    gradients = lambda result: {key: result[1][key] for key in effect}  # noqa: E731
    try:
        right = gradients(run_graph(graph, leaves, upstream))
    except ValueError:  # the student's forward gave an output of another shape: nothing to compare
        return
    if not all(np.allclose(effect[key], right[key], rtol=1e-5, atol=1e-6) for key in effect):
        explain_mismatch(effect, run_graph, graph, leaves, upstream, output=gradients, mistakes=mistakes_about([name]),
                         same=lambda got, candidate: all(np.allclose(got[k], candidate[k], rtol=1e-5, atol=1e-6)
                                                         for k in got))
