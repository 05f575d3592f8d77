"""Dave's lm.py
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
    targets, lengths = pad_batch([[bos_id] + list(s) for s in sentences], pad_id)
    return inputs, targets, lengths


# ---------------------------------------------------------------------- task 3
class LSTMLanguageModel(nn.Module):
    """Embedding -> LSTM (over a packed batch) -> linear layer to vocabulary logits."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """inputs (B, T), lengths (B,) -> logits (B, T, V), (h_n, c_n) each (num_layers, B, H)."""
        embedded = self.embedding(inputs)
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, (h_n, c_n) = self.lstm(packed, state)
        out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=inputs.shape[1])
        return self.output(out), (h_n, c_n)


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
    """One update: zero grads, loss, backward, clip the global norm to ``max_norm``, step. Returns the loss."""
    model.train()
    optimizer.zero_grad()
    logits, _ = model(inputs, lengths)
    loss = lm_loss(logits, targets, lengths)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------------- task 6
@torch.no_grad()
def generate(model: nn.Module, bos_id: int, eos_id: int, max_len: int, temperature: float = 1.0,
             generator: torch.Generator | None = None) -> list[int]:
    """Sample ``y_t ~ softmax(z_t / temperature)`` until ``eos`` or ``max_len`` draws; ids without bos/eos."""
    model.eval()
    tokens: list[int] = []
    prev, state = bos_id, None
    for _ in range(max_len):
        logits, state = model(torch.tensor([[prev]]), torch.tensor([1]), state)
        probs = torch.softmax(logits[0, -1] / temperature, dim=-1)
        prev = int(torch.multinomial(probs, 1, generator=generator))
        if prev == eos_id:
            break
        tokens.append(prev)
    return tokens
