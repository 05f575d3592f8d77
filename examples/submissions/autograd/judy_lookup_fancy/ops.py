"""Judy's ops.py"""
from __future__ import annotations

import numpy as np
from edugrad.ops import Operation, minus, reduce_mean, tensor_op  # noqa: F401 (minus, reduce_mean: tasks 5-6)
from edugrad.tensor import Tensor

__all__ = [
    "sigmoid", "log", "multiply", "exp", "tanh", "sum_along_columns", "lookup_rows",
    "divide", "softmax_rows", "cross_entropy_loss",
]


# ---------------------------------------------------------------------- task 1
@tensor_op
class sigmoid(Operation):
    """y = 1 / (1 + exp(-x)), element-wise; any shape, 0-d included."""

    @staticmethod
    def forward(ctx, x):
        z = np.exp(-np.abs(x))  # never overflows
        s = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
        ctx.append(s)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx
        return [grad_output * s * (1.0 - s)]


@tensor_op
class log(Operation):
    """y = ln(x), the natural logarithm, element-wise (x > 0; no special handling of 0 needed)."""

    @staticmethod
    def forward(ctx, x):
        ctx.append(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx
        return [grad_output / x]


@tensor_op
class exp(Operation):
    """y = exp(x), element-wise."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.append(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx
        return [grad_output * y]


@tensor_op
class tanh(Operation):
    """y = tanh(x), element-wise."""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(x)
        ctx.append(t)
        return t

    @staticmethod
    def backward(ctx, grad_output):
        (t,) = ctx
        return [grad_output * (1.0 - t ** 2)]


# ---------------------------------------------------------------------- task 2
@tensor_op
class multiply(Operation):
    """y = a * b, element-wise; a and b have the same shape (no broadcasting)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.append(a)
        ctx.append(b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx
        return [grad_output * b, grad_output * a]


# ---------------------------------------------------------------------- task 3
@tensor_op
class sum_along_columns(Operation):
    """y[i] = sum_j x[i, j]: x (B, D) -> y (B,)."""

    @staticmethod
    def forward(ctx, x):
        ctx.append(x.shape)
        return np.sum(x, axis=1)

    @staticmethod
    def backward(ctx, grad_output):
        (shape,) = ctx
        return [np.ones(shape) * grad_output[:, np.newaxis]]


# ---------------------------------------------------------------------- task 4
@tensor_op
class lookup_rows(Operation):
    """y = matrix[indices]: matrix (V, D), integer indices of any shape S -> y of shape S + (D,).

    Backward returns two gradients: one for the matrix (repeated indices add up)
    and one for the indices (zeros of their shape: integers get no gradient).
    """

    @staticmethod
    def forward(ctx, matrix, indices):
        ctx.append(matrix.shape)
        ctx.append(indices)
        return matrix[indices]

    @staticmethod
    def backward(ctx, grad_output):
        shape, indices = ctx
        grad = np.zeros(shape)
        grad[indices] += grad_output
        return [grad, np.zeros(indices.shape)]


# ------------------------------------------------------------ given: row-wise division
@tensor_op
class divide(Operation):
    """y[i, j] = a[i, j] / b[i]: a (B, D), b (B,) -> y (B, D). Given: use it in task 5."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.append(a)
        ctx.append(b)
        return a / b[:, np.newaxis]

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx
        return [grad_output / b[:, np.newaxis], -np.sum(grad_output * a, axis=1) / (b * b)]


# ---------------------------------------------------------------------- task 5
def softmax_rows(logits: Tensor) -> Tensor:
    """Softmax of every row of logits (B, C): a Tensor (B, C) whose rows sum to 1.

    Build it from ops (exp, sum_along_columns, divide, and edugrad's minus), so
    that backward flows through it. Subtract each row's maximum first.
    """
    row_max = np.max(logits.value, axis=1, keepdims=True)
    shifted = minus(logits, Tensor(row_max * np.ones(logits.value.shape)))
    exps = exp(shifted)
    return divide(exps, sum_along_columns(exps))


# ---------------------------------------------------------------------- task 6
def cross_entropy_loss(probabilities: Tensor, labels: Tensor) -> Tensor:
    """Mean over the batch of -sum_j labels[i, j] * ln(probabilities[i, j]): a 0-d Tensor.

    probabilities (B, C), rows are distributions; labels (B, C), one-hot rows.
    """
    per_example = sum_along_columns(multiply(labels, log(probabilities)))
    return minus(Tensor(np.array(0.0)), reduce_mean(per_example))
