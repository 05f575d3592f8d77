"""Mistakes in edugrad ops (reference/mistakes/ops.py) are real mistakes, and each is diagnosed as itself.

Every entry shadows :func:`reference.ops.run_graph`. Each is checked on the
graph where it shows: forward mistakes on the output value, backward mistakes
on the gradients of the leaves for a random upstream gradient.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from grader.diagnosis import arrays_match, diagnose
from reference.mistakes import shadowing
from reference.mistakes.ops import STUDENT_OPS
from reference.ops import run_graph
from tests.reference.mistakes.checks import check_variants_of

RNG = np.random.default_rng(20261122)


def single(op: str) -> Callable:
    return lambda o, *tensors: getattr(o, op)(*tensors)


def softmax_then_loss(o, logits, labels):
    return o.cross_entropy_loss(o.softmax_rows(logits), labels)


def same_gradients(got: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> bool:
    return got.keys() == candidate.keys() and all(arrays_match(got[name], candidate[name]) for name in got)


def value(result: tuple) -> np.ndarray:
    return result[0]


def gradients(result: tuple) -> dict[str, np.ndarray]:
    return result[1]


def probabilities_and_labels(batch: int = 4, classes: int = 5) -> dict[str, np.ndarray]:
    logits = RNG.normal(size=(batch, classes))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return {"probabilities": p, "labels": np.eye(classes)[RNG.integers(0, classes, size=batch)]}


X = RNG.normal(0.0, 2.0, size=(3, 4))
LARGE = np.array([[-800.0, -3.0, 0.5, 2.0], [750.0, 1.0, -0.2, 800.0]])
POSITIVE = RNG.uniform(0.2, 3.0, size=(3, 4))
PAIR = {"a": RNG.normal(size=(3, 4)), "b": RNG.normal(0.5, 1.0, size=(3, 4))}
LOOKUP = {"matrix": RNG.normal(size=(5, 4)), "indices": np.array([0, 2, 2, 3, 2])}
SHIFTED_LOGITS = RNG.normal(size=(3, 4)) + np.array([[1000.0], [-1000.0], [0.0]])

# id -> (graph, arrays, output checked): "value" (forward, no upstream gradient) or "gradients".
CASES: dict[str, tuple[Callable, dict[str, np.ndarray], str]] = {
    "sigmoid_sign_flipped": (single("sigmoid"), {"x": X}, "value"),
    "sigmoid_overflows": (single("sigmoid"), {"x": LARGE}, "value"),
    "sigmoid_as_tanh": (single("sigmoid"), {"x": X}, "value"),
    "tanh_as_sigmoid": (single("tanh"), {"x": X}, "value"),
    "tanh_overflows": (single("tanh"), {"x": LARGE}, "value"),
    "log_base_10": (single("log"), {"x": POSITIVE}, "value"),
    "log_base_2": (single("log"), {"x": POSITIVE}, "value"),
    "multiply_adds": (single("multiply"), PAIR, "value"),
    "sum_along_columns_over_rows": (single("sum_along_columns"), {"x": X}, "value"),
    "sum_along_columns_sums_everything": (single("sum_along_columns"), {"x": X}, "value"),
    "lookup_rows_selects_columns": (single("lookup_rows"), LOOKUP, "value"),
    "sigmoid_backward_uses_input": (single("sigmoid"), {"x": X}, "gradients"),
    "sigmoid_backward_missing_one_minus": (single("sigmoid"), {"x": X}, "gradients"),
    "tanh_backward_uses_input": (single("tanh"), {"x": X}, "gradients"),
    "tanh_backward_missing_square": (single("tanh"), {"x": X}, "gradients"),
    "exp_backward_uses_input": (single("exp"), {"x": X}, "gradients"),
    "exp_backward_forgets_derivative": (single("exp"), {"x": X}, "gradients"),
    "log_backward_forgets_derivative": (single("log"), {"x": POSITIVE}, "gradients"),
    "log_backward_multiplies_by_exp": (single("log"), {"x": POSITIVE}, "gradients"),
    "log_backward_multiplies_by_input": (single("log"), {"x": POSITIVE}, "gradients"),
    "log_backward_multiplies_by_log": (single("log"), {"x": POSITIVE}, "gradients"),
    "log_backward_sign_flipped": (single("log"), {"x": POSITIVE}, "gradients"),
    "multiply_backward_swapped": (single("multiply"), PAIR, "gradients"),
    "multiply_backward_modifies_grad_output": (single("multiply"), PAIR, "gradients"),
    "sum_along_columns_backward_wrong_axis": (single("sum_along_columns"), {"x": X[:3, :3]}, "gradients"),
    "lookup_rows_backward_fancy_index": (single("lookup_rows"), LOOKUP, "gradients"),
    "backward_ignores_upstream": (single("tanh"), {"x": X}, "gradients"),
    "backward_returns_bare_array": (single("sigmoid"), {"x": X}, "gradients"),
    "gradient_overwritten_not_accumulated": (lambda o, x: o.multiply(x, x), {"x": X}, "gradients"),
    "softmax_without_max_shift": (single("softmax_rows"), {"logits": SHIFTED_LOGITS}, "value"),
    "softmax_detached_from_logits": (single("softmax_rows"), {"logits": X}, "gradients"),
    "cross_entropy_sums_batch": (single("cross_entropy_loss"), probabilities_and_labels(), "value"),
    "cross_entropy_mean_over_entries": (single("cross_entropy_loss"), probabilities_and_labels(), "value"),
    "cross_entropy_sign_flipped": (single("cross_entropy_loss"), probabilities_and_labels(), "value"),
    "cross_entropy_per_example": (single("cross_entropy_loss"), probabilities_and_labels(), "value"),
    "cross_entropy_detached_from_probabilities": (single("cross_entropy_loss"), probabilities_and_labels(),
                                                  "gradients"),
}
ENTRIES = shadowing(run_graph)
# Inside cross_entropy_loss a sum_along_columns that sums everything gives the summed loss too: the one
# 0-d number, averaged by reduce_mean, is the sum over the batch. (The kit asks about an op inside a
# composition only when that op fails its own tests.)
LOOK_ALIKES = {"cross_entropy_sums_batch": {"sum_along_columns_sums_everything"}}


def upstream_for(graph: Callable, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """A random upstream gradient, never all ones, of the output's shape."""
    return RNG.uniform(0.5, 1.5, size=np.shape(run_graph(graph, arrays)[0]))


