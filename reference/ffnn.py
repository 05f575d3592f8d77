"""A fixed-window feed-forward neural language model, in numpy float64.

Notation, as in the lecture notes: a model of order ``n`` predicts the word
``w_t`` from the ``n - 1`` words before it. Each context word is embedded
with the rows of ``E`` (shape ``(V, d)``), and the embeddings are
concatenated **oldest first**::

    e = [E[w_{t-n+1}]; ...; E[w_{t-2}]; E[w_{t-1}]]       ((n-1) d,)
    h = g(W e + b1)                                       (H,)     g = tanh or relu
    z = U h + b2                                          (V,)     the logits
    y_hat = softmax(z)

Weights are laid out as ``torch.nn.Linear`` stores them (outputs first):
``W`` is ``(H, (n-1) d)`` and ``U`` is ``(V, H)``. A batch holds one context per
row: ``contexts (B, n-1)`` and logits ``(B, V)``.

Training examples come from a token sequence by sliding a window of ``n``
words over it, after ``n - 1`` copies of a beginning-of-sequence id so that
every token, the first one included, is a target (:func:`sliding_windows`).

The building blocks a course has students write as edugrad ops have oracles of
their own, forward value and backward gradient together:
:func:`window_embeddings` (the lookup and concatenation) and
:func:`cross_entropy_and_grad` (the mean cross-entropy from logits). Training
with plain SGD is :func:`ffnn_lm_sgd`.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

__all__ = ["NONLINEARITIES", "PARAMETER_NAMES", "cross_entropy_and_grad", "ffnn_lm_forward", "ffnn_lm_loss_and_grads",
           "ffnn_lm_sgd", "sliding_windows", "window_embeddings"]

ArrayLike = Union[np.ndarray, Sequence]
NONLINEARITIES = ("tanh", "relu")
# The keyword names of the weights, in order; ffnn_lm_loss_and_grads returns gradients under these keys.
PARAMETER_NAMES = ("embedding", "hidden_weight", "hidden_bias", "output_weight", "output_bias")


def _as_int(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _as_ids(ids, what: str, ndim: int) -> np.ndarray:
    array = np.asarray(ids)
    if array.size and (array.dtype == np.bool_ or array.dtype.kind not in "iu"):
        raise ValueError(f"{what} must hold integer token ids, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise ValueError(f"{what} has shape {array.shape}; expected {ndim} axis/axes")
    return array.astype(np.int64)


def _as_floats(value, what: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a numeric array: {exc}") from None
    if array.shape != shape:
        raise ValueError(f"{what} has shape {array.shape}; expected {shape}")
    return array


def sliding_windows(token_ids: ArrayLike, n: int, bos: int) -> tuple[np.ndarray, np.ndarray]:
    """The (context, target) pairs of an order-``n`` model over one token sequence.

    The sequence ``w_1 .. w_N`` is prefixed with ``n - 1`` copies of ``bos``;
    example ``t`` (for ``t = 1 .. N``) has the target ``w_t`` and the context
    ``(w_{t-n+1}, ..., w_{t-1})``, oldest first, where positions before the
    start hold ``bos``. So ``contexts[0]`` is all ``bos``, and the last
    column of ``contexts`` is the previous word.

    Shapes: ``token_ids`` (N,) integers; returns ``contexts`` (N, n-1) and
    ``targets`` (N,), both int64 (empty for an empty sequence). ``n >= 2``.
    """
    n = _as_int(n, "n")
    if n < 2:
        raise ValueError(f"n is the window size including the target and must be at least 2, got {n}")
    bos = _as_int(bos, "bos")
    tokens = _as_ids(token_ids, "token_ids", 1)
    padded = np.concatenate([np.full(n - 1, bos, dtype=np.int64), tokens])
    rows = np.arange(tokens.size)[:, None] + np.arange(n - 1)[None, :]
    return padded[rows].reshape(tokens.size, n - 1), tokens.copy()


def _check_lookup(contexts, embedding) -> tuple[np.ndarray, np.ndarray]:
    """Validated int64 contexts ``(B, n-1)`` and float64 embedding ``(V, d)``, every id inside the vocabulary."""
    ids = _as_ids(contexts, "contexts", 2)
    try:
        E = np.asarray(embedding, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"embedding must be a numeric array: {exc}") from None
    if E.ndim != 2 or E.shape[0] == 0:
        raise ValueError(f"embedding has shape {E.shape}; expected (V, d) with V >= 1")
    if ids.shape[1] < 1:
        raise ValueError(f"contexts has shape {ids.shape}; expected (B, n-1) with n-1 >= 1")
    bad = np.argwhere((ids < 0) | (ids >= E.shape[0]))
    if bad.size:
        position = tuple(int(i) for i in bad[0])
        raise ValueError(f"contexts{list(position)} = {ids[position]} is outside the vocabulary 0..{E.shape[0] - 1}")
    return ids, E


def _check_model(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias, nonlinearity):
    """Validated float64 weights and int64 contexts, with every shape checked against the others."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected one of {', '.join(NONLINEARITIES)}")
    ids, E = _check_lookup(contexts, embedding)
    d, window = E.shape[1], ids.shape[1]
    W = np.asarray(hidden_weight, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] != window * d:
        raise ValueError(f"hidden_weight has shape {W.shape}; expected (H, (n-1) d) with (n-1) d = {window} * {d} = {window * d}")
    H = W.shape[0]
    b1 = _as_floats(hidden_bias, "hidden_bias", (H,))
    U = np.asarray(output_weight, dtype=np.float64)
    if U.ndim != 2 or U.shape[1] != H:
        raise ValueError(f"output_weight has shape {U.shape}; expected (V, H) with H = {H} from hidden_weight")
    b2 = _as_floats(output_bias, "output_bias", (U.shape[0],))
    return ids, E, W, b1, U, b2


