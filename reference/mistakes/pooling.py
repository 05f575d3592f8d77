"""Classic mistakes in pooling RNN outputs over time and in predicting a class, shadowing :mod:`reference.pooling`.

Notation as in the lecture notes and the oracles: ``outputs (B, T, F)`` holds
``h^(t)`` of every step of a right-padded batch; step ``t`` of sequence ``b``
is real while ``t < n = lengths[b]``. A bidirectional RNN has ``F = 2H``
features ``[h_fwd^(t); h_bwd^(t)]``: the forward LSTM has read the whole
sentence at step ``n - 1``, the backward one at step ``0``.

Some mistakes differ from a neighbour only where the padded steps hold
something other than zero (a mean over all ``T`` steps is the sum over the
real ones divided by ``T`` when the padding is zero, as ``pad_packed_sequence``
leaves it). On such inputs the narrower variant refuses (it is no match), so
the student reads one explanation, not two that say the same thing.

An LSTM run over the padding (no packing) is
``rnn_runs_over_padding`` in :mod:`reference.mistakes.rnn`: it shadows
:func:`reference.rnn.rnn`, not the pooling.
"""
from __future__ import annotations

import numpy as np

from reference.mistakes import mistake
from reference.pooling import (
    _check,
    _real_steps,
    last_state,
    max_pool,
    mean_pool,
    predict_classes,
)


