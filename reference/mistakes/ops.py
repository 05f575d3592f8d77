"""Classic mistakes in edugrad ops and their compositions, shadowing :func:`reference.ops.run_graph`.

Every check of an ops assignment evaluates a graph of ops (one op alone, a
composition such as ``cross_entropy_loss(softmax_rows(x), y)``, a small
language model) and backpropagates an upstream gradient ``g`` through it. So
every variant here is :func:`~reference.ops.run_graph` with one thing done the
mistaken way: one op replaced by a mistaken twin (:func:`_op`), a composition
built differently, or every op the student writes sharing one mistake of
edugrad's calling convention. A variant raises ``ValueError`` when the graph
does not use what it changes (that is "no match").

A mistaken op keeps the rest of the oracle's behaviour: a wrong forward
saves its own (wrong) output for backward, as the student's code does.
Notation as in the handout: ``g = grad_output = dL/dy``; ``s``, ``t``, ``e``
the outputs of sigmoid, tanh and exp.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import edugrad.ops as edugrad_ops
import numpy as np
from edugrad.tensor import Operation, Tensor, tensor_op

from reference import ops as oracle
from reference.mistakes import mistake
from reference.ops import GraphOps, _run_graph, run_graph

# Ops students write as Operation classes (divide is given in the starter code).
STUDENT_OPS = ("sigmoid", "tanh", "exp", "log", "multiply", "sum_along_columns", "lookup_rows")
_SINGLE_INPUT = ("sigmoid", "tanh", "exp", "log", "sum_along_columns")

Backward = Callable[[list, np.ndarray, np.ndarray], list]

#: The op or composition each mistake is about (None: edugrad's calling convention, any op), so that a
#: check can ask only about the mistakes of what its graph uses.
OP_OF: dict[str, str | None] = {}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def _lookup_backward(inputs: list, y: np.ndarray, g: np.ndarray) -> list:
    matrix, indices = inputs
    grad = np.zeros(matrix.shape)
    np.add.at(grad, indices, g)
    return [grad, np.zeros(indices.shape)]


# The right backward of each op, written from its inputs and its saved output y.
RIGHT_BACKWARD: dict[str, Backward] = {
    "sigmoid": lambda inputs, y, g: [g * y * (1.0 - y)],
    "tanh": lambda inputs, y, g: [g * (1.0 - y * y)],
    "exp": lambda inputs, y, g: [g * y],
    "log": lambda inputs, y, g: [g / inputs[0]],
    "multiply": lambda inputs, y, g: [g * inputs[1], g * inputs[0]],
    "divide": lambda inputs, y, g: [g / inputs[1][:, np.newaxis], -np.sum(g * inputs[0], axis=1) / inputs[1] ** 2],
    "sum_along_columns": lambda inputs, y, g: [np.broadcast_to(g[:, np.newaxis], inputs[0].shape).astype(np.float64)],
    "lookup_rows": _lookup_backward,
}


def _operation(name: str, forward: Callable[..., np.ndarray] | None = None,
               backward: Backward | None = None) -> type:
    """An Operation like the oracle's ``name`` with its forward and/or backward computed another way."""
    base = getattr(oracle, name).operation

    class Mistaken(Operation):
        @staticmethod
        def forward(ctx, *inputs):
            inputs = [np.asarray(a) for a in inputs]
            with np.errstate(all="ignore"):
                y = base.forward([], *inputs) if forward is None else np.asarray(forward(*inputs), dtype=np.float64)
            ctx.append((inputs, y))
            return y

        @staticmethod
        def backward(ctx, grad_output):
            ((inputs, y),) = ctx
            with np.errstate(all="ignore"):
                return (backward or RIGHT_BACKWARD[name])(inputs, y, np.asarray(grad_output, dtype=np.float64))

    Mistaken.__name__ = Mistaken.__qualname__ = name
    return Mistaken


def _op(name: str, forward: Callable[..., np.ndarray] | None = None, backward: Backward | None = None) -> Callable:
    """The function on Tensors of a mistaken op (see :func:`_operation`)."""
    return tensor_op(_operation(name, forward, backward))


