"""Classic mistakes in the pieces of an attentional encoder-decoder: the bridge and one decoder step.

They shadow :func:`reference.decoding.bridge` and
:func:`reference.decoding.attention_decoder_step` (the decoders and attention
itself are in :mod:`reference.mistakes.decoding`; an encoder that runs over the
padding is ``rnn_runs_over_padding`` in :mod:`reference.mistakes.rnn`).
Notation of the handout: encoder states ``h^e_i = [h→_i; h←_i]``, decoder
state ``h^d_t``, context ``a_t``, combined output ``o_t = tanh(W_u [a_t; h^d_t])``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from reference.decoding import (
    _decoder_params,
    attention,
    attention_decoder_step,
    bridge,
)
from reference.lm import log_softmax
from reference.mistakes import mistake
from reference.rnn import lstm_cell

# ---------------------------------------------------------------------- the bridge


def _bridge_variant(join: Callable[[np.ndarray], np.ndarray], needs_batch: bool = False) -> Callable:
    """A bridge that builds the (B, 2H) input of W from the (2, B, H) final states with ``join``."""
    def variant(final_state, weight):
        bridge(final_state, weight)  # the oracle's checks of the shapes
        s = np.asarray(final_state, dtype=np.float64)
        if needs_batch and s.shape[1] == 1:
            raise ValueError("with a batch of one sentence the reshape is right")
        return join(s) @ np.asarray(weight, dtype=np.float64).T
    return variant


mistake("bridge_reshape_mixes_sentences", shadows=bridge,
        title="The bridge reshapes h_n from (2, B, H) straight to (B, 2H), mixing sentences",
        explanation="h_n is ordered (direction, sentence, unit): h_n.reshape(B, 2H) (or .view) glues rows of "
                    "different sentences together as soon as B > 1. Row b must be [h→_n; h←_1] of sentence b, "
                    "torch.cat([h_n[0], h_n[1]], dim=1) (or h_n.permute(1, 0, 2).reshape(B, 2H)).",
        )(_bridge_variant(lambda s: s.reshape(s.shape[1], 2 * s.shape[2]), needs_batch=True))

mistake("bridge_directions_swapped", shadows=bridge,
        title="The bridge concatenates the backward direction first, [h←_1; h→_n]",
        explanation="h^d_0 = W_h [h→_n; h←_1]: the forward final state h_n[0] comes first, then the backward "
                    "one h_n[1]. W_h was trained (here: drawn) for that order.",
        )(_bridge_variant(lambda s: np.concatenate([s[1], s[0]], axis=1)))

mistake("bridge_forward_direction_twice", shadows=bridge,
        title="The bridge reads the forward direction twice, [h→_n; h→_n]",
        explanation="The decoder starts from both directions' final states: h^d_0 = W_h [h_n[0]; h_n[1]] (and "
                    "c^d_0 from c_n the same way). Index 1 is the backward direction at the first word.",
        )(_bridge_variant(lambda s: np.concatenate([s[0], s[0]], axis=1)))

# ---------------------------------------------------------------------- one decoder step


def _step(embedded, state, params, *, query_previous: bool = False, masked: bool = True,
          context_first: bool = True, squash: Callable = np.tanh, finish: Callable = log_softmax):
    """The oracle's decoder step with one rule changed (the keywords say which)."""
    p = _decoder_params(params)
    h, c, enc_hiddens, src_mask = state
    h_next, c_next = lstm_cell(embedded, (h, c), p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    context, _ = attention(h if query_previous else h_next, enc_hiddens, enc_hiddens,
                           mask=src_mask if masked else None, score="general", weight=p["attention_weight"])
    joined = np.concatenate([context, h_next] if context_first else [h_next, context], axis=1)
    combined = squash(joined @ p["combined_weight"].T)
    return finish(combined @ p["output_weight"].T + p["output_bias"]), (h_next, c_next)


def _step_variant(**rule) -> Callable:
    def variant(embedded, state, params):
        return _step(embedded, state, params, **rule)
    return variant


def _step_without_mask(embedded, state, params):
    if state[3] is None or np.asarray(state[3]).all():
        raise ValueError("without padding the mask changes nothing")
    return _step(embedded, state, params, masked=False)


mistake("decoder_concat_hidden_first", shadows=attention_decoder_step,
        title="The combined output layer reads [h^d_t; a_t] instead of [a_t; h^d_t]",
        explanation="o_t = tanh(W_u [a_t; h^d_t]): the context a_t (2H numbers) comes first, then the decoder "
                    "state (H numbers), torch.cat([context, h], dim=1). With the other order the shapes still "
                    "fit W_u (H x 3H), but every column of W_u multiplies the wrong number.",
        )(_step_variant(context_first=False))

mistake("decoder_queries_previous_state", shadows=attention_decoder_step,
        title="The decoder step queries attention with h^d_{t-1} instead of the new h^d_t",
        explanation="First run the LSTM cell, h^d_t, c^d_t = LSTMCell(E_tgt[y_{t-1}], (h^d_{t-1}, c^d_{t-1})), "
                    "then attend with the new state: e_{t,i} = (h^d_t)^T W_att h^e_i.",
        )(_step_variant(query_previous=True))

mistake("decoder_step_ignores_mask", shadows=attention_decoder_step,
        title="The decoder step's attention ignores the source mask",
        explanation="At every step, padded source positions must get attention weight 0: step passes the "
                    "state's src_mask on to attend, and attend sets the scores of padded positions to -inf "
                    "before the softmax. Yours attends over the padding too (when attend itself is right, "
                    "step does not pass the mask on).",
        )(_step_without_mask)

mistake("decoder_returns_logits", shadows=attention_decoder_step,
        title="The decoder step returns logits instead of log-probabilities",
        explanation="log P(y_t | y_<t, x) = log_softmax(W_out o_t + b_out): apply torch.log_softmax(..., dim=1) "
                    "to the output layer, so that every row's logsumexp is 0 (the decoders add these numbers).",
        )(_step_variant(finish=lambda logits: logits))

mistake("decoder_returns_probabilities", shadows=attention_decoder_step,
        title="The decoder step returns probabilities (softmax) instead of log-probabilities",
        explanation="The step returns log P(y_t | y_<t, x) = log_softmax(W_out o_t + b_out), not softmax: beam "
                    "search adds the log-probabilities of a hypothesis' tokens.",
        )(_step_variant(finish=lambda logits: np.exp(log_softmax(logits))))

mistake("decoder_combined_without_tanh", shadows=attention_decoder_step,
        title="The combined output o_t = W_u [a_t; h^d_t] misses the tanh",
        explanation="o_t = tanh(W_u [a_t; h^d_t]); the output layer then reads o_t: "
                    "log_softmax(W_out o_t + b_out).",
        )(_step_variant(squash=lambda z: z))
