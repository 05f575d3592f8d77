"""Classic mistakes in recurrent cells and RNNs, shadowing :mod:`reference.rnn`.

Every variant takes the oracle's arguments and runs the oracle's own argument
checks (through ``reference.rnn._cell``), then one step written the mistaken
way. Notation as in the oracle: ``[i; f; g; o] = W_ih x + b_ih + W_hh h + b_hh``
for the LSTM, ``r|z|n`` for the GRU.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np

from reference import rnn as oracle
from reference.mistakes import mistake
from reference.rnn import _cell, _relu, _sigmoid, gru_cell, lstm_cell, rnn, rnn_cell

# ------------------------------------------------------------------------ LSTM


def _lstm_with_gate_order(order: str) -> Callable:
    """An LSTM step that reads the stacked blocks in ``order`` (a permutation of "ifgo")."""

    def step(x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        blocks = dict(zip(order, np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)))
        c_next = _sigmoid(blocks["f"]) * c + _sigmoid(blocks["i"]) * np.tanh(blocks["g"])
        return _sigmoid(blocks["o"]) * np.tanh(c_next), c_next

    return step


def _lstm(step: Callable, x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return _cell(4, x, tuple(state), (weight_ih, weight_hh, bias_ih, bias_hh), "an LSTM cell", step)


_GATE_ORDER_TEXT = ("The four gate blocks are stacked i|f|g|o in weight_ih and weight_hh (PyTorch's order: input, "
                    "forget, cell candidate g, output). Split the pre-activation into chunks in exactly that order: "
                    "i, f, g, o = z.chunk(4, dim=1).")

for _order, _source in (("ifog", "as in some course notes (CS231n)"), ("igfo", "as TensorFlow's i, j, f, o"),
                        ("iofg", "as ONNX's i, o, f, c"),
                        ("fiog", "the order in which the slides introduce them: forget, input, output, new content")):
    mistake(f"lstm_gates_{_order}", shadows=lstm_cell,
            title=f"LSTM gate blocks read in the order {'|'.join(_order)} instead of i|f|g|o",
            explanation=f"Your cell reads the stacked gates as {'|'.join(_order)} ({_source}). {_GATE_ORDER_TEXT}",
            )(partial(_lstm, _lstm_with_gate_order(_order)))


def _lstm_sigmoid_candidate_step(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
    c_next = _sigmoid(f) * c + _sigmoid(i) * _sigmoid(g)
    return _sigmoid(o) * np.tanh(c_next), c_next


mistake("lstm_sigmoid_candidate", shadows=lstm_cell,
        title="LSTM cell candidate g squashed with sigmoid instead of tanh",
        explanation="The gates i, f and o use sigmoid (values in (0, 1) that scale), but the candidate g is "
                    "tanh(W_ig x + b_ig + W_hg h + b_hg), in (-1, 1), so the cell can also decrease: "
                    "c' = sigmoid(f) * c + sigmoid(i) * tanh(g).",
        )(partial(_lstm, _lstm_sigmoid_candidate_step))


def _lstm_tanh_gates_step(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
    c_next = np.tanh(f) * c + np.tanh(i) * np.tanh(g)
    return np.tanh(o) * np.tanh(c_next), c_next


mistake("lstm_tanh_gates", shadows=lstm_cell,
        title="LSTM gates i, f, o squashed with tanh instead of sigmoid",
        explanation="Gates are switches between 0 (closed) and 1 (open): i, f and o go through sigmoid. "
                    "Only the candidate g and the cell state on its way to h use tanh.",
        )(partial(_lstm, _lstm_tanh_gates_step))


def _lstm_no_tanh_on_cell_step(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
    c_next = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * c_next, c_next


mistake("lstm_no_tanh_on_cell", shadows=lstm_cell,
        title="LSTM output h' = o * c' without the tanh",
        explanation="The hidden state is h' = sigmoid(o) * tanh(c'): the cell state can grow beyond 1 and is "
                    "squashed before it leaves the cell.",
        )(partial(_lstm, _lstm_no_tanh_on_cell_step))

# ------------------------------------------------------------------------- GRU


def _gru(step: Callable, x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return _cell(3, x, (h,), (weight_ih, weight_hh, bias_ih, bias_hh), "a GRU cell", step)[0]


def _gru_reset_before_matmul(update_swapped: bool) -> Callable:
    """A GRU step with ``W_hn (r * h) + b_hn``; with ``update_swapped`` also ``h' = z * n + (1 - z) * h``."""

    def step(x, state, w_ih, w_hh, b_ih, b_hh):
        (h,) = state
        x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
        w_hr, w_hz, w_hn = np.split(w_hh, 3, axis=0)
        b_hr, b_hz, b_hn = np.split(b_hh, 3, axis=-1)
        r = _sigmoid(x_r + h @ w_hr.T + b_hr)
        z = _sigmoid(x_z + h @ w_hz.T + b_hz)
        n = np.tanh(x_n + (r * h) @ w_hn.T + b_hn)
        return (z * n + (1.0 - z) * h,) if update_swapped else ((1.0 - z) * n + z * h,)

    return step


