"""Public tests of the ``rnn`` assignment: the self-check students see (60 points).

Each test drives the student's ``rnn.py`` through the ``kit`` fixture (see
``conftest.py``) with inputs drawn from the ``rng`` fixture, and compares with
:mod:`reference.rnn` (values) or PyTorch's float64 cells (gradients).
"""
from __future__ import annotations

import numpy as np
import pytest

from grader.testing import points

CELLS = ("RNNCell", "LSTMCell", "GRUCell")


@points(0, name="Rules: own cells, numpy-only BPTT and clipping, everything in rnn.py")
def test_rules(kit):
    kit.check_rules()


# ------------------------------------------------------------------ cells (PyTorch)
@pytest.mark.parametrize("kind", CELLS)
@points(2, name="Parameter names and shapes match PyTorch's")
def test_parameter_names_and_shapes(kit, kind):
    kit.cell(kind, 3, 5)
    kit.cell(kind, 6, 2)


@points(5, name="RNNCell (tanh): one step matches the reference")
def test_rnn_cell_forward(kit, credit):
    kit.cases(credit, [lambda: kit.one_step("RNNCell", 4, 3, 5), lambda: kit.one_step("RNNCell", 1, 6, 4)])


@points(8, name="LSTMCell: one step matches the reference (h_next and c_next)")
def test_lstm_cell_forward(kit, credit):
    kit.cases(credit, [lambda: kit.one_step("LSTMCell", 4, 3, 5), lambda: kit.one_step("LSTMCell", 1, 6, 4)])


@points(8, name="GRUCell: one step matches the reference")
def test_gru_cell_forward(kit, credit):
    kit.cases(credit, [lambda: kit.one_step("GRUCell", 4, 3, 5), lambda: kit.one_step("GRUCell", 1, 6, 4)])


def _with_points(kind: str, value: float, name: str):
    return pytest.param(kind, marks=points(value, name=name), id=kind)


ONE_STEP_GRADIENTS = "Gradients of one step (autograd through your cell)"


@pytest.mark.parametrize("kind", [_with_points("RNNCell", 3, ONE_STEP_GRADIENTS),
                                  _with_points("LSTMCell", 4, ONE_STEP_GRADIENTS),
                                  _with_points("GRUCell", 4, ONE_STEP_GRADIENTS)])
def test_one_step_gradients(kit, kind):
    batch, input_size, hidden_size = 3, 4, 5
    cell, weights = kit.cell(kind, input_size, hidden_size)
    xs = kit.rng.normal(size=(1, batch, input_size))
    state = kit.random_state(kind, batch, hidden_size)
    upstream = tuple(kit.rng.normal(size=(batch, hidden_size)) for _ in state)
    kit.check_gradients(kind, cell, weights, xs, state, upstream)


# ---------------------------------------------------------------- elman_bptt (numpy)
# Each test draws its own sequence (its own seed) and checks one part of the answer.
BPTT_SIZES = {"steps": 6, "inputs": 4, "hidden": 5, "vocab": 7}


@points(3, name="elman_bptt: the loss (mean cross-entropy)")
def test_bptt_loss(kit):
    kit.check_bptt_loss(kit.run_bptt(kit.bptt_case(**BPTT_SIZES)))


@points(3, name="elman_bptt: gradients of the output layer (W_hy, b_y)")
def test_bptt_output_layer(kit):
    kit.check_bptt_grads(kit.run_bptt(kit.bptt_case(**BPTT_SIZES)), ("W_hy", "b_y"))


@points(4, name="elman_bptt: gradient of the recurrent weights (W_hh)")
def test_bptt_recurrent_weights(kit):
    kit.check_bptt_grads(kit.run_bptt(kit.bptt_case(**BPTT_SIZES)), ("W_hh",))


@points(3, name="elman_bptt: gradients of the input weights and hidden bias (W_xh, b_h)")
def test_bptt_input_weights(kit):
    kit.check_bptt_grads(kit.run_bptt(kit.bptt_case(**BPTT_SIZES)), ("W_xh", "b_h"))


@points(2, name="elman_bptt: gradient of the initial state (h0)")
def test_bptt_initial_state(kit):
    kit.check_bptt_grads(kit.run_bptt(kit.bptt_case(**BPTT_SIZES)), ("h0",))


# ------------------------------------------------------------ clip_grad_norm (numpy)
@points(7, name="clip_grad_norm: rescales gradients whose norm is too large")
def test_clip_rescales(kit):
    grads = kit.random_grads({"W_xh": (5, 4), "W_hh": (5, 5), "b_h": (5,), "W_hy": (7, 5), "b_y": (7,)})
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    kit.run_clip(grads, max_norm=round(0.4 * total, 3))
