"""Erin's seq2seq.py (attend multiplies with the wrong shapes)."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["Hypothesis", "Seq2Seq", "select_state", "greedy_decode", "beam_search"]


class Hypothesis(NamedTuple):
    """A finished or cut-off hypothesis: its tokens (no bos, no eos) and its score."""

    tokens: tuple[int, ...]
    score: float


# ============================================================================ the model


class Seq2Seq(nn.Module):
    """A bidirectional LSTM encoder, a bridge, and an LSTM decoder with attention."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_size: int, hidden_size: int, pad_id: int = 0) -> None:
        super().__init__()
        H = hidden_size
        self.hidden_size = H
        self.pad_id = pad_id
        self.src_embedding = nn.Embedding(src_vocab_size, embed_size, padding_idx=pad_id)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, embed_size, padding_idx=pad_id)
        self.encoder = nn.LSTM(embed_size, H, batch_first=True, bidirectional=True)
        self.h_bridge = nn.Linear(2 * H, H, bias=False)
        self.c_bridge = nn.Linear(2 * H, H, bias=False)
        self.decoder = nn.LSTMCell(embed_size, H)
        self.att_projection = nn.Linear(2 * H, H, bias=False)
        self.combined_projection = nn.Linear(3 * H, H, bias=False)
        self.output_projection = nn.Linear(H, tgt_vocab_size)

    def encode(self, src: torch.Tensor, lengths: torch.Tensor):
        """``src`` (B, S) padded ids, ``lengths`` (B,) in any order -> ``(enc_hiddens, (h_n, c_n))``."""
        embedded = self.src_embedding(src)
        # Packing makes each direction see only the real words: the backward LSTM starts at the true end.
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, (h_n, c_n) = self.encoder(packed)
        enc_hiddens, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
        return enc_hiddens, (h_n, c_n)

    def bridge(self, h_n: torch.Tensor, c_n: torch.Tensor):
        """(2, B, H) final encoder states -> the decoder's initial ``(h_0, c_0)``, each (B, H)."""
        h = torch.cat([h_n[0], h_n[1]], dim=1)
        c = torch.cat([c_n[0], c_n[1]], dim=1)
        return self.h_bridge(h), self.c_bridge(c)

    def attend(self, query: torch.Tensor, enc_hiddens: torch.Tensor, src_mask: torch.Tensor):
        """``query`` (B, H), ``enc_hiddens`` (B, S, 2H), ``src_mask`` (B, S) -> ``(context (B, 2H), alpha (B, S))``."""
        keys = self.att_projection(enc_hiddens)                      # (B, S, H)
        scores = torch.bmm(keys, query.unsqueeze(1)).squeeze(2)      # (B, S)
        scores = scores.masked_fill(~src_mask.bool(), float("-inf"))
        alpha = torch.softmax(scores, dim=1)
        context = torch.bmm(alpha.unsqueeze(1), enc_hiddens).squeeze(1)
        return context, alpha

    def initial_state(self, src: torch.Tensor, lengths: torch.Tensor):
        """The decoder state before the first step: ``(h_0, c_0, enc_hiddens, src_mask)``."""
        enc_hiddens, (h_n, c_n) = self.encode(src, lengths)
        h_0, c_0 = self.bridge(h_n, c_n)
        positions = torch.arange(src.shape[1], device=src.device)
        src_mask = positions[None, :] < lengths.to(src.device)[:, None]
        return h_0, c_0, enc_hiddens, src_mask

    def step(self, prev_tokens: torch.Tensor, state):
        """One decoder step: ``(k,)`` ids and a state -> ``(log_probs (k, V), new_state)``."""
        h, c, enc_hiddens, src_mask = state
        y = self.tgt_embedding(prev_tokens)
        h, c = self.decoder(y, (h, c))
        context, _ = self.attend(h, enc_hiddens, src_mask)
        combined = torch.tanh(self.combined_projection(torch.cat([context, h], dim=1)))
        log_probs = torch.log_softmax(self.output_projection(combined), dim=1)
        return log_probs, (h, c, enc_hiddens, src_mask)


# ============================================================================ decoding

Step = Callable[[torch.Tensor, Any], "tuple[torch.Tensor, Any]"]


def select_state(state, rows: torch.Tensor):
    """Every tensor of a (nested) state indexed by ``rows`` along dim 0."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(select_state(part, rows) for part in state)
    return state[rows]


def greedy_decode(step: Step, state, bos: int, eos: int, max_len: int) -> list[int]:
    """Pick the most probable token at each step until ``eos`` or ``max_len`` step calls."""
    tokens: list[int] = []
    prev = bos
    for _ in range(max_len):
        log_probs, state = step(torch.tensor([prev]), state)
        prev = int(torch.argmax(log_probs[0]))  # the first maximum: ties go to the lowest id
        if prev == eos:
            break
        tokens.append(prev)
    return tokens


def _score(total: float, n_tokens: int, length_penalty: float) -> float:
    return total / float(max(1, n_tokens)) ** length_penalty


def beam_search(step: Step, state, bos: int, eos: int, beam_size: int, max_len: int,
                length_penalty: float = 0.0) -> list[Hypothesis]:
    """Beam search with a shrinking beam; up to ``beam_size`` hypotheses, best first."""
    live: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    finished: list[tuple[tuple[int, ...], float]] = []
    for _ in range(max_len):
        if not live:
            break
        prev = torch.tensor([tokens[-1] if tokens else bos for tokens, _ in live])
        log_probs, new_state = step(prev, state)
        log_probs = log_probs.detach().to(torch.float64).cpu()
        budget = beam_size - len(finished)
        # A parent's words outside its own best `budget` cannot be among the best `budget` overall.
        top_scores, top_words = torch.sort(log_probs, dim=1, descending=True, stable=True)
        candidates = []
        for parent, (tokens, total) in enumerate(live):
            for lp, word in zip(top_scores[parent, :budget].tolist(), top_words[parent, :budget].tolist()):
                candidates.append((-(total + lp), tokens + (word,), parent, word))
        # Best raw total first; equal totals in lexicographic order of the emitted symbols.
        candidates.sort(key=lambda item: (item[0], item[1]))
        live, parents = [], []
        for neg_total, symbols, parent, word in candidates[:budget]:
            if word == eos:
                finished.append((symbols[:-1], -neg_total))
            else:
                live.append((symbols, -neg_total))
                parents.append(parent)
        state = select_state(new_state, torch.tensor(parents, dtype=torch.long))

    ranked = [(_score(total, len(tokens), length_penalty), tokens + (eos,), tokens) for tokens, total in finished]
    ranked += [(_score(total, len(tokens), length_penalty), tokens, tokens) for tokens, total in live]
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return [Hypothesis(tokens, score) for score, _, tokens in ranked[:beam_size]]