def _graph_with(**replacements: Callable[..., Tensor]) -> Callable:
    """The variant of run_graph that builds the graph with ``replacements``; raises when the graph uses none."""

    def variant(graph: Callable[..., Tensor], arrays: Mapping[str, Any],
                grad_output: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        used: set[str] = set()

        def tracked(name: str, function: Callable) -> Callable:
            def call(*args, **kwargs):
                used.add(name)
                return function(*args, **kwargs)
            return call

        namespace = GraphOps(**{name: tracked(name, function) for name, function in replacements.items()})
        with np.errstate(all="ignore"):
            result = _run_graph(namespace, graph, arrays, grad_output)
        if not used:
            raise ValueError(f"the graph uses none of {', '.join(replacements)}")
        return result

    return variant


def _register(id: str, title: str, explanation: str, **replacements: Callable[..., Tensor]) -> None:
    mistake(id, shadows=run_graph, title=title, explanation=explanation)(_graph_with(**replacements))
    OP_OF[id] = next(iter(replacements)) if len(replacements) == 1 else None


def mistakes_about(names: Iterable[str]) -> list[str]:
    """The ids of the mistakes in the ops and compositions ``names``, and of the calling-convention ones."""
    wanted = set(names)
    return [id for id, op in OP_OF.items() if op is None or op in wanted]


# ------------------------------------------------------------------ element-wise forward

_register("sigmoid_sign_flipped", "sigmoid computes 1 / (1 + exp(x)) instead of 1 / (1 + exp(-x))",
          "The logistic sigmoid is s = 1 / (1 + exp(-x)): it is above 1/2 for positive x. Your forward drops the "
          "minus sign and computes sigmoid(-x) = 1 - s.",
          sigmoid=_op("sigmoid", forward=lambda x: _sigmoid(-x)))

_register("sigmoid_overflows", "sigmoid written as exp(x) / (1 + exp(x)) overflows for large x",
          "For x above about 709, exp(x) is inf in float64 and inf / inf is nan. Write s = 1 / (1 + exp(-x)) for "
          "x >= 0 and exp(x) / (1 + exp(x)) only for x < 0, or use exp(-|x|) in both branches, so that exp never "
          "sees a large positive number.",
          sigmoid=_op("sigmoid", forward=lambda x: np.exp(x) / (1.0 + np.exp(x))))

_register("sigmoid_as_tanh", "sigmoid computes tanh where the logistic sigmoid belongs",
          "sigmoid(x) = 1 / (1 + exp(-x)) takes values in (0, 1); tanh(x) takes values in (-1, 1) and is a "
          "different function (tanh(x) = 2 * sigmoid(2x) - 1).",
          sigmoid=_op("sigmoid", forward=np.tanh))

_register("tanh_as_sigmoid", "tanh computes the logistic sigmoid where tanh belongs",
          "tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)) takes values in (-1, 1); your forward computes the "
          "sigmoid 1 / (1 + exp(-x)), in (0, 1). Use np.tanh.",
          tanh=_op("tanh", forward=_sigmoid))

_register("tanh_overflows", "tanh written with exp(x) and exp(-x) overflows for large |x|",
          "(exp(x) - exp(-x)) / (exp(x) + exp(-x)) is inf / inf = nan once |x| is above about 709. np.tanh "
          "computes the same function without overflowing.",
          tanh=_op("tanh", forward=lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))))

_register("log_base_10", "log computes log10 instead of the natural logarithm",
          "log here is the natural logarithm ln(x) = np.log(x), whose derivative is 1/x. np.log10(x) is "
          "ln(x) / ln(10).",
          log=_op("log", forward=np.log10))

_register("log_base_2", "log computes log2 instead of the natural logarithm",
          "log here is the natural logarithm ln(x) = np.log(x), whose derivative is 1/x. np.log2(x) is "
          "ln(x) / ln(2).",
          log=_op("log", forward=np.log2))

_register("multiply_adds", "multiply adds its inputs instead of multiplying them",
          "multiply is the element-wise product y = a ⊙ b (a * b in numpy), not a + b.",
          multiply=_op("multiply", forward=lambda a, b: a + b))

# ------------------------------------------------------------------ row-wise forward

_register("sum_along_columns_over_rows", "sum_along_columns sums each column over the rows (axis 0)",
          "y[i] = Σ_j x[i, j] sums each row over its columns: np.sum(x, axis=1), shape (B,). axis=0 sums each "
          "column over the rows and has shape (D,).",
          sum_along_columns=_op("sum_along_columns", forward=lambda x: np.sum(x, axis=0)))

_register("sum_along_columns_sums_everything", "sum_along_columns sums every entry into one number",
          "y[i] = Σ_j x[i, j] gives one sum per row: np.sum(x, axis=1), shape (B,). np.sum(x) without an axis "
          "adds up the whole matrix.",
          sum_along_columns=_op("sum_along_columns", forward=lambda x: np.sum(x)))