mistake("gru_reset_before_matmul", shadows=gru_cell,
        title="GRU reset gate applied to h before the matrix product (r * h inside)",
        explanation="This cell uses PyTorch's GRU: the reset gate scales the product, n = tanh(W_in x + b_in + "
                    "r * (W_hn h + b_hn)). Computing W_hn (r * h) + b_hn is the variant of the original paper "
                    "(Keras' reset_after=False); with the same weights it gives different values.",
        )(partial(_gru, _gru_reset_before_matmul(update_swapped=False)))

mistake("gru_slides_equations", shadows=gru_cell,
        title="GRU written as in the slides: reset gate before the matrix product, z weighting the new content",
        explanation="The slides' GRU computes h~ = tanh(W_h (r * h) + U_h x + b_h) and h' = (1 - u) * h + u * h~. "
                    "PyTorch's GRUCell, which this cell must match, differs in two places: the reset gate scales "
                    "the product, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), and its z plays the role of "
                    "1 - u, so h' = (1 - z) * n + z * h.",
        )(partial(_gru, _gru_reset_before_matmul(update_swapped=True)))


def _gru_reset_excludes_hidden_bias_step(x, state, w_ih, w_hh, b_ih, b_hh):
    (h,) = state
    x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ w_hh.T, 3, axis=-1)
    b_hr, b_hz, b_hn = np.split(b_hh, 3, axis=-1)
    r = _sigmoid(x_r + h_r + b_hr)
    z = _sigmoid(x_z + h_z + b_hz)
    return ((1.0 - z) * np.tanh(x_n + r * h_n + b_hn) + z * h,)


mistake("gru_reset_excludes_hidden_bias", shadows=gru_cell,
        title="GRU reset gate scales W_hn h but not its bias b_hn",
        explanation="In PyTorch's GRU the reset gate multiplies the whole hidden part of the new content, bias "
                    "included: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). Adding b_hn outside the product, "
                    "r * (W_hn h) + b_hn, gives different values.",
        )(partial(_gru, _gru_reset_excludes_hidden_bias_step))


def _gru_gates_zrn_step(x, state, w_ih, w_hh, b_ih, b_hh):
    (h,) = state
    x_z, x_r, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    h_z, h_r, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    r = _sigmoid(x_r + h_r)
    z = _sigmoid(x_z + h_z)
    return ((1.0 - z) * np.tanh(x_n + r * h_n) + z * h,)


mistake("gru_gates_zrn", shadows=gru_cell,
        title="GRU gate blocks read in the order z|r|n instead of r|z|n",
        explanation="The three blocks are stacked r|z|n in weight_ih and weight_hh (reset, update, new), as in "
                    "torch.nn.GRUCell; split them in that order.",
        )(partial(_gru, _gru_gates_zrn_step))


def _gru_update_swapped_step(x, state, w_ih, w_hh, b_ih, b_hh):
    (h,) = state
    x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    z = _sigmoid(x_z + h_z)
    n = np.tanh(x_n + _sigmoid(x_r + h_r) * h_n)
    return (z * n + (1.0 - z) * h,)


