"""Nina - lm.py. Ran out of time: the model, training and sampling are still TODO."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["pad_batch", "lengths_to_mask", "make_lm_batch", "LSTMLanguageModel", "lm_loss",
           "corpus_perplexity", "train_step", "generate"]


# ---------------------------------------------------------------------- task 1
def pad_batch(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ``B`` lists of ids to the longest: ``(padded (B, T) int64, lengths (B,) int64)``."""
    lengths = torch.tensor([len(seq) for seq in sequences], dtype=torch.long)
    longest = int(lengths.max()) if len(sequences) else 0
    padded = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        padded[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return padded, lengths


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``mask[b, t] = t < lengths[b]``, a bool tensor (B, T) with ``T = max_len or max(lengths)``."""
    if max_len is None:
        max_len = int(lengths.max())
    return torch.arange(max_len)[None, :] < lengths[:, None]


# ---------------------------------------------------------------------- task 2
def make_lm_batch(sentences: list[list[int]], bos_id: int, eos_id: int,
                  pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``[bos, w_1..w_n]`` and targets ``[w_1..w_n, eos]`` for each sentence, padded."""
    inputs, _ = pad_batch([[bos_id] + list(s) for s in sentences], pad_id)
    targets, lengths = pad_batch([list(s) + [eos_id] for s in sentences], pad_id)
    return inputs, targets, lengths


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
    """Mean token cross-entropy (nats) over the real positions ``t < lengths[b]``: a 0-d tensor."""
    mask = lengths_to_mask(lengths, targets.shape[1])
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return nll[mask].sum() / mask.sum()


def corpus_perplexity(batches) -> float:
    """``exp(total NLL / total real tokens)`` over a list of ``(logits, targets, lengths)`` batches."""
    total, count = 0.0, 0
    for logits, targets, lengths in batches:
        mask = lengths_to_mask(lengths, targets.shape[1])
        nll = -torch.log_softmax(logits.double(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        total += float(nll[mask].sum())
        count += int(mask.sum())
    return math.exp(total / count)


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
