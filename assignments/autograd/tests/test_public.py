"""Public tests of the ``autograd`` assignment: the self-check students see (60 points).

Forward and backward of every op are separate tests. Each test draws its inputs
from the ``rng`` fixture, builds the graph from the student's ``ops.py`` in the
worker and from :mod:`reference.ops` here (the ``kit`` fixture, see
``conftest.py``), and compares values and gradients. Backward tests seed a
random upstream gradient (never all ones) and first call the student's
Operation directly to check that backward returns one gradient per input.
"""
from __future__ import annotations

import numpy as np
import pytest

from grader.testing import points

# A batch, a batch of one, and a 0-d scalar: element-wise ops take any shape.
ELEMENTWISE_SHAPES = ((4, 5), (1, 6), ())
ROW_SHAPES = ((4, 6), (1, 5), (5, 1))
VOCAB, DIM = 7, 3


def _op(op: str, value: float, name: str):
    return pytest.param(op, marks=points(value, name=name), id=op)


def _elementwise_cases(kit, op: str, check):
    return [lambda shape=shape: check(kit.single(op), kit.inputs(op, shape)) for shape in ELEMENTWISE_SHAPES]


# ------------------------------------------------------------------ element-wise ops
@pytest.mark.parametrize("op", [
    _op("sigmoid", 3, "sigmoid: forward (batch, batch of 1, 0-d scalar)"),
    _op("log", 3, "log: forward (batch, batch of 1, 0-d scalar)"),
    _op("multiply", 3, "multiply: forward (batch, batch of 1, 0-d scalar)"),
    _op("exp", 2, "exp: forward (batch, batch of 1, 0-d scalar)"),
    _op("tanh", 2, "tanh: forward (batch, batch of 1, 0-d scalar)"),
])
def test_elementwise_forward(kit, credit, op):
    kit.cases(credit, _elementwise_cases(kit, op, kit.check_forward))


@pytest.mark.parametrize("op", [
    _op("sigmoid", 4, "sigmoid: backward (batch, batch of 1, 0-d scalar)"),
    _op("log", 4, "log: backward (batch, batch of 1, 0-d scalar)"),
    _op("exp", 3, "exp: backward (batch, batch of 1, 0-d scalar)"),
    _op("tanh", 3, "tanh: backward (batch, batch of 1, 0-d scalar)"),
])
def test_elementwise_backward(kit, credit, op):
    kit.cases(credit, _elementwise_cases(kit, op, kit.check_backward))


@points(5, name="multiply: backward (batch, 0-d scalar, batch of 1, and multiply(x, x) reusing its input)")
def test_multiply_backward(kit, credit):
    kit.cases(credit, [
        lambda: kit.check_backward(kit.single("multiply"), kit.inputs("multiply", (4, 5))),
        lambda: kit.check_backward(kit.single("multiply"), kit.inputs("multiply", ())),
        lambda: kit.check_backward(kit.single("multiply"), kit.inputs("multiply", (1, 6))),
        # The same Tensor twice: edugrad adds both gradients into x.grad, 2 * g * x in all.
        lambda: kit.check_backward(lambda o, x: o.multiply(x, x), {"x": kit.rng.normal(0.0, 1.5, size=(3, 4))}),
    ])


# ------------------------------------------------------------------ sum_along_columns
@points(3, name="sum_along_columns: forward, (B, D) -> (B,)")
def test_sum_along_columns_forward(kit, credit):
    op = "sum_along_columns"
    kit.cases(credit, [lambda shape=shape: kit.check_forward(kit.single(op), kit.inputs(op, shape)) for shape in ROW_SHAPES])


@points(4, name="sum_along_columns: backward, a gradient of shape (B, D)")
def test_sum_along_columns_backward(kit, credit):
    op = "sum_along_columns"
    kit.cases(credit, [lambda shape=shape: kit.check_backward(kit.single(op), kit.inputs(op, shape)) for shape in ROW_SHAPES])


# ------------------------------------------------------------------------ lookup_rows
def _lookup_inputs(kit) -> list[dict[str, np.ndarray]]:
    """Distinct indices, repeated indices (one row three times), a single index."""
    rng = kit.rng
    distinct = rng.permutation(VOCAB)[:4]
    first = rng.permutation(VOCAB)[:4]
    repeated = rng.permutation(np.concatenate([first, [first[1], first[1], first[3]]]))
    single = rng.integers(0, VOCAB, size=1)
    return [kit.inputs("lookup_rows", (VOCAB, DIM), indices=indices) for indices in (distinct, repeated, single)]


@points(3, name="lookup_rows: forward (distinct indices, repeated indices, one index)")
def test_lookup_rows_forward(kit, credit):
    kit.cases(credit, [lambda a=arrays: kit.check_forward(kit.single("lookup_rows"), a) for arrays in _lookup_inputs(kit)])


@points(4, name="lookup_rows: backward; repeated indices accumulate (distinct, repeated, one index)")
def test_lookup_rows_backward(kit, credit):
    kit.cases(credit, [lambda a=arrays: kit.check_backward(kit.single("lookup_rows"), a, check=("matrix",))
                       for arrays in _lookup_inputs(kit)])


# ----------------------------------------------------------------------- softmax_rows
def _softmax_inputs(kit):
    return [kit.inputs("softmax_rows", (4, 5)), kit.inputs("softmax_rows", (1, 6)),
            # Rows shifted by +-1000: exp overflows unless each row's maximum is subtracted first.
            kit.inputs("softmax_rows", (3, 4), offsets=kit.rng.choice([-1000.0, 1000.0], size=(3, 1)))]


@points(4, name="softmax_rows: forward (batch, batch of 1, logits of size 1000)")
def test_softmax_rows_forward(kit, credit):
    kit.cases(credit, [lambda a=arrays: kit.check_forward(kit.single("softmax_rows"), a) for arrays in _softmax_inputs(kit)])


@points(3, name="softmax_rows: backward (batch, batch of 1, logits of size 1000)")
def test_softmax_rows_backward(kit, credit):
    kit.cases(credit, [lambda a=arrays: kit.check_backward(kit.single("softmax_rows"), a) for arrays in _softmax_inputs(kit)])


# ------------------------------------------------------------------ cross_entropy_loss
@points(4, name="cross_entropy_loss: forward, the mean over the batch (batch, batch of 1)")
def test_cross_entropy_loss_forward(kit, credit):
    cases = [kit.inputs("cross_entropy_loss", (4, 5)), kit.inputs("cross_entropy_loss", (1, 3))]
    kit.cases(credit, [lambda a=arrays: kit.check_forward(kit.single("cross_entropy_loss"), a) for arrays in cases])


@points(3, name="cross_entropy_loss: backward, gradient of the probabilities (batch, batch of 1)")
def test_cross_entropy_loss_backward(kit, credit):
    cases = [kit.inputs("cross_entropy_loss", (4, 5)), kit.inputs("cross_entropy_loss", (1, 3))]
    kit.cases(credit, [lambda a=arrays: kit.check_backward(kit.single("cross_entropy_loss"), a, check=("probabilities",))
                       for arrays in cases])
