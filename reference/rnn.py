"""Recurrent cells and multi-layer, bidirectional RNNs, in numpy float64.

The weight layouts are PyTorch's, so a ``state_dict`` converted to numpy arrays
can be passed straight in:

- ``weight_ih`` has shape ``(G*H, I)``, ``weight_hh`` ``(G*H, H)``, and the two
  optional biases ``bias_ih`` and ``bias_hh`` shape ``(G*H,)``, where ``G`` is the
  number of stacked gates: 1 for an Elman RNN, 4 for an LSTM (``i|f|g|o``) and
  3 for a GRU (``r|z|n``).
- Cells take a batch ``x`` of shape ``(B, I)``, or one unbatched ``(I,)`` vector
  with an ``(H,)`` state, like ``torch.nn.RNNCell``.
- :func:`rnn` runs a stack of ``L`` layers in ``D`` directions over a padded
  batch; with ``lengths`` it follows the packed-sequence semantics of
  ``torch.nn.utils.rnn.pack_padded_sequence``.

Backpropagation through time and gradient clipping live in
:mod:`reference.bptt` and are re-exported here.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from reference.bptt import clip_grad_norm, elman_bptt

__all__ = ["rnn_cell", "lstm_cell", "gru_cell", "rnn", "elman_bptt", "clip_grad_norm"]

ArrayLike = Union[np.ndarray, Sequence]
State = Tuple[np.ndarray, ...]  # (h,) for Elman RNNs and GRUs, (h, c) for LSTMs

# mode -> (number of stacked gates G, how error messages name the model)
_MODES = {
    "rnn_tanh": (1, "an Elman RNN (tanh)"),
    "rnn_relu": (1, "an Elman RNN (relu)"),
    "lstm": (4, "an LSTM"),
    "gru": (3, "a GRU"),
}
_NONLINEARITIES = ("tanh", "relu", "sigmoid")


# --------------------------------------------------------------------------- math


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp(-log(1 + e^-z)) neither overflows nor loses the tiny values for z << 0.
    return np.exp(-np.logaddexp(0.0, -z))


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _activation(nonlinearity: str) -> Callable[[np.ndarray], np.ndarray]:
    table = {"tanh": np.tanh, "relu": _relu, "sigmoid": _sigmoid}
    if nonlinearity not in table:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected one of {', '.join(_NONLINEARITIES)}")
    return table[nonlinearity]


def _elman_step(x, state, w_ih, w_hh, b_ih, b_hh, act=np.tanh) -> State:
    (h,) = state
    return (act(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh),)


def _lstm_step(x, state, w_ih, w_hh, b_ih, b_hh) -> State:
    h, c = state
    i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
    c_next = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c_next), c_next


def _gru_step(x, state, w_ih, w_hh, b_ih, b_hh) -> State:
    (h,) = state
    x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    r = _sigmoid(x_r + h_r)
    z = _sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return ((1.0 - z) * n + z * h,)


_STEPS = {
    "rnn_tanh": partial(_elman_step, act=np.tanh),
    "rnn_relu": partial(_elman_step, act=_relu),
    "lstm": _lstm_step,
    "gru": _gru_step,
}


# --------------------------------------------------------------------- validation


def _float_array(name: str, value) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from None


def _gates_text(gates: int) -> str:
    return "" if gates == 1 else f"{gates}*"


def _check_weights(
    names: Sequence[str], arrays: Sequence, gates: int, input_size: int, what: str, hidden_size: Optional[int] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate one (weight_ih, weight_hh, bias_ih, bias_hh) set; missing biases become zeros.

    ``H`` is read from ``weight_hh`` unless ``hidden_size`` fixes it (deeper layers).
    """
    n_ih, n_hh, n_bih, n_bhh = names
    w_ih, w_hh = _float_array(n_ih, arrays[0]), _float_array(n_hh, arrays[1])
    g = _gates_text(gates)
    if hidden_size is None:
        if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
            raise ValueError(f"{n_hh} has shape {w_hh.shape}; expected ({g}H, H) for {what}")
        hidden_size = w_hh.shape[1]
    H, I = hidden_size, input_size
    if w_hh.shape != (gates * H, H):
        raise ValueError(f"{n_hh} has shape {w_hh.shape}; expected ({g}H, H) = {(gates * H, H)} for {what} with H={H}")
    if w_ih.shape != (gates * H, I):
        raise ValueError(
            f"{n_ih} has shape {w_ih.shape}; expected ({g}H, I) = {(gates * H, I)} for {what} with H={H}, I={I}"
        )
    biases = []
    for name, value in ((n_bih, arrays[2]), (n_bhh, arrays[3])):
        if value is None:
            biases.append(np.zeros(gates * H))
            continue
        bias = _float_array(name, value)
        if bias.shape != (gates * H,):
            raise ValueError(f"{name} has shape {bias.shape}; expected ({g}H,) = ({gates * H},) for {what} with H={H}")
        biases.append(bias)
    return w_ih, w_hh, biases[0], biases[1]


