"""Classic mistakes in a fixed-window feed-forward language model, shadowing :mod:`reference.ffnn`.

Notation as in the lecture notes and the oracles: an order-``n`` model predicts
``w_t`` from the context ``(w_{t-n+1}, ..., w_{t-1})``, oldest word first;
``e = [E[w_{t-n+1}]; ...; E[w_{t-1}]]``, ``h = g(W e + b1)`` with ``g`` tanh or
relu, ``z = U h + b2`` the logits, ``J`` the mean cross-entropy of a batch of
``B`` examples, ``Y`` the one-hot targets and ``G`` the upstream gradient.

One section per oracle: the windows (:func:`~reference.ffnn.sliding_windows`),
the embedding op (:func:`~reference.ffnn.window_embeddings`), the loss op
(:func:`~reference.ffnn.cross_entropy_and_grad`), the model's forward pass and
gradients, and SGD training (:func:`~reference.ffnn.ffnn_lm_sgd`). A variant
raises ``ValueError`` on inputs where its mistake changes nothing (one context
word cannot be reversed, a batch of one has equal sum and mean): no match.
"""
from __future__ import annotations

import numpy as np

from reference.ffnn import (PARAMETER_NAMES, _check_lookup, _check_targets, _loss_and_grads,
                            cross_entropy_and_grad, ffnn_lm_forward, ffnn_lm_loss_and_grads, ffnn_lm_sgd,
                            sliding_windows, window_embeddings)
from reference.mistakes import mistake

# ---------------------------------------------------------------------- windows


@mistake("ffnn_windows_without_bos_padding", shadows=sliding_windows,
         title="Windows start at the first full window: the first n - 1 tokens are never targets",
         explanation="Every token w_1 .. w_N must be a target, the first one included, so there are N examples. Pad "
                     "the start of the sequence with n - 1 copies of bos_id, [bos] * (n - 1) + tokens, and slide the "
                     "window over the padded sequence: the context of w_1 is all bos, that of w_2 ends with w_1.")
def _windows_without_bos_padding(token_ids, n, bos):
    contexts, targets = sliding_windows(token_ids, n, bos)
    return contexts[n - 1:], targets[n - 1:]


@mistake("ffnn_windows_context_reversed", shadows=sliding_windows,
         title="Window contexts in reverse order (the previous word first)",
         explanation="A context lists its words oldest first, (w_{t-n+1}, ..., w_{t-1}): the last column of "
                     "contexts is the word just before the target. Your contexts start with the previous word.")
def _windows_context_reversed(token_ids, n, bos):
    if n < 3:
        raise ValueError("a context of one word has no order")
    contexts, targets = sliding_windows(token_ids, n, bos)
    return contexts[:, ::-1], targets


@mistake("ffnn_windows_padding_ignores_bos_id", shadows=sliding_windows,
         title="Windows padded with 0 instead of the bos_id argument",
         explanation="The positions before the first word hold the beginning-of-sequence id the caller passes as "
                     "bos_id (a corpus numbers its words its own way): pad with [bos_id] * (n - 1), not with 0.")
def _windows_padding_ignores_bos_id(token_ids, n, bos):
    if bos == 0:
        raise ValueError("with bos == 0, padding with 0 is right")
    return sliding_windows(token_ids, n, 0)


@mistake("ffnn_windows_context_includes_target", shadows=sliding_windows,
         title="Window contexts shifted by one: each context ends with its own target",
         explanation="The context of target w_t is the n - 1 words BEFORE it, (w_{t-n+1}, ..., w_{t-1}); "
                     "with the padded sequence p = [bos] * (n - 1) + tokens that is p[t:t + n - 1] for the t-th "
                     "target (counting from 0). A context that contains w_t lets the model copy the answer.")
def _windows_context_includes_target(token_ids, n, bos):
    contexts, targets = sliding_windows(token_ids, n, bos)
    return np.concatenate([contexts[:, 1:], targets[:, None]], axis=1), targets

# ---------------------------------------------------------------------- the embedding op


@mistake("ffnn_embed_window_reversed", shadows=window_embeddings,
         title="embed_window concatenates the context embeddings newest first",
         explanation="e = [E[w_{t-n+1}]; ...; E[w_{t-1}]]: the embedding of column 0 of contexts (the oldest word) "
                     "comes first, that of the last column (the previous word) last, so "
                     "embeddings[contexts].reshape(B, -1) without reversing anything.")
