"""Hidden tests of the ``rnn`` assignment (40 points): other settings, longer unrolls, edge cases.

Students see these results only after grading; the handout describes in
general terms what they cover.
"""
from __future__ import annotations

import numpy as np
import pytest

from grader.testing import points

CELLS = ("RNNCell", "LSTMCell", "GRUCell")


@points(3, name="RNNCell with nonlinearity='relu'")
def test_rnn_cell_relu(kit):
    kit.one_step("RNNCell", 4, 3, 6, nonlinearity="relu")


def _with_points(kind: str, value: float, name: str):
    return pytest.param(kind, marks=points(value, name=name), id=kind)


TEN_STEPS = "Ten steps, feeding your own state back"


@pytest.mark.parametrize("kind", [_with_points("RNNCell", 2, TEN_STEPS), _with_points("LSTMCell", 4, TEN_STEPS),
                                  _with_points("GRUCell", 4, TEN_STEPS)])
def test_unroll_ten_steps(kit, kind):
    batch, input_size, hidden_size, steps = 3, 4, 5, 10
    cell, weights = kit.cell(kind, input_size, hidden_size)
    xs = kit.rng.normal(size=(steps, batch, input_size))
    kit.unroll(kind, cell, weights, xs, kit.random_state(kind, batch, hidden_size))


@pytest.mark.parametrize("kind", CELLS)
@points(3, name="Unusual sizes: I = H = 1, H < I with a single sequence, and I = H = 4")
def test_unusual_sizes(kit, credit, kind):
    # With I = H, weight matrices that are swapped or used without .T still fit, so a cell that mixes them up
    # computes wrong values instead of crashing, and the diagnosis can name that mistake.
    kit.cases(credit, [lambda: kit.one_step(kind, 2, 1, 1), lambda: kit.one_step(kind, 1, 9, 2),
                       lambda: kit.one_step(kind, 3, 4, 4)])


@pytest.mark.parametrize("kind", CELLS)
@points(2, name="Gradients through four steps (backpropagation through time by autograd)")
def test_gradients_through_time(kit, kind):
    batch, input_size, hidden_size, steps = 2, 3, 4, 4
    cell, weights = kit.cell(kind, input_size, hidden_size)
    xs = kit.rng.normal(size=(steps, batch, input_size))
    state = kit.random_state(kind, batch, hidden_size)
    upstream = tuple(kit.rng.normal(size=(batch, hidden_size)) for _ in state)
    kit.check_gradients(kind, cell, weights, xs, state, upstream)


@points(5, name="elman_bptt: a long sequence (T=25), loss and every gradient")
def test_bptt_long_sequence(kit, credit):
    case = kit.run_bptt(kit.bptt_case(steps=25, inputs=3, hidden=6, vocab=5, scale=0.6))
    kit.cases(credit, [
        lambda: kit.check_bptt_loss(case),
        lambda: kit.check_bptt_grads(case, ("W_hy", "b_y")),
        lambda: kit.check_bptt_grads(case, ("W_hh",)),
        lambda: kit.check_bptt_grads(case, ("W_xh", "b_h")),
        lambda: kit.check_bptt_grads(case, ("h0",)),
    ], noun="parts (loss; W_hy and b_y; W_hh; W_xh and b_h; h0)")


@points(2, name="elman_bptt: a single step (T=1) and a two-word vocabulary")
def test_bptt_single_step(kit):
    case = kit.run_bptt(kit.bptt_case(steps=1, inputs=2, hidden=3, vocab=2))
    kit.check_bptt_loss(case)
    kit.check_bptt_grads(case, ("W_xh", "W_hh", "b_h", "W_hy", "b_y", "h0"))


@points(2, name="clip_grad_norm: leaves gradients alone when the norm is below max_norm")
def test_clip_below_threshold(kit):
    grads = kit.random_grads({"W_xh": (4, 3), "b_h": (4,), "W_hy": (6, 4)}, scale=0.2)
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    kit.run_clip(grads, max_norm=round(2.5 * total, 3))


@points(3, name="clip_grad_norm: many arrays of different ranks")
def test_clip_mixed_shapes(kit):
    grads = kit.random_grads({"embedding": (6, 2, 3), "W_hh": (3, 3), "b": (1,), "W_hy": (2, 3), "bias_y": (2,)}, scale=1.5)
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    kit.run_clip(grads, max_norm=round(0.25 * total, 3))