def _cell_input(x) -> Tuple[np.ndarray, bool]:
    """``x`` as a (B, I) batch, and whether it was one unbatched (I,) vector."""
    x = _float_array("x", x)
    if x.ndim not in (1, 2):
        raise ValueError(f"x has shape {x.shape}; expected (B, I) or unbatched (I,)")
    return np.atleast_2d(x), x.ndim == 1


def _cell_state(name: str, value, batch: int, hidden: int, unbatched: bool) -> np.ndarray:
    """A state argument as a (B, H) batch; ``None`` means zeros, as in torch."""
    if value is None:
        return np.zeros((batch, hidden))
    state = _float_array(name, value)
    expected = (hidden,) if unbatched else (batch, hidden)
    if state.shape != expected:
        form = "(H,) for an unbatched x" if unbatched else "(B, H)"
        raise ValueError(f"{name} has shape {state.shape}; expected {form} = {expected} with H={hidden} from weight_hh")
    return np.atleast_2d(state)


def _cell(gates: int, x, state, weights, what: str, step) -> State:
    """Validate a cell's arguments, run one ``step`` on a (B, I) batch, undo the batching."""
    x2, unbatched = _cell_input(x)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    w = _check_weights(names, weights, gates, x2.shape[1], what)
    H = w[1].shape[1]
    state_names = ("h", "c")[: len(state)]
    batch_state = tuple(_cell_state(n, s, x2.shape[0], H, unbatched) for n, s in zip(state_names, state))
    result = step(x2, batch_state, *w)
    return tuple(r[0] for r in result) if unbatched else result


# -------------------------------------------------------------------------- cells


def rnn_cell(
    x: ArrayLike,
    h: Optional[ArrayLike],
    weight_ih: ArrayLike,
    weight_hh: ArrayLike,
    bias_ih: Optional[ArrayLike] = None,
    bias_hh: Optional[ArrayLike] = None,
    nonlinearity: str = "tanh",
) -> np.ndarray:
    """One step of an Elman RNN: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``.

    In the slides' notation ``h_t = tanh(W_hh h_{t-1} + W_xh x_t + b)`` with
    ``W_xh = weight_ih``, ``W_hh = weight_hh`` and ``b = bias_ih + bias_hh``.
    ``act`` is ``"tanh"``, ``"relu"`` (both as ``torch.nn.RNNCell``) or
    ``"sigmoid"`` (the form some slides use).

    Shapes: ``x`` (B, I) or unbatched (I,); ``h`` (B, H) or (H,), ``None`` for
    zeros; ``weight_ih`` (H, I); ``weight_hh`` (H, H); biases (H,) or ``None``.
    Returns ``h'`` with the shape of ``h``.
    """
    step = partial(_elman_step, act=_activation(nonlinearity))
    what = f"an Elman RNN cell ({nonlinearity})"
    return _cell(1, x, (h,), (weight_ih, weight_hh, bias_ih, bias_hh), what, step)[0]


