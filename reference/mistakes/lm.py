"""Classic mistakes in language-model batches, losses and perplexity, shadowing :mod:`reference.lm`.

Notation as in the lecture notes and the oracles: the model reads ``x^(1) .. x^(t)``
and predicts ``ŷ^(t) = softmax(z^(t))``; the loss of a step is
``J^(t) = -log ŷ^(t)[x^(t+1)]``, the loss of a batch their mean over the ``N``
real tokens, and the perplexity ``exp(J)``. A batch is right-padded: step ``t``
of sentence ``b`` is real while ``t < lengths[b]``.

The loss variants return, like :func:`reference.lm.masked_cross_entropy`, the
loss and its gradient with respect to the logits, so that the same mistake is
recognised in a loss and in the gradient that autograd derives from it.
Mistakes of the LSTM run over a packed batch (:func:`reference.rnn.rnn`) are in
:mod:`reference.mistakes.rnn`.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from reference.lm import _as_ids, _padded_batch, corpus_perplexity, lm_batch, log_softmax, masked_cross_entropy
from reference.mistakes import mistake

# ----------------------------------------------------------------- inputs and targets


def _lm_targets_not_shifted(sentences, bos, eos, pad):
    inputs, _, lengths = lm_batch(sentences, bos, eos, pad)
    return inputs, inputs.copy(), lengths


mistake("lm_targets_not_shifted", shadows=lm_batch,
        title="Targets not shifted: the model is asked to predict the token it is reading",
        explanation="Your targets are the inputs [bos, w_1, ..., w_n], so at step t the model is trained to output "
                    "x^(t), the token it has just read. A language model predicts the NEXT token: the loss at step t "
                    "is J^(t) = -log ŷ^(t)[x^(t+1)], so for inputs [bos, w_1, ..., w_n] the targets are "
                    "[w_1, ..., w_n, eos], the inputs shifted one step to the left.",
        )(_lm_targets_not_shifted)


def _lm_eos_after_padding(sentences, bos, eos, pad):
    inputs, _, lengths = lm_batch(sentences, bos, eos, pad)
    words = [_as_ids(sentence, "sentence").reshape(-1) for sentence in sentences]
    if len({len(w) for w in words}) == 1:
        raise ValueError("sentences of one length have no padding for eos to follow")
    targets = np.full(inputs.shape, pad, dtype=np.int64)
    for b, row in enumerate(words):
        targets[b, : len(row)] = row
    targets[:, -1] = eos
    return inputs, targets, lengths


mistake("lm_eos_after_padding", shadows=lm_batch,
        title="eos appended after the padding instead of right after each sentence",
        explanation="You padded the sentences first and then added eos as one last column, so in every sentence "
                    "shorter than the longest, the target after the last word is pad and eos sits in the padding. "
                    "Add bos and eos to each sentence first (inputs [bos, w_1, ..., w_n], targets "
                    "[w_1, ..., w_n, eos]), then pad both.",
        )(_lm_eos_after_padding)

# ----------------------------------------------------------------------- the loss


def _all_targets(logits, targets) -> np.ndarray:
    """The targets at every position, padding included (a variant that reads padding needs real ids there)."""
    ids = _as_ids(targets, "targets")
    if np.any(ids < 0) or np.any(ids >= np.shape(logits)[-1]):
        raise ValueError("a padded target is not a token id, so code that reads padding could not have run")
    return ids


def _weighted_loss(z: np.ndarray, ids: np.ndarray, weight: np.ndarray) -> tuple[float, np.ndarray]:
    """``J = sum w[b, t] * nll[b, t]`` and its gradient ``w[b, t] * (softmax(z[b, t]) - onehot(ids[b, t]))``."""
    log_probs = log_softmax(z)
    nll = -np.take_along_axis(log_probs, ids[..., None], axis=-1)[..., 0]
    grad = (np.exp(log_probs) - np.eye(z.shape[-1])[ids]) * weight[..., None]
    return float(np.sum(weight * nll)), grad


def _loss_variant(weight_of: Callable[[np.ndarray, np.ndarray], np.ndarray], read_padding: bool = False) -> Callable:
    """A loss that weighs each token's NLL by ``weight_of(mask, lengths)`` instead of ``mask / N``."""

    def variant(logits, targets, lengths):
        z, ids, lengths, mask = _padded_batch(logits, targets, lengths)
        if read_padding:
            ids = _all_targets(logits, targets)
        return _weighted_loss(z, ids, weight_of(mask, lengths))

    return variant


_RIGHT_LOSS = "J = (1/N) Σ_b Σ_{t < lengths[b]} -log ŷ^(t)[x^(t+1)] with N = Σ_b lengths[b], the number of real tokens"

