"""Assignment: an LSTM language model in PyTorch, from padded batches to sampled sentences.

Fill in every function and method that raises ``NotImplementedError``. Read
README.md first: it fixes the names, the argument order, the shapes and the
exact procedure each function must follow. Its last section says how to run
the self-check.

Token ids are integers in ``0..V-1``. The special ids (padding, beginning and
end of sentence) are arguments: never assume they are 0, 1 and 2.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["pad_batch", "lengths_to_mask", "make_lm_batch", "LSTMLanguageModel", "lm_loss",
           "corpus_perplexity", "train_step", "generate"]


# ---------------------------------------------------------------------- task 1
def pad_batch(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad B lists of token ids to the longest one.

    Returns ``(padded, lengths)``: ``padded`` is a torch.long tensor (B, T) with
    T = the longest length, ``padded[b, t] = sequences[b][t]`` for t < len and
    ``pad_id`` after; ``lengths`` is a torch.long tensor (B,).
    """
    raise NotImplementedError("pad_batch (task 1)")


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """A torch.bool tensor (B, T) with ``mask[b, t] = t < lengths[b]``; T = max_len, or max(lengths) if None."""
    raise NotImplementedError("lengths_to_mask (task 1)")


# ---------------------------------------------------------------------- task 2
def make_lm_batch(sentences: list[list[int]], bos_id: int, eos_id: int,
                  pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(inputs, targets, lengths)`` for a batch of sentences ``w_1 .. w_n``.

    inputs ``[bos, w_1, .., w_n]`` and targets ``[w_1, .., w_n, eos]``, each
    padded with ``pad_id`` to (B, T) with T = max(n) + 1; lengths (B,) = n + 1.
    All three are torch.long tensors.
    """
    raise NotImplementedError("make_lm_batch (task 2)")


# ---------------------------------------------------------------------- task 3
class LSTMLanguageModel(nn.Module):
    """Embedding -> LSTM over a packed batch -> linear layer to vocabulary logits.

    Submodules (exactly these names, so the state_dict keys are PyTorch's):
    ``embedding = nn.Embedding(vocab_size, embedding_dim)``,
    ``lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, batch_first=True)``,
    ``output = nn.Linear(hidden_size, vocab_size)``.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        raise NotImplementedError("LSTMLanguageModel.__init__ (task 3)")

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """inputs (B, T) long, lengths (B,) long in any order, state None or (h_0, c_0) each (L, B, H).

        Returns ``(logits, (h_n, c_n))``: logits (B, T, V) with the same T as
        ``inputs``; h_n and c_n (L, B, H) taken at each sequence's true end,
        in the original batch order.
        """
        raise NotImplementedError("LSTMLanguageModel.forward (task 3)")


# ---------------------------------------------------------------------- task 4
def lm_loss(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (natural log) over the real positions t < lengths[b]: a 0-d tensor.

    logits (B, T, V), targets (B, T) long (anything past a sequence's length is
    padding and must not count), lengths (B,) long.
    """
    raise NotImplementedError("lm_loss (task 4)")


def corpus_perplexity(batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> float:
    """exp(total NLL / total number of real tokens) over a list of ``(logits, targets, lengths)`` batches."""
    raise NotImplementedError("corpus_perplexity (task 4)")


# ---------------------------------------------------------------------- task 5
def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor,
               lengths: torch.Tensor, max_norm: float) -> float:
    """One update: zero the gradients, loss, backward, clip the global gradient norm to max_norm, step.

    Returns the loss computed before the update, as a Python float.
    """
    raise NotImplementedError("train_step (task 5)")


# ---------------------------------------------------------------------- task 6
def generate(model: nn.Module, bos_id: int, eos_id: int, max_len: int, temperature: float = 1.0,
             generator: torch.Generator | None = None) -> list[int]:
    """Sample token ids one at a time until eos is drawn or max_len draws were made.

    Follow the procedure in README.md exactly: softmax(logits / temperature),
    one ``torch.multinomial(probs, 1, generator=generator)`` per step. Returns
    the ids drawn, without bos and without eos, as a list of Python ints.
    """
    raise NotImplementedError("generate (task 6)")
