"""Hidden tests of the ``ffnn_lm`` assignment (40 points): edge cases, other window sizes, more training.

Students see these results only after grading; the handout says in general
terms what they cover.
"""
from __future__ import annotations

import numpy as np

from grader.testing import points


# --------------------------------------------------------------------- task 1
@points(4, name="make_windows: a bigram model (n=2), a sequence shorter than the window, a single token")
def test_make_windows_edge_cases(kit, credit):
    bos = int(kit.rng.integers(50, 60))
    kit.cases(credit, [
        lambda: kit.check_windows([int(t) for t in kit.rng.integers(0, 40, size=5)], 2, bos),
        lambda: kit.check_windows([int(t) for t in kit.rng.integers(0, 40, size=2)], 5, bos),
        lambda: kit.check_windows([int(kit.rng.integers(0, 40))], 3, bos),
    ])


# --------------------------------------------------------------------- task 2
@points(4, name="embed_window: one word in every slot; a context of one word (forward and backward)")
def test_embed_window_edge_cases(kit, credit):
    word = int(kit.rng.integers(0, 6))
    kit.cases(credit, [
        lambda: kit.check_embed_window(kit.rng.normal(size=(6, 3)), np.full((3, 4), word)),
        lambda: kit.check_embed_window(kit.rng.normal(size=(5, 2)), kit.rng.integers(0, 5, size=(4, 1))),
    ])


@points(2, name="tanh on inputs of magnitude up to 800: finite forward and backward")
def test_tanh_extreme(kit):
    kit.check_tanh(np.concatenate([kit.rng.uniform(-800.0, 800.0, size=4), [-800.0, 750.0]]).reshape(2, 3))


@points(4, name="cross_entropy on logits 1000 apart: no overflow (forward and backward)")
def test_cross_entropy_extreme(kit, credit):
    logits = kit.rng.normal(0.0, 2.0, size=(3, 5)) + kit.rng.choice([-1000.0, 1000.0], size=(3, 1))
    logits[0, 2] += 1000.0
    targets = kit.rng.integers(0, 5, size=3)
    kit.cases(credit, [lambda: kit.check_cross_entropy(logits, targets, backward=False),
                       lambda: kit.check_cross_entropy(logits, targets)], noun="checks (forward; backward)")


@points(2, name="cross_entropy: two classes; a batch of one")
def test_cross_entropy_small(kit, credit):
    kit.cases(credit, [
        lambda: kit.check_cross_entropy(kit.rng.normal(0.0, 2.0, size=(4, 2)), kit.rng.integers(0, 2, size=4)),
        lambda: kit.check_cross_entropy(kit.rng.normal(0.0, 2.0, size=(1, 7)), kit.rng.integers(0, 7, size=1)),
    ])


# --------------------------------------------------------------------- task 3
@points(4, name="FeedForwardLM: a bigram model (one context word); a batch of one context")
def test_logits_small(kit, credit):
    def case(k: int, size: int, nonlinearity: str) -> None:
        model, weights = kit.model(8, k, 3, 4, nonlinearity)
        kit.check_logits(model, weights, kit.rng.integers(0, 8, size=(size, k)), nonlinearity)
    kit.cases(credit, [lambda: case(1, 5, "tanh"), lambda: case(3, 1, "relu")])


@points(3, name="FeedForwardLM: a 5-gram model (four context words), tanh and relu")
def test_logits_wide_window(kit, credit):
    def case(nonlinearity: str) -> None:
        model, weights = kit.model(12, 4, 2, 7, nonlinearity)
        kit.check_logits(model, weights, kit.rng.integers(0, 12, size=(6, 4)), nonlinearity)
    kit.cases(credit, [lambda: case("tanh"), lambda: case("relu")])


@points(4, name="FeedForwardLM: gradients with relu and a word repeated in every context")
def test_model_gradients_relu(kit):
    model, weights = kit.model(7, 3, 2, 5, "relu")
    contexts = kit.rng.integers(0, 7, size=(5, 3))
    contexts[:, 1] = int(kit.rng.integers(0, 7))
    kit.check_model_gradients(model, weights, contexts, kit.rng.integers(0, 7, size=5), "relu")


# --------------------------------------------------------------------- task 4
@points(5, name="train_step: two steps in a row (gradients zeroed between them)")
def test_train_two_steps(kit):
    kit.check_train_steps(steps=2)


@points(3, name="train_step with a relu model")
def test_train_step_relu(kit):
    kit.check_train_steps(steps=1, nonlinearity="relu", lr=0.3)


@points(5, name="Training a 4-gram relu model on the tiny corpus lowers the loss (recomputed by the grader)")
def test_training_four_gram_relu(kit):
    kit.check_training(n=4, nonlinearity="relu")
