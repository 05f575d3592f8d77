"""Oracle tests for ``reference.ops``: edugrad ops, their compositions and the gradient checks.

Every op is compared with PyTorch autograd in float64: the forward value, and
the gradient of the scalar loss ``sum(output * W)`` for random ``W`` (so the
upstream gradient is not all ones). Every op also passes ``grad_check`` on 0-d
scalars (where defined) and on batches whose shapes hypothesis draws. Inputs
stay away from places where the functions misbehave (``log`` on [0.5, 3],
divisors at least 0.5 in size, ``exp`` and ``tanh`` on [-3, 3]).
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from edugrad.ops import reduce_sum
from edugrad.tensor import Operation, Tensor, tensor_op
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference import ops
from tests.reference.conftest import assert_close, to_torch

# grad_check of a correct op on well-conditioned inputs scores ~1e-9 or less.
GRAD_CHECK_TOL = 1e-7

seeds = st.integers(min_value=0, max_value=2**32 - 1)
# 0-d scalars included: element-wise ops must work on them.
any_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
rows = st.integers(min_value=1, max_value=5)
cols = st.integers(min_value=1, max_value=5)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


class _WeightedSum(Operation):
    """Test-only loss ``L = sum(y * weights)`` with constant weights: dL/dy = weights."""

    @staticmethod
    def forward(ctx, y, weights=None):
        ctx.append(np.asarray(weights))
        return np.asarray(np.sum(y * weights))

    @staticmethod
    def backward(ctx, grad_output):
        (weights,) = ctx
        return [grad_output * weights]


weighted_sum = tensor_op(_WeightedSum)


def _output_shape(op, arrays):
    return np.shape(op(*[Tensor(np.array(a)) for a in arrays]).value)


def _assert_matches_torch(op, torch_fn, arrays, rng, differentiable=None):
    """Forward value and the gradients of ``sum(output * W)`` agree with torch autograd."""
    differentiable = differentiable or [True] * len(arrays)
    tensors = [Tensor(np.array(a)) for a in arrays]
    output = op(*tensors)
    weights = np.asarray(rng.normal(size=np.shape(output.value)))
    weighted_sum(output, weights=weights).backward()

    torch_inputs = [to_torch(a, requires_grad=d) for a, d in zip(arrays, differentiable)]
    torch_output = torch_fn(*torch_inputs)
    (torch_output * to_torch(weights)).sum().backward()

    assert_close(output.value, torch_output, what="forward")
    for i, (tensor, torch_input, diff) in enumerate(zip(tensors, torch_inputs, differentiable)):
        expected = torch_input.grad if diff else np.zeros(np.shape(arrays[i]))
        assert_close(tensor.grad, expected, what=f"gradient of input {i}")


def _grad_check_op(op, arrays, rng):
    """grad_check of ``sum(op(*arrays) * W)`` for random ``W``."""
    weights = np.asarray(rng.normal(size=_output_shape(op, arrays)))
    return ops.grad_check(lambda *tensors: weighted_sum(op(*tensors), weights=weights), *arrays)


def _nonzero(rng, size, low=0.5, high=2.0):
    """Values of size in [low, high] with random signs: safe divisors."""
    return rng.uniform(low, high, size=size) * rng.choice([-1.0, 1.0], size=size)


UNARY = {
    # name: (edugrad op, torch op, input range)
    "sigmoid": (ops.sigmoid, torch.sigmoid, (-6.0, 6.0)),
    "tanh": (ops.tanh, torch.tanh, (-3.0, 3.0)),
    "exp": (ops.exp, torch.exp, (-3.0, 3.0)),
    "log": (ops.log, torch.log, (0.5, 3.0)),
}


# --------------------------------------------------------------------------------------
# Element-wise ops: sigmoid, tanh, exp, log, multiply
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=any_shapes, seed=seeds)
def test_elementwise_op_matches_torch_forward_and_backward(name, shape, seed):
    op, torch_fn, (low, high) = UNARY[name]
    rng = np.random.default_rng(seed)
    _assert_matches_torch(op, torch_fn, [rng.uniform(low, high, size=shape)], rng)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=any_shapes, seed=seeds)
def test_elementwise_op_passes_grad_check(name, shape, seed):
    op, _, (low, high) = UNARY[name]
    rng = np.random.default_rng(seed)
    assert _grad_check_op(op, [rng.uniform(low, high, size=shape)], rng) < GRAD_CHECK_TOL


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_elementwise_op_on_0d_scalar_matches_torch_and_passes_grad_check(name, fraction, rng):
    op, torch_fn, (low, high) = UNARY[name]
    x = np.array(low + fraction * (high - low))
    output = op(Tensor(x))
    assert np.shape(output.value) == ()
    _assert_matches_torch(op, torch_fn, [x], rng)
    assert _grad_check_op(op, [x], rng) < GRAD_CHECK_TOL


def test_sigmoid_of_large_magnitude_inputs_is_finite_and_matches_torch(rng):
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    with np.errstate(over="raise"):
        _assert_matches_torch(ops.sigmoid, torch.sigmoid, [x], rng)


def test_log_is_the_natural_logarithm():
    assert_close(ops.log(Tensor(np.array(np.e))).value, np.array(1.0))


@given(shape=any_shapes, seed=seeds)
def test_multiply_matches_torch_forward_and_backward(shape, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, size=shape), rng.uniform(-2, 2, size=shape)
    _assert_matches_torch(ops.multiply, torch.mul, [a, b], rng)


@given(shape=any_shapes, seed=seeds)
def test_multiply_passes_grad_check(shape, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, size=shape), rng.uniform(-2, 2, size=shape)
    assert _grad_check_op(ops.multiply, [a, b], rng) < GRAD_CHECK_TOL


@given(shape=any_shapes, seed=seeds)
def test_multiply_of_a_tensor_with_itself_accumulates_both_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=shape)
    _assert_matches_torch(lambda t: ops.multiply(t, t), lambda t: t * t, [x], rng)
    weights = np.asarray(rng.normal(size=shape))
    tensor = Tensor(np.array(x))
    weighted_sum(ops.multiply(tensor, tensor), weights=weights).backward()
    assert_close(tensor.grad, 2 * x * weights, what="d(x*x)/dx")


def test_multiply_rejects_inputs_of_different_shapes():
    with pytest.raises(ValueError, match="same shape"):
        ops.multiply(Tensor(np.ones((2, 3))), Tensor(np.ones(3)))


# --------------------------------------------------------------------------------------
# Row-wise and shape ops: divide, sum_along_columns, lookup_rows, concat
# --------------------------------------------------------------------------------------


def _torch_divide(a, b):
    return a / b[:, None]


@given(batch=rows, dim=cols, seed=seeds)
def test_divide_matches_torch_forward_and_backward_for_both_inputs(batch, dim, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, size=(batch, dim)), _nonzero(rng, batch)
    _assert_matches_torch(ops.divide, _torch_divide, [a, b], rng)


@given(batch=rows, dim=cols, seed=seeds)
def test_divide_passes_grad_check(batch, dim, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, size=(batch, dim)), _nonzero(rng, batch)
    assert _grad_check_op(ops.divide, [a, b], rng) < GRAD_CHECK_TOL


def test_divide_divides_each_row_by_its_own_entry():
    a = np.array([[2.0, 4.0], [3.0, 9.0]])
    assert_close(ops.divide(Tensor(a), Tensor(np.array([2.0, 3.0]))).value, np.array([[1.0, 2.0], [1.0, 3.0]]))


@given(batch=rows, dim=cols, seed=seeds)
def test_divide_by_row_sums_of_the_same_tensor_accumulates_both_paths(batch, dim, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, size=(batch, dim))

    def normalize(t):
        return ops.divide(t, ops.sum_along_columns(t))

    _assert_matches_torch(normalize, lambda t: t / t.sum(dim=1, keepdim=True), [x], rng)
    assert _grad_check_op(normalize, [x], rng) < GRAD_CHECK_TOL


@pytest.mark.parametrize(
    "a_shape, b_shape", [((2, 3), (3,)), ((2, 3), (2, 1)), ((6,), (6,)), ((2, 3), ())]
)
def test_divide_rejects_shapes_other_than_matrix_over_vector_of_rows(a_shape, b_shape):
    with pytest.raises(ValueError, match="divide"):
        ops.divide(Tensor(np.ones(a_shape)), Tensor(np.ones(b_shape)))


@given(batch=rows, dim=cols, seed=seeds)
def test_sum_along_columns_matches_torch_forward_and_backward(batch, dim, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(batch, dim))
    _assert_matches_torch(ops.sum_along_columns, lambda t: t.sum(dim=1), [x], rng)
    assert np.shape(ops.sum_along_columns(Tensor(x)).value) == (batch,)


@given(batch=rows, dim=cols, seed=seeds)
def test_sum_along_columns_passes_grad_check(batch, dim, seed):
    rng = np.random.default_rng(seed)
    assert _grad_check_op(ops.sum_along_columns, [rng.uniform(-2, 2, size=(batch, dim))], rng) < GRAD_CHECK_TOL


def _torch_lookup(matrix, indices):
    return matrix[indices]


lookup_cases = st.tuples(
    st.integers(1, 6),  # vocabulary V
    st.integers(1, 4),  # dimension D
    hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=6),  # indices shape
    seeds,
)


@given(case=lookup_cases)
def test_lookup_rows_matches_torch_forward_and_backward(case):
    vocab, dim, index_shape, seed = case
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-2, 2, size=(vocab, dim))
    indices = rng.integers(0, vocab, size=index_shape)
    _assert_matches_torch(ops.lookup_rows, _torch_lookup, [matrix, indices], rng, differentiable=[True, False])
    assert np.shape(ops.lookup_rows(Tensor(matrix), Tensor(indices)).value) == index_shape + (dim,)


@given(case=lookup_cases)
def test_lookup_rows_passes_grad_check_with_integer_indices_held_constant(case):
    vocab, dim, index_shape, seed = case
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-2, 2, size=(vocab, dim))
    indices = rng.integers(0, vocab, size=index_shape)
    assert _grad_check_op(ops.lookup_rows, [matrix, indices], rng) < GRAD_CHECK_TOL


def test_lookup_rows_accumulates_the_gradient_of_repeated_indices_and_zeroes_unused_rows(rng):
    matrix = rng.normal(size=(4, 3))
    indices = np.array([2, 0, 2, 2])
    weights = rng.normal(size=(4, 3))
    matrix_tensor, index_tensor = Tensor(matrix), Tensor(indices)
    weighted_sum(ops.lookup_rows(matrix_tensor, index_tensor), weights=weights).backward()
    expected = np.zeros((4, 3))
    expected[0] = weights[1]
    expected[2] = weights[0] + weights[2] + weights[3]
    assert_close(matrix_tensor.grad, expected, what="embedding gradient")
    _assert_matches_torch(ops.lookup_rows, _torch_lookup, [matrix, indices], rng, differentiable=[True, False])


def test_lookup_rows_gives_the_indices_a_zero_gradient_of_their_shape(rng):
    index_tensor = Tensor(np.array([[1, 0], [1, 1]]))
    loss = weighted_sum(ops.lookup_rows(Tensor(rng.normal(size=(2, 3))), index_tensor), weights=np.ones((2, 2, 3)))
    loss.backward()
    assert_close(index_tensor.grad, np.zeros((2, 2)), what="indices gradient")


def test_lookup_rows_rejects_float_and_out_of_range_indices():
    matrix = Tensor(np.ones((3, 2)))
    with pytest.raises(TypeError, match="integers"):
        ops.lookup_rows(matrix, Tensor(np.array([0.0, 1.0])))
    for bad in ([3], [-1]):
        with pytest.raises(IndexError, match=r"\[0, 3\)"):
            ops.lookup_rows(matrix, Tensor(np.array(bad)))


concat_cases = st.tuples(rows, cols, cols, seeds)


@given(case=concat_cases)
def test_concat_matches_torch_forward_and_backward(case):
    batch, width_a, width_b, seed = case
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, size=(batch, width_a)), rng.uniform(-2, 2, size=(batch, width_b))
    _assert_matches_torch(ops.concat, lambda x, y: torch.cat([x, y], dim=1), [a, b], rng)
    assert np.shape(ops.concat(Tensor(a), Tensor(b)).value) == (batch, width_a + width_b)


@given(case=concat_cases)
def test_concat_passes_grad_check(case):
    batch, width_a, width_b, seed = case
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, size=(batch, width_a)), rng.uniform(-2, 2, size=(batch, width_b))
    assert _grad_check_op(ops.concat, [a, b], rng) < GRAD_CHECK_TOL


def test_concat_of_a_tensor_with_itself_sums_the_gradients_of_both_halves(rng):
    x = rng.normal(size=(3, 2))
    weights = rng.normal(size=(3, 4))
    tensor = Tensor(x)
    weighted_sum(ops.concat(tensor, tensor), weights=weights).backward()
    assert_close(tensor.grad, weights[:, :2] + weights[:, 2:], what="d concat(x, x) / dx")
    _assert_matches_torch(lambda t: ops.concat(t, t), lambda t: torch.cat([t, t], dim=1), [x], rng)


def test_concat_rejects_inputs_with_different_row_counts():
    with pytest.raises(ValueError, match="rows"):
        ops.concat(Tensor(np.ones((2, 3))), Tensor(np.ones((3, 3))))


# --------------------------------------------------------------------------------------
# Compositions: softmax_rows, cross_entropy_loss
# --------------------------------------------------------------------------------------


@given(batch=rows, classes=cols, seed=seeds)
def test_softmax_rows_matches_torch_forward_and_backward(batch, classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(batch, classes))
    _assert_matches_torch(ops.softmax_rows, lambda t: torch.softmax(t, dim=1), [logits], rng)


@given(batch=rows, classes=cols, seed=seeds)
def test_softmax_rows_passes_grad_check(batch, classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(batch, classes))
    assert _grad_check_op(ops.softmax_rows, [logits], rng) < GRAD_CHECK_TOL


def test_softmax_rows_of_logits_near_1e3_does_not_overflow_and_matches_torch(rng):
    logits = 1e3 + rng.normal(scale=5.0, size=(4, 6))
    logits[1] = [1000.0, -1000.0, 999.0, 0.0, 1000.0, 998.5]
    with np.errstate(over="raise", invalid="raise"):
        probabilities = ops.softmax_rows(Tensor(logits)).value
    assert np.all(np.isfinite(probabilities))
    assert_close(probabilities.sum(axis=1), np.ones(4), what="row sums")
    _assert_matches_torch(ops.softmax_rows, lambda t: torch.softmax(t, dim=1), [logits], rng)


def test_softmax_rows_gradient_ignores_the_subtracted_row_max(rng):
    # Softmax is shift-invariant, so each row of the gradient sums to zero and
    # shifting the logits changes neither the output nor the gradient.
    logits = rng.normal(size=(3, 5))
    weights = rng.normal(size=(3, 5))
    grads = []
    for shift in (0.0, 50.0):
        tensor = Tensor(logits + shift)
        weighted_sum(ops.softmax_rows(tensor), weights=weights).backward()
        grads.append(tensor.grad)
    assert_close(grads[0].sum(axis=1), np.zeros(3), what="row sums of the gradient")
    assert_close(grads[1], grads[0], rtol=1e-7, atol=1e-12, what="gradient after a shift of 50")


@given(batch=rows, classes=st.integers(2, 5), seed=seeds)
def test_cross_entropy_loss_matches_torch_for_probabilities_and_labels(batch, classes, seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.full(classes, 2.0), size=batch)
    labels = np.eye(classes)[rng.integers(0, classes, size=batch)]

    def torch_loss(p, y):
        return -(y * torch.log(p)).sum(dim=1).mean()

    _assert_matches_torch(ops.cross_entropy_loss, torch_loss, [probabilities, labels], rng)
    loss = ops.cross_entropy_loss(Tensor(probabilities), Tensor(labels))
    assert np.ndim(loss.value) == 0
    assert ops.grad_check(ops.cross_entropy_loss, probabilities, labels) < GRAD_CHECK_TOL


@given(batch=rows, classes=st.integers(2, 5), seed=seeds)
def test_softmax_then_cross_entropy_matches_torch_functional_cross_entropy(batch, classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(batch, classes))
    targets = rng.integers(0, classes, size=batch)
    labels = np.eye(classes)[targets]

    logit_tensor = Tensor(np.array(logits))
    loss = ops.cross_entropy_loss(ops.softmax_rows(logit_tensor), Tensor(labels))
    loss.backward()
    torch_logits = to_torch(logits, requires_grad=True)
    torch_loss = torch.nn.functional.cross_entropy(torch_logits, to_torch(targets))
    torch_loss.backward()

    assert_close(loss.value, torch_loss, what="loss")
    assert_close(logit_tensor.grad, torch_logits.grad, what="dL/dlogits")
    assert_close(logit_tensor.grad, (ops.softmax_rows(Tensor(logits)).value - labels) / batch, what="(p - y) / B")
    assert ops.grad_check(lambda t: ops.cross_entropy_loss(ops.softmax_rows(t), Tensor(labels)), logits) < GRAD_CHECK_TOL


def test_cross_entropy_loss_rejects_labels_of_another_shape():
    with pytest.raises(ValueError, match="one-hot"):
        ops.cross_entropy_loss(Tensor(np.full((2, 3), 1 / 3)), Tensor(np.array([0, 2])))


# --------------------------------------------------------------------------------------
# grad_check
# --------------------------------------------------------------------------------------


class _ExpWithWrongBackward(Operation):
    """exp whose backward uses x instead of exp(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.append(x)
        return np.exp(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx
        return [grad_output * x]


class _ExpWithOneWrongEntry(Operation):
    """exp whose backward is off by 0.1% in the first entry only."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.append(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx
        grad = grad_output * y
        grad.flat[0] *= 1.001
        return [grad]


def test_grad_check_reports_a_large_error_for_a_wrong_backward(rng):
    wrong_exp = tensor_op(_ExpWithWrongBackward)
    x = rng.uniform(0.5, 2.0, size=(3, 4))
    assert ops.grad_check(lambda t: reduce_sum(wrong_exp(t)), x) > 0.1
    assert ops.grad_check(lambda t: reduce_sum(ops.exp(t)), x) < GRAD_CHECK_TOL


def test_grad_check_detects_a_small_error_in_a_single_gradient_entry(rng):
    nearly_exp = tensor_op(_ExpWithOneWrongEntry)
    x = rng.uniform(-1.0, 1.0, size=(4, 5))
    assert ops.grad_check(lambda t: reduce_sum(nearly_exp(t)), x) > 1e-5


def test_grad_check_rejects_a_function_returning_a_non_scalar_tensor(rng):
    with pytest.raises(ValueError, match=r"scalar \(0-d\) Tensor.*shape \(2, 3\)"):
        ops.grad_check(ops.tanh, rng.normal(size=(2, 3)))


def test_grad_check_rejects_a_function_returning_something_other_than_a_tensor(rng):
    with pytest.raises(ValueError, match="0-d edugrad Tensor, got float64"):
        ops.grad_check(lambda t: np.sum(t.value), rng.normal(size=3))


def test_grad_check_rejects_arguments_without_a_float_array():
    with pytest.raises(ValueError, match="no floating-point array"):
        ops.grad_check(lambda t: reduce_sum(t), np.array([1, 2]))


def test_grad_check_leaves_its_input_arrays_unchanged(rng):
    x = rng.normal(size=(2, 3))
    before = x.copy()
    ops.grad_check(lambda t: reduce_sum(ops.tanh(t)), x)
    np.testing.assert_array_equal(x, before)


def test_grad_check_scores_zero_for_an_input_that_does_not_affect_the_output(rng):
    def ignores_second(x, unused):
        return reduce_sum(ops.exp(x))

    error = ops.grad_check(ignores_second, rng.normal(size=3), rng.normal(size=(2, 2)))
    assert error < GRAD_CHECK_TOL
    assert ops.grad_check(lambda x, unused: reduce_sum(unused), rng.normal(size=3), np.zeros(2)) == 0.0


def test_grad_check_is_well_behaved_when_the_whole_gradient_is_analytically_zero(rng):
    # sum of softmax rows is the constant B: only rounding noise is left to compare.
    assert ops.grad_check(lambda t: reduce_sum(ops.softmax_rows(t)), rng.normal(size=(3, 4))) < GRAD_CHECK_TOL


def test_grad_check_is_well_behaved_at_individual_zero_gradient_entries(rng):
    # Entries of x multiplied by a zero weight have zero gradient.
    weights = rng.normal(size=(3, 4))
    weights[:, 1] = 0.0
    error = ops.grad_check(lambda t: weighted_sum(ops.sigmoid(t), weights=weights), rng.normal(size=(3, 4)))
    assert error < GRAD_CHECK_TOL


# --------------------------------------------------------------------------------------
# check_backward_contract
# --------------------------------------------------------------------------------------


def _sample_inputs(rng):
    matrix = rng.uniform(0.5, 2.0, size=(3, 4))
    return {
        ops.sigmoid: [matrix],
        ops.tanh: [np.array(0.3)],
        ops.exp: [matrix],
        ops.log: [matrix],
        ops.multiply: [matrix, matrix + 1],
        ops.divide: [matrix, _nonzero(rng, 3)],
        ops.sum_along_columns: [matrix],
        ops.lookup_rows: [matrix, np.array([[0, 2], [2, 2]])],
        ops.concat: [matrix, rng.normal(size=(3, 2))],
    }


def test_every_reference_op_satisfies_the_backward_contract(rng):
    for op, arrays in _sample_inputs(rng).items():
        for handle in (op, op.operation):
            grads = ops.check_backward_contract(handle, *arrays)
            assert [g.shape for g in grads] == [np.shape(a) for a in arrays], op.__name__


class _SquareReturningBareArray(Operation):
    @staticmethod
    def forward(ctx, x):
        ctx.append(x)
        return x**2

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx
        return 2 * x * grad_output  # should be [2 * x * grad_output]


def test_check_backward_contract_catches_a_backward_returning_a_bare_array(rng):
    with pytest.raises(ops.BackwardContractError, match="bare ndarray instead of one gradient per input"):
        ops.check_backward_contract(_SquareReturningBareArray, rng.normal(size=(2, 3)))


def test_bare_array_backward_corrupts_edugrad_gradients_without_an_error(rng):
    # The reason for the contract check: edugrad hands out the array's rows.
    x = Tensor(rng.normal(size=(2, 3)))
    reduce_sum(tensor_op(_SquareReturningBareArray)(x)).backward()
    assert not np.allclose(x.grad, 2 * x.value)


def test_check_backward_contract_finds_the_class_behind_a_student_tensor_op_function(rng):
    @tensor_op
    class student_square(Operation):  # noqa: N801 - the course names ops in lower case
        @staticmethod
        def forward(ctx, x):
            ctx.append(x)
            return x**2

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx
            return 2 * x * grad_output

    with pytest.raises(ops.BackwardContractError, match="student_square.backward returned a bare ndarray"):
        ops.check_backward_contract(student_square, rng.normal(size=(2, 3)))


class _MultiplyReturningOneGradient(Operation):
    @staticmethod
    def forward(ctx, a, b):
        ctx.append(b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        (b,) = ctx
        return [grad_output * b]


class _RowSumOverBatchGradient(Operation):
    """Sums rows but returns a (D,) gradient for a (B, D) input (summed over the batch)."""

    @staticmethod
    def forward(ctx, x):
        return np.sum(x, axis=1)

    @staticmethod
    def backward(ctx, grad_output):
        return [np.full(4, np.sum(grad_output))]


class _ExpInPlace(Operation):
    @staticmethod
    def forward(ctx, x):
        np.exp(x, out=x)
        ctx.append(x)
        return x

    @staticmethod
    def backward(ctx, grad_output):
        return [grad_output * ctx[0]]


def test_check_backward_contract_catches_a_wrong_number_of_gradients(rng):
    with pytest.raises(ops.BackwardContractError, match="1 gradient\\(s\\) for 2 inputs"):
        ops.check_backward_contract(_MultiplyReturningOneGradient, rng.normal(size=3), rng.normal(size=3))


def test_check_backward_contract_catches_a_gradient_of_the_wrong_shape(rng):
    with pytest.raises(ops.BackwardContractError, match=r"gradient 0 has shape \(4,\) but input 0 has shape \(3, 4\)"):
        ops.check_backward_contract(_RowSumOverBatchGradient, rng.normal(size=(3, 4)))


def test_check_backward_contract_catches_a_forward_that_modifies_its_input(rng):
    with pytest.raises(ops.BackwardContractError, match="modified input 0 in place"):
        ops.check_backward_contract(_ExpInPlace, rng.normal(size=(2, 2)))


def test_check_backward_contract_rejects_something_that_is_not_an_operation():
    with pytest.raises(TypeError, match="Operation subclass"):
        ops.check_backward_contract(np.exp, np.ones(2))


def test_check_backward_contract_uses_a_given_upstream_gradient(rng):
    x = rng.normal(size=(2, 3))
    upstream = rng.normal(size=(2, 3))
    (grad,) = ops.check_backward_contract(ops.Tanh, x, grad_output=upstream)
    assert_close(grad, upstream * (1 - np.tanh(x) ** 2))
    with pytest.raises(ValueError, match="grad_output has shape"):
        ops.check_backward_contract(ops.Tanh, x, grad_output=np.ones(3))


# --------------------------------------------------------------------------------------
# Graphs: run_graph
# --------------------------------------------------------------------------------------


class _TorchOps:
    """The namespace of GraphOps in PyTorch, so one graph function builds both graphs."""

    sigmoid, tanh, exp, log = torch.sigmoid, torch.tanh, torch.exp, torch.log
    multiply, add, minus, matmul = torch.mul, torch.add, torch.sub, torch.matmul
    reduce_sum, reduce_mean = torch.sum, torch.mean

    @staticmethod
    def divide(a, b):
        return a / b[:, None]

    @staticmethod
    def sum_along_columns(x):
        return x.sum(dim=1)

    @staticmethod
    def lookup_rows(matrix, indices):
        return matrix[indices]

    @staticmethod
    def softmax_rows(logits):
        return torch.softmax(logits, dim=1)

    @staticmethod
    def cross_entropy_loss(probabilities, labels):
        return -(labels * torch.log(probabilities)).sum(dim=1).mean()


def _language_model(o, E, W, U, ids, labels):
    """Embeddings of a reused word -> gated tanh layer -> softmax -> loss: every kind of op at once."""
    hidden = o.tanh(o.matmul(o.lookup_rows(E, ids), W))
    gated = o.multiply(o.sigmoid(hidden), hidden)
    return o.cross_entropy_loss(o.softmax_rows(o.matmul(gated, U)), labels)


GRAPHS = {
    "reused input": (lambda o, x: o.multiply(o.sigmoid(x), o.tanh(x)), lambda rng: {"x": rng.normal(size=(3, 4))}),
    "multiply(x, x) then log": (lambda o, x: o.log(o.multiply(o.exp(x), o.exp(x))),
                                lambda rng: {"x": rng.normal(size=(2, 3))}),
    "row normalisation": (lambda o, x: o.divide(x, o.sum_along_columns(x)),
                          lambda rng: {"x": rng.uniform(0.5, 2.0, size=(3, 4))}),
    "language model": (_language_model, lambda rng: {
        "E": rng.normal(size=(6, 3)), "W": rng.normal(size=(3, 4)), "U": rng.normal(size=(4, 6)),
        "ids": np.array([2, 5, 2, 0]), "labels": np.eye(6)[[1, 1, 4, 0]]}),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_run_graph_matches_torch_value_and_gradients(name, rng):
    graph, make = GRAPHS[name]
    arrays = make(rng)
    value, _ = ops.run_graph(graph, arrays)
    upstream = rng.normal(size=np.shape(value))
    value_again, gradients = ops.run_graph(graph, arrays, upstream)

    leaves = {key: to_torch(array, requires_grad=np.asarray(array).dtype.kind == "f") for key, array in arrays.items()}
    torch_value = graph(_TorchOps, *leaves.values())
    (torch_value * to_torch(upstream)).sum().backward()

    assert_close(value, torch_value, what="value")
    assert_close(value_again, value, what="value with backward")
    for key, leaf in leaves.items():
        expected = leaf.grad if leaf.requires_grad else np.zeros(np.shape(arrays[key]))
        assert_close(gradients[key], expected, what=f"gradient of {key}")


def test_run_graph_without_an_upstream_gradient_only_evaluates(rng):
    x = rng.normal(size=(2, 3))
    value, gradients = ops.run_graph(lambda o, t: o.tanh(t), {"x": x})
    assert gradients is None
    assert_close(value, np.tanh(x))


def test_run_graph_rejects_an_upstream_gradient_of_another_shape_and_a_graph_without_a_tensor(rng):
    with pytest.raises(ValueError, match="grad_output has shape"):
        ops.run_graph(lambda o, t: o.tanh(t), {"x": np.ones((2, 3))}, np.ones(3))
    with pytest.raises(TypeError, match="must return an edugrad Tensor"):
        ops.run_graph(lambda o, t: t.value, {"x": np.ones(2)})


def test_graph_ops_uses_a_replaced_op_inside_the_compositions(rng):
    calls = []

    def counting_exp(tensor):
        calls.append(tensor)
        return ops.exp(tensor)

    ops._run_graph(ops.GraphOps(exp=counting_exp), lambda o, t: o.softmax_rows(t), {"x": rng.normal(size=(2, 3))}, None)
    assert len(calls) == 1
    with pytest.raises(ValueError, match="no op named 'softmax'"):
        ops.GraphOps(softmax=counting_exp)


# --------------------------------------------------------------------------------------
# Module conventions
# --------------------------------------------------------------------------------------


OPERATION_CLASSES = [
    ops.Sigmoid, ops.Tanh, ops.Exp, ops.Log, ops.Multiply,
    ops.Divide, ops.SumAlongColumns, ops.LookupRows, ops.Concat,
]


@pytest.mark.parametrize("operation", OPERATION_CLASSES, ids=lambda c: c.__name__)
def test_every_op_docstring_states_forward_backward_and_shapes(operation):
    doc = inspect.getdoc(operation) or ""
    for part in ("forward:", "backward:", "shapes:"):
        assert part in doc, f"{operation.__name__} docstring lacks {part!r}"
    assert issubclass(operation, Operation)


def test_reference_ops_does_not_import_torch():
    source = inspect.getsource(ops)
    assert "import torch" not in source and "from torch" not in source
