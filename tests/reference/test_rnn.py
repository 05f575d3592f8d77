"""Cross-checks of reference.rnn against PyTorch in float64.

Cells against ``torch.nn.RNNCell/LSTMCell/GRUCell``, stacked and bidirectional
RNNs against ``torch.nn.RNN/LSTM/GRU`` (with packed sequences for ``lengths``),
hand-written BPTT against autograd, clipping against ``clip_grad_norm_``. All
weights are random normal draws, so a swapped gate or transposed matrix shows.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from reference.rnn import clip_grad_norm, elman_bptt, gru_cell, lstm_cell, rnn, rnn_cell
from tests.reference.conftest import assert_close, to_numpy, to_torch

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(1, 4)


def randomize(module: torch.nn.Module, rng: np.random.Generator) -> dict:
    """Give a float64 module random normal weights; return them as a numpy state dict."""
    params = {k: rng.normal(scale=0.6, size=tuple(v.shape)) for k, v in module.state_dict().items()}
    module.load_state_dict({k: to_torch(v) for k, v in params.items()})
    return params


def cell_params(params: dict) -> dict:
    """Keyword arguments for a reference cell from a torch cell's state dict."""
    return {k: params.get(k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def make_module(mode: str, input_size: int, hidden: int, **kwargs) -> torch.nn.Module:
    if mode.startswith("rnn_"):
        return torch.nn.RNN(input_size, hidden, nonlinearity=mode[4:], **kwargs).double()
    cls = torch.nn.LSTM if mode == "lstm" else torch.nn.GRU
    return cls(input_size, hidden, **kwargs).double()


def torch_state(state):
    if state is None:
        return None
    return tuple(to_torch(s) for s in state) if isinstance(state, tuple) else to_torch(state)


def run_torch(module, x, initial_state, lengths, batch_first):
    """The module's outputs and final state; with lengths, through pack/pad like a course would."""
    steps = x.shape[1] if batch_first else x.shape[0]
    with torch.no_grad():
        if lengths is None:
            return module(to_torch(x), torch_state(initial_state))
        packed = pack_padded_sequence(
            to_torch(x), torch.as_tensor(lengths, dtype=torch.int64), batch_first=batch_first, enforce_sorted=False
        )
        out, state = module(packed, torch_state(initial_state))
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=steps)
        return out, state


def assert_states_close(actual, expected, mode: str) -> None:
    if mode == "lstm":
        assert isinstance(actual, tuple) and len(actual) == 2
        assert_close(actual[0], expected[0], what="h_n")
        assert_close(actual[1], expected[1], what="c_n")
    else:
        assert_close(actual, expected, what="h_n")


# ---------------------------------------------------------------------------- cells


@given(seed=seeds, batch=st.one_of(st.none(), sizes), input_size=sizes, hidden=sizes, bias=st.booleans())
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_torch_rnncell(nonlinearity, seed, batch, input_size, hidden, bias):
    rng = np.random.default_rng(seed)
    cell = torch.nn.RNNCell(input_size, hidden, bias=bias, nonlinearity=nonlinearity).double()
    params = randomize(cell, rng)
    lead = () if batch is None else (batch,)
    x, h = rng.normal(size=lead + (input_size,)), rng.normal(size=lead + (hidden,))
    expected = cell(to_torch(x), to_torch(h))
    assert_close(rnn_cell(x, h, **cell_params(params), nonlinearity=nonlinearity), expected)


@given(seed=seeds, batch=st.one_of(st.none(), sizes), input_size=sizes, hidden=sizes, bias=st.booleans())
def test_rnn_cell_sigmoid_matches_torch_sigmoid_formula(seed, batch, input_size, hidden, bias):
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    x, h = rng.normal(size=lead + (input_size,)), rng.normal(size=lead + (hidden,))
    w_ih, w_hh = rng.normal(size=(hidden, input_size)), rng.normal(size=(hidden, hidden))
    b_ih, b_hh = (rng.normal(size=hidden), rng.normal(size=hidden)) if bias else (None, None)
    pre = to_torch(x) @ to_torch(w_ih).T + to_torch(h) @ to_torch(w_hh).T
    if bias:
        pre = pre + to_torch(b_ih) + to_torch(b_hh)
    actual = rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="sigmoid")
    assert_close(actual, torch.sigmoid(pre))