def _embed_window_reversed(embedding, contexts, grad_output):
    ids, _ = _check_lookup(contexts, embedding)
    if ids.shape[1] < 2:
        raise ValueError("a context of one word has no order")
    return window_embeddings(embedding, ids[:, ::-1], grad_output)


@mistake("ffnn_embed_window_backward_fancy_index", shadows=window_embeddings,
         title="embed_window backward uses grad[contexts] += ..., so repeated words lose gradient",
         explanation="A word that occurs several times in the contexts must receive the SUM of the gradients of "
                     "all its positions: dL/dE[r] = sum over (i, k) with contexts[i, k] = r of G's slice. numpy "
                     "applies grad[contexts] += slices once per distinct word and keeps one contribution; "
                     "np.add.at(grad, contexts, slices) adds them all.")
def _embed_window_backward_fancy_index(embedding, contexts, grad_output):
    e, _ = window_embeddings(embedding, contexts, grad_output)
    ids, E = _check_lookup(contexts, embedding)
    if np.unique(ids).size == ids.size:
        raise ValueError("without a repeated word, grad[contexts] += ... loses nothing")
    grad = np.zeros(E.shape)
    grad[ids] += np.asarray(grad_output, dtype=np.float64).reshape(ids.shape + (E.shape[1],))
    return e, grad


@mistake("ffnn_embed_window_backward_ignores_upstream", shadows=window_embeddings,
         title="embed_window backward ignores the upstream gradient grad_output",
         explanation="By the chain rule each word's row receives the slices of the upstream gradient "
                     "G = grad_output at its positions, not a count of ones: "
                     "np.add.at(grad, contexts, G.reshape(B, n - 1, d)).")
def _embed_window_backward_ignores_upstream(embedding, contexts, grad_output):
    e, _ = window_embeddings(embedding, contexts, grad_output)
    return e, window_embeddings(embedding, contexts, np.ones(e.shape))[1]

# ---------------------------------------------------------------------- the loss op


def _nll_and_probabilities(logits, targets, unshifted: bool = False):
    """Per-example losses (B,), softmax(z) (B, V) and one-hot targets; ``unshifted``: exp(z) without the max."""
    z = np.asarray(logits, dtype=np.float64)
    y = _check_targets(targets, z.shape[0], z.shape[1])
    with np.errstate(all="ignore"):
        shifted = z if unshifted else z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -log_p[np.arange(len(y)), y], np.exp(log_p), np.eye(z.shape[1])[y]


@mistake("ffnn_cross_entropy_sums_batch", shadows=cross_entropy_and_grad,
         title="cross_entropy sums the losses of the batch instead of averaging them",
         explanation="The loss is the MEAN over the batch, J = (1/B) sum_i -log softmax(z_i)[t_i], and its "
                     "gradient (softmax(z) - Y) / B. A sum is B times larger, and so is every step of SGD.")
def _cross_entropy_sums_batch(logits, targets, grad_output=1.0):
    loss, grad = cross_entropy_and_grad(logits, targets, grad_output)
    batch = grad.shape[0]
    if batch == 1:
        raise ValueError("the sum and the mean of one loss are equal")
    return loss * batch, grad * batch


@mistake("ffnn_cross_entropy_per_example", shadows=cross_entropy_and_grad,
         title="cross_entropy returns one loss per example instead of their mean",
         explanation="The loss is one number, a 0-d array: the mean over the batch of the per-example losses "
                     "-log softmax(z_i)[t_i], not the vector of shape (B,) (backward then gets one upstream number).")
def _cross_entropy_per_example(logits, targets, grad_output=1.0):
    _, grad = cross_entropy_and_grad(logits, targets, grad_output)
    return _nll_and_probabilities(logits, targets)[0], grad


@mistake("ffnn_cross_entropy_softmax_overflow", shadows=cross_entropy_and_grad,
         title="cross_entropy does not subtract each row's maximum, so exp overflows on large logits",
         explanation="exp(1000) is inf in float64 (and exp(-1000) is 0, whose log is -inf), so the loss becomes inf "
                     "or nan. Softmax does not change when a row is shifted: compute "
                     "log softmax(z_i) = (z_i - m_i) - log sum_j exp(z_ij - m_i) with m_i = max_j z_ij, so that every "
                     "exp is at most 1.")