def _select_columns(matrix: np.ndarray, indices: np.ndarray) -> np.ndarray:
    if indices.size and indices.max() >= matrix.shape[1]:
        raise ValueError("an index past the last column: the columns cannot have been selected")
    return matrix[:, indices]


_register("lookup_rows_selects_columns", "lookup_rows selects columns (matrix[:, indices]) instead of rows",
          "An embedding lookup takes one ROW of the (V, D) matrix per index: matrix[indices], of shape "
          "indices.shape + (D,).",
          lookup_rows=_op("lookup_rows", forward=_select_columns))

# ------------------------------------------------------------------ backward of one op

_register("sigmoid_backward_uses_input", "sigmoid backward uses the input x instead of the output s",
          "dsigmoid/dx = s ⊙ (1 - s) with s = sigmoid(x), the OUTPUT; your backward computes x ⊙ (1 - x). Save s "
          "in ctx during forward and return [g * s * (1 - s)].",
          sigmoid=_op("sigmoid", backward=lambda inputs, y, g: [g * inputs[0] * (1.0 - inputs[0])]))

_register("sigmoid_backward_missing_one_minus", "sigmoid backward returns g ⊙ s without the factor (1 - s)",
          "The derivative of the sigmoid is s ⊙ (1 - s), not s: return [g * s * (1 - s)].",
          sigmoid=_op("sigmoid", backward=lambda inputs, y, g: [g * y]))

_register("tanh_backward_uses_input", "tanh backward uses the input x instead of the output t",
          "dtanh/dx = 1 - t² with t = tanh(x), the OUTPUT; your backward computes 1 - x². Save t in ctx during "
          "forward and return [g * (1 - t**2)].",
          tanh=_op("tanh", backward=lambda inputs, y, g: [g * (1.0 - inputs[0] ** 2)]))

_register("tanh_backward_missing_square", "tanh backward uses 1 - t instead of 1 - t²",
          "The derivative of tanh is 1 - t² with t = tanh(x): return [g * (1 - t**2)].",
          tanh=_op("tanh", backward=lambda inputs, y, g: [g * (1.0 - y)]))

_register("exp_backward_uses_input", "exp backward multiplies g by the input x instead of exp(x)",
          "d exp(x)/dx = exp(x), the op's own OUTPUT e: save e in ctx during forward and return [g * e].",
          exp=_op("exp", backward=lambda inputs, y, g: [g * inputs[0]]))

_register("exp_backward_forgets_derivative", "exp backward passes g through without the local derivative",
          "By the chain rule dL/dx = g ⊙ dy/dx, and d exp(x)/dx = exp(x): return [g * e] with e the output "
          "saved in forward, not [g].",
          exp=_op("exp", backward=lambda inputs, y, g: [g]))

_register("log_backward_forgets_derivative", "log backward passes g through without the local derivative",
          "By the chain rule dL/dx = g ⊙ dy/dx, and d ln(x)/dx = 1/x: return [g / x], not [g].",
          log=_op("log", backward=lambda inputs, y, g: [g]))

_register("log_backward_multiplies_by_exp", "log backward multiplies by exp(x) instead of dividing by x",
          "d ln(x)/dx = 1/x. exp is the inverse function of log, not its derivative: return [g / x].",
          log=_op("log", backward=lambda inputs, y, g: [g * np.exp(inputs[0])]))

_register("log_backward_multiplies_by_input", "log backward multiplies by x instead of dividing by x",
          "d ln(x)/dx = 1/x: return [g / x], not [g * x].",
          log=_op("log", backward=lambda inputs, y, g: [g * inputs[0]]))

_register("log_backward_multiplies_by_log", "log backward multiplies by ln(x) instead of dividing by x",
          "d ln(x)/dx = 1/x; the output ln(x) is not the derivative. Save the input x in ctx and return [g / x].",
          log=_op("log", backward=lambda inputs, y, g: [g * y]))

_register("log_backward_sign_flipped", "log backward returns -g / x",
          "d ln(x)/dx = +1/x (ln grows with x): return [g / x].",
          log=_op("log", backward=lambda inputs, y, g: [-g / inputs[0]]))

