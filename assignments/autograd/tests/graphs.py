"""The graphs of the ``autograd`` tests (each value computed twice, by the student's ops and by the oracle) and their inputs.

Loaded by ``conftest.py`` (test files cannot import siblings); pure data
structures and numpy, no student code runs here. The oracle's values and
gradients of a graph's nodes come from :func:`reference.ops.trace_graph`, one
call per graph, keyed by the graph and its inputs only: so the self-check of a
released bundle can replay them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from grader.diagnosis import arrays_match

# The tolerance stated in the handout (README.md, "How your work is checked").
TOL = {"rtol": 1e-5, "atol": 1e-6}


@dataclass(eq=False)
class Node:
    """One value of a graph: the student's Tensor in the worker, and the oracle's value and gradient here."""

    remote: Any
    label: str
    op: str | None = None
    inputs: tuple["Node", ...] = ()
    index: int = -1                  # an op's position in the order the graph applies its ops
    value: np.ndarray | None = None  # the oracle's value (a leaf: its input array)
    grad: np.ndarray | None = None   # the oracle's gradient, once a backward pass ran
    built: tuple[Callable, dict] | None = None  # on a graph's output: the graph and its inputs


def graph_nodes(out: Node) -> list[Node]:
    """Every node ``out`` depends on, inputs before the ops that use them."""
    order: list[Node] = []
    seen: set[int] = set()

    def visit(node: Node) -> None:
        if id(node) not in seen:
            seen.add(id(node))
            for parent in node.inputs:
                visit(parent)
            order.append(node)

    visit(out)
    return order


def gradients_of(names) -> Callable[[tuple], dict[str, np.ndarray]]:
    """The part of ``run_graph``'s result that a backward check compares: the gradients of ``names``."""
    return lambda result: {name: result[1][name] for name in names}


def same_gradients(got: dict[str, Any], candidate: dict[str, np.ndarray]) -> bool:
    """Every gradient in ``got`` matches the candidate's within the tolerance (how a diagnosis compares)."""
    return all(name in candidate and arrays_match(value, candidate[name], **TOL) for name, value in got.items())


def short_label(node: Node, limit: int = 30) -> str:
    """``node``'s label as an argument: ``tanh(add(...))`` rather than a whole subgraph."""
    if node.op is None or len(node.label) <= limit:
        return node.label
    return f"{node.op}(...)"


def describe_inputs(arrays: dict[str, np.ndarray]) -> str:
    """``x of shape (4, 5), y of shape ()`` for a message."""
    parts = []
    for name, array in arrays.items():
        shape = np.shape(array)
        parts.append(f"{name} of shape {shape}" + (" (a 0-d scalar)" if shape == () else ""))
    return ", ".join(parts)


def random_inputs(rng: np.random.Generator, op: str, shape: tuple[int, ...], **options) -> dict[str, np.ndarray]:
    """Random, non-symmetric inputs for ``op``; ``shape`` is the input's (or the matrix's) shape."""
    if op == "log":
        return {"x": rng.uniform(0.2, 3.0, size=shape)}
    if op == "multiply":
        return {"a": rng.normal(0.0, 1.5, size=shape), "b": rng.normal(0.5, 1.0, size=shape)}
    if op == "lookup_rows":  # options: indices (default: five random ones)
        indices = options.get("indices")
        indices = rng.integers(0, shape[0], size=5) if indices is None else indices
        return {"matrix": rng.normal(0.0, 1.0, size=shape), "indices": np.asarray(indices, dtype=np.int64)}
    if op == "softmax_rows":  # options: offsets added to the logits (one per row, say)
        return {"logits": rng.normal(0.0, 2.0, size=shape) + options.get("offsets", 0.0)}
    if op == "cross_entropy_loss":
        logits = rng.normal(0.0, 1.5, size=shape)
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        labels = np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]
        return {"probabilities": probabilities, "labels": labels}
    scale = {"sigmoid": 2.0, "tanh": 1.5, "exp": 1.0, "sum_along_columns": 1.0}[op]
    return {"x": rng.normal(0.0, scale, size=shape)}
