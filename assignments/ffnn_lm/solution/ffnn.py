"""Reference solution: a fixed-window feed-forward language model on edugrad.

An order-``n`` model predicts ``w_t`` from the ``n - 1`` words before it:
``e = [E[w_{t-n+1}]; ...; E[w_{t-1}]]``, ``h = g(e W1 + b1)``, ``z = h U + b2``,
``y_hat = softmax(z)``. Batches hold one context per row; edugrad's ``Linear``
stores its weight as ``(inputs, outputs)`` and computes ``x W + b``.
"""
from __future__ import annotations

import numpy as np
from edugrad.nn import Linear, Module
from edugrad.ops import Operation, relu, tensor_op
from edugrad.optim import Optimizer
from edugrad.tensor import Tensor

__all__ = ["make_windows", "embed_window", "tanh", "cross_entropy", "FeedForwardLM", "train_step"]


# ---------------------------------------------------------------------- task 1
def make_windows(tokens: list[int], n: int, bos_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Contexts ``(N, n-1)`` and targets ``(N,)`` (int64) of one sequence, padded with ``n - 1`` bos ids."""
    padded = [bos_id] * (n - 1) + list(tokens)
    contexts = np.array([padded[t:t + n - 1] for t in range(len(tokens))], dtype=np.int64).reshape(len(tokens), n - 1)
    return contexts, np.array(tokens, dtype=np.int64)


# ---------------------------------------------------------------------- task 2
@tensor_op
class embed_window(Operation):
    """Look up and concatenate a window of embeddings: (V, d), (B, k) -> (B, k d), oldest word first."""

    @staticmethod
    def forward(ctx, embeddings, contexts):
        ctx.append(embeddings.shape)
        ctx.append(contexts)
        return embeddings[contexts].reshape(contexts.shape[0], -1)

    @staticmethod
    def backward(ctx, grad_output):
        shape, contexts = ctx
        grad_embeddings = np.zeros(shape)
        # Each row of the window slot k gets its slice; repeated words add up.
        np.add.at(grad_embeddings, contexts, grad_output.reshape(contexts.shape + (shape[1],)))
        return [grad_embeddings, np.zeros(contexts.shape)]


@tensor_op
class tanh(Operation):
    """y = tanh(x); dL/dx = g * (1 - y**2)."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.append(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx
        return [grad_output * (1.0 - y * y)]


@tensor_op
class cross_entropy(Operation):
    """J = mean_i -log softmax(z_i)[targets[i]] from logits (B, V) and targets (B,); dJ/dz = (p - Y) / B."""

    @staticmethod
    def forward(ctx, logits, targets):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        ctx.append(np.exp(log_probs))
        ctx.append(targets)
        rows = np.arange(logits.shape[0])
        return np.array(-log_probs[rows, targets].mean())

    @staticmethod
    def backward(ctx, grad_output):
        probs, targets = ctx
        grad = probs.copy()
        grad[np.arange(len(targets)), targets] -= 1.0
        return [grad_output * grad / len(targets), np.zeros(targets.shape)]


# ---------------------------------------------------------------------- task 3
class FeedForwardLM(Module):
    """Embeddings of the n-1 context words, concatenated -> hidden layer (tanh or relu) -> vocabulary logits."""

    def __init__(self, vocab_size: int, context_size: int, embedding_dim: int, hidden_size: int,
                 nonlinearity: str = "tanh") -> None:
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.embeddings = Tensor(np.random.uniform(-0.1, 0.1, size=(vocab_size, embedding_dim)), name="E")
        self.hidden = Linear(context_size * embedding_dim, hidden_size)
        self.output = Linear(hidden_size, vocab_size)

    def forward(self, contexts: np.ndarray) -> Tensor:
        """contexts (B, n-1) integer ids -> logits (B, V), a Tensor in the graph of the parameters."""
        e = embed_window(self.embeddings, Tensor(np.asarray(contexts)))
        pre_activation = self.hidden(e)
        h = tanh(pre_activation) if self.nonlinearity == "tanh" else relu(pre_activation)
        return self.output(h)


# ---------------------------------------------------------------------- task 4
def train_step(model: FeedForwardLM, optimizer: Optimizer, contexts: np.ndarray, targets: np.ndarray) -> float:
    """One SGD update on a batch: zero the gradients, loss, backward, step. Returns the loss before the update."""
    optimizer.zero_grad()
    loss = cross_entropy(model(contexts), Tensor(np.asarray(targets)))
    loss.backward()
    optimizer.step()
    return float(loss.value)
