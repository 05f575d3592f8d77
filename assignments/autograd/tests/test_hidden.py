"""Hidden tests of the ``autograd`` assignment (40 points): edge cases and graphs of several ops.

Students see these results only after grading; the handout describes in
general terms what they cover. Tests of graphs compare the output value and
then the gradients of every leaf with the oracle's.
"""
from __future__ import annotations

import numpy as np

from grader.testing import points


# --------------------------------------------------------------------- numerical range
@points(4, name="sigmoid and tanh on inputs of large magnitude (|x| up to 800): forward and backward")
def test_extreme_inputs(kit, credit):
    x = np.concatenate([kit.rng.uniform(-800.0, 800.0, size=5), [-800.0, 750.0], kit.rng.normal(0.0, 3.0, size=5)]).reshape(2, 6)
    kit.cases(credit, [
        lambda: kit.check_forward(kit.single("sigmoid"), {"x": x}),
        lambda: kit.check_backward(kit.single("sigmoid"), {"x": x}),
        lambda: kit.check_forward(kit.single("tanh"), {"x": x}),
        lambda: kit.check_backward(kit.single("tanh"), {"x": x}),
    ])


@points(2, name="log on inputs from 1e-6 to 1e6: forward and backward")
def test_log_wide_range(kit, credit):
    x = 10.0 ** kit.rng.uniform(-6.0, 6.0, size=(3, 4))
    kit.cases(credit, [lambda: kit.check_forward(kit.single("log"), {"x": x}),
                       lambda: kit.check_backward(kit.single("log"), {"x": x})])


@points(5, name="Element-wise ops on a 3-d array (2, 3, 4): forward and backward, 1 point per op")
def test_three_dimensional(kit, credit):
    def case(op):
        arrays = kit.inputs(op, (2, 3, 4))
        kit.check_forward(kit.single(op), arrays)
        kit.check_backward(kit.single(op), arrays)

    kit.cases(credit, [lambda op=op: case(op) for op in ("sigmoid", "log", "exp", "tanh", "multiply")], noun="ops")


# ---------------------------------------------------------------- graphs, reused inputs
@points(5, name="Graphs that reuse an input: gradients from every path add up")
def test_reused_inputs(kit, credit):
    rng = kit.rng
    matrix, indices = rng.normal(size=(6, 3)), np.array([4, 1, 4, 0, 4])
    kit.cases(credit, [
        lambda: kit.check_backward(lambda o, x: o.multiply(o.sigmoid(x), o.tanh(x)), {"x": rng.normal(0.0, 1.5, size=(3, 4))},
                                   value=True),
        lambda: kit.check_backward(lambda o, x, y: o.multiply(o.multiply(x, y), o.exp(x)),
                                   {"x": rng.normal(size=(2, 5)), "y": rng.normal(size=(2, 5))}, value=True),
        lambda: kit.check_backward(lambda o, x: o.log(o.multiply(o.exp(x), o.sigmoid(x))), {"x": np.array(rng.normal())},
                                   value=True),
        lambda: kit.check_backward(lambda o, m, i: o.multiply(o.lookup_rows(m, i), o.tanh(o.lookup_rows(m, i))),
                                   {"matrix": matrix, "indices": indices}, check=("matrix",), value=True),
    ], noun="graphs")


@points(2, name="sum_along_columns on square inputs (4, 4) and (1, 1): forward and backward")
def test_sum_along_columns_square(kit, credit):
    def case(shape):
        arrays = kit.inputs("sum_along_columns", shape)
        kit.check_forward(kit.single("sum_along_columns"), arrays)
        kit.check_backward(kit.single("sum_along_columns"), arrays)

    kit.cases(credit, [lambda: case((4, 4)), lambda: case((1, 1))])


# ------------------------------------------------------------------------ lookup_rows
@points(3, name="lookup_rows with a (3, 4) matrix of indices, repeats and unused rows: forward and backward")
def test_lookup_rows_two_dimensional(kit, credit):
    arrays = kit.inputs("lookup_rows", (8, 3), indices=kit.rng.integers(0, 5, size=(3, 4)))  # rows 5..7 never used
    arrays["indices"][0, :2] = arrays["indices"][2, 3]  # at least one repeat
    kit.cases(credit, [lambda: kit.check_forward(kit.single("lookup_rows"), arrays),
                       lambda: kit.check_backward(kit.single("lookup_rows"), arrays, check=("matrix",))])