@given(seed=seeds, batch=st.one_of(st.none(), sizes), input_size=sizes, hidden=sizes, bias=st.booleans())
def test_lstm_cell_matches_torch_lstmcell(seed, batch, input_size, hidden, bias):
    rng = np.random.default_rng(seed)
    cell = torch.nn.LSTMCell(input_size, hidden, bias=bias).double()
    params = randomize(cell, rng)
    lead = () if batch is None else (batch,)
    x = rng.normal(size=lead + (input_size,))
    h, c = rng.normal(size=lead + (hidden,)), rng.normal(size=lead + (hidden,))
    h_expected, c_expected = cell(to_torch(x), (to_torch(h), to_torch(c)))
    h_next, c_next = lstm_cell(x, (h, c), **cell_params(params))
    assert_close(h_next, h_expected, what="h")
    assert_close(c_next, c_expected, what="c")


@given(seed=seeds, batch=st.one_of(st.none(), sizes), input_size=sizes, hidden=sizes, bias=st.booleans())
def test_gru_cell_matches_torch_grucell(seed, batch, input_size, hidden, bias):
    rng = np.random.default_rng(seed)
    cell = torch.nn.GRUCell(input_size, hidden, bias=bias).double()
    params = randomize(cell, rng)
    lead = () if batch is None else (batch,)
    x, h = rng.normal(size=lead + (input_size,)), rng.normal(size=lead + (hidden,))
    assert_close(gru_cell(x, h, **cell_params(params)), cell(to_torch(x), to_torch(h)))


def test_cells_treat_a_missing_state_as_zeros_like_torch(rng):
    x = rng.normal(size=(2, 3))
    lstm = torch.nn.LSTMCell(3, 4).double()
    gru = torch.nn.GRUCell(3, 4).double()
    elman = torch.nn.RNNCell(3, 4).double()
    for cell, ours in ((lstm, lstm_cell), (gru, gru_cell), (elman, rnn_cell)):
        params = cell_params(randomize(cell, rng))
        expected = cell(to_torch(x))
        actual = ours(x, None, **params)
        if ours is lstm_cell:
            assert_close(actual[0], expected[0])
            assert_close(actual[1], expected[1])
        else:
            assert_close(actual, expected)


# ------------------------------------------------------------------ full sequences


@st.composite
def rnn_configs(draw):
    batch, steps = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    return {
        "seed": draw(seeds),
        "batch": batch,
        "steps": steps,
        "input_size": draw(sizes),
        "hidden": draw(sizes),
        "num_layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "with_initial_state": draw(st.booleans()),
        "lengths": draw(st.one_of(st.none(), st.lists(st.integers(1, steps), min_size=batch, max_size=batch))),
    }


