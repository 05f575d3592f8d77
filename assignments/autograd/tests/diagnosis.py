"""Likely causes of wrong answers in the ``autograd`` assignment, for the kit's messages.

Pure numpy: every function gets the inputs, the upstream gradient ``g`` and the
student's answer as arrays, recomputes the answer that a known mistake would
give, and returns one sentence naming the mistake and its fix, or ``""``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

TOL = {"rtol": 1e-5, "atol": 1e-6}

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


def ignores_upstream_hint(got: Any, ignoring: np.ndarray) -> str:
    """The student's gradient is what backward gives for an upstream gradient of ones."""
    if _close(got, ignoring):
        return ("Likely cause: a backward ignores grad_output. By the chain rule, dL/dx = grad_output * dy/dx: multiply "
                "the local derivative by the upstream gradient (it is all ones only when the output is the loss itself).")
    return ""


def _close(got: Any, want: Any) -> bool:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return got.shape == want.shape and bool(np.all(np.isfinite(got))) and np.allclose(got, want, **TOL)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _fancy_add(shape: tuple[int, ...], indices: np.ndarray, g: np.ndarray) -> np.ndarray:
    grad = np.zeros(shape)
    grad[indices] += g  # numpy buffers fancy indexing: a repeated row keeps only its last contribution
    return grad


# ------------------------------------------------------------------------- forward
# op -> [(explanation, inputs -> what the mistake computes)]
_FORWARD: dict[str, list[tuple[str, Callable[..., Any]]]] = {
    "sigmoid": [("you compute 1 / (1 + exp(x)); the sigmoid is 1 / (1 + exp(-x))", lambda x: _sigmoid(-x))],
    "log": [("you use log10; log here is the natural logarithm, np.log", lambda x: np.log10(x)),
            ("you use log2; log here is the natural logarithm, np.log", lambda x: np.log2(x))],
    "tanh": [("you compute the sigmoid; tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)), np.tanh", lambda x: _sigmoid(x))],
    "multiply": [("you add the inputs; multiply is the element-wise product a * b", lambda a, b: a + b)],
    "sum_along_columns": [
        ("you sum over axis 0 (each column over the rows); sum each row over its columns: np.sum(x, axis=1), shape (B,)",
         lambda x: np.sum(x, axis=0)),
        ("you sum every entry into one number; sum each row over its columns: np.sum(x, axis=1), shape (B,)",
         lambda x: np.sum(x))],
    "lookup_rows": [("you select columns; select rows: matrix[indices]",
                     lambda m, i: m[:, i] if i.ndim == 1 and i.max() < m.shape[1] else None)],
    "softmax_rows": [("you normalise the columns; each row must sum to 1 (sum_along_columns)",
                      lambda x: np.exp(x) / np.exp(x).sum(axis=0, keepdims=True))],
    "cross_entropy_loss": [
        ("you sum the losses of the batch; the loss is their mean (divide by the batch size B)",
         lambda p, y: -np.sum(y * np.log(p))),
        ("you average over every entry of the (B, C) matrix, dividing by B*C; sum each row first (sum_along_columns), "
         "then average over the batch", lambda p, y: -np.mean(y * np.log(p))),
        ("the sign is wrong: the loss is minus the mean log-probability of the true class",
         lambda p, y: np.mean(np.sum(y * np.log(p), axis=1))),
        ("you return one loss per example; return their mean as a 0-d Tensor (edugrad's reduce_mean)",
         lambda p, y: -np.sum(y * np.log(p), axis=1))],
}


def forward_hint(op: str | None, inputs: list[np.ndarray], got: Any, want: np.ndarray) -> str:
    """A sentence on the likely cause of a wrong forward value, or ""."""
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return ""
    if op == "softmax_rows" and not np.all(np.isfinite(got_array)):
        return ("Likely cause: exp overflows on large logits (exp(1000) is inf, and inf / inf is nan). Subtract each row's "
                "maximum before exp, as a constant Tensor (softmax does not change when a row is shifted).")
    if op in ("sigmoid", "tanh") and not np.all(np.isfinite(got_array)):
        return (f"Likely cause: exp overflows for inputs of large magnitude (exp(710) is inf). Write {op} so that exp only "
                "ever sees -|x|, or use np.tanh.")
    for explanation, mistake in _FORWARD.get(op or "", []):
        try:
            with np.errstate(all="ignore"):
                if _close(got_array, mistake(*inputs)):
                    return f"Likely cause: {explanation}."
        except (TypeError, ValueError, IndexError):
            continue
    return _factor_hint(got_array, want, "values")


def _factor_hint(got: np.ndarray, want: np.ndarray, what: str) -> str:
    """``got`` is a constant multiple of ``want`` (a lost mean, a sign, a doubled path)."""
    want = np.asarray(want, dtype=float)
    # "everywhere" needs at least two entries that are not zero: any single number is a multiple of another.
    if got.shape != want.shape or not np.all(np.isfinite(got)) or np.count_nonzero(np.abs(want) > 1e-8) < 2:
        return ""
    if not np.any(got):
        return f"All your {what} are zero."
    factor = float(np.sum(got * want) / np.sum(want * want))
    if abs(factor - 1.0) > 1e-3 and _close(got, factor * want):
        if abs(factor + 1.0) < 1e-6:
            return f"Your {what} have the wrong sign everywhere."
        return f"Your {what} are {factor:.4g} times the expected ones everywhere."
    return ""