_register("multiply_backward_swapped", "multiply backward gives each input g times itself instead of the other input",
          "For y = a ⊙ b, each input's gradient is g times the OTHER input: dL/da = g ⊙ b and dL/db = g ⊙ a, "
          "returned as [g * b, g * a].",
          multiply=_op("multiply", backward=lambda inputs, y, g: [g * inputs[0], g * inputs[1]]))

_register("multiply_backward_modifies_grad_output", "multiply backward changes grad_output in place before reusing it",
          "`grad_a = grad_output; grad_a *= b` changes grad_output itself (both names are one array), so the "
          "second gradient becomes g ⊙ b ⊙ a. Compute new arrays: return [grad_output * b, grad_output * a].",
          multiply=_op("multiply", backward=lambda inputs, y, g: [g * inputs[1], g * inputs[1] * inputs[0]]))

_register("sum_along_columns_backward_wrong_axis", "sum_along_columns backward spreads g along the wrong axis",
          "dL/dx[i, j] = g[i]: each row's upstream gradient is copied to all D columns of that row. g has shape "
          "(B,), and numpy lines up the LAST axes, so np.ones((B, D)) * g copies g[j] into column j instead (and "
          "fails unless B == D). Give g a column axis first: g[:, np.newaxis] has shape (B, 1).",
          sum_along_columns=_op("sum_along_columns", backward=lambda inputs, y, g: [np.ones(inputs[0].shape) * g]))


def _fancy_index_backward(inputs: list, y: np.ndarray, g: np.ndarray) -> list:
    matrix, indices = inputs
    grad = np.zeros(matrix.shape)
    grad[indices] += g  # numpy buffers fancy indexing: a repeated row keeps one contribution only
    return [grad, np.zeros(indices.shape)]


_register("lookup_rows_backward_fancy_index",
          "lookup_rows backward uses grad[indices] += g, so repeated indices lose gradient",
          "A row looked up several times must receive the SUM of the gradients of all its positions. numpy "
          "applies `grad[indices] += g` (or `grad[indices] = g`, or `grad[r] = g[k]` in a loop) once per distinct "
          "row, keeping a single contribution. np.add.at(grad, indices, g) adds every one.",
          lookup_rows=_op("lookup_rows", backward=_fancy_index_backward))

# ------------------------------------------------------------------ edugrad's calling convention


def _ignoring_upstream(name: str) -> Callable:
    return _op(name, backward=lambda inputs, y, g: RIGHT_BACKWARD[name](inputs, y, np.ones_like(g)))


_register("backward_ignores_upstream", "backward ignores the upstream gradient grad_output",
          "By the chain rule dL/dx = g ⊙ dy/dx: multiply the local derivative by the upstream gradient "
          "g = grad_output. Returning the local derivative alone is right only when g is all ones, i.e. when the "
          "op's output is the loss itself.",
          **{name: _ignoring_upstream(name) for name in STUDENT_OPS})


def _bare(name: str) -> Callable:
    return _op(name, backward=lambda inputs, y, g: RIGHT_BACKWARD[name](inputs, y, g)[0])


_register("backward_returns_bare_array", "backward returns a bare array instead of a list with one gradient per input",
          "edugrad applies backward's result as `inputs[i].grad += grads[i]` for each input i. From a bare array "
          "grads[0] is its first ROW, which numpy broadcasts into the whole gradient (wrong values, no error; "
          "an IndexError for a 0-d input). Return a list, even for one input: `return [grad]`.",
          **{name: _bare(name) for name in _SINGLE_INPUT})


def _overwriting_tensor_op(operation: type) -> Callable:
    """tensor_op, except that each gradient replaces the input's .grad instead of being added to it."""

    def fn(*inputs: Tensor) -> Tensor:
        ctx: list = []
        new_tensor = Tensor(operation.forward(ctx, *[tensor.value for tensor in inputs]), inputs, operation.__name__)

        def _backward() -> None:
            grads = operation.backward(ctx, new_tensor.grad)
            for index in range(len(inputs)):
                inputs[index].grad = grads[index]

        new_tensor._backward = _backward
        return new_tensor

    return fn


_register("gradient_overwritten_not_accumulated", "a gradient overwrites .grad instead of adding to it",
          "A Tensor used on several paths (multiply(x, x), x feeding both sigmoid and tanh, a word embedded twice) "
          "must receive the SUM of the gradients of all paths: edugrad's tensor_op does "
          "`inputs[i].grad += grads[i]`. Your gradients are what you get with `inputs[i].grad = grads[i]`: only the "
          "last path counts. Decorate the ops with edugrad's own tensor_op, and accumulate with +=.",
          **{name: _overwriting_tensor_op(getattr(oracle, name).operation) for name in oracle.OPERATIONS})

