"""Sequence to sequence with attention: an LSTM encoder-decoder, greedy decoding and beam search.

Fill in every function and method below; each raises NotImplementedError until
you do. README.md gives the equations, the exact shapes and the conventions
the grader checks. You may import numpy, torch and the Python standard library.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import nn

__all__ = ["Hypothesis", "Seq2Seq", "select_state", "greedy_decode", "beam_search"]


class Hypothesis(NamedTuple):
    """A finished or cut-off hypothesis: its tokens (no bos, no eos) and its score."""

    tokens: tuple[int, ...]
    score: float


# ============================================================================ the model


class Seq2Seq(nn.Module):
    """A bidirectional LSTM encoder, a bridge, and an LSTM decoder with attention.

    Submodules, named exactly so (the grader loads its weights through your state_dict):

    - ``src_embedding``, ``tgt_embedding``: ``nn.Embedding`` (V_src, E) and (V_tgt, E)
    - ``encoder``: ``nn.LSTM(E, H, batch_first=True, bidirectional=True)``
    - ``h_bridge``, ``c_bridge``: ``nn.Linear(2H, H, bias=False)``
    - ``decoder``: ``nn.LSTMCell(E, H)``
    - ``att_projection``: ``nn.Linear(2H, H, bias=False)``
    - ``combined_projection``: ``nn.Linear(3H, H, bias=False)``
    - ``output_projection``: ``nn.Linear(H, V_tgt)`` (with a bias)
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_size: int, hidden_size: int, pad_id: int = 0) -> None:
        super().__init__()
        raise NotImplementedError("Seq2Seq.__init__")

    def encode(self, src: torch.Tensor, lengths: torch.Tensor):
        """``src`` (B, S) padded LongTensor, ``lengths`` (B,) in any order.

        Returns ``(enc_hiddens, (h_n, c_n))``: ``enc_hiddens`` (B, S, 2H), zero at
        padded positions; ``h_n``, ``c_n`` (2, B, H), index 0 forward, 1 backward.
        """
        raise NotImplementedError("Seq2Seq.encode")

    def bridge(self, h_n: torch.Tensor, c_n: torch.Tensor):
        """``h_n``, ``c_n`` (2, B, H) -> the decoder's initial ``(h_0, c_0)``, each (B, H)."""
        raise NotImplementedError("Seq2Seq.bridge")

    def attend(self, query: torch.Tensor, enc_hiddens: torch.Tensor, src_mask: torch.Tensor):
        """``query`` (B, H), ``enc_hiddens`` (B, S, 2H), ``src_mask`` (B, S) bool.

        Returns ``(context, alpha)``: ``context`` (B, 2H), ``alpha`` (B, S), 0 where the mask is False.
        """
        raise NotImplementedError("Seq2Seq.attend")

    def initial_state(self, src: torch.Tensor, lengths: torch.Tensor):
        """The decoder state before the first step: ``(h_0, c_0, enc_hiddens, src_mask)``."""
        raise NotImplementedError("Seq2Seq.initial_state")

    def step(self, prev_tokens: torch.Tensor, state):
        """One decoder step: ``prev_tokens`` (k,) LongTensor, ``state`` as from initial_state.

        Returns ``(log_probs, new_state)``: ``log_probs`` (k, V_tgt), each row a
        normalised log-distribution; ``new_state = (h, c, enc_hiddens, src_mask)``.
        """
        raise NotImplementedError("Seq2Seq.step")


# ============================================================================ decoding

Step = Callable[[torch.Tensor, Any], "tuple[torch.Tensor, Any]"]


def select_state(state, rows: torch.Tensor):
    """Every tensor of a (nested tuple) state indexed by ``rows`` along dim 0 (a helper for beam_search)."""
    raise NotImplementedError("select_state")


def greedy_decode(step: Step, state, bos: int, eos: int, max_len: int) -> list[int]:
    """Greedy decoding with any step function; returns the tokens without bos and eos."""
    raise NotImplementedError("greedy_decode")


def beam_search(step: Step, state, bos: int, eos: int, beam_size: int, max_len: int,
                length_penalty: float = 0.0) -> list[Hypothesis]:
    """Beam search with any step function; up to ``beam_size`` hypotheses, best first."""
    raise NotImplementedError("beam_search")
