"""A deep averaging network (DAN) text classifier, in numpy float64.

Notation, as in the lecture notes: a text ``w_1 .. w_n`` is a bag of words.
Its representation is the average of the word embeddings (rows of ``E``,
shape ``(V, d)``), which feed-forward layers turn into class scores::

    av  = (1/n) sum_{t=1..n} E[w_t]                      (d,)
    z_1 = g(W_1 av + b_1)
    z_k = g(W_k z_{k-1} + b_k)          for k = 2 .. L
    s   = W_s z_L + b_s                                   (C,)  the logits; y_hat = softmax(s)

``g`` is ``relu`` or ``tanh``; with ``L = 0`` hidden layers the logits come
straight from ``av``. Weights are laid out as ``torch.nn.Linear`` stores them,
``(outputs, inputs)``. Word dropout and other training-time tricks are not part
of the forward pass (evaluation mode).

A batch is padded: ``token_ids (B, T)`` with ``lengths (B,)``; positions
``t >= lengths[b]`` are padding and are never read, so they may hold any id.
"""
from __future__ import annotations

from typing import Sequence, Tuple, Union

import numpy as np

from reference.pooling import mean_pool

__all__ = ["dan_forward", "average_embeddings"]

ArrayLike = Union[np.ndarray, Sequence]
_NONLINEARITIES = {"relu": lambda a: np.maximum(a, 0.0), "tanh": np.tanh}


def _float_matrix(value, what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a numeric array: {exc}") from None
    if array.ndim != 2:
        raise ValueError(f"{what} has shape {array.shape}; expected a matrix (outputs, inputs)")
    return array


def _float_vector(value, what: str, size: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a numeric array: {exc}") from None
    if array.shape != (size,):
        raise ValueError(f"{what} has shape {array.shape}; expected ({size},)")
    return array


def average_embeddings(token_ids: ArrayLike, lengths: ArrayLike, embedding: ArrayLike) -> np.ndarray:
    """``av[b] = (1/n_b) sum_{t < n_b} E[token_ids[b, t]]`` with ``n_b = lengths[b]``.

    Shapes: ``token_ids`` (B, T) integers (in 0..V-1 at the real positions),
    ``lengths`` (B,) in 1..T, ``embedding`` (V, d) -> (B, d).
    """
    ids = np.asarray(token_ids)
    if ids.ndim != 2:
        raise ValueError(f"token_ids has shape {ids.shape}; expected (B, T), padded")
    if ids.size and (ids.dtype == np.bool_ or ids.dtype.kind not in "iu"):
        raise ValueError(f"token_ids must hold integer ids, got dtype {ids.dtype}")
    E = _float_matrix(embedding, "embedding")
    n = np.asarray(lengths)
    if n.shape != (ids.shape[0],):
        raise ValueError(f"lengths has shape {n.shape}; expected (B,) = ({ids.shape[0]},)")
    if n.dtype == np.bool_ or n.dtype.kind not in "iu":
        raise ValueError(f"lengths must hold integers, got dtype {n.dtype}")
    if np.any((n < 1) | (n > ids.shape[1])):
        b = int(np.flatnonzero((n < 1) | (n > ids.shape[1]))[0])
        raise ValueError(f"lengths[{b}] = {n[b]} is out of range; every length must be in 1..T = 1..{ids.shape[1]}")
    real = np.arange(ids.shape[1])[None, :] < n[:, None]
    bad = np.argwhere(real & ((ids < 0) | (ids >= E.shape[0])))
    if bad.size:
        position = tuple(int(i) for i in bad[0])
        raise ValueError(f"token_ids{list(position)} = {ids[position]} is outside the vocabulary 0..{E.shape[0] - 1}")
    # Padding is never read: any id there is replaced by 0 before the lookup, then masked out.
    return mean_pool(E[np.where(real, ids, 0)], n)


def dan_forward(
    token_ids: ArrayLike,
    lengths: ArrayLike,
    embedding: ArrayLike,
    hidden_layers: Sequence[Tuple[ArrayLike, ArrayLike]],
    output_weight: ArrayLike,
    output_bias: ArrayLike,
    nonlinearity: str = "relu",
) -> np.ndarray:
    """Logits ``s = W_s z_L + b_s`` of a deep averaging network (see the module docstring).

    ``hidden_layers`` is a sequence of ``(W_k, b_k)`` pairs, ``W_k`` of shape
    ``(H_k, H_{k-1})`` with ``H_0 = d``, ``b_k`` of shape ``(H_k,)``; each is
    followed by ``g`` (``"relu"`` or ``"tanh"``). ``output_weight`` is
    ``(C, H_L)``, ``output_bias`` ``(C,)``.

    Shapes: ``token_ids`` (B, T), ``lengths`` (B,), ``embedding`` (V, d) -> logits (B, C).
    """
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected one of {', '.join(_NONLINEARITIES)}")
    activation = _NONLINEARITIES[nonlinearity]
    z = average_embeddings(token_ids, lengths, embedding)
    for k, layer in enumerate(hidden_layers, start=1):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ValueError(f"hidden layer {k} must be a pair (weight, bias)")
        weight = _float_matrix(layer[0], f"the weight of hidden layer {k}")
        if weight.shape[1] != z.shape[1]:
            raise ValueError(f"the weight of hidden layer {k} has shape {weight.shape}; expected ({weight.shape[0]}, "
                             f"{z.shape[1]}): its inputs are the {z.shape[1]} features below it")
        z = activation(z @ weight.T + _float_vector(layer[1], f"the bias of hidden layer {k}", weight.shape[0]))
    weight = _float_matrix(output_weight, "output_weight")
    if weight.shape[1] != z.shape[1]:
        raise ValueError(f"output_weight has shape {weight.shape}; expected (C, {z.shape[1]})")
    return z @ weight.T + _float_vector(output_bias, "output_bias", weight.shape[0])