@points(2, name="lookup_rows with one 0-d index, and with the same index everywhere")
def test_lookup_rows_edge_cases(kit, credit):
    def case(indices):
        # A square matrix: code that selects columns (matrix[:, indices]) runs too, and is named in the feedback.
        arrays = kit.inputs("lookup_rows", (5, 5), indices=indices)
        kit.check_backward(kit.single("lookup_rows"), arrays, check=("matrix",), value=True)

    kit.cases(credit, [lambda: case(np.array(kit.rng.integers(0, 5))), lambda: case(np.full(6, kit.rng.integers(0, 5)))])


# ---------------------------------------------------------------- softmax and the loss
@points(2, name="softmax_rows on extreme logits (1e4 apart, all equal): forward and backward")
def test_softmax_rows_extreme(kit, credit):
    logits = np.array([[1e4, -1e4, 0.0, 5e3], [3.0, 3.0, 3.0, 3.0], [-2000.0, -2001.0, -1999.0, -2000.5]])
    logits = logits + kit.rng.normal(0.0, 0.1, size=(3, 1))
    kit.cases(credit, [lambda: kit.check_forward(kit.single("softmax_rows"), {"logits": logits}),
                       lambda: kit.check_backward(kit.single("softmax_rows"), {"logits": logits})])


@points(4, name="cross_entropy_loss(softmax_rows(logits), labels): loss and gradient of the logits")
def test_softmax_then_cross_entropy(kit, credit):
    def case(batch, classes):
        logits = kit.rng.normal(0.0, 2.0, size=(batch, classes))
        labels = np.eye(classes)[kit.rng.integers(0, classes, size=batch)]
        kit.check_backward(lambda o, x, y: o.cross_entropy_loss(o.softmax_rows(x), y), {"logits": logits, "labels": labels},
                           check=("logits",), value=True)

    kit.cases(credit, [lambda: case(5, 6), lambda: case(1, 4)])


@points(3, name="cross_entropy_loss: one example of ten classes with a rare true class; two classes")
def test_cross_entropy_loss_edge_cases(kit, credit):
    rare = kit.rng.dirichlet(np.ones(10), size=1)
    rare[0, 7] = 1e-4
    rare /= rare.sum()
    two = kit.inputs("cross_entropy_loss", (6, 2))
    kit.cases(credit, [
        lambda: kit.check_backward(kit.single("cross_entropy_loss"), {"probabilities": rare, "labels": np.eye(10)[[7]]},
                                   check=("probabilities",), value=True),
        lambda: kit.check_backward(kit.single("cross_entropy_loss"), two, check=("probabilities",), value=True),
    ])


# ------------------------------------------------------------ a feed-forward language model
def _feedforward_lm(o, E, W1, W2, Wg, U, ids0, ids1, labels):
    """Two context words -> embeddings -> gated tanh layer -> softmax over the vocabulary -> loss."""
    first, second = o.lookup_rows(E, ids0), o.lookup_rows(E, ids1)
    hidden = o.tanh(o.add(o.matmul(first, W1), o.matmul(second, W2)))
    gate = o.sigmoid(o.matmul(second, Wg))
    probabilities = o.softmax_rows(o.matmul(o.multiply(gate, hidden), U))
    return o.cross_entropy_loss(probabilities, labels)


@points(8, name="A small feed-forward language model built from your ops: loss and every parameter's gradient")
def test_feedforward_language_model(kit, credit):
    vocab, dim, hidden = 9, 4, 5

    def case(batch):
        rng = kit.rng
        arrays = {
            "E": rng.normal(0.0, 1.0, size=(vocab, dim)),
            "W1": rng.normal(0.0, 0.6, size=(dim, hidden)),
            "W2": rng.normal(0.0, 0.6, size=(dim, hidden)),
            "Wg": rng.normal(0.0, 0.6, size=(dim, hidden)),
            "U": rng.normal(0.0, 0.8, size=(hidden, vocab)),
            "ids0": rng.integers(0, vocab, size=batch),
            "ids1": rng.integers(0, vocab, size=batch),
            "labels": np.eye(vocab)[rng.integers(0, vocab, size=batch)],
        }
        arrays["ids1"][0] = arrays["ids0"][-1]  # a word in both positions: its embedding gets two gradients
        kit.check_backward(_feedforward_lm, arrays, check=("E", "W1", "W2", "Wg", "U"), value=True)

    kit.cases(credit, [lambda: case(6), lambda: case(1)], noun="batches (6 examples, 1 example)")
