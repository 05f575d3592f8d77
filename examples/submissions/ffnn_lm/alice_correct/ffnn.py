"""Alice - ffnn.py, homework 4: a trigram-style feed-forward LM in edugrad."""
from __future__ import annotations

import numpy as np
from edugrad.nn import Linear, Module
from edugrad.ops import Operation, relu, tensor_op
from edugrad.tensor import Tensor


def make_windows(tokens, n, bos_id):
    history = [bos_id] * (n - 1)
    contexts, targets = [], []
    for token in tokens:
        contexts.append(list(history))
        targets.append(token)
        history = history[1:] + [token]
    return np.array(contexts, dtype=np.int64).reshape(len(tokens), n - 1), np.array(targets, dtype=np.int64)


@tensor_op
class embed_window(Operation):
    @staticmethod
    def forward(ctx, embeddings, contexts):
        ctx.append(embeddings)
        ctx.append(contexts)
        slots = [embeddings[contexts[:, k]] for k in range(contexts.shape[1])]
        return np.concatenate(slots, axis=1)

    @staticmethod
    def backward(ctx, grad_output):
        embeddings, contexts = ctx
        dim = embeddings.shape[1]
        grad = np.zeros_like(embeddings, dtype=float)
        for k in range(contexts.shape[1]):
            for row, word in enumerate(contexts[:, k]):
                grad[word] += grad_output[row, k * dim:(k + 1) * dim]
        return [grad, np.zeros(contexts.shape)]


@tensor_op
class tanh(Operation):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.append(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return [grad_output * (1 - ctx[0] ** 2)]


@tensor_op
class cross_entropy(Operation):
    @staticmethod
    def forward(ctx, logits, targets):
        m = np.max(logits, axis=1, keepdims=True)
        log_z = m[:, 0] + np.log(np.sum(np.exp(logits - m), axis=1))
        probs = np.exp(logits - log_z[:, None])
        ctx.extend([probs, targets])
        return np.mean(log_z - logits[np.arange(len(targets)), targets])

    @staticmethod
    def backward(ctx, grad_output):
        probs, targets = ctx
        onehot = np.zeros_like(probs)
        onehot[np.arange(len(targets)), targets] = 1.0
        return [grad_output * (probs - onehot) / len(targets), np.zeros(np.shape(targets))]


class FeedForwardLM(Module):
    def __init__(self, vocab_size, context_size, embedding_dim, hidden_size, nonlinearity="tanh"):
        super().__init__()
        self.nonlinearity = nonlinearity
        self.embeddings = Tensor(np.random.normal(0.0, 0.1, size=(vocab_size, embedding_dim)))
        self.hidden = Linear(context_size * embedding_dim, hidden_size)
        self.output = Linear(hidden_size, vocab_size)

    def forward(self, contexts):
        x = embed_window(self.embeddings, Tensor(contexts))
        a = self.hidden(x)
        if self.nonlinearity == "relu":
            h = relu(a)
        else:
            h = tanh(a)
        return self.output(h)


def train_step(model, optimizer, contexts, targets):
    optimizer.zero_grad()
    loss = cross_entropy(model(contexts), Tensor(targets))
    loss.backward()
    optimizer.step()
    return float(loss.value)
