"""Frank's submission
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "elman_bptt", "clip_grad_norm"]


class _GatedCell(nn.Module):
    """Holds ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih`` and ``bias_hh`` (G*H,)."""

    def __init__(self, input_size: int, hidden_size: int, gates: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(gates * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)].
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def input_part(self, x: torch.Tensor) -> torch.Tensor:
        """``W_ih x + b_ih`` for a batch ``x`` of shape (B, I): shape (B, G*H)."""
        return x @ self.weight_ih.T + self.bias_ih

    def hidden_part(self, h: torch.Tensor) -> torch.Tensor:
        """``W_hh h + b_hh`` for a batch ``h`` of shape (B, H): shape (B, G*H)."""
        return h @ self.weight_hh.T + self.bias_hh


class RNNCell(_GatedCell):
    """Elman cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act = tanh or relu."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, gates=1)
        self.nonlinearity = nonlinearity

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        pre_activation = self.input_part(x) + self.hidden_part(h)
        return torch.tanh(pre_activation) if self.nonlinearity == "tanh" else torch.relu(pre_activation)


class LSTMCell(_GatedCell):
    """LSTM cell with gates stacked i|f|g|o."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, gates=4)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, g, o = (self.input_part(x) + self.hidden_part(h)).chunk(4, dim=1)
        c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_next = torch.sigmoid(o) * torch.tanh(c_next)
        return h_next, c_next


class GRUCell(_GatedCell):
    """GRU cell with gates stacked r|z|n; the reset gate scales ``W_hn h + b_hn``."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, gates=3)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor
        x_r, x_z, x_n = self.input_part(x).chunk(3, dim=1)
        h_r, h_z, h_n = self.hidden_part(h).chunk(3, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = np.exp(z - z.max())
    return shifted / shifted.sum()


def elman_bptt(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y):
    """Mean cross-entropy of a tanh RNN language model and its gradients, by hand.

    Shapes: inputs (T, I), targets (T,) ints, h0 (H,), W_xh (H, I), W_hh (H, H),
    b_h (H,), W_hy (V, H), b_y (V,). Returns ``(loss, grads)`` with grads keyed
    W_xh, W_hh, b_h, W_hy, b_y, h0.
    """
    T = len(inputs)
    hs = [h0]
    probs = []
    loss = 0.0
    for t in range(T):
        hs.append(np.tanh(W_xh @ inputs[t] + W_hh @ hs[-1] + b_h))
        probs.append(_softmax(W_hy @ hs[-1] + b_y))
        loss -= np.log(probs[-1][targets[t]]) / T

    grads = {"W_xh": np.zeros_like(W_xh), "W_hh": np.zeros_like(W_hh), "b_h": np.zeros_like(b_h),
             "W_hy": np.zeros_like(W_hy), "b_y": np.zeros_like(b_y)}
    delta_next = np.zeros_like(h0)  # dloss/da_{t+1}; zero past the last step
    for t in reversed(range(T)):
        dz = probs[t].copy()
        dz[targets[t]] -= 1.0
        dz /= T
        grads["W_hy"] += np.outer(dz, hs[t + 1])
        grads["b_y"] += dz
        dh = W_hy.T @ dz + W_hh.T @ delta_next
        delta = dh * (1.0 - hs[t + 1] ** 2)
        grads["W_xh"] += np.outer(delta, inputs[t])
        grads["W_hh"] += np.outer(delta, hs[t])
        grads["b_h"] += delta
        delta_next = delta
    grads["h0"] = W_hh.T @ delta_next
    return float(loss), grads


def clip_grad_norm(grads, max_norm):
    """Rescale a dict of gradient arrays to a global L2 norm of at most ``max_norm``.

    Returns ``(clipped, total_norm)``; ``total_norm`` is measured before clipping
    and the input arrays are left unchanged.
    """
    total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads.values())))
    coef = max_norm / (total_norm + 1e-6)
    scale = coef if coef < 1.0 else 1.0
    clipped = {name: np.asarray(g) * scale for name, g in grads.items()}
    return clipped, total_norm