# ------------------------------------------------------------------ softmax_rows


def _softmax_unshifted(logits: Tensor) -> Tensor:
    exponentials = oracle.exp(logits)
    return oracle.divide(exponentials, oracle.sum_along_columns(exponentials))


_register("softmax_without_max_shift", "softmax_rows does not subtract the row maximum, so exp overflows",
          "exp(1000) is inf in float64 and inf / inf is nan (exp(-1000) is 0, and 0 / 0 is nan). Softmax does not "
          "change when a row is shifted, so compute p[i, j] = exp(x[i, j] - m[i]) / Σ_k exp(x[i, k] - m[i]) with "
          "m[i] = max_k x[i, k], subtracted as a constant Tensor: every exp is then at most 1.",
          softmax_rows=_softmax_unshifted)

_register("softmax_detached_from_logits", "softmax_rows is built on a new Tensor, so no gradient reaches the logits",
          "A Tensor made from logits.value has no parents: backward stops there and the logits get a zero "
          "gradient. Apply the ops (minus, exp, sum_along_columns, divide) to the logits Tensor itself; only the "
          "row maximum you subtract should be such a constant.",
          softmax_rows=lambda logits: oracle.softmax_rows(Tensor(np.array(logits.value))))

# ------------------------------------------------------------------ cross_entropy_loss


def _log_likelihood(probabilities: Tensor, labels: Tensor) -> Tensor:
    return oracle.sum_along_columns(oracle.multiply(labels, oracle.log(probabilities)))


def _zero(shape: tuple = ()) -> Tensor:
    return Tensor(np.zeros(shape))


_register("cross_entropy_sums_batch", "cross_entropy_loss sums the losses of the batch instead of averaging them",
          "The loss is the MEAN over the batch, L = -(1/B) Σ_i Σ_j labels[i, j] ln p[i, j] (edugrad's "
          "reduce_mean). A sum is B times larger, and so are its gradients: -labels / p instead of "
          "dL/dp = -labels / (B p).",
          cross_entropy_loss=lambda p, labels: edugrad_ops.minus(
              _zero(), edugrad_ops.reduce_sum(_log_likelihood(p, labels))))

_register("cross_entropy_mean_over_entries", "cross_entropy_loss averages over all B * C entries",
          "Sum each row over its classes first (sum_along_columns gives each example's log-probability of its "
          "true class), then average over the B examples: L = -(1/B) Σ_i Σ_j labels[i, j] ln p[i, j]. "
          "reduce_mean of the whole (B, C) matrix divides by B * C instead.",
          cross_entropy_loss=lambda p, labels: edugrad_ops.minus(
              _zero(), edugrad_ops.reduce_mean(oracle.multiply(labels, oracle.log(p)))))

_register("cross_entropy_sign_flipped", "cross_entropy_loss returns the mean log-likelihood without the minus sign",
          "The loss is the NEGATIVE mean log-probability of the true class, L = -(1/B) Σ_i Σ_j labels[i, j] "
          "ln p[i, j], which is >= 0 and falls as the model improves.",
          cross_entropy_loss=lambda p, labels: edugrad_ops.reduce_mean(_log_likelihood(p, labels)))


def _per_example(p: Tensor, labels: Tensor) -> Tensor:
    log_likelihood = _log_likelihood(p, labels)
    return edugrad_ops.minus(_zero(np.shape(log_likelihood.value)), log_likelihood)


_register("cross_entropy_per_example", "cross_entropy_loss returns one loss per example instead of their mean",
          "The loss is one number, a 0-d Tensor: the mean over the batch of the per-example losses "
          "-Σ_j labels[i, j] ln p[i, j] (edugrad's reduce_mean), not the vector of shape (B,).",
          cross_entropy_loss=_per_example)

_register("cross_entropy_detached_from_probabilities",
          "cross_entropy_loss is built on a new Tensor, so no gradient reaches the probabilities",
          "A Tensor made from probabilities.value has no parents: backward stops there and the probabilities get "
          "a zero gradient. Apply log, multiply, sum_along_columns, reduce_mean and minus to the probabilities "
          "Tensor itself.",
          cross_entropy_loss=lambda p, labels: oracle.cross_entropy_loss(Tensor(np.array(p.value)), labels))