@pytest.mark.parametrize("mode", MODES)
@given(config=rnn_configs())
def test_rnn_matches_torch_module_with_layers_directions_states_and_lengths(mode, config):
    rng = np.random.default_rng(config["seed"])
    B, T, I, H = config["batch"], config["steps"], config["input_size"], config["hidden"]
    L, D = config["num_layers"], 2 if config["bidirectional"] else 1
    module = make_module(
        mode, I, H, num_layers=L, bias=config["bias"], batch_first=config["batch_first"],
        bidirectional=config["bidirectional"],
    )
    params = randomize(module, rng)
    x = rng.normal(size=(B, T, I) if config["batch_first"] else (T, B, I))
    initial = None
    if config["with_initial_state"]:
        initial = rng.normal(size=(D * L, B, H))
        if mode == "lstm":
            initial = (initial, rng.normal(size=(D * L, B, H)))
    lengths = None if config["lengths"] is None else np.array(config["lengths"])

    outputs, final = rnn(
        x, params, mode=mode, initial_state=initial, num_layers=L, bidirectional=config["bidirectional"],
        batch_first=config["batch_first"], lengths=lengths,
    )
    expected_out, expected_final = run_torch(module, x, initial, lengths, config["batch_first"])
    assert_close(outputs, expected_out, what="outputs")
    assert_states_close(final, expected_final, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", [[2, 5, 1, 4], [3]], ids=["unsorted-unequal", "batch-of-one"])
def test_rnn_with_unsorted_lengths_matches_packed_torch_and_zeroes_padding(mode, bidirectional, lengths, rng):
    T, I, H, L = 5, 3, 4, 2
    lengths = np.array(lengths)
    module = make_module(mode, I, H, num_layers=L, bidirectional=bidirectional, batch_first=True)
    params = randomize(module, rng)
    x = rng.normal(size=(len(lengths), T, I))
    outputs, final = rnn(x, params, mode=mode, num_layers=L, bidirectional=bidirectional, lengths=lengths)
    expected_out, expected_final = run_torch(module, x, None, lengths, batch_first=True)
    assert_close(outputs, expected_out, what="outputs")
    assert_states_close(final, expected_final, mode)
    padding = np.arange(T)[None, :] >= lengths[:, None]
    assert np.all(outputs[padding] == 0.0)


@pytest.mark.parametrize("mode", MODES)
def test_rnn_on_unbatched_input_matches_torch(mode, rng):
    module = make_module(mode, 3, 2, num_layers=2, bidirectional=True)
    params = randomize(module, rng)
    x = rng.normal(size=(4, 3))
    outputs, final = rnn(x, params, mode=mode, num_layers=2, bidirectional=True)
    expected_out, expected_final = run_torch(module, x, None, None, batch_first=False)
    assert_close(outputs, expected_out, what="outputs")
    assert_states_close(final, expected_final, mode)


# ------------------------------------------------------------------------ BPTT


def torch_elman_loss_and_grads(inputs, targets, params):
    tensors = {k: to_torch(v, requires_grad=True) for k, v in params.items()}
    x, h = to_torch(inputs), tensors["h0"]
    logits = []
    for t in range(x.shape[0]):
        h = torch.tanh(tensors["W_xh"] @ x[t] + tensors["W_hh"] @ h + tensors["b_h"])
        logits.append(tensors["W_hy"] @ h + tensors["b_y"])
    loss = F.cross_entropy(torch.stack(logits), torch.as_tensor(targets, dtype=torch.int64))
    loss.backward()
    return loss.item(), {k: to_numpy(v.grad) for k, v in tensors.items()}


@given(seed=seeds, steps=st.integers(1, 8), input_size=sizes, hidden=st.integers(1, 5), vocab=st.integers(2, 6))
def test_elman_bptt_loss_and_every_gradient_match_torch_autograd(seed, steps, input_size, hidden, vocab):
    rng = np.random.default_rng(seed)
    params = {
        "h0": rng.normal(size=hidden),
        "W_xh": rng.normal(scale=0.7, size=(hidden, input_size)),
        "W_hh": rng.normal(scale=0.7, size=(hidden, hidden)),
        "b_h": rng.normal(size=hidden),
        "W_hy": rng.normal(size=(vocab, hidden)),
        "b_y": rng.normal(size=vocab),
    }
    inputs, targets = rng.normal(size=(steps, input_size)), rng.integers(0, vocab, size=steps)
    loss, grads = elman_bptt(inputs, targets, **params)
    expected_loss, expected_grads = torch_elman_loss_and_grads(inputs, targets, params)
    assert_close(loss, expected_loss, what="loss")
    assert set(grads) == {"W_xh", "W_hh", "b_h", "W_hy", "b_y", "h0"}
    for name, expected in expected_grads.items():
        assert_close(grads[name], expected, what=name)


# -------------------------------------------------------------------- clipping


def torch_clip(arrays, max_norm):
    tensors = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in arrays]
    for tensor, array in zip(tensors, arrays):
        tensor.grad = to_torch(array)
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    return [to_numpy(t.grad) for t in tensors], total.item()


