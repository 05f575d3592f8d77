"""Assignment: recurrent cells in PyTorch, backpropagation through time and clipping in numpy.

Fill in every function and method that raises ``NotImplementedError``. Read
README.md first: it gives the equations, the exact shapes, the gate order and
the rules (no built-in recurrent cells; numpy only in tasks 4 and 5; keep all
your code in this file). Its last section says how to run the self-check.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "elman_bptt", "clip_grad_norm"]


# ---------------------------------------------------------------------- task 1
class RNNCell(nn.Module):
    """Elman cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)`` with act = tanh or relu.

    Parameters (exactly these names and shapes, as ``torch.nn.RNNCell``):
    ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_ih`` (H,), ``bias_hh`` (H,).
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> None:
        super().__init__()
        # Create the four nn.Parameters here (initialise them uniformly in [-1/sqrt(H), 1/sqrt(H)]).
        raise NotImplementedError("RNNCell.__init__ (task 1)")

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """x: (B, I), h: (B, H) -> h_next: (B, H)."""
        raise NotImplementedError("RNNCell.forward (task 1)")


# ---------------------------------------------------------------------- task 2
class LSTMCell(nn.Module):
    """LSTM cell, gates stacked in the order i|f|g|o (input, forget, cell candidate, output).

    Parameters: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias_ih`` (4H,), ``bias_hh`` (4H,).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        raise NotImplementedError("LSTMCell.__init__ (task 2)")

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, I), state = (h, c) each (B, H) -> (h_next, c_next), each (B, H)."""
        raise NotImplementedError("LSTMCell.forward (task 2)")


# ---------------------------------------------------------------------- task 3
class GRUCell(nn.Module):
    """GRU cell, gates stacked r|z|n, with PyTorch's placement of the reset gate (see README.md).

    Parameters: ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih`` (3H,), ``bias_hh`` (3H,).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        raise NotImplementedError("GRUCell.__init__ (task 3)")

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """x: (B, I), h: (B, H) -> h_next: (B, H)."""
        raise NotImplementedError("GRUCell.forward (task 3)")


# ---------------------------------------------------------------------- task 4
def elman_bptt(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y):
    """Loss and gradients of a one-layer tanh RNN language model, by backpropagation through time.

    numpy only. Shapes: inputs (T, I) float64, targets (T,) integers in 0..V-1,
    h0 (H,), W_xh (H, I), W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,).

    Returns ``(loss, grads)``: ``loss`` the mean cross-entropy over the T steps
    (a float), ``grads`` a dict with keys "W_xh", "W_hh", "b_h", "W_hy", "b_y"
    and "h0", each an array shaped like that parameter.
    """
    raise NotImplementedError("elman_bptt (task 4)")


# ---------------------------------------------------------------------- task 5
def clip_grad_norm(grads, max_norm):
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    numpy only. ``grads`` is a dict of arrays of any shapes. Returns
    ``(clipped, total_norm)``: a new dict with the same keys, and the global norm
    measured before clipping (a float). Do not modify the arrays you are given.
    """
    raise NotImplementedError("clip_grad_norm (task 5)")
