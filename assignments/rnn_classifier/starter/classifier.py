"""Assignment: an LSTM sequence classifier in PyTorch, with three ways to pool over time.

Fill in every function and method that raises ``NotImplementedError``. Read
README.md first: it fixes the names, the argument order, the shapes and the
parameter names the grader loads its weights into. Its last section says how
to run the self-check.

Batches are batch-first and right-padded: ``inputs (B, T)`` with
``lengths (B,)`` in any order. What the padded positions hold must never
change a prediction.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: F401 (task 2)

__all__ = ["pool_states", "RNNClassifier", "predict"]


# ---------------------------------------------------------------------- task 1
def pool_states(outputs: torch.Tensor, lengths: torch.Tensor, method: str, bidirectional: bool = False) -> torch.Tensor:
    """Pool padded RNN outputs (B, T, F) over each sequence's real steps ``t < lengths[b]`` to (B, F).

    ``method`` is ``"last"`` (the state after the whole sequence; for a
    bidirectional RNN the forward half at the last real step and the backward
    half at step 0), ``"mean"`` (divided by the true length) or ``"max"``
    (padding never wins).
    """
    raise NotImplementedError("pool_states (task 1)")


# ---------------------------------------------------------------------- task 2
class RNNClassifier(nn.Module):
    """Embedding -> (bi)LSTM over a packed batch -> pooling over time -> linear layer to class logits.

    Submodules (exactly these names): ``embedding = nn.Embedding(vocab_size,
    embedding_dim)``, ``lstm = nn.LSTM(embedding_dim, hidden_size,
    batch_first=True, bidirectional=bidirectional)``, ``classifier =
    nn.Linear(D * hidden_size, num_classes)`` with D = 2 if bidirectional else 1.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_classes: int,
                 pooling: str = "last", bidirectional: bool = False) -> None:
        super().__init__()
        raise NotImplementedError("RNNClassifier.__init__ (task 2)")

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """inputs (B, T) long, lengths (B,) long in any order -> logits (B, num_classes)."""
        raise NotImplementedError("RNNClassifier.forward (task 2)")


# ---------------------------------------------------------------------- task 3
def predict(model: nn.Module, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The most likely class of every sequence, a torch.long tensor (B,), computed without gradients."""
    raise NotImplementedError("predict (task 3)")