mistake("gru_update_swapped", shadows=gru_cell,
        title="GRU update interpolates the wrong way round: h' = z * n + (1 - z) * h",
        explanation="In PyTorch's convention z is the share of the OLD state that is kept: "
                    "h' = (1 - z) * n + z * h. Some texts write it the other way; with PyTorch's weights it "
                    "must be this one.",
        )(partial(_gru, _gru_update_swapped_step))


def _gru_sigmoid_candidate_step(x, state, w_ih, w_hh, b_ih, b_hh):
    (h,) = state
    x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    r = _sigmoid(x_r + h_r)
    z = _sigmoid(x_z + h_z)
    return ((1.0 - z) * _sigmoid(x_n + r * h_n) + z * h,)


mistake("gru_sigmoid_candidate", shadows=gru_cell,
        title="GRU candidate n squashed with sigmoid instead of tanh",
        explanation="r and z are gates (sigmoid), but the new state n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) "
                    "must be able to be negative.",
        )(partial(_gru, _gru_sigmoid_candidate_step))


def _gru_tanh_gates_step(x, state, w_ih, w_hh, b_ih, b_hh):
    (h,) = state
    x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    r = np.tanh(x_r + h_r)
    z = np.tanh(x_z + h_z)
    return ((1.0 - z) * np.tanh(x_n + r * h_n) + z * h,)


mistake("gru_tanh_gates", shadows=gru_cell,
        title="GRU gates r and z squashed with tanh instead of sigmoid",
        explanation="The reset gate r and the update gate z are switches between 0 and 1: r = sigmoid(W_ir x + "
                    "b_ir + W_hr h + b_hr), and z likewise. Only the new content n goes through tanh.",
        )(partial(_gru, _gru_tanh_gates_step))

# ------------------------------------------------------- every cell: wiring mistakes

_STEP_OF = {"rnn_cell": (1, "an Elman RNN cell", oracle._elman_step),
            "lstm_cell": (4, "an LSTM cell", oracle._lstm_step),
            "gru_cell": (3, "a GRU cell", oracle._gru_step)}


def _run_cell(name: str, x, state: tuple, w_ih, w_hh, b_ih, b_hh, nonlinearity: str = "tanh",
              rewire: Callable | None = None):
    """The oracle's step for cell ``name`` on weights first passed through ``rewire``."""
    gates, what, step = _STEP_OF[name]
    if name == "rnn_cell":
        step = partial(oracle._elman_step, act=oracle._activation(nonlinearity))

    def rewired(x2, state2, *weights):
        return step(x2, state2, *rewire(*weights))

    result = _cell(gates, x, state, (w_ih, w_hh, b_ih, b_hh), what, rewired)
    return result[0] if len(result) == 1 else result


def _missing_hidden_bias(w_ih, w_hh, b_ih, b_hh):
    return w_ih, w_hh, b_ih, np.zeros_like(b_hh)


def _missing_input_bias(w_ih, w_hh, b_ih, b_hh):
    return w_ih, w_hh, np.zeros_like(b_ih), b_hh


def _missing_biases(w_ih, w_hh, b_ih, b_hh):
    return w_ih, w_hh, np.zeros_like(b_ih), np.zeros_like(b_hh)


class _Swapped:
    """Weights that multiply the other operand: x @ W_hh.T + h @ W_ih.T (shapes allow it only when I = H)."""

    def __call__(self, w_ih, w_hh, b_ih, b_hh):
        if w_ih.shape != w_hh.shape:
            raise ValueError("swapped weights need input_size == hidden_size")
        return w_hh, w_ih, b_ih, b_hh


def _square(weight: np.ndarray) -> np.ndarray:
    if weight.shape[0] != weight.shape[1]:
        raise ValueError("transposed weights fit only square matrices")
    return weight


def _transposed(w_ih, w_hh, b_ih, b_hh):
    return _square(w_ih).T, _square(w_hh).T, b_ih, b_hh


def _input_transposed(w_ih, w_hh, b_ih, b_hh):
    return _square(w_ih).T, w_hh, b_ih, b_hh


def _hidden_transposed(w_ih, w_hh, b_ih, b_hh):
    return w_ih, _square(w_hh).T, b_ih, b_hh