mistake("loss_counts_padding", shadows=masked_cross_entropy,
        title="Padding counted in the loss: the mean runs over all B * T positions",
        explanation=f"Your loss averages the cross-entropy over every position of the padded batch, so the padded "
                    f"positions, which are not tokens, add to the sum and to the count. Leave them out of both: "
                    f"{_RIGHT_LOSS}. Mask the positions t >= lengths[b] (lengths_to_mask), or give them "
                    f"ignore_index in cross_entropy.",
        )(_loss_variant(lambda mask, lengths: np.full(mask.shape, 1.0 / mask.size), read_padding=True))

mistake("loss_padding_in_denominator", shadows=masked_cross_entropy,
        title="Padding masked out of the sum but counted in the denominator (divided by B * T)",
        explanation=f"You zero the loss at the padded positions but then divide by B * T, the size of the padded "
                    f"batch, so a batch with more padding gets a smaller loss. Divide by the number of real tokens: "
                    f"{_RIGHT_LOSS}.",
        )(_loss_variant(lambda mask, lengths: mask / mask.size))


def _sentence_weights(mask: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    if np.any(lengths == 0):
        raise ValueError("an empty sentence has no mean loss")
    return mask / (len(lengths) * lengths[:, None])


mistake("loss_mean_of_sentence_means", shadows=masked_cross_entropy,
        title="Loss averaged per sentence, then over sentences",
        explanation=f"You take each sentence's mean loss and then the mean over the sentences, so a token of a short "
                    f"sentence weighs more than a token of a long one. Every real token of the batch weighs the "
                    f"same: {_RIGHT_LOSS}.",
        )(_loss_variant(_sentence_weights))

mistake("loss_sum_not_mean", shadows=masked_cross_entropy,
        title="Loss summed over the tokens instead of averaged",
        explanation=f"You return the sum of the per-token losses; the loss is their mean over the real tokens, "
                    f"{_RIGHT_LOSS}. A sum grows with the batch, and so do the gradients and the size of every "
                    f"update.",
        )(_loss_variant(lambda mask, lengths: mask.astype(np.float64)))

for _base, _name in ((2, "2"), (10, "10")):
    mistake(f"loss_log_base_{_name}", shadows=masked_cross_entropy,
            title=f"Loss computed with log base {_name} instead of the natural log",
            explanation=f"Your loss is in log base {_name} (the nats divided by ln {_name}). The loss of a language "
                        f"model is in nats: J^(t) = -ln ŷ^(t)[x^(t+1)], the natural log that log_softmax and "
                        f"cross_entropy compute, and the perplexity is exp(J).",
            )(_loss_variant(lambda mask, lengths, _b=_base: mask / (mask.sum() * math.log(_b))))


def _softmax_before_cross_entropy(logits, targets, lengths):
    z, ids, lengths, mask = _padded_batch(logits, targets, lengths)
    probs = np.exp(log_softmax(z))
    loss, grad_probs = _weighted_loss(probs, ids, mask / mask.sum())
    # Back through the first softmax: dJ/dz = p * (dJ/dp - <p, dJ/dp>).
    grad = probs * (grad_probs - np.sum(probs * grad_probs, axis=-1, keepdims=True))
    return loss, grad


mistake("loss_softmax_before_cross_entropy", shadows=masked_cross_entropy,
        title="Softmax applied to the logits before a cross-entropy that expects logits",
        explanation="torch.nn.functional.cross_entropy (and log_softmax followed by nll_loss) takes the raw scores "
                    "z^(t) and applies the softmax itself. Passing softmax(z^(t)) computes -log softmax(softmax(z))[y], "
                    "a different, nearly flat loss whose gradients are tiny. Pass the logits unchanged.",
        )(_softmax_before_cross_entropy)


def _softmax_overflow(logits, targets, lengths):
    z, ids, lengths, mask = _padded_batch(logits, targets, lengths)
    # What float32 code computes with exp(z) / sum(exp(z)): exp overflows to inf above z = 88.7.
    z32 = z.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exps = np.exp(z32)
        probs = exps / exps.sum(axis=-1, keepdims=True)
        nll = -np.log(np.take_along_axis(probs, ids[..., None], axis=-1)[..., 0]).astype(np.float64)
    overflowed = mask & ~np.all(np.isfinite(exps), axis=-1)
    if not overflowed.any():
        raise ValueError("no logit is large enough to overflow exp in float32")
    loss = float(np.sum(np.where(mask, nll, 0.0)) / mask.sum())
    grad = masked_cross_entropy(logits, targets, lengths)[1]
    grad[overflowed] = np.nan
    return loss, grad


mistake("loss_softmax_overflow", shadows=masked_cross_entropy,
        title="Softmax computed as exp(z) / sum(exp(z)) without subtracting the max: overflow on large logits",
        explanation="exp(z) overflows to inf in float32 as soon as a logit exceeds about 88, and inf / inf is nan, so "
                    "the loss becomes nan or inf. Subtract each row's maximum first, log softmax(z)_i = z_i - m - "
                    "log Σ_j exp(z_j - m) with m = max_j z_j, which is what torch.log_softmax and cross_entropy do: "
                    "use them.",
        )(_softmax_overflow)

# ----------------------------------------------------------------------- perplexity


def _batch_parts(batches) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per batch: the per-token NLL at real tokens (0 at padding) and the lengths."""
    if len(batches) == 0:
        raise ValueError("corpus_perplexity needs at least one batch")
    parts = []
    for logits, targets, lengths in batches:
        z, ids, lengths, mask = _padded_batch(logits, targets, lengths)
        nll = -np.take_along_axis(log_softmax(z), ids[..., None], axis=-1)[..., 0]
        parts.append((np.where(mask, nll, 0.0), lengths))
    return parts


def _mean_of_sentence_perplexities(batches):
    sentences = [np.exp(nll.sum(axis=1) / lengths) for nll, lengths in _batch_parts(batches)]
    return float(np.mean(np.concatenate(sentences)))


def _mean_of_batch_perplexities(batches):
    return float(np.mean([np.exp(nll.sum() / lengths.sum()) for nll, lengths in _batch_parts(batches)]))


def _exp_of_mean_batch_loss(batches):
    return float(np.exp(np.mean([nll.sum() / lengths.sum() for nll, lengths in _batch_parts(batches)])))


def _perplexity_counts_padding(batches):
    total, count = 0.0, 0
    for logits, targets, lengths in batches:
        z = np.asarray(logits, dtype=np.float64)
        ids = _all_targets(z, targets)
        total += float(-np.take_along_axis(log_softmax(z), ids[..., None], axis=-1).sum())
        count += ids.size
    return float(np.exp(total / count))


_RIGHT_PERPLEXITY = ("perplexity = exp( Σ over all batches of the summed NLL of the real tokens / Σ over all batches "
                     "of N ), the exponential of the mean loss in which every real token of the corpus weighs the same")

mistake("perplexity_mean_of_sentence_perplexities", shadows=corpus_perplexity,
        title="Perplexity averaged over sentences instead of over tokens",
        explanation=f"You compute one perplexity per sentence and average them. Short sentences then weigh as much as "
                    f"long ones, and the mean of exponentials is not the exponential of the mean. The corpus "
                    f"perplexity is {_RIGHT_PERPLEXITY}.",
        )(_mean_of_sentence_perplexities)

mistake("perplexity_mean_of_batch_perplexities", shadows=corpus_perplexity,
        title="Perplexity averaged over batches: the mean of per-batch perplexities",
        explanation=f"You compute exp(J) for each batch and average those, so a small batch weighs as much as a big "
                    f"one. Sum the NLL and count the real tokens over all batches first, then exponentiate once: "
                    f"{_RIGHT_PERPLEXITY}.",
        )(_mean_of_batch_perplexities)

mistake("perplexity_mean_of_batch_losses", shadows=corpus_perplexity,
        title="Perplexity as exp of the mean of per-batch mean losses",
        explanation=f"You average the batches' mean losses and exponentiate: a batch with few tokens weighs as much "
                    f"as one with many. Sum the NLL and the real tokens over all batches, then divide once: "
                    f"{_RIGHT_PERPLEXITY}.",
        )(_exp_of_mean_batch_loss)

mistake("perplexity_counts_padding", shadows=corpus_perplexity,
        title="Padding counted in the perplexity",
        explanation=f"Your perplexity includes the padded positions (t >= lengths[b]) in the NLL sum and in the token "
                    f"count. Padding is not text: {_RIGHT_PERPLEXITY}.",
        )(_perplexity_counts_padding)

def _perplexity_in_base(base: int) -> Callable:
    def variant(batches):
        return float(base ** math.log(corpus_perplexity(batches)))  # base ** J, with J = ln(exp(J)) in nats
    return variant


for _base, _name in ((2, "2"), (10, "10")):
    mistake(f"perplexity_base_{_name}", shadows=corpus_perplexity,
            title=f"Perplexity as {_name} ** J with J in nats, instead of exp(J)",
            explanation=f"The loss J is in nats (natural log), so the perplexity is exp(J). {_name} ** J mixes bases: "
                        f"it would only be right for a loss computed with log base {_name}, and then it equals exp "
                        f"of the loss in nats anyway.",
            )(_perplexity_in_base(_base))