def lstm_cell(
    x: ArrayLike,
    state: Optional[Tuple[ArrayLike, ArrayLike]],
    weight_ih: ArrayLike,
    weight_hh: ArrayLike,
    bias_ih: Optional[ArrayLike] = None,
    bias_hh: Optional[ArrayLike] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """One LSTM step, gates stacked ``i|f|g|o`` as in ``torch.nn.LSTMCell``::

        [i; f; g; o] = W_ih x + b_ih + W_hh h + b_hh
        c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
        h' = sigmoid(o) * tanh(c')

    Shapes: ``x`` (B, I) or unbatched (I,); ``state = (h, c)`` each (B, H) or
    (H,), ``None`` for zeros; ``weight_ih`` (4H, I); ``weight_hh`` (4H, H);
    biases (4H,) or ``None``. Returns ``(h', c')`` with the shapes of ``(h, c)``.
    """
    if state is None:
        state = (None, None)
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise ValueError("state must be a pair (h, c) for an LSTM cell")
    h, c = _cell(4, x, tuple(state), (weight_ih, weight_hh, bias_ih, bias_hh), "an LSTM cell", _lstm_step)
    return h, c


def gru_cell(
    x: ArrayLike,
    h: Optional[ArrayLike],
    weight_ih: ArrayLike,
    weight_hh: ArrayLike,
    bias_ih: Optional[ArrayLike] = None,
    bias_hh: Optional[ArrayLike] = None,
) -> np.ndarray:
    """One GRU step, gates stacked ``r|z|n`` as in ``torch.nn.GRUCell``::

        r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Shapes: ``x`` (B, I) or unbatched (I,); ``h`` (B, H) or (H,), ``None`` for
    zeros; ``weight_ih`` (3H, I); ``weight_hh`` (3H, H); biases (3H,) or
    ``None``. Returns ``h'`` with the shape of ``h``.
    """
    return _cell(3, x, (h,), (weight_ih, weight_hh, bias_ih, bias_hh), "a GRU cell", _gru_step)[0]


# --------------------------------------------------------------- full sequences


def _layer_weights(params: Mapping, mode: str, num_layers: int, directions: int, input_size: int):
    """Validated weights as ``weights[layer][direction]``, and the hidden size H."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a mapping like a torch state_dict, got {type(params).__name__}")
    gates, what = _MODES[mode]
    config = f"{what} with num_layers={num_layers}, bidirectional={directions == 2}"
    weights, expected_keys, hidden = [], set(), None
    for layer in range(num_layers):
        weights.append([])
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            names = [base + suffix for base in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            expected_keys.update(names)
            for name in names[:2]:
                if name not in params:
                    raise ValueError(f"params has no {name!r}, needed for {config}; keys given: {sorted(params)}")
            layer_input = input_size if layer == 0 else directions * hidden
            w = _check_weights(names, [params.get(n) for n in names], gates, layer_input, what, hidden)
            hidden = w[1].shape[1]
            weights[-1].append(w)
    unexpected = sorted(set(params) - expected_keys)
    if unexpected:
        raise ValueError(f"params has unexpected keys {unexpected} for {config}")
    return weights, hidden


def _initial_states(initial_state, mode: str, shape: Tuple[int, ...]) -> State:
    """The initial state as a tuple of (D*L, B, H) arrays (with B dropped for unbatched)."""
    names = ("h_0", "c_0") if mode == "lstm" else ("h_0",)
    if initial_state is None:
        return tuple(np.zeros(shape) for _ in names)
    if mode == "lstm":
        if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
            raise ValueError("initial_state must be a pair (h_0, c_0) for an LSTM")
        given = tuple(initial_state)
    else:
        given = (initial_state,)
    states = tuple(_float_array(f"initial_state {n}", s) for n, s in zip(names, given))
    for name, state in zip(names, states):
        if state.shape != shape:
            form = "(D*num_layers, H)" if len(shape) == 2 else "(D*num_layers, B, H)"
            raise ValueError(f"initial_state {name} has shape {state.shape}; expected {form} = {shape}")
    return states


def _length_mask(lengths, steps: int, batch: int) -> np.ndarray:
    """(T, B, 1) booleans: True where step t lies inside sequence b."""
    if lengths is None:
        return np.ones((steps, batch, 1), dtype=bool)
    lengths = np.asarray(lengths)
    if lengths.shape != (batch,):
        raise ValueError(f"lengths has shape {lengths.shape}; expected (B,) = ({batch},), one length per sequence")
    if lengths.dtype.kind == "f" and np.all(lengths == np.round(lengths)):
        lengths = lengths.astype(np.int64)
    if lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    bad = np.flatnonzero((lengths < 1) | (lengths > steps))
    if bad.size:
        b = bad[0]
        raise ValueError(f"lengths[{b}] = {lengths[b]} is out of range; every length must be in 1..T = 1..{steps}")
    return (np.arange(steps) < lengths[:, None]).T[:, :, None]


def _run_direction(step, x: np.ndarray, state: State, weights, mask: np.ndarray, reverse: bool):
    """One layer in one direction over time-major ``x`` (T, B, I).

    Past a sequence's end the state is held and the output is zero, so the
    forward final state is the one at the true end, and the reverse direction
    starts from ``state`` at the true end: the packed-sequence semantics.
    """
    steps = x.shape[0]
    outputs = np.zeros(x.shape[:2] + state[0].shape[-1:])
    for t in reversed(range(steps)) if reverse else range(steps):
        new = step(x[t], state, *weights)
        state = tuple(np.where(mask[t], n, s) for n, s in zip(new, state))
        outputs[t] = np.where(mask[t], new[0], 0.0)
    return outputs, state


def rnn(
    inputs: ArrayLike,
    params: Mapping[str, ArrayLike],
    mode: str = "lstm",
    initial_state: Optional[Union[ArrayLike, Tuple[ArrayLike, ArrayLike]]] = None,
    num_layers: int = 1,
    bidirectional: bool = False,
    batch_first: bool = True,
    lengths: Optional[ArrayLike] = None,
) -> Tuple[np.ndarray, Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]]:
    """A multi-layer, optionally bidirectional RNN, like ``torch.nn.RNN/LSTM/GRU``.

    ``mode`` is ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``. Layer
    ``l`` in direction ``d`` runs the cell of that mode with
    ``params["weight_ih_l{l}"]`` etc. (``..._reverse`` for the backward
    direction), keys exactly as the module's ``state_dict``; biases are
    optional. Layer 0 reads the inputs; layer ``l > 0`` reads the concatenation
    ``[h_fwd; h_bwd]`` of layer ``l-1``. The backward direction runs
    ``t = T-1, ..., 0``. No dropout (evaluation mode).

    Shapes, with D = 2 if bidirectional else 1 and L = num_layers:

    - ``inputs``: (B, T, I) if ``batch_first`` else (T, B, I); unbatched (T, I).
    - ``initial_state``: h_0 (D*L, B, H), for an LSTM a pair (h_0, c_0);
      ``None`` means zeros.
    - ``lengths``: (B,) integers in 1..T, in any order. Then step ``t`` of
      sequence ``b`` is used only if ``t < lengths[b]``: outputs are zero past
      each length, final states are taken at each sequence's true end, and the
      backward direction starts there (``pack_padded_sequence`` semantics).
    - returns ``outputs`` (B, T, D*H) if ``batch_first`` else (T, B, D*H),
      and the final state h_n (D*L, B, H), or ``(h_n, c_n)`` for an LSTM,
      indexed ``layer * D + direction`` as in torch.
    """
    if mode not in _MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(_MODES)}")
    if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
    x = _float_array("inputs", inputs)
    unbatched = x.ndim == 2
    if unbatched:
        if lengths is not None:
            raise ValueError("lengths needs batched inputs of shape (B, T, I) or (T, B, I); got unbatched (T, I)")
        x = x[:, None, :]
    elif x.ndim == 3:
        x = x.swapaxes(0, 1) if batch_first else x
    else:
        form = "(B, T, I)" if batch_first else "(T, B, I)"
        raise ValueError(f"inputs has shape {x.shape}; expected {form} or unbatched (T, I)")
    steps, batch, input_size = x.shape
    if steps == 0 or batch == 0:
        raise ValueError(f"inputs has shape {np.shape(inputs)}; need at least one step and one sequence")

    directions = 2 if bidirectional else 1
    weights, hidden = _layer_weights(params, mode, num_layers, directions, input_size)
    state_shape = (directions * num_layers, hidden) if unbatched else (directions * num_layers, batch, hidden)
    initial = _initial_states(initial_state, mode, state_shape)
    if unbatched:
        initial = tuple(s[:, None, :] for s in initial)
    mask = _length_mask(lengths, steps, batch)

    step = _STEPS[mode]
    layer_input, finals = x, []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            start = tuple(s[index] for s in initial)
            out, final = _run_direction(step, layer_input, start, weights[layer][direction], mask, direction == 1)
            outputs.append(out)
            finals.append(final)
        layer_input = np.concatenate(outputs, axis=-1)

    final_state = tuple(np.stack([f[k] for f in finals]) for k in range(len(initial)))
    if unbatched:
        outputs_out = layer_input[:, 0, :]
        final_state = tuple(s[:, 0, :] for s in final_state)
    else:
        outputs_out = layer_input.swapaxes(0, 1) if batch_first else layer_input
    return outputs_out, (final_state if mode == "lstm" else final_state[0])