@given(
    seed=seeds,
    shapes=st.lists(st.lists(sizes, max_size=3).map(tuple), min_size=1, max_size=4),
    ratio=st.sampled_from([0.05, 0.5, 0.99, 1.5, 20.0]),
    scale=st.sampled_from([1e-4, 1.0, 1e3]),  # tiny norms make the 1e-6 in the coefficient visible
)
def test_clip_grad_norm_on_a_list_matches_torch_whether_or_not_it_clips(seed, shapes, ratio, scale):
    rng = np.random.default_rng(seed)
    grads = [rng.normal(scale=scale, size=shape) for shape in shapes]
    max_norm = ratio * np.sqrt(sum(np.sum(g**2) for g in grads))
    clipped, total = clip_grad_norm(grads, max_norm)
    expected, expected_total = torch_clip(grads, max_norm)
    assert isinstance(clipped, list)
    assert_close(total, expected_total, what="total_norm")
    for actual, wanted in zip(clipped, expected):
        assert_close(actual, wanted)


@pytest.mark.parametrize("max_norm, clips", [(0.5, True), (1e3, False)])
def test_clip_grad_norm_on_a_dict_keeps_keys_matches_torch_and_leaves_input_alone(max_norm, clips, rng):
    grads = {"W_xh": rng.normal(size=(3, 2)), "W_hh": rng.normal(size=(3, 3)), "b_h": rng.normal(size=3)}
    before = {k: v.copy() for k, v in grads.items()}
    clipped, total = clip_grad_norm(grads, max_norm)
    expected, expected_total = torch_clip(list(grads.values()), max_norm)
    assert list(clipped) == list(grads)
    assert_close(total, expected_total, what="total_norm")
    for (name, actual), wanted in zip(clipped.items(), expected):
        assert_close(actual, wanted, what=name)
        assert_close(grads[name], before[name], what=f"input {name}")
        assert actual is not grads[name]
    new_norm = np.sqrt(sum(np.sum(g**2) for g in clipped.values()))
    assert (new_norm < total) == clips
    assert new_norm <= max_norm + 1e-9 or not clips


# ---------------------------------------------------------------------- errors


def test_lstm_cell_rejects_weight_ih_with_the_wrong_input_size(rng):
    state = (np.zeros((2, 3)), np.zeros((2, 3)))
    expected = r"weight_ih has shape \(12, 5\); expected \(4\*H, I\) = \(12, 4\) for an LSTM cell with H=3, I=4"
    with pytest.raises(ValueError, match=expected):
        lstm_cell(np.ones((2, 4)), state, rng.normal(size=(12, 5)), rng.normal(size=(12, 3)))


def test_gru_cell_rejects_weight_hh_without_three_stacked_gates(rng):
    with pytest.raises(ValueError, match=r"weight_hh has shape \(8, 4\); expected \(3\*H, H\) for a GRU"):
        gru_cell(np.ones(2), np.zeros(4), rng.normal(size=(12, 2)), rng.normal(size=(8, 4)))


def test_rnn_cell_rejects_a_bias_and_a_state_of_the_wrong_shape(rng):
    w_ih, w_hh = rng.normal(size=(3, 2)), rng.normal(size=(3, 3))
    with pytest.raises(ValueError, match=r"bias_hh has shape \(4,\); expected \(H,\) = \(3,\)"):
        rnn_cell(np.ones((1, 2)), np.zeros((1, 3)), w_ih, w_hh, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"h has shape \(2, 3\); expected \(B, H\) = \(1, 3\)"):
        rnn_cell(np.ones((1, 2)), np.zeros((2, 3)), w_ih, w_hh)


def test_rnn_cell_rejects_an_unknown_nonlinearity(rng):
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'gelu'; expected one of tanh, relu, sigmoid"):
        rnn_cell(np.ones(2), np.zeros(3), rng.normal(size=(3, 2)), rng.normal(size=(3, 3)), nonlinearity="gelu")


def lstm_params(rng, bidirectional=False, num_layers=1):
    module = make_module("lstm", 3, 2, num_layers=num_layers, bidirectional=bidirectional)
    return randomize(module, rng)