def test_every_mistake_of_run_graph_has_a_case():
    assert {entry.id for entry in ENTRIES} == set(CASES)


@pytest.mark.parametrize("mistake_id", sorted(CASES))
def test_mistake_is_real_and_diagnosed_as_itself(mistake_id: str):
    graph, arrays, checked = CASES[mistake_id]
    others = {entry.id for entry in ENTRIES} - {mistake_id}
    if checked == "value":
        check_variants_of(run_graph, (graph, arrays), output=value, skip=others, look_alikes=LOOK_ALIKES)
    else:
        check_variants_of(run_graph, (graph, arrays, upstream_for(graph, arrays)), output=gradients,
                          same=same_gradients, skip=others, look_alikes=LOOK_ALIKES)


@pytest.mark.parametrize("op", STUDENT_OPS)
def test_the_variants_of_an_op_raise_on_a_graph_without_it(op: str):
    """A variant cannot be expressed on a graph that does not use its op: it raises, which is no match."""
    other = "tanh" if op == "exp" else "exp"
    graph, arrays = single(other), {"x": X}
    upstream = upstream_for(graph, arrays)
    variants = [entry for entry in ENTRIES if entry.id.startswith(f"{op}_")]
    assert variants
    for entry in variants:
        with pytest.raises(ValueError, match="the graph uses none of"):
            entry.evaluate(graph, arrays, upstream)


def test_bare_array_cannot_be_expressed_for_a_0d_input():
    """edugrad's grads[0] of a 0-d array raises, so the variant does too: no match."""
    (entry,) = shadowing(run_graph, only=["backward_returns_bare_array"])
    with pytest.raises(IndexError):
        entry.evaluate(single("exp"), {"x": np.array(0.3)}, np.array(1.2))


def test_a_batch_of_one_row_hides_the_bare_array():
    """Row 0 of a (1, D) gradient broadcast to (1, D) is the gradient itself: edugrad gets it right by luck."""
    graph, arrays = single("tanh"), {"x": X[:1]}
    upstream = upstream_for(graph, arrays)
    (entry,) = shadowing(run_graph, only=["backward_returns_bare_array"])
    assert same_gradients(entry.evaluate(graph, arrays, upstream)[1], run_graph(graph, arrays, upstream)[1])


def test_mistakes_inside_a_composition_are_diagnosed_through_it():
    """An exp that ignores g breaks softmax_rows and the loss built on it; the diagnosis still names it."""
    arrays = {"logits": X, "labels": np.eye(4)[[0, 3, 1]]}
    upstream = np.array(1.3)
    (entry,) = shadowing(run_graph, only=["backward_ignores_upstream"])
    got = entry.evaluate(softmax_then_loss, arrays, upstream)[1]
    assert not same_gradients(got, run_graph(softmax_then_loss, arrays, upstream)[1])
    named = diagnose(got, run_graph, (softmax_then_loss, arrays, upstream), output=gradients, same=same_gradients)
    assert [match.id for match in named.matched] == ["backward_ignores_upstream"]


def test_overwriting_loses_all_but_one_path_of_a_reused_input():
    graph, arrays = (lambda o, x: o.multiply(o.sigmoid(x), o.tanh(x))), {"x": X}
    upstream = upstream_for(graph, arrays)
    (entry,) = shadowing(run_graph, only=["gradient_overwritten_not_accumulated"])
    x = X
    s, t = 1 / (1 + np.exp(-x)), np.tanh(x)
    one_path = [upstream * t * s * (1 - s), upstream * s * (1 - t * t)]
    got = entry.evaluate(graph, arrays, upstream)[1]["x"]
    assert any(np.allclose(got, path) for path in one_path)
    assert np.allclose(run_graph(graph, arrays, upstream)[1]["x"], sum(one_path))