def _cross_entropy_softmax_overflow(logits, targets, grad_output=1.0):
    nll, p, onehot = _nll_and_probabilities(logits, targets, unshifted=True)
    with np.errstate(all="ignore"):
        loss, grad = nll.mean(), float(grad_output) * (p - onehot) / len(nll)
    if np.isfinite(loss) and np.all(np.isfinite(grad)):
        raise ValueError("exp does not overflow on these logits")
    return loss, grad


@mistake("ffnn_cross_entropy_backward_times_batch", shadows=cross_entropy_and_grad,
         title="cross_entropy backward leaves out the 1/B of the mean",
         explanation="The forward pass averages over the B examples, so the gradient is averaged too: "
                     "dJ/dz = (softmax(z) - Y) / B, times grad_output.")
def _cross_entropy_backward_times_batch(logits, targets, grad_output=1.0):
    loss, grad = cross_entropy_and_grad(logits, targets, grad_output)
    if grad.shape[0] == 1:
        raise ValueError("with one example, 1/B is 1")
    return loss, grad * grad.shape[0]


@mistake("ffnn_cross_entropy_backward_ignores_upstream", shadows=cross_entropy_and_grad,
         title="cross_entropy backward ignores the upstream gradient grad_output",
         explanation="By the chain rule dL/dz = g * (softmax(z) - Y) / B with g = grad_output. It is 1 only when "
                     "the loss is the end of the graph; scaled or combined losses pass another g.")
def _cross_entropy_backward_ignores_upstream(logits, targets, grad_output=1.0):
    if float(np.asarray(grad_output)) == 1.0:
        raise ValueError("with grad_output = 1, ignoring it changes nothing")
    return cross_entropy_and_grad(logits, targets, 1.0)

# ---------------------------------------------------------------------- the model's forward pass


@mistake("ffnn_relu_instead_of_tanh", shadows=ffnn_lm_forward,
         title="The hidden layer applies relu where nonlinearity='tanh' was asked",
         explanation="h = tanh(W e + b1) when nonlinearity is 'tanh' and relu(W e + b1) = max(0, W e + b1) only "
                     "when it is 'relu'. Store the nonlinearity in __init__ and choose the function in forward.")
def _relu_instead_of_tanh(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias,
                          nonlinearity="tanh"):
    if nonlinearity != "tanh":
        raise ValueError("only a tanh model can be mistaken for a relu one")
    return ffnn_lm_forward(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias, "relu")


@mistake("ffnn_tanh_instead_of_relu", shadows=ffnn_lm_forward,
         title="The hidden layer applies tanh where nonlinearity='relu' was asked",
         explanation="With nonlinearity='relu' the hidden layer is h = relu(W e + b1) = max(0, W e + b1); tanh is "
                     "the default only. Store the nonlinearity in __init__ and choose the function in forward.")
def _tanh_instead_of_relu(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias,
                          nonlinearity="tanh"):
    if nonlinearity != "relu":
        raise ValueError("only a relu model can be mistaken for a tanh one")
    return ffnn_lm_forward(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias, "tanh")


@mistake("ffnn_context_reversed", shadows=ffnn_lm_forward,
         title="The model concatenates the context embeddings newest first",
         explanation="e = [E[w_{t-n+1}]; ...; E[w_{t-1}]]: column 0 of contexts (the oldest word) fills the first d "
                     "inputs of the hidden layer and the previous word the last d. The model's logits are those of "
                     "the contexts read in reverse.")
def _context_reversed(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias, nonlinearity="tanh"):
    ids, _ = _check_lookup(contexts, embedding)
    if ids.shape[1] < 2:
        raise ValueError("a context of one word has no order")
    return ffnn_lm_forward(ids[:, ::-1], embedding, hidden_weight, hidden_bias, output_weight, output_bias,
                           nonlinearity)


@mistake("ffnn_forward_returns_probabilities", shadows=ffnn_lm_forward,
         title="The model's forward returns softmax probabilities instead of logits",
         explanation="forward returns the logits z = U h + b2; cross_entropy applies the softmax itself. Returning "
                     "softmax(z) makes the loss apply a second softmax, which flattens the distribution and "
                     "weakens the gradients.")
def _forward_returns_probabilities(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias,
                                   nonlinearity="tanh"):
    z = ffnn_lm_forward(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias, nonlinearity)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)

# ---------------------------------------------------------------------- the model's gradients


