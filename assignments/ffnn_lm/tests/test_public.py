"""Public tests of the ``ffnn_lm`` assignment: the self-check students see (60 points).

Every test draws its inputs from the ``rng`` fixture and judges the student's
``ffnn.py`` through the ``kit`` fixture (``conftest.py``) against the numpy
oracles of :mod:`reference.ffnn`. Backward checks seed a random upstream
gradient (never all ones).
"""
from __future__ import annotations

import numpy as np

from grader.testing import points


def _sentence(kit, length: int, vocab: int, avoid: int) -> list[int]:
    words = np.setdiff1d(np.arange(vocab), [avoid])
    return [int(w) for w in kit.rng.choice(words, size=length)]


# --------------------------------------------------------------------- task 1: windows
@points(6, name="make_windows: every token a target, contexts padded with bos (n=3; n=4 with another bos id)")
def test_make_windows(kit, credit):
    bos = int(kit.rng.integers(20, 30))
    kit.cases(credit, [lambda: kit.check_windows(_sentence(kit, 6, 20, 0), 3, 0),
                       lambda: kit.check_windows(_sentence(kit, 7, 20, bos), 4, bos)],
              noun="cases (n=3; n=4)")


# --------------------------------------------------------------------- task 2: ops
@points(4, name="embed_window: forward, the context embeddings concatenated oldest first (a batch; a batch of 1)")
def test_embed_window_forward(kit, credit):
    kit.cases(credit, [
        lambda: kit.check_embed_window(kit.rng.normal(size=(7, 3)), kit.rng.permutation(7)[:6].reshape(3, 2), backward=False),
        lambda: kit.check_embed_window(kit.rng.normal(size=(5, 4)), kit.rng.integers(0, 5, size=(1, 3)), backward=False),
    ])


@points(5, name="embed_window: backward, repeated words add up their gradients (distinct words; repeated words)")
def test_embed_window_backward(kit, credit):
    repeated = np.array([[2, 2], [4, 2], [0, 4], [2, 4]])
    kit.cases(credit, [
        lambda: kit.check_embed_window(kit.rng.normal(size=(8, 3)), kit.rng.permutation(8)[:6].reshape(2, 3)),
        lambda: kit.check_embed_window(kit.rng.normal(size=(6, 2)), repeated),
    ])


@points(4, name="tanh: forward and backward (a batch of shape (4, 5))")
def test_tanh(kit, credit):
    x = kit.rng.normal(0.0, 1.5, size=(4, 5))
    kit.cases(credit, [lambda: kit.check_tanh(x, backward=False), lambda: kit.check_tanh(x)],
              noun="checks (forward; backward)")


@points(4, name="cross_entropy: forward, the mean over the batch (a batch of 5; a batch of 1)")
def test_cross_entropy_forward(kit, credit):
    kit.cases(credit, [
        lambda: kit.check_cross_entropy(kit.rng.normal(0.0, 2.0, size=(5, 6)), kit.rng.integers(0, 6, size=5), backward=False),
        lambda: kit.check_cross_entropy(kit.rng.normal(0.0, 2.0, size=(1, 4)), kit.rng.integers(0, 4, size=1), backward=False),
    ])


@points(4, name="cross_entropy: backward, (softmax - onehot) / B times the upstream gradient")
def test_cross_entropy_backward(kit, credit):
    kit.cases(credit, [
        lambda: kit.check_cross_entropy(kit.rng.normal(0.0, 2.0, size=(5, 6)), kit.rng.integers(0, 6, size=5)),
        lambda: kit.check_cross_entropy(kit.rng.normal(0.0, 2.0, size=(2, 3)), kit.rng.integers(0, 3, size=2)),
    ])


# --------------------------------------------------------------------- task 3: the model
@points(3, name="FeedForwardLM: parameters embeddings, hidden.weight/bias, output.weight/bias with the right shapes")
def test_model_parameters(kit):
    kit.model(11, 2, 4, 6)
    kit.model(7, 3, 2, 5, nonlinearity="relu")


@points(6, name="FeedForwardLM: logits with tanh (n=3, a batch of 6; a batch of 1)")
def test_logits_tanh(kit, credit):
    def batch(size: int) -> None:
        model, weights = kit.model(10, 2, 3, 5, "tanh")
        kit.check_logits(model, weights, kit.rng.integers(0, 10, size=(size, 2)), "tanh")
    kit.cases(credit, [lambda: batch(6), lambda: batch(1)], noun="batches (6 contexts; 1 context)")


@points(4, name="FeedForwardLM: logits with relu (n=4)")
def test_logits_relu(kit):
    model, weights = kit.model(9, 3, 2, 6, "relu")
    kit.check_logits(model, weights, kit.rng.integers(0, 9, size=(5, 3)), "relu")


@points(6, name="FeedForwardLM: the gradient of the loss reaches every parameter (tanh, repeated context words)")
def test_model_gradients(kit):
    model, weights = kit.model(8, 2, 3, 4, "tanh")
    contexts = kit.rng.integers(0, 4, size=(6, 2))  # few distinct words: repeats are certain
    kit.check_model_gradients(model, weights, contexts, kit.rng.integers(0, 8, size=6), "tanh")


# --------------------------------------------------------------------- task 4: training
@points(6, name="train_step: one SGD step (parameters read back, and the returned loss)")
def test_train_step(kit):
    kit.check_train_steps(steps=1)


@points(8, name="Training on the tiny corpus lowers the loss (recomputed by the grader from your parameters)")
def test_training_lowers_loss(kit):
    """Five epochs of the student's train_step; the loss before and after comes from the oracle.

    The losses train_step returns are not used: the grader reads the trained
    parameters back and computes the corpus loss itself.
    """
    kit.check_training(n=3, nonlinearity="tanh")