def test_rnn_rejects_an_unknown_mode(rng):
    with pytest.raises(ValueError, match=r"unknown mode 'transformer'; expected one of rnn_tanh, rnn_relu, lstm, gru"):
        rnn(np.ones((1, 2, 3)), lstm_params(rng), mode="transformer")


def test_rnn_names_a_missing_parameter_and_unexpected_ones(rng):
    with pytest.raises(ValueError, match=r"params has no 'weight_ih_l1', needed for an LSTM with num_layers=2"):
        rnn(np.ones((1, 2, 3)), lstm_params(rng), mode="lstm", num_layers=2)
    with pytest.raises(ValueError, match=r"unexpected keys \['bias_hh_l0_reverse'.*bidirectional=False"):
        rnn(np.ones((1, 2, 3)), lstm_params(rng, bidirectional=True), mode="lstm")


def test_rnn_rejects_a_deeper_layer_whose_input_size_is_not_d_times_h(rng):
    params = lstm_params(rng, bidirectional=True, num_layers=2)
    params["weight_ih_l1"] = params["weight_ih_l1"][:, :2]
    with pytest.raises(ValueError, match=r"weight_ih_l1 has shape \(8, 2\); expected \(4\*H, I\) = \(8, 4\)"):
        rnn(np.ones((1, 2, 3)), params, mode="lstm", num_layers=2, bidirectional=True)


def test_rnn_rejects_inputs_whose_feature_size_does_not_match_weight_ih(rng):
    with pytest.raises(ValueError, match=r"weight_ih_l0 has shape \(8, 3\); expected \(4\*H, I\) = \(8, 5\)"):
        rnn(np.ones((1, 2, 5)), lstm_params(rng), mode="lstm")


def test_rnn_rejects_an_initial_state_of_the_wrong_shape(rng):
    with pytest.raises(ValueError, match=r"initial_state h_0 has shape \(1, 2, 2\); expected .* = \(1, 3, 2\)"):
        rnn(np.ones((3, 2, 3)), lstm_params(rng), mode="lstm", initial_state=(np.zeros((1, 2, 2)),) * 2)


@pytest.mark.parametrize("bad", [0, 5, -1])
def test_rnn_rejects_lengths_out_of_range(bad, rng):
    with pytest.raises(ValueError, match=rf"lengths\[1\] = {bad} is out of range; every length must be in 1..T = 1..4"):
        rnn(np.ones((2, 4, 3)), lstm_params(rng), mode="lstm", lengths=[2, bad])


def test_rnn_rejects_lengths_of_the_wrong_shape_or_type(rng):
    with pytest.raises(ValueError, match=r"lengths has shape \(3,\); expected \(B,\) = \(2,\)"):
        rnn(np.ones((2, 4, 3)), lstm_params(rng), mode="lstm", lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"lengths must be integers"):
        rnn(np.ones((2, 4, 3)), lstm_params(rng), mode="lstm", lengths=[1.5, 2])


def test_rnn_rejects_a_non_positive_number_of_layers(rng):
    with pytest.raises(ValueError, match=r"num_layers must be a positive integer, got 0"):
        rnn(np.ones((2, 4, 3)), lstm_params(rng), mode="lstm", num_layers=0)


def test_elman_bptt_rejects_targets_outside_the_vocabulary_and_misshapen_weights(rng):
    args = dict(
        h0=np.zeros(2), W_xh=np.ones((2, 3)), W_hh=np.eye(2), b_h=np.zeros(2), W_hy=np.ones((4, 2)), b_y=np.zeros(4)
    )
    with pytest.raises(ValueError, match=r"targets\[1\] = 4 is out of range; expected 0..V-1 = 0..3"):
        elman_bptt(np.ones((2, 3)), np.array([0, 4]), **args)
    with pytest.raises(ValueError, match=r"W_xh has shape \(2, 3\); expected \(H, I\) with H=2, I=5 = \(2, 5\)"):
        elman_bptt(np.ones((2, 5)), np.array([0, 1]), **args)


def test_clip_grad_norm_rejects_a_negative_max_norm():
    with pytest.raises(ValueError, match=r"max_norm must be a finite number >= 0, got -1.0"):
        clip_grad_norm([np.ones(3)], -1.0)