@mistake("ffnn_embedding_grad_fancy_index", shadows=ffnn_lm_loss_and_grads,
         title="A word repeated in the contexts gets one gradient slice instead of the sum (grad[contexts] += ...)",
         explanation="Only the embeddings' gradient is off, at the words that occur several times in the contexts: "
                     "each occurrence contributes, dE[r] = sum of the slices of de at the positions of word r. "
                     "grad[contexts] += slices in embed_window's backward keeps one of them; "
                     "np.add.at(grad, contexts, slices) adds them all.")
def _embedding_grad_fancy_index(contexts, targets, embedding, hidden_weight, hidden_bias, output_weight, output_bias,
                                nonlinearity="tanh"):
    loss, grads, ids, de = _loss_and_grads(contexts, targets, embedding, hidden_weight, hidden_bias, output_weight,
                                           output_bias, nonlinearity)
    if np.unique(ids).size == ids.size:
        raise ValueError("without a repeated word, grad[contexts] += ... loses nothing")
    lost = np.zeros(grads["embedding"].shape)
    lost[ids] += de
    return loss, {**grads, "embedding": lost}

# ---------------------------------------------------------------------- SGD training


def _weights(embedding, hidden_weight, hidden_bias, output_weight, output_bias) -> dict[str, np.ndarray]:
    values = (embedding, hidden_weight, hidden_bias, output_weight, output_bias)
    return {name: np.asarray(value, dtype=np.float64) for name, value in zip(PARAMETER_NAMES, values)}


@mistake("ffnn_sgd_no_zero_grad", shadows=ffnn_lm_sgd,
         title="train_step does not zero the gradients: each step adds the previous steps' gradients",
         explanation="backward ADDS to every parameter's .grad (a parameter used twice needs the sum), so the "
                     "gradients of the previous batch are still there: step s then moves by lr times the sum of "
                     "the gradients of batches 1 .. s. Call optimizer.zero_grad() before loss.backward().")
def _sgd_no_zero_grad(batches, embedding, hidden_weight, hidden_bias, output_weight, output_bias, lr,
                      nonlinearity="tanh"):
    if len(batches) < 2:
        raise ValueError("the first step starts from zero gradients either way")
    weights = _weights(embedding, hidden_weight, hidden_bias, output_weight, output_bias)
    accumulated = {name: np.zeros(value.shape) for name, value in weights.items()}
    steps = []
    for contexts, targets in batches:
        loss, grads = ffnn_lm_loss_and_grads(contexts, targets, **weights, nonlinearity=nonlinearity)
        accumulated = {name: accumulated[name] + grads[name] for name in PARAMETER_NAMES}
        weights = {name: weights[name] - lr * accumulated[name] for name in PARAMETER_NAMES}
        steps.append((loss, weights))
    return steps


@mistake("ffnn_sgd_loss_after_step", shadows=ffnn_lm_sgd,
         title="train_step returns the loss computed after optimizer.step()",
         explanation="train_step returns the loss of the batch BEFORE the update, the value whose gradient the "
                     "step used: compute loss = cross_entropy(model(contexts), targets), call backward and step, "
                     "then return float(loss.value) without running the model again.")
def _sgd_loss_after_step(batches, embedding, hidden_weight, hidden_bias, output_weight, output_bias, lr,
                         nonlinearity="tanh"):
    steps = ffnn_lm_sgd(batches, embedding, hidden_weight, hidden_bias, output_weight, output_bias, lr, nonlinearity)
    return [(ffnn_lm_loss_and_grads(contexts, targets, **weights, nonlinearity=nonlinearity)[0], weights)
            for (contexts, targets), (_, weights) in zip(batches, steps)]


@mistake("ffnn_sgd_no_step", shadows=ffnn_lm_sgd,
         title="train_step never updates the parameters (no optimizer.step() after backward)",
         explanation="backward only computes the gradients; optimizer.step() applies theta <- theta - lr * grad. "
                     "Call it after loss.backward() (and zero the gradients before backward, not between backward "
                     "and step).")
def _sgd_no_step(batches, embedding, hidden_weight, hidden_bias, output_weight, output_bias, lr, nonlinearity="tanh"):
    weights = _weights(embedding, hidden_weight, hidden_bias, output_weight, output_bias)
    return [(ffnn_lm_loss_and_grads(contexts, targets, **weights, nonlinearity=nonlinearity)[0], weights)
            for contexts, targets in batches]