_CELL_NAMES = {"rnn_cell": ("Elman RNN", rnn_cell), "lstm_cell": ("LSTM", lstm_cell), "gru_cell": ("GRU", gru_cell)}


def _cell_variant(name: str, rewire: Callable) -> Callable:
    if name == "rnn_cell":
        def variant(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
            return _run_cell(name, x, (h,), weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity, rewire)
    elif name == "lstm_cell":
        def variant(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
            return _run_cell(name, x, tuple(state), weight_ih, weight_hh, bias_ih, bias_hh, rewire=rewire)
    else:
        def variant(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
            return _run_cell(name, x, (h,), weight_ih, weight_hh, bias_ih, bias_hh, rewire=rewire)
    return variant


for _name, (_label, _oracle) in _CELL_NAMES.items():
    _short = _name.replace("_cell", "")
    mistake(f"{_short}_missing_hidden_bias", shadows=_oracle,
            title=f"{_label} cell ignores the hidden bias bias_hh",
            explanation="The cell has two bias vectors, as in PyTorch: W_ih x + b_ih + W_hh h + b_hh. "
                        "Your output is what the cell gives with bias_hh left out; add it where you multiply by "
                        "weight_hh.",
            )(_cell_variant(_name, _missing_hidden_bias))
    mistake(f"{_short}_missing_input_bias", shadows=_oracle,
            title=f"{_label} cell ignores the input bias bias_ih",
            explanation="The cell has two bias vectors, as in PyTorch: W_ih x + b_ih + W_hh h + b_hh. "
                        "Your output is what the cell gives with bias_ih left out; add it where you multiply by "
                        "weight_ih.",
            )(_cell_variant(_name, _missing_input_bias))
    mistake(f"{_short}_missing_biases", shadows=_oracle,
            title=f"{_label} cell uses no bias at all",
            explanation="The cell has two bias vectors, as in PyTorch: W_ih x + b_ih + W_hh h + b_hh. Your output "
                        "is what the cell gives with both left out; add bias_ih to the input part and bias_hh to "
                        "the hidden part.",
            )(_cell_variant(_name, _missing_biases))
    mistake(f"{_short}_weights_swapped", shadows=_oracle,
            title=f"{_label} cell multiplies the input by weight_hh and the state by weight_ih",
            explanation="weight_ih (the input-to-hidden weights) multiplies the input x and weight_hh the previous "
                        "state h: W_ih x + W_hh h. With input_size == hidden_size the swapped version runs but "
                        "computes something else.",
            )(_cell_variant(_name, _Swapped()))

mistake("rnn_weights_transposed", shadows=rnn_cell,
        title="Elman RNN cell uses its weight matrices transposed",
        explanation="PyTorch stores weight_ih as (H, I) and weight_hh as (H, H), so a batch of row vectors is "
                    "multiplied as x @ weight_ih.T + h @ weight_hh.T. Without the .T the shapes only fit square "
                    "matrices, and the values are wrong.",
        )(_cell_variant("rnn_cell", _transposed))

mistake("rnn_input_weights_transposed", shadows=rnn_cell,
        title="Elman RNN cell multiplies the input by weight_ih instead of weight_ih.T",
        explanation="weight_ih has shape (H, I), one row per hidden unit, so W_ih x for a batch of rows is "
                    "x @ weight_ih.T. Without the .T the product fails unless I == H, and then it silently "
                    "computes something else.",
        )(_cell_variant("rnn_cell", _input_transposed))

mistake("rnn_hidden_weights_transposed", shadows=rnn_cell,
        title="Elman RNN cell multiplies the state by weight_hh instead of weight_hh.T",
        explanation="weight_hh is square (H, H), so h @ weight_hh runs, but it multiplies by W_hh transposed: "
                    "W_hh h for a batch of rows is h @ weight_hh.T.",
        )(_cell_variant("rnn_cell", _hidden_transposed))


def _rnn_cell_sigmoid(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity != "tanh":
        raise ValueError("only a tanh cell can be mistaken for a sigmoid one")
    step = partial(oracle._elman_step, act=_sigmoid)
    return _cell(1, x, (h,), (weight_ih, weight_hh, bias_ih, bias_hh), "an Elman RNN cell", step)[0]


mistake("rnn_sigmoid_instead_of_tanh", shadows=rnn_cell,
        title="Elman RNN cell squashes with sigmoid where tanh belongs",
        explanation="h' = tanh(W_ih x + b_ih + W_hh h + b_hh). A sigmoid keeps every state positive, in (0, 1), "
                    "which is not the same function.",
        )(_rnn_cell_sigmoid)


def _rnn_cell_relu(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity != "tanh":
        raise ValueError("only a tanh cell can be mistaken for a relu one")
    step = partial(oracle._elman_step, act=_relu)
    return _cell(1, x, (h,), (weight_ih, weight_hh, bias_ih, bias_hh), "an Elman RNN cell", step)[0]


mistake("rnn_relu_instead_of_tanh", shadows=rnn_cell,
        title="Elman RNN cell uses relu where tanh was asked (nonlinearity='tanh')",
        explanation="The default nonlinearity of torch.nn.RNNCell is tanh; relu only when nonlinearity='relu'.",
        )(_rnn_cell_relu)


def _rnn_cell_tanh(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity != "relu":
        raise ValueError("only a relu cell can be mistaken for a tanh one")
    return rnn_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity="tanh")


mistake("rnn_tanh_instead_of_relu", shadows=rnn_cell,
        title="Elman RNN cell ignores nonlinearity='relu' and applies tanh",
        explanation="RNNCell(input_size, hidden_size, nonlinearity='relu') computes h' = relu(W_ih x + b_ih + "
                    "W_hh h + b_hh) = max(0, ...). Store the nonlinearity in __init__ and use it in forward.",
        )(_rnn_cell_tanh)

# ------------------------------------------------------------ whole sequences


def _rnn_ignoring_lengths(inputs, params, mode="lstm", initial_state=None, num_layers=1, bidirectional=False,
                          batch_first=True, lengths=None):
    if lengths is None or np.all(np.asarray(lengths) == np.shape(inputs)[1 if batch_first else 0]):
        raise ValueError("without padding, ignoring the lengths changes nothing")
    return rnn(inputs, params, mode, initial_state, num_layers, bidirectional, batch_first, lengths=None)


mistake("rnn_runs_over_padding", shadows=rnn,
        title="The RNN runs over the padding: final states taken at the last padded step, not each sequence's end",
        explanation="With right padding, step t of sequence b is real only while t < lengths[b]. Running the RNN "
                    "over the padded batch (or taking outputs[:, -1]) feeds pad embeddings into the state, so the "
                    "final state of every shorter sequence is wrong and the backward direction starts at padding. "
                    "Pack the batch (pack_padded_sequence with the lengths) or gather the state at lengths - 1.",
        )(_rnn_ignoring_lengths)

def _final_state_in_sorted_order(inputs, params, mode="lstm", initial_state=None, num_layers=1, bidirectional=False,
                                 batch_first=True, lengths=None):
    if lengths is None:
        raise ValueError("without lengths nothing is sorted")
    order = np.argsort(-np.asarray(lengths), kind="stable")
    if np.array_equal(order, np.arange(order.size)):
        raise ValueError("the lengths are already sorted: sorting changes nothing")
    outputs, final = rnn(inputs, params, mode, initial_state, num_layers, bidirectional, batch_first, lengths)
    outputs = outputs[order] if batch_first else outputs[:, order]
    final = tuple(state[:, order] for state in final) if isinstance(final, tuple) else final[:, order]
    return outputs, final


mistake("rnn_final_state_in_sorted_order", shadows=rnn,
        title="Outputs and final states left in length-sorted order, not the batch's order",
        explanation="You sorted the batch by length to pack it and never undid the sort, so row b of your outputs and "
                    "of h_n, c_n belongs to another sentence. Return everything in the original order: "
                    "pack_padded_sequence(..., enforce_sorted=False) sorts and restores the order for you (or index "
                    "with the inverse permutation).",
        )(_final_state_in_sorted_order)