def _forward(ids, E, W, b1, U, b2, nonlinearity):
    """(e, a, h, z): concatenated embeddings, pre-activations, hidden layer, logits."""
    e = E[ids].reshape(ids.shape[0], -1)
    a = e @ W.T + b1
    h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)
    return e, a, h, h @ U.T + b2


def _check_targets(targets, batch: int, vocab: int) -> np.ndarray:
    """Validated int64 targets ``(B,)``, one per row of a non-empty batch, each in ``0..vocab-1``."""
    y = _as_ids(targets, "targets", 1)
    if y.shape != (batch,):
        raise ValueError(f"targets has shape {y.shape}; expected (B,) = ({batch},), one per context")
    if batch == 0:
        raise ValueError("the batch is empty: the mean loss of no examples is undefined")
    bad = np.flatnonzero((y < 0) | (y >= vocab))
    if bad.size:
        raise ValueError(f"targets[{bad[0]}] = {y[bad[0]]} is outside the vocabulary 0..{vocab - 1}")
    return y


def _mean_nll(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of logits ``z`` (B, V) and its gradient ``(softmax(z) - Y) / B``."""
    shifted = z - z.max(axis=1, keepdims=True)  # exp of at most 0: no overflow
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(z.shape[0])
    dz = np.exp(log_p)
    dz[rows, y] -= 1.0
    return float(-log_p[rows, y].mean()), dz / z.shape[0]


def _scatter_rows(shape: tuple[int, int], ids: np.ndarray, slices: np.ndarray) -> np.ndarray:
    """A ``shape`` matrix whose row ``r`` sums the ``slices[i, k]`` (B, n-1, d) with ``ids[i, k] == r``."""
    grad = np.zeros(shape)
    np.add.at(grad, ids, slices)  # unlike grad[ids] += slices, adds every repeat of a word
    return grad


def ffnn_lm_forward(
    contexts: ArrayLike,
    embedding: ArrayLike,
    hidden_weight: ArrayLike,
    hidden_bias: ArrayLike,
    output_weight: ArrayLike,
    output_bias: ArrayLike,
    nonlinearity: str = "tanh",
) -> np.ndarray:
    """Logits of a fixed-window feed-forward LM: ``z = U g(W e + b1) + b2``.

    ``e`` concatenates the embeddings of the context, oldest word first
    (``e[k*d:(k+1)*d] = E[contexts[:, k]]``); ``g`` is ``"tanh"`` or ``"relu"``.

    Shapes: ``contexts`` (B, n-1) integers in 0..V-1; ``embedding`` (V, d);
    ``hidden_weight`` (H, (n-1) d); ``hidden_bias`` (H,); ``output_weight``
    (V', H); ``output_bias`` (V',) (``V' = V`` for a language model).
    Returns the logits (B, V').
    """
    weights = _check_model(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias, nonlinearity)
    return _forward(*weights, nonlinearity)[3]


def _loss_and_grads(contexts, targets, embedding, hidden_weight, hidden_bias, output_weight, output_bias,
                    nonlinearity) -> tuple[float, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """:func:`ffnn_lm_loss_and_grads`, plus the int64 contexts and the slices ``de`` (B, n-1, d) of dJ/de."""
    ids, E, W, b1, U, b2 = _check_model(contexts, embedding, hidden_weight, hidden_bias, output_weight, output_bias,
                                        nonlinearity)
    y = _check_targets(targets, ids.shape[0], U.shape[0])
    e, a, h, z = _forward(ids, E, W, b1, U, b2, nonlinearity)
    loss, dz = _mean_nll(z, y)
    dh = dz @ U
    da = dh * (1.0 - h * h) if nonlinearity == "tanh" else dh * (a > 0)
    de = (da @ W).reshape(ids.shape + (E.shape[1],))
    grads = {"embedding": _scatter_rows(E.shape, ids, de), "hidden_weight": da.T @ e, "hidden_bias": da.sum(axis=0),
             "output_weight": dz.T @ h, "output_bias": dz.sum(axis=0)}
    return loss, grads, ids, de


def ffnn_lm_loss_and_grads(
    contexts: ArrayLike,
    targets: ArrayLike,
    embedding: ArrayLike,
    hidden_weight: ArrayLike,
    hidden_bias: ArrayLike,
    output_weight: ArrayLike,
    output_bias: ArrayLike,
    nonlinearity: str = "tanh",
) -> tuple[float, dict[str, np.ndarray]]:
    """The mean cross-entropy of a batch and its gradient with respect to every weight.

    ``J = (1/B) sum_i -log softmax(z_i)[targets[i]]`` (nats), with ``z`` from
    :func:`ffnn_lm_forward`. Backpropagation, with ``p = softmax(z)`` and
    ``Y`` the one-hot targets::

        dz  = (p - Y) / B                   dU = dz^T h,      db2 = sum_i dz_i
        da  = (dz U) * g'(a)                dW = da^T e,      db1 = sum_i da_i
        de  = da W                          dE[r] = sum of de's slices whose context word is r

    ``g'(a) = 1 - tanh(a)^2`` for tanh and ``[a > 0]`` for relu (0 at the kink,
    as PyTorch). A word that appears several times in the contexts gets the
    sum of its slices.

    Shapes: ``targets`` (B,) integers in 0..V'-1, the rest as in
    :func:`ffnn_lm_forward`. Returns ``(J, grads)`` with ``grads`` keyed by
    :data:`PARAMETER_NAMES`, each of its weight's shape.
    """
    loss, grads, _, _ = _loss_and_grads(contexts, targets, embedding, hidden_weight, hidden_bias, output_weight,
                                        output_bias, nonlinearity)
    return loss, grads


def window_embeddings(embedding: ArrayLike, contexts: ArrayLike,
                      grad_output: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The concatenated embeddings of a batch of contexts, and the gradient that reaches the embedding matrix.

    Forward, oldest word first: ``e[i, k*d:(k+1)*d] = E[contexts[i, k]]``.
    Backward, for the upstream gradient ``G = dL/de``: every row of ``E``
    receives the sum of the slices of ``G`` at the positions of its word,
    ``dL/dE[r] = sum_{(i, k): contexts[i, k] = r} G[i, k*d:(k+1)*d]`` (a word
    used twice gets both; a word not used gets 0).

    Shapes: ``embedding`` (V, d); ``contexts`` (B, n-1) integers in 0..V-1;
    ``grad_output`` (B, (n-1) d). Returns ``(e, dL/dE)``: (B, (n-1) d) and (V, d).
    """
    ids, E = _check_lookup(contexts, embedding)
    width = ids.shape[1] * E.shape[1]
    G = _as_floats(grad_output, "grad_output", (ids.shape[0], width))
    return E[ids].reshape(ids.shape[0], width), _scatter_rows(E.shape, ids, G.reshape(ids.shape + (E.shape[1],)))


def cross_entropy_and_grad(logits: ArrayLike, targets: ArrayLike,
                           grad_output: float = 1.0) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of a batch of logits, and the gradient ``g * dJ/dz`` for an upstream ``g``.

    ``J = (1/B) sum_i -log softmax(z_i)[targets[i]]`` (nats), computed with
    each row's maximum subtracted first (softmax does not change, and no exp
    overflows for logits of any size); ``dJ/dz = (softmax(z) - Y) / B`` with
    ``Y`` the one-hot targets, times ``g = grad_output`` (a number: ``J`` is
    one).

    Shapes: ``logits`` (B, V) finite, ``targets`` (B,) integers in 0..V-1,
    ``B >= 1``. Returns ``(J, g * dJ/dz)``: a float and (B, V).
    """
    try:
        z = np.asarray(logits, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"logits must be a numeric array: {exc}") from None
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"logits has shape {z.shape}; expected (B, V) with V >= 1")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits must be finite")
    y = _check_targets(targets, z.shape[0], z.shape[1])
    g = float(np.asarray(_as_floats(grad_output, "grad_output", ())))
    loss, dz = _mean_nll(z, y)
    return loss, g * dz


def ffnn_lm_sgd(
    batches: Sequence[tuple[ArrayLike, ArrayLike]],
    embedding: ArrayLike,
    hidden_weight: ArrayLike,
    hidden_bias: ArrayLike,
    output_weight: ArrayLike,
    output_bias: ArrayLike,
    lr: float,
    nonlinearity: str = "tanh",
) -> list[tuple[float, dict[str, np.ndarray]]]:
    """Plain SGD on a sequence of batches: one step ``theta <- theta - lr * dJ_s/dtheta`` per batch.

    Step ``s`` computes the mean cross-entropy ``J_s`` of batch ``s``
    (``(contexts, targets)``) and its gradients at the current weights with
    :func:`ffnn_lm_loss_and_grads` (fresh gradients: nothing carries over from
    the step before), then updates every weight.

    Shapes: the weights as in :func:`ffnn_lm_forward`; ``lr > 0``. Returns, per
    step, ``(J_s, weights after the update)``: the loss **before** the update
    and a dict keyed by :data:`PARAMETER_NAMES`.
    """
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.integer, np.floating)) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if len(batches) == 0:
        raise ValueError("batches is empty: there is no step to take")
    weights = dict(zip(PARAMETER_NAMES, (embedding, hidden_weight, hidden_bias, output_weight, output_bias)))
    weights = {name: np.asarray(value, dtype=np.float64) for name, value in weights.items()}
    steps = []
    for contexts, targets in batches:
        loss, grads = ffnn_lm_loss_and_grads(contexts, targets, **weights, nonlinearity=nonlinearity)
        weights = {name: weights[name] - lr * grads[name] for name in PARAMETER_NAMES}
        steps.append((loss, weights))
    return steps