# ------------------------------------------------------------------------ backward
# op -> [(explanation, (inputs, g) -> one gradient per input)]
_BACKWARD: dict[str, list[tuple[str, Callable[..., list]]]] = {
    "sigmoid": [
        ("your backward uses the input x where the derivative needs the output: dsigmoid/dx = s * (1 - s) with "
         "s = sigmoid(x), not x * (1 - x); save s in ctx during forward", lambda x, g: [g * x * (1 - x)]),
        ("your backward returns g * s; the derivative is s * (1 - s)", lambda x, g: [g * _sigmoid(x)])],
    "log": [
        ("your backward forgets the derivative 1/x and passes g through unchanged; d ln(x)/dx = 1/x", lambda x, g: [g]),
        ("your backward multiplies by exp(x); d ln(x)/dx = 1/x (exp is the inverse of log, not its derivative)",
         lambda x, g: [g * np.exp(x)]),
        ("your backward multiplies by x; d ln(x)/dx = 1/x, so return g / x", lambda x, g: [g * x]),
        ("your backward multiplies by ln(x); d ln(x)/dx = 1/x, so return g / x", lambda x, g: [g * np.log(x)]),
        ("your backward has the sign wrong: d ln(x)/dx = +1/x", lambda x, g: [-g / x])],
    "exp": [("your backward multiplies g by the input x; d exp(x)/dx = exp(x), the output (save it in ctx)",
             lambda x, g: [g * x]),
            ("your backward passes g through unchanged; d exp(x)/dx = exp(x)", lambda x, g: [g])],
    "tanh": [("your backward uses the input x where the derivative needs the output: dtanh/dx = 1 - t**2 with "
              "t = tanh(x), not 1 - x**2", lambda x, g: [g * (1 - x * x)]),
             ("your backward uses 1 - t; the derivative is 1 - t**2 with t = tanh(x)", lambda x, g: [g * (1 - np.tanh(x))])],
    "multiply": [
        ("each input's gradient is g times the OTHER input: dL/da = g * b and dL/db = g * a", lambda a, b, g: [g * a, g * b]),
        ("your backward changes grad_output in place (e.g. `grad_output *= b`) before computing the second gradient; "
         "compute new arrays: [grad_output * b, grad_output * a]", lambda a, b, g: [g * b, g * b * a])],
    "sum_along_columns": [
        ("your backward spreads g along the wrong axis: dL/dx[i, j] = g[i] (each row's gradient copied to its columns), "
         "not g[j]", lambda x, g: [np.broadcast_to(g[np.newaxis, :], x.shape) if x.shape[0] == x.shape[1] else None])],
    "lookup_rows": [
        ("repeated indices lose gradient: with `grad[indices] += g` (or `=`) numpy keeps only the last contribution "
         "to a row that appears several times. Use np.add.at(grad, indices, g), which adds every one",
         lambda m, i, g: [_fancy_add(m.shape, i, g), np.zeros(i.shape)])],
}


_DETACHED = {
    "softmax_rows": "Build softmax_rows with ops applied to the logits Tensor itself: a new Tensor made from logits.value has "
                    "no parents, so backward stops there. Only the row maximum you subtract should be such a constant.",
    "cross_entropy_loss": "Build cross_entropy_loss with ops applied to the probabilities Tensor itself: a new Tensor made "
                          "from probabilities.value has no parents, so backward stops there.",
}


def backward_hint(op: str | None, inputs: list[np.ndarray], g: np.ndarray, got: Any, want: np.ndarray,
                  positions: list[int]) -> str:
    """A sentence on the likely cause of a wrong gradient of the inputs at ``positions`` of ``op``, or ""."""
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return ""
    if op == "softmax_rows" and not np.all(np.isfinite(got_array)):
        return ("Likely cause: exp overflows on large logits, and the nan of the forward pass flows into the gradients. "
                "Subtract each row's maximum before exp, as a constant Tensor.")
    if op in _DETACHED and positions and got_array.shape == np.shape(want) and not np.any(got_array):
        return f"Likely cause: no gradient reaches this input. {_DETACHED[op]}"
    if op == "cross_entropy_loss":
        factor_hint = _factor_hint(got_array, want, "gradients")
        if factor_hint and np.ndim(inputs[0]) == 2 and _close(got_array, inputs[0].shape[0] * np.asarray(want)):
            return f"Likely cause: you sum the losses of the batch instead of averaging them. {factor_hint}"
    for explanation, mistake in _BACKWARD.get(op or "", []) if positions else []:
        try:
            with np.errstate(all="ignore"):
                grads = mistake(*inputs, g)
                if all(grads[p] is not None for p in positions) and _close(got_array, sum(grads[p] for p in positions)):
                    return f"Likely cause: {explanation}."
        except (TypeError, ValueError, IndexError):
            continue
    return _factor_hint(got_array, want, "gradients")


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


# ---------------------------------------------------------------- calling convention
def contract_problem(name: str, grads: Any, arrays: list[np.ndarray], labels: list[str]) -> str | None:
    """Why ``grads`` (what backward returned) breaks edugrad's convention, or None when it does not."""
    count = len(arrays)
    names = ARGUMENTS.get(name, ("x",))
    wanted = "a list with one gradient per input of forward: `return [" + ", ".join(f"grad_{n}" for n in names) + "]`"
    if isinstance(grads, np.ndarray) or isinstance(grads, (int, float)):
        what = f"a bare numpy array of shape {np.shape(grads)}" if isinstance(grads, np.ndarray) else "a bare number"
        return (f"{name}.backward returned {what}; it must return {wanted}. edugrad's tensor_op applies the result as "
                "`inputs[i].grad += grads[i]`: from a bare array it takes row i as the gradient of input i and broadcasts "
                "it into that input's .grad (wrong values, no error); from a 0-d one it fails with IndexError.")
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
