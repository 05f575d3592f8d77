"""Assignment: a fixed-window feed-forward language model on edugrad.

Fill in every function and method that raises ``NotImplementedError``. Read
README.md first: it gives the equations, the shapes, the parameter names the
grader reads, and how your work is checked. Keep the names and signatures
below.

Reminders from the lectures:

- an order-n model predicts w_t from the n - 1 words before it, their
  embeddings concatenated oldest first: e = [E[w_{t-n+1}]; ...; E[w_{t-1}]];
- h = g(e W1 + b1) with g = tanh or relu, z = h U + b2, y_hat = softmax(z);
- an edugrad op's backward returns a LIST with one gradient per input of
  forward, each shaped like that input; integer inputs get zeros.
"""
from __future__ import annotations

import numpy as np
from edugrad.nn import Linear, Module  # noqa: F401 (Linear: task 3)
from edugrad.ops import Operation, relu, tensor_op  # noqa: F401 (relu: task 3)
from edugrad.optim import Optimizer
from edugrad.tensor import Tensor

__all__ = ["make_windows", "embed_window", "tanh", "cross_entropy", "FeedForwardLM", "train_step"]


# ---------------------------------------------------------------------- task 1
def make_windows(tokens: list[int], n: int, bos_id: int) -> tuple[np.ndarray, np.ndarray]:
    """The (context, target) examples of an order-n model over one token sequence.

    Pad the start with n - 1 copies of ``bos_id`` so that every token is a
    target. Returns ``contexts``, an int64 array (N, n-1) with the oldest word
    first, and ``targets``, an int64 array (N,), where N = len(tokens).
    """
    raise NotImplementedError("make_windows (task 1)")


# ---------------------------------------------------------------------- task 2
@tensor_op
class embed_window(Operation):
    """Look up a window of embeddings and concatenate them: (V, d), (B, k) -> (B, k*d), oldest word first."""

    @staticmethod
    def forward(ctx, embeddings, contexts):
        raise NotImplementedError("embed_window.forward (task 2)")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("embed_window.backward (task 2)")


@tensor_op
class tanh(Operation):
    """y = tanh(x), element-wise, any shape."""

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("tanh.forward (task 2)")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("tanh.backward (task 2)")


@tensor_op
class cross_entropy(Operation):
    """The mean over the batch of -log softmax(logits[i])[targets[i]]: (B, V), (B,) -> a 0-d array."""

    @staticmethod
    def forward(ctx, logits, targets):
        raise NotImplementedError("cross_entropy.forward (task 2)")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("cross_entropy.backward (task 2)")


# ---------------------------------------------------------------------- task 3
class FeedForwardLM(Module):
    """Embeddings of the n-1 context words, concatenated -> hidden layer (tanh or relu) -> vocabulary logits.

    Parameters (exactly these attribute names): ``embeddings``, a Tensor
    (V, d); ``hidden = Linear((n-1)*d, H)``; ``output = Linear(H, V)``.
    """

    def __init__(self, vocab_size: int, context_size: int, embedding_dim: int, hidden_size: int,
                 nonlinearity: str = "tanh") -> None:
        super().__init__()
        raise NotImplementedError("FeedForwardLM.__init__ (task 3)")

    def forward(self, contexts: np.ndarray) -> Tensor:
        """contexts: an integer numpy array (B, n-1) -> the logits, a Tensor (B, V)."""
        raise NotImplementedError("FeedForwardLM.forward (task 3)")


# ---------------------------------------------------------------------- task 4
def train_step(model: FeedForwardLM, optimizer: Optimizer, contexts: np.ndarray, targets: np.ndarray) -> float:
    """One update on a batch: zero the gradients, the loss, backward, step.

    Returns the loss computed before the update, as a Python float.
    """
    raise NotImplementedError("train_step (task 4)")