def _halves(outputs, lengths, bidirectional: bool, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The checked ``(x, n, H)`` of a bidirectional batch; a unidirectional one cannot make mistake ``what``."""
    x, n = _check(outputs, lengths)
    if not bidirectional:
        raise ValueError(f"{what} needs two directions")
    if x.shape[2] % 2:
        raise ValueError(f"a bidirectional RNN has an even number of features, got F = {x.shape[2]}")
    return x, n, x.shape[2] // 2


def _padding_is_zero(x: np.ndarray, n: np.ndarray) -> bool:
    return not np.any(np.where(_real_steps(n, x.shape[1]), 0.0, x))


# ------------------------------------------------------------------------ "last"


def _last_padded_step(outputs, lengths, bidirectional=False):
    x, _ = _check(outputs, lengths)
    return x[:, -1].copy()


mistake("last_state_padded_step", shadows=last_state,
        title="Last state taken at the last padded step (outputs[:, -1]), not at each sequence's true end",
        explanation="The sequences of a batch end at different steps: with right padding, step T - 1 is the last "
                    "word only of the longest sequences and padding for the others (zeros after "
                    "pad_packed_sequence). The state after reading sequence b is h^(n) at step n - 1 = "
                    "lengths[b] - 1: take outputs[torch.arange(B), lengths - 1] (and, when bidirectional, the "
                    "backward half at step 0), or h_n of the LSTM run on the packed batch.",
        )(_last_padded_step)


def _last_backward_wrong_end(outputs, lengths, bidirectional=False):
    x, n, _ = _halves(outputs, lengths, bidirectional, "reading the backward direction at the wrong end")
    return x[np.arange(x.shape[0]), n - 1]


mistake("last_state_backward_wrong_end", shadows=last_state,
        title="Backward direction read at the last word, where it has read only that word",
        explanation="The backward LSTM reads the sentence from right to left: at step n - 1 it has seen only the "
                    "last word, and it has read the whole sentence when it reaches step 0. The state after the "
                    "whole sequence is [h_fwd^(n); h_bwd^(1)] = [outputs[b, n - 1, :H]; outputs[b, 0, H:]], the "
                    "pair that h_n holds for a packed batch (torch.cat([h_n[-2], h_n[-1]], dim=1)).",
        )(_last_backward_wrong_end)


def _last_directions_swapped(outputs, lengths, bidirectional=False):
    x, n, half = _halves(outputs, lengths, bidirectional, "swapping the directions")
    return np.concatenate([x[:, 0, half:], x[np.arange(x.shape[0]), n - 1, :half]], axis=1)


mistake("last_state_directions_swapped", shadows=last_state,
        title="The two directions concatenated in the wrong order: [h_bwd; h_fwd]",
        explanation="Every feature vector of a bidirectional LSTM is [h_fwd; h_bwd], the forward half first, and the "
                    "classifier's weights expect that order. h_n stacks the directions as h_n[-2] (forward) and "
                    "h_n[-1] (backward) of the last layer, so the summary is torch.cat([h_n[-2], h_n[-1]], dim=1), "
                    "or [outputs[b, n - 1, :H]; outputs[b, 0, H:]] from the outputs.",
        )(_last_directions_swapped)


def _last_forward_at_padded_end(outputs, lengths, bidirectional=False):
    x, _, half = _halves(outputs, lengths, bidirectional, "a forward half at the padded end")
    return np.concatenate([x[:, -1, :half], x[:, 0, half:]], axis=1)


mistake("last_state_forward_at_padded_end", shadows=last_state,
        title="Forward half taken at the last padded step (index -1); the backward half rightly at step 0",
        explanation="The backward half is right: the backward LSTM has read the whole sentence at step 0. The "
                    "forward LSTM has read it at the last real word, step n - 1 = lengths[b] - 1, which for every "
                    "sequence shorter than T comes before the padding: take outputs[b, lengths[b] - 1, :H], not "
                    "outputs[b, -1, :H].",
        )(_last_forward_at_padded_end)


def _last_h_n_reshaped(outputs, lengths, bidirectional=False):
    x, n, half = _halves(outputs, lengths, bidirectional, "reshaping h_n across the directions")
    final = last_state(x, n, bidirectional=True)
    h_n = np.stack([final[:, :half], final[:, half:]])  # (D, B, H), directions first, as torch returns it
    return h_n.reshape(x.shape[0], 2 * half)


mistake("last_state_h_n_reshaped", shadows=last_state,
        title="h_n of shape (2, B, H) reshaped to (B, 2H), which mixes the sequences of the batch",
        explanation="h_n has the directions first, shape (D, B, H). h_n.view(B, -1) or h_n.reshape(B, -1) does not "
                    "move that axis: it re-reads the numbers row by row, so the row of sequence b holds halves of "
                    "other sequences' states. Concatenate the two directions of each sequence instead: "
                    "torch.cat([h_n[-2], h_n[-1]], dim=1) (or h_n.transpose(0, 1).reshape(B, -1)).",
        )(_last_h_n_reshaped)

# ------------------------------------------------------------------------ "mean"


def _mean_padded_length(outputs, lengths):
    x, n = _check(outputs, lengths)
    return np.where(_real_steps(n, x.shape[1]), x, 0.0).sum(axis=1) / x.shape[1]


mistake("mean_pool_padded_length", shadows=mean_pool,
        title="Mean divided by the padded length T instead of each sequence's true length",
        explanation="The mean of sequence b is (1/n) sum_{t < n} h^(t) with n = lengths[b]. Dividing by T, the "
                    "width of the padded batch (outputs.mean(dim=1) does, since the padding is zero after "
                    "pad_packed_sequence), shrinks every shorter sequence's mean by n / T. Sum over the real steps "
                    "and divide by lengths[:, None].",
        )(_mean_padded_length)


def _mean_over_padding(outputs, lengths):
    x, n = _check(outputs, lengths)
    if _padding_is_zero(x, n):
        raise ValueError("with zero padding this is mean_pool_padded_length")
    return x.mean(axis=1)


mistake("mean_pool_over_padding", shadows=mean_pool,
        title="Mean taken over all T padded steps, padding values included",
        explanation="outputs.mean(dim=1) averages the padded steps too: whatever they hold is added to the sum, and "
                    "the sum is divided by T instead of n = lengths[b]. The mean is (1/n) sum_{t < n} h^(t): zero "
                    "the padded steps (masked_fill) before summing, then divide by lengths[:, None].",
        )(_mean_over_padding)

# ------------------------------------------------------------------------ "max"


def _max_over_padding(outputs, lengths):
    x, _ = _check(outputs, lengths)
    return x.max(axis=1)


mistake("max_pool_over_padding", shadows=max_pool,
        title="Max taken over the padded steps too, so padding can win the max",
        explanation="outputs.max(dim=1) also looks at the padded steps, so wherever every real value of a feature is "
                    "below what the padding holds (0 after pad_packed_sequence, and LSTM states are often negative), "
                    "the padding wins. The max is max_{t < n} h^(t)_k over the real steps only: set the padded steps "
                    "to -inf (outputs.masked_fill(~mask, float('-inf'))) before taking it.",
        )(_max_over_padding)


def _max_masked_with_zero(outputs, lengths):
    x, n = _check(outputs, lengths)
    if _padding_is_zero(x, n):
        raise ValueError("with zero padding this is max_pool_over_padding")
    return np.where(_real_steps(n, x.shape[1]), x, 0.0).max(axis=1)


mistake("max_pool_masked_with_zero", shadows=max_pool,
        title="Padded steps masked with 0 before the max, where 0 can still win",
        explanation="Masking the padded steps with 0 works for a sum, not for a max: wherever every real value of a "
                    "feature is negative, the 0 of the padding wins. Mask with -inf instead, "
                    "outputs.masked_fill(~mask, float('-inf')), so that the max is max_{t < n} h^(t)_k over the real "
                    "steps only.",
        )(_max_masked_with_zero)

# ------------------------------------------------------------------------ predictions


def _predict_max_logit(logits):
    predict_classes(logits)  # the oracle's checks
    return np.asarray(logits, dtype=np.float64).max(axis=1)


mistake("predict_max_logit", shadows=predict_classes,
        title="predict returns the largest logit instead of its class",
        explanation="The prediction is the class y_hat = argmax_c z_c, an index in 0..C-1, not the value of the "
                    "largest logit max_c z_c. logits.max(dim=1) returns both as (values, indices); take "
                    "logits.argmax(dim=1), a long tensor (B,).",
        )(_predict_max_logit)


def _predict_argmax_over_batch(logits):
    predict_classes(logits)
    return np.asarray(logits, dtype=np.float64).argmax(axis=0).astype(np.int64)


mistake("predict_argmax_over_batch", shadows=predict_classes,
        title="predict takes the argmax over the batch (dim=0) instead of over the classes",
        explanation="The logits have shape (B, C), one row per sequence. argmax(dim=0) asks, for every class, which "
                    "sequence scores it highest (C answers); the prediction is, for every sequence, the class with "
                    "the largest logit: logits.argmax(dim=1), shape (B,).",
        )(_predict_argmax_over_batch)
