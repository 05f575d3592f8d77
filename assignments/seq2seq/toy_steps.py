"""Step functions whose answers are known: test your ``greedy_decode`` and ``beam_search`` with them.

The grader builds these objects in the process that runs your code and hands
them to your decoders in place of your model's ``step``, so decoding is graded
on its own, independently of your decoder step. Both follow the step
convention of the handout::

    step(prev_tokens, state) -> (log_probs, new_state)

``prev_tokens`` is a LongTensor of shape ``(k,)``; every tensor in ``state``
and ``new_state`` has leading dimension ``k``; ``log_probs`` is a float64
tensor of shape ``(k, V)`` whose rows are normalised log-probabilities.

- :class:`MarkovStep`: ``log P(next = w | prev = u, step p) = table[min(p, P-1), u, w]``;
  its state is the step counter, a LongTensor ``(k,)``.
- :class:`TinyRNNStep`: a small fixed recurrent language model; its state is
  the nested tuple ``(h, (steps,))`` with ``h`` float64 ``(k, d)`` and
  ``steps`` a LongTensor ``(k,)``, so a decoder must reorder nested states too.

Both check what they are given and raise ``ValueError`` with an explanation
when a decoder breaks the convention (a state whose rows do not match the
hypotheses, a token id outside the vocabulary). ``calls`` records the number of
hypotheses of every call, for your own debugging.

Example (run it yourself)::

    import torch, toy_steps, seq2seq
    table = torch.log_softmax(torch.randn(1, 5, 5, dtype=torch.float64), dim=-1)
    toy = toy_steps.MarkovStep(table)
    print(seq2seq.beam_search(toy, toy.initial_state(), bos=0, eos=4, beam_size=3, max_len=6))
"""
from __future__ import annotations

import torch

__all__ = ["MarkovStep", "TinyRNNStep"]


def _tokens(prev_tokens, vocab: int) -> torch.Tensor:
    tokens = torch.as_tensor(prev_tokens)
    if tokens.dim() != 1 or tokens.dtype in (torch.bool,) or tokens.is_floating_point():
        raise ValueError(
            f"prev_tokens must be a 1-D LongTensor of k token ids, one per hypothesis; got shape "
            f"{tuple(tokens.shape)} and dtype {tokens.dtype} (for one hypothesis use torch.tensor([token]))"
        )
    if tokens.numel() == 0:
        raise ValueError("prev_tokens is empty: call the step function only while some hypothesis is alive")
    if int(tokens.min()) < 0 or int(tokens.max()) >= vocab:
        raise ValueError(f"prev_tokens holds {tokens.tolist()}, but token ids run from 0 to {vocab - 1}")
    return tokens.long()


def _rows(value, k: int, what: str, dtype: torch.dtype) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    if tensor.dim() == 0 or tensor.shape[0] != k:
        raise ValueError(
            f"{what} has shape {tuple(tensor.shape)}, but prev_tokens holds {k} hypotheses: every state tensor "
            "must have one row per hypothesis (select the rows of the surviving hypotheses' parents with "
            "state[parents], replicating a row when a parent has several children)"
        )
    return tensor.to(dtype)


class MarkovStep:
    """A step function from a table of log-probabilities: ``table[min(p, P-1), prev, next]``.

    ``table`` has shape ``(P, V, V)`` (or ``(V, V)`` for ``P = 1``); each row
    ``table[p, u]`` must be a normalised log-distribution over the next token.
    """

    def __init__(self, table) -> None:
        table = torch.as_tensor(table, dtype=torch.float64)
        if table.dim() == 2:
            table = table[None]
        if table.dim() != 3 or table.shape[1] != table.shape[2]:
            raise ValueError(f"table must have shape (P, V, V) or (V, V), got {tuple(table.shape)}")
        self.table = table
        self.vocab_size = table.shape[2]
        self.calls: list[int] = []

    def initial_state(self) -> torch.Tensor:
        return torch.zeros(1, dtype=torch.int64)

    def __call__(self, prev_tokens, state):
        tokens = _tokens(prev_tokens, self.vocab_size)
        steps = _rows(state, tokens.shape[0], "the state (a LongTensor of step counts)", torch.int64)
        self.calls.append(int(tokens.shape[0]))
        position = steps.clamp(max=self.table.shape[0] - 1)
        return self.table[position, tokens].clone(), steps + 1


class TinyRNNStep:
    """A fixed tanh RNN language model with a nested state ``(h, (steps,))``::

        h'        = tanh(h @ recurrent.T + embedding[prev])
        logits    = h' @ output.T + bias,  plus eos_drift * steps on the eos logit
        log_probs = log_softmax(logits)

    Shapes: ``embedding`` (V, d), ``recurrent`` (d, d), ``output`` (V, d),
    ``bias`` (V,). A positive ``eos_drift`` makes ``eos`` likelier at every
    step, so that hypotheses end at different lengths.
    """

    def __init__(self, embedding, recurrent, output, bias, eos: int, eos_drift: float = 0.0) -> None:
        self.embedding = torch.as_tensor(embedding, dtype=torch.float64)
        self.recurrent = torch.as_tensor(recurrent, dtype=torch.float64)
        self.output = torch.as_tensor(output, dtype=torch.float64)
        self.bias = torch.as_tensor(bias, dtype=torch.float64)
        self.vocab_size, self.hidden_size = self.embedding.shape
        self.eos = int(eos)
        self.eos_drift = float(eos_drift)
        self.calls: list[int] = []

    def initial_state(self, h0=None) -> tuple:
        h = torch.zeros(1, self.hidden_size, dtype=torch.float64) if h0 is None else torch.as_tensor(h0, dtype=torch.float64)
        return h, (torch.zeros(1, dtype=torch.int64),)

    def __call__(self, prev_tokens, state):
        tokens = _tokens(prev_tokens, self.vocab_size)
        k = tokens.shape[0]
        if not isinstance(state, (tuple, list)) or len(state) != 2 or not isinstance(state[1], (tuple, list)) or len(state[1]) != 1:
            raise ValueError(f"TinyRNNStep's state is the nested tuple (h, (steps,)); got {type(state).__name__}: "
                             "reorder every tensor of a nested state and keep its structure")
        h = _rows(state[0], k, "state[0] (h)", torch.float64)
        steps = _rows(state[1][0], k, "state[1][0] (steps)", torch.int64)
        self.calls.append(int(k))
        h = torch.tanh(h @ self.recurrent.T + self.embedding[tokens])
        logits = h @ self.output.T + self.bias
        logits[:, self.eos] += self.eos_drift * steps.to(torch.float64)
        return torch.log_softmax(logits, dim=1), (h, (steps + 1,))
