"""edugrad operations used in the course assignments, and tools to check an op's gradients.

Every op is an ``edugrad`` :class:`~edugrad.tensor.Operation` (static
``forward(ctx, *inputs)`` on numpy arrays, static ``backward(ctx, grad_output)``
returning one gradient per input) turned into a function on Tensors by
edugrad's own ``tensor_op`` decorator. The undecorated class is public too
(``Sigmoid`` for ``sigmoid``, ...) and each function carries it as
``fn.operation``, so :func:`check_backward_contract` can call forward and
backward directly.

Conventions:

- ``g`` is ``grad_output = dL/dy`` for the op's output ``y``; it has ``y``'s shape.
- Every gradient has exactly its input's shape. This matters in edugrad:
  ``tensor_op`` accumulates with ``inputs[i].grad += grads[i]``, which silently
  broadcasts a gradient of the wrong shape instead of failing.
- ``log`` is the natural logarithm; ``log`` and ``divide`` do not guard against
  zero inputs (the course does not ask for it).
- Element-wise ops work on any shape, 0-d scalars included.

Ops: :func:`sigmoid`, :func:`tanh`, :func:`exp`, :func:`log`, :func:`multiply`,
:func:`divide`, :func:`sum_along_columns`, :func:`lookup_rows`, :func:`concat`.

Compositions of ops (plain functions, not Operations): :func:`softmax_rows`,
:func:`cross_entropy_loss`.

Graphs: :func:`run_graph` evaluates a whole graph of ops, given as a function
``graph(ops, *tensors)`` of a namespace of ops (:class:`GraphOps`), and
backpropagates an upstream gradient through it, the way edugrad does.

Checks: :func:`grad_check` (analytic vs central finite-difference gradient) and
:func:`check_backward_contract` (backward returns one gradient per input, each of
its input's shape).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import edugrad.ops as edugrad_ops
import numpy as np
from edugrad.tensor import Operation, Tensor, tensor_op

__all__ = [
    "COMPOSITIONS",
    "EDUGRAD_OPS",
    "GRAD_CHECK_FLOOR",
    "OPERATIONS",
    "BackwardContractError",
    "Concat",
    "Divide",
    "Exp",
    "GraphOps",
    "GraphTrace",
    "Log",
    "LookupRows",
    "Multiply",
    "Sigmoid",
    "SumAlongColumns",
    "Tanh",
    "check_backward_contract",
    "concat",
    "cross_entropy_loss",
    "divide",
    "exp",
    "grad_check",
    "log",
    "lookup_rows",
    "multiply",
    "run_graph",
    "sigmoid",
    "softmax_rows",
    "sum_along_columns",
    "tanh",
    "trace_graph",
]


def _as_op(operation: type, name: str) -> Callable[..., Tensor]:
    """``tensor_op(operation)`` named ``name``, remembering the class as ``.operation``."""
    fn = tensor_op(operation)
    fn.operation = operation
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = operation.__doc__
    return fn


def _require_ndim(array: np.ndarray, ndim: int, op: str, what: str) -> None:
    if np.ndim(array) != ndim:
        raise ValueError(f"{op}: {what} must be {ndim}-d, got shape {np.shape(array)}")


# --------------------------------------------------------------------------------------
# Element-wise ops
# --------------------------------------------------------------------------------------


class Sigmoid(Operation):
    """Logistic sigmoid, element-wise.

    - forward: ``y = 1 / (1 + exp(-x))``, computed as ``1 / (1 + exp(-|x|))`` for
      ``x >= 0`` and ``exp(-|x|) / (1 + exp(-|x|))`` otherwise, so no ``exp`` overflows.
    - backward: ``dL/dx = g * y * (1 - y)``.
    - shapes: ``x`` any shape (0-d included) -> ``y`` the same shape.
    """

    @staticmethod
    def forward(ctx, x):
        x = np.asarray(x)
        z = np.exp(-np.abs(x))
        y = np.asarray(np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)))
        ctx.append(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx
        return [np.asarray(grad_output * y * (1.0 - y))]


class Tanh(Operation):
    """Hyperbolic tangent, element-wise.

    - forward: ``y = tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))``.
    - backward: ``dL/dx = g * (1 - y**2)``.
    - shapes: ``x`` any shape (0-d included) -> ``y`` the same shape.
    """

    @staticmethod
    def forward(ctx, x):
        y = np.asarray(np.tanh(x))
        ctx.append(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx
        return [np.asarray(grad_output * (1.0 - y * y))]


class Exp(Operation):
    """Exponential, element-wise.

    - forward: ``y = exp(x)``.
    - backward: ``dL/dx = g * y``.
    - shapes: ``x`` any shape (0-d included) -> ``y`` the same shape.
    """

    @staticmethod
    def forward(ctx, x):
        y = np.asarray(np.exp(x))
        ctx.append(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx
        return [np.asarray(grad_output * y)]


class Log(Operation):
    """Natural logarithm, element-wise (inputs are assumed positive).

    - forward: ``y = ln(x)``.
    - backward: ``dL/dx = g / x``.
    - shapes: ``x`` any shape (0-d included) -> ``y`` the same shape.
    """

    @staticmethod
    def forward(ctx, x):
        x = np.asarray(x)
        ctx.append(x)
        return np.asarray(np.log(x))

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx
        return [np.asarray(grad_output / x)]


class Multiply(Operation):
    """Element-wise product of two arrays of the same shape (no broadcasting).

    - forward: ``y = a * b``.
    - backward: ``dL/da = g * b``, ``dL/db = g * a``; ``multiply(x, x)`` therefore
      accumulates ``2 * g * x`` into ``x``.
    - shapes: ``a`` and ``b`` the same shape (0-d included) -> ``y`` that shape.
      Different shapes raise ``ValueError``: a broadcast product would need a
      summed gradient, which this op does not do.
    """

    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            raise ValueError(f"multiply: inputs must have the same shape, got {a.shape} and {b.shape}")
        ctx.append(a)
        ctx.append(b)
        return np.asarray(a * b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx
        return [np.asarray(grad_output * b), np.asarray(grad_output * a)]


# --------------------------------------------------------------------------------------
# Row-wise and shape ops
# --------------------------------------------------------------------------------------


class Divide(Operation):
    """Row-wise division: every row of ``a`` divided by one entry of ``b``.

    - forward: ``y[i, j] = a[i, j] / b[i]``.
    - backward: ``dL/da[i, j] = g[i, j] / b[i]``,
      ``dL/db[i] = -sum_j g[i, j] * a[i, j] / b[i]**2``.
    - shapes: ``a`` ``(B, D)``, ``b`` ``(B,)`` -> ``y`` ``(B, D)``; other shapes
      raise ``ValueError``.
    """

    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        _require_ndim(a, 2, "divide", "numerator a")
        _require_ndim(b, 1, "divide", "denominator b")
        if b.shape[0] != a.shape[0]:
            raise ValueError(
                f"divide: denominator b needs one entry per row of a {a.shape}, got shape {b.shape}"
            )
        ctx.append(a)
        ctx.append(b)
        return a / b[:, np.newaxis]

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx
        grad_a = grad_output / b[:, np.newaxis]
        grad_b = -np.sum(grad_output * a, axis=1) / (b * b)
        return [grad_a, grad_b]


class SumAlongColumns(Operation):
    """Sum of each row over its columns.

    - forward: ``y[i] = sum_j x[i, j]``.
    - backward: ``dL/dx[i, j] = g[i]`` (each row's upstream gradient copied to its columns).
    - shapes: ``x`` ``(B, D)`` -> ``y`` ``(B,)``.
    """

    @staticmethod
    def forward(ctx, x):
        x = np.asarray(x)
        _require_ndim(x, 2, "sum_along_columns", "input")
        ctx.append(x.shape)
        return np.sum(x, axis=1)

    @staticmethod
    def backward(ctx, grad_output):
        (shape,) = ctx
        return [np.broadcast_to(np.asarray(grad_output)[:, np.newaxis], shape).astype(np.float64)]


class LookupRows(Operation):
    """Rows of a matrix selected by integer indices (an embedding lookup).

    - forward: ``y[k...] = matrix[indices[k...]]``, i.e. ``matrix[indices]``.
    - backward: ``dL/dmatrix = zeros; np.add.at(dL/dmatrix, indices, g)``: row ``r``
      receives the sum of ``g`` over every position whose index is ``r``, so
      repeated indices accumulate and unused rows get zero. The indices are an
      edugrad Tensor too; their gradient is zeros of their shape.
    - shapes: ``matrix`` ``(V, D)``, ``indices`` any shape ``S`` of integers in
      ``[0, V)`` -> ``y`` ``S + (D,)``, e.g. ``(B,)`` -> ``(B, D)``. Non-integer
      indices raise ``TypeError``, out-of-range ones ``IndexError`` (negative
      indices are rejected rather than counted from the end).
    """

    @staticmethod
    def forward(ctx, matrix, indices):
        matrix, indices = np.asarray(matrix), np.asarray(indices)
        _require_ndim(matrix, 2, "lookup_rows", "matrix")
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"lookup_rows: indices must be integers, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= matrix.shape[0]):
            raise IndexError(
                f"lookup_rows: indices must lie in [0, {matrix.shape[0]}), "
                f"got values in [{indices.min()}, {indices.max()}]"
            )
        ctx.append(matrix.shape)
        ctx.append(indices)
        return matrix[indices]

    @staticmethod
    def backward(ctx, grad_output):
        shape, indices = ctx
        grad_matrix = np.zeros(shape, dtype=np.float64)
        np.add.at(grad_matrix, indices, grad_output)
        return [grad_matrix, np.zeros(indices.shape, dtype=np.float64)]


class Concat(Operation):
    """Concatenation of two matrices along axis 1 (the feature axis).

    - forward: ``y = [a | b]``: ``y[:, :D1] = a``, ``y[:, D1:] = b``.
    - backward: ``dL/da = g[:, :D1]``, ``dL/db = g[:, D1:]``; ``concat(x, x)``
      therefore accumulates ``g[:, :D] + g[:, D:]`` into ``x``.
    - shapes: ``a`` ``(B, D1)``, ``b`` ``(B, D2)`` -> ``y`` ``(B, D1 + D2)``.
    """

    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        _require_ndim(a, 2, "concat", "first input")
        _require_ndim(b, 2, "concat", "second input")
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"concat: inputs need the same number of rows, got {a.shape} and {b.shape}")
        ctx.append(a.shape[1])
        return np.concatenate([a, b], axis=1)

    @staticmethod
    def backward(ctx, grad_output):
        (width_a,) = ctx
        return [np.array(grad_output[:, :width_a]), np.array(grad_output[:, width_a:])]


sigmoid = _as_op(Sigmoid, "sigmoid")
tanh = _as_op(Tanh, "tanh")
exp = _as_op(Exp, "exp")
log = _as_op(Log, "log")
multiply = _as_op(Multiply, "multiply")
divide = _as_op(Divide, "divide")
sum_along_columns = _as_op(SumAlongColumns, "sum_along_columns")
lookup_rows = _as_op(LookupRows, "lookup_rows")
concat = _as_op(Concat, "concat")


# --------------------------------------------------------------------------------------
# Compositions
# --------------------------------------------------------------------------------------


def softmax_rows(logits: Tensor) -> Tensor:
    """Softmax of each row of a ``(B, C)`` Tensor, built from the ops above.

    ``p[i, j] = exp(x[i, j] - m[i]) / sum_k exp(x[i, k] - m[i])`` with
    ``m[i] = max_k x[i, k]``. The shift ``m`` enters the graph as a constant
    Tensor (no parents), so no gradient flows through it; softmax is invariant to a
    per-row shift, so the gradient is exactly the softmax gradient
    ``dL/dx[i, j] = p[i, j] * (g[i, j] - sum_k g[i, k] p[i, k])``. Subtracting the
    maximum keeps every ``exp`` at most 1, so logits of size 1e3 do not overflow.

    Graph: ``divide(exp(minus(x, m)), sum_along_columns(exp(minus(x, m))))``.
    Shapes: ``(B, C)`` -> ``(B, C)``.
    """
    return _softmax_rows(_DEFAULT_OPS, logits)


def cross_entropy_loss(probabilities: Tensor, labels: Tensor) -> Tensor:
    """Mean over the batch of ``-sum_j labels[i, j] * ln(probabilities[i, j])``.

    ``probabilities`` ``(B, C)`` (rows are distributions, e.g. from
    :func:`softmax_rows`; entries must be positive, a zero gives ``-inf * 0 = nan``
    like the course's plain ``log``), ``labels`` ``(B, C)`` one-hot (any
    non-negative weights work). Returns a 0-d Tensor.

    Gradient: ``dL/dp[i, j] = -labels[i, j] / (B * p[i, j])``; the labels get
    ``dL/dlabels[i, j] = -ln(p[i, j]) / B``.

    Graph: ``minus(0, reduce_mean(sum_along_columns(multiply(labels, log(p)))))``.
    """
    return _cross_entropy_loss(_DEFAULT_OPS, probabilities, labels)


def _softmax_rows(ops: "GraphOps", logits: Tensor) -> Tensor:
    """:func:`softmax_rows` built from the ops of ``ops`` (so a graph with a replaced op uses it here too)."""
    _require_ndim(logits.value, 2, "softmax_rows", "logits")
    values = np.asarray(logits.value)
    row_max = np.max(values, axis=1, keepdims=True) if values.size else np.zeros((values.shape[0], 1))
    shift = Tensor(np.broadcast_to(row_max, values.shape).astype(np.float64), name="row_max")
    exponentials = ops.exp(ops.minus(logits, shift))
    return ops.divide(exponentials, ops.sum_along_columns(exponentials))


def _cross_entropy_loss(ops: "GraphOps", probabilities: Tensor, labels: Tensor) -> Tensor:
    """:func:`cross_entropy_loss` built from the ops of ``ops``."""
    _require_ndim(probabilities.value, 2, "cross_entropy_loss", "probabilities")
    if np.shape(labels.value) != np.shape(probabilities.value):
        raise ValueError(
            "cross_entropy_loss: labels must be one-hot with the probabilities' shape "
            f"{np.shape(probabilities.value)}, got {np.shape(labels.value)}"
        )
    log_likelihood = ops.sum_along_columns(ops.multiply(labels, ops.log(probabilities)))
    return ops.minus(Tensor(np.zeros(()), name="zero"), ops.reduce_mean(log_likelihood))


# --------------------------------------------------------------------------------------
# Graphs of ops
# --------------------------------------------------------------------------------------

#: The ops of this module a graph can use (the Operations above, ``concat`` included).
OPERATIONS = ("sigmoid", "tanh", "exp", "log", "multiply", "divide", "sum_along_columns", "lookup_rows", "concat")
#: edugrad's own ops a graph can use besides them.
EDUGRAD_OPS = ("add", "minus", "matmul", "power", "relu", "reduce_sum", "reduce_mean", "copy_rows")
#: The compositions, built from the namespace's ops.
COMPOSITIONS = ("softmax_rows", "cross_entropy_loss")


class GraphOps:
    """The namespace a graph is built from: ``graph(ops, *tensors)`` calls ``ops.sigmoid(x)``, ``ops.add(a, b)``...

    Holds every Operation of this module (:data:`OPERATIONS`), edugrad's own
    ops (:data:`EDUGRAD_OPS`) and the compositions :func:`softmax_rows` and
    :func:`cross_entropy_loss`, which are built from the namespace's ops.
    ``replacements`` (name -> function on Tensors) swap single entries, e.g. an
    op with another backward; a replaced ``exp`` is then also the one inside
    ``softmax_rows``. A replaced composition is used as given.
    """

    def __init__(self, **replacements: Callable[..., Tensor]) -> None:
        unknown = sorted(set(replacements) - set(OPERATIONS + EDUGRAD_OPS + COMPOSITIONS))
        if unknown:
            raise ValueError(f"GraphOps: no op named {unknown[0]!r}")
        for name in OPERATIONS:
            setattr(self, name, replacements.get(name, globals()[name]))
        for name in EDUGRAD_OPS:
            setattr(self, name, replacements.get(name, getattr(edugrad_ops, name)))
        self.softmax_rows = replacements.get("softmax_rows", lambda logits: _softmax_rows(self, logits))
        self.cross_entropy_loss = replacements.get(
            "cross_entropy_loss", lambda probabilities, labels: _cross_entropy_loss(self, probabilities, labels))


_DEFAULT_OPS = GraphOps()


def run_graph(
    graph: Callable[..., Tensor], arrays: Mapping[str, Any], grad_output: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """The output of a graph of ops, and the gradients edugrad's backward pass gives its leaves.

    ``graph(ops, *tensors)`` builds the graph from a :class:`GraphOps`
    namespace ``ops`` and one leaf Tensor per entry of ``arrays``, in order
    (floating arrays as float64; integer arrays, e.g. the indices of
    :func:`lookup_rows`, unchanged), and returns the output Tensor ``y``.

    - forward: ``value = y.value``, of the output's shape (a 0-d loss: shape ``()``);
    - backward (only when ``grad_output`` is given; shape of ``y``): seed
      ``dL/dy = grad_output`` and visit the nodes from ``y`` back to the leaves
      in reverse topological order, each op adding ``inputs[i].grad += grads[i]``.
      A leaf used on several paths gets the sum, e.g. ``multiply(x, x)`` gives
      ``x`` the gradient ``2 * grad_output * x``.

    Returns ``(value, gradients)``: ``gradients`` maps each name of ``arrays``
    to its leaf's gradient (zeros for integer leaves and leaves the output does
    not depend on), or is None without ``grad_output``.
    """
    return _run_graph(_DEFAULT_OPS, graph, arrays, grad_output)


def _run_graph(
    ops: GraphOps, graph: Callable[..., Tensor], arrays: Mapping[str, Any], grad_output: np.ndarray | None
) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """:func:`run_graph` on the namespace ``ops`` (the catalogue of mistakes passes one with a mistaken op)."""
    leaves = _leaves(arrays)
    output = graph(ops, *leaves.values())
    if not isinstance(output, Tensor):
        raise TypeError(f"run_graph: the graph must return an edugrad Tensor, got {type(output).__name__}")
    value = np.asarray(output.value, dtype=np.float64)
    if grad_output is None:
        return value, None
    _backward(output, grad_output, "run_graph")
    return value, {name: np.asarray(leaf.grad, dtype=np.float64) for name, leaf in leaves.items()}


class GraphTrace(NamedTuple):
    """Every value of a graph, and every gradient of its backward pass (see :func:`trace_graph`)."""

    values: tuple[np.ndarray, ...]                  # the output of each op the graph applies, in order
    gradients: Optional[tuple[np.ndarray, ...]]     # dL/d(that output) after the backward pass
    leaf_gradients: Optional[dict[str, np.ndarray]]  # dL/d(leaf), by the names of ``arrays``


class _TracedOps:
    """A :class:`GraphOps` namespace that keeps the output of each op the graph itself applies.

    Ops that compositions apply inside (``softmax_rows``'s ``exp``) are not kept:
    the trace has one entry per call the graph makes.
    """

    def __init__(self, ops: GraphOps) -> None:
        self._ops = ops
        self.outputs: list[Tensor] = []

    def __getattr__(self, name: str) -> Callable[..., Tensor]:
        op = getattr(self._ops, name)

        def traced(*tensors: Tensor) -> Tensor:
            output = op(*tensors)
            self.outputs.append(output)
            return output

        return traced


def trace_graph(graph: Callable[..., Tensor], arrays: Mapping[str, Any],
                grad_output: np.ndarray | None = None) -> GraphTrace:
    """:func:`run_graph`, keeping the value (and gradient) of every op the graph applies.

    ``graph(ops, *tensors)`` is called as by :func:`run_graph`. The ``k``-th
    call the graph makes on ``ops`` (``ops.sigmoid(x)``, ``ops.add(a, b)``, a
    composition such as ``ops.softmax_rows(z)``) gives ``values[k]``, the
    value of its output ``y_k``; with ``grad_output`` (the shape of the graph's
    output ``y``), the backward pass seeded with ``dL/dy = grad_output`` gives
    ``gradients[k] = dL/dy_k`` and ``leaf_gradients[name] = dL/d(leaf)``.
    An op's output that ``y`` does not depend on has a zero gradient.

    Shapes: ``values[k]`` and ``gradients[k]`` have the shape of ``y_k``;
    ``leaf_gradients[name]`` that of ``arrays[name]``.
    """
    traced = _TracedOps(_DEFAULT_OPS)
    leaves = _leaves(arrays)
    output = graph(traced, *leaves.values())
    if not isinstance(output, Tensor):
        raise TypeError(f"trace_graph: the graph must return an edugrad Tensor, got {type(output).__name__}")
    values = tuple(np.array(tensor.value, dtype=np.float64) for tensor in traced.outputs)
    if grad_output is None:
        return GraphTrace(values, None, None)
    _backward(output, grad_output, "trace_graph")
    gradients = tuple(np.zeros_like(value) if tensor.grad is None else np.array(tensor.grad, dtype=np.float64)
                      for tensor, value in zip(traced.outputs, values))
    return GraphTrace(values, gradients, {name: np.asarray(leaf.grad, dtype=np.float64) for name, leaf in leaves.items()})


def _leaves(arrays: Mapping[str, Any]) -> dict[str, Tensor]:
    """One leaf Tensor per array: floating arrays as float64, integer arrays (indices) unchanged."""
    leaves = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        leaves[name] = Tensor(np.array(array, dtype=np.float64) if array.dtype.kind == "f" else np.array(array),
                              name=name)
    return leaves


def _backward(output: Tensor, grad_output: Any, caller: str) -> None:
    """Seed ``dL/dy = grad_output`` at ``output`` and visit the graph in reverse topological order."""
    value = np.asarray(output.value)
    if np.shape(grad_output) != value.shape:
        raise ValueError(f"{caller}: grad_output has shape {np.shape(grad_output)}, the output {value.shape}")
    output.grad = np.array(grad_output, dtype=np.float64)
    for node in reversed(output._topo_sort()):
        node._backward()


# --------------------------------------------------------------------------------------
# Gradient checks
# --------------------------------------------------------------------------------------

#: Smallest denominator of :func:`grad_check`'s relative error (an absolute floor).
GRAD_CHECK_FLOOR = 1e-8

#: :func:`grad_check` scales its denominator so that finite-difference rounding
#: noise alone (about ``eps_machine * |f| / eps``) scores at most this much.
_NOISE_SCORE = 1e-8


def grad_check(fn: Callable[..., Tensor], *arrays: Any, eps: float = 1e-6) -> float:
    """Largest relative difference between edugrad's gradient of ``fn`` and finite differences.

    ``fn`` takes one edugrad Tensor per array and returns a 0-d Tensor ``f``.
    Floating arrays are copied to float64 and differentiated; integer (or
    boolean) arrays, such as the indices of :func:`lookup_rows`, are passed
    through unchanged as constants and not checked. The inputs are never modified.

    - analytic gradient ``a``: ``fn(*tensors).backward()``, then each tensor's ``grad``;
    - numerical gradient ``n``: for every element ``x_k`` of every floating array,
      ``n_k = (f(x + eps e_k) - f(x - eps e_k)) / (2 eps)`` (central difference,
      error ``O(eps**2)`` plus rounding of about ``1e-16 * |f| / eps``);
    - returned error, over all checked elements ``k`` of all arrays together::

          max_k |a_k - n_k| / max(max_k |a_k| + max_k |n_k|, floor)
          floor = max(GRAD_CHECK_FLOOR, noise / 1e-8),  GRAD_CHECK_FLOOR = 1e-8
          noise = eps_machine * |f(x)| / eps           (rounding error of n_k)

      i.e. the infinity-norm relative error of the whole gradient vector. It is
      0 for a perfect match and at most 1 unless the floor is hit. It stays
      well-behaved at zero gradients: a zero or tiny entry is judged against the
      size of the whole gradient, not its own, so finite-difference noise on it
      is not blown up; and when the whole gradient is (analytically) zero, e.g.
      ``reduce_sum(softmax_rows(x))``, the noise-scaled floor keeps rounding
      noise at a score of about 1e-8 instead of dividing it by 1e-8. Below the
      floor errors are absolute: a gradient of overall size ``s`` that is
      entirely wrong scores ``s / floor`` (above 1e-7 whenever ``s`` exceeds
      about ``2e-9 * |f|`` at ``eps = 1e-6``, close to what finite differences
      can resolve at all).

    A correct op typically scores 1e-9 .. 1e-11 with the default ``eps``; a
    wrong backward scores about 1e-1 or more. Non-finite gradients give ``nan``.

    Raises:
        ValueError: ``fn`` does not return a 0-d edugrad Tensor, or no array is
            floating (nothing to check).
        TypeError: an array is neither floating, integer nor boolean.
    """
    if not eps > 0:
        raise ValueError(f"grad_check: eps must be positive, got {eps}")
    values: list[np.ndarray] = []
    checked: list[int] = []
    for position, array in enumerate(arrays):
        array = np.asarray(array)
        if np.issubdtype(array.dtype, np.floating):
            values.append(np.array(array, dtype=np.float64))
            checked.append(position)
        elif np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
            values.append(np.array(array))
        else:
            raise TypeError(
                f"grad_check: array {position} has dtype {array.dtype}; use float arrays "
                "(differentiated) or integer arrays (passed as constants)"
            )
    if not checked:
        raise ValueError("grad_check: no floating-point array to differentiate")

    def evaluate(current: Sequence[np.ndarray]) -> tuple[Tensor, list[Tensor]]:
        tensors = [Tensor(np.array(value), name=f"input{i}") for i, value in enumerate(current)]
        output = fn(*tensors)
        if not isinstance(output, Tensor):
            raise ValueError(
                f"grad_check: fn must return a 0-d edugrad Tensor, got {type(output).__name__}"
            )
        if np.ndim(output.value) != 0:
            raise ValueError(
                "grad_check: fn must return a scalar (0-d) Tensor, e.g. reduce_sum(...) of its "
                f"output; got a Tensor of shape {np.shape(output.value)}"
            )
        return output, tensors

    output, tensors = evaluate(values)
    output.backward()
    analytic = [np.array(tensors[i].grad, dtype=np.float64).ravel() for i in checked]

    numerical = []
    for i in checked:
        base = values[i]
        gradient = np.zeros(base.size)
        for k in range(base.size):
            original = base.flat[k]
            base.flat[k] = original + eps
            f_plus = float(evaluate(values)[0].value)
            base.flat[k] = original - eps
            f_minus = float(evaluate(values)[0].value)
            base.flat[k] = original
            gradient[k] = (f_plus - f_minus) / (2.0 * eps)
        numerical.append(gradient)

    a = np.concatenate(analytic)
    n = np.concatenate(numerical)
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        return float("nan")
    noise = np.finfo(np.float64).eps * abs(float(output.value)) / eps
    floor = max(GRAD_CHECK_FLOOR, noise / _NOISE_SCORE)
    scale = max(float(np.max(np.abs(a)) + np.max(np.abs(n))), floor)
    return float(np.max(np.abs(a - n)) / scale)


class BackwardContractError(ValueError):
    """An Operation's forward/backward breaks edugrad's calling convention."""


def _operation_class(op: Any) -> type:
    """The Operation class behind ``op``: the class, ``op.operation``, or a ``tensor_op`` closure."""
    if isinstance(op, type) and issubclass(op, Operation):
        return op
    attached = getattr(op, "operation", None)
    if isinstance(attached, type) and issubclass(attached, Operation):
        return attached
    # A plain ``@tensor_op`` function keeps its class only in its closure.
    for cell in getattr(op, "__closure__", None) or ():
        try:
            content = cell.cell_contents
        except ValueError:  # empty cell
            continue
        if isinstance(content, type) and issubclass(content, Operation):
            return content
    raise TypeError(
        f"check_backward_contract: expected an edugrad Operation subclass or a @tensor_op "
        f"function, got {op!r}"
    )


def check_backward_contract(
    op: Any,
    *arrays: Any,
    grad_output: Optional[np.ndarray] = None,
    forward_kwargs: Optional[Mapping[str, Any]] = None,
) -> list[np.ndarray]:
    """Check that an op's backward returns one gradient per input, each of its input's shape.

    ``op`` is an edugrad ``Operation`` subclass, or the function ``tensor_op``
    made from one (a student's ``@tensor_op`` class works: the class is recovered
    from the function). The check calls ``forward(ctx, *arrays, **forward_kwargs)``
    on copies of ``arrays`` with a fresh ``ctx = []``, then ``backward(ctx,
    grad_output)``; ``grad_output`` defaults to a deterministic, non-constant
    array of the output's shape (values in [0.5, 1.5], so a backward that ignores
    it is not hidden by an all-ones upstream gradient).

    Why: edugrad applies the result as ``inputs[i].grad += grads[i]``. A bare
    ndarray is indexed along its first axis instead of per input, and a gradient
    of the wrong shape is broadcast into ``grad``; both corrupt gradients
    silently rather than failing.

    Returns:
        the gradients, as a list, when the contract holds.

    Raises:
        BackwardContractError (a ``ValueError``): backward returned a bare ndarray
            or another non-sequence, the wrong number of gradients, a gradient
            whose shape differs from its input's, or forward/backward modified an
            input array in place.
        TypeError: ``op`` is not an Operation.
    """
    operation = _operation_class(op)
    name = operation.__name__
    originals = [np.asarray(array) for array in arrays]
    inputs = [np.array(array) for array in originals]
    ctx: list = []
    output = operation.forward(ctx, *inputs, **dict(forward_kwargs or {}))
    out_shape = np.shape(output)
    if grad_output is None:
        size = int(np.prod(out_shape))
        grad_output = np.linspace(0.5, 1.5, num=size).reshape(out_shape) if size else np.zeros(out_shape)
    elif np.shape(grad_output) != out_shape:
        raise ValueError(
            f"check_backward_contract: grad_output has shape {np.shape(grad_output)}, "
            f"the output of {name} has shape {out_shape}"
        )
    grads = operation.backward(ctx, np.array(grad_output, dtype=np.float64))

    expected = len(inputs)
    plural = "input" if expected == 1 else "inputs"
    if isinstance(grads, np.ndarray):
        raise BackwardContractError(
            f"{name}.backward returned a bare ndarray instead of one gradient per input: "
            f"return a list or tuple of {expected} array(s), e.g. `return [grad]`; edugrad "
            "indexes the result with grads[i], so a bare array hands out its rows as gradients"
        )
    if not isinstance(grads, (list, tuple)):
        raise BackwardContractError(
            f"{name}.backward returned {type(grads).__name__} instead of a list or tuple "
            f"with one gradient per input ({expected} {plural})"
        )
    if len(grads) != expected:
        raise BackwardContractError(
            f"{name}.backward returned {len(grads)} gradient(s) for {expected} {plural}; "
            "it must return exactly one gradient per input of forward"
        )
    for i, (grad, array) in enumerate(zip(grads, originals)):
        if np.shape(grad) != array.shape:
            raise BackwardContractError(
                f"{name}.backward: gradient {i} has shape {np.shape(grad)} but input {i} has "
                f"shape {array.shape}; edugrad would broadcast it into the input's grad (or fail) "
                "instead of reporting the mismatch"
            )
    for i, (original, used) in enumerate(zip(originals, inputs)):
        if used.shape != original.shape or not np.array_equal(used, original, equal_nan=used.dtype.kind == "f"):
            raise BackwardContractError(
                f"{name}: forward or backward modified input {i} in place; ops must not change their inputs"
            )
    return list(grads)
