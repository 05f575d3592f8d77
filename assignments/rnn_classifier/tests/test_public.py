"""Public tests of the ``rnn_classifier`` assignment: the self-check students see (60 points).

Every test draws its inputs from the ``rng`` fixture and judges the student's
``classifier.py`` through the ``kit`` fixture (``conftest.py``) against the
numpy oracles :mod:`reference.rnn` and :mod:`reference.pooling`. Padded
positions hold values or ids that a careless implementation would pick up.
"""
from __future__ import annotations

from grader.testing import points

V, E, H, C = 15, 4, 5, 3


# --------------------------------------------------------------------- task 1: pooling
@points(5, name="pool_states 'last': each sequence's state at its true last step (unsorted lengths)")
def test_pool_last(kit):
    lengths = kit.lengths(5, 1, 6)
    kit.check_pooling(kit.outputs(lengths, 6, 4, padding=None), lengths, "last")


@points(5, name="pool_states 'last', bidirectional: forward half at the last step, backward half at step 0")
def test_pool_last_bidirectional(kit):
    lengths = kit.lengths(4, 1, 5)
    kit.check_pooling(kit.outputs(lengths, 5, 6, padding=0.0), lengths, "last", bidirectional=True)


@points(5, name="pool_states 'mean': divided by each sequence's true length")
def test_pool_mean(kit):
    lengths = kit.lengths(5, 1, 7)
    kit.check_pooling(kit.outputs(lengths, 7, 3, padding=0.0), lengths, "mean")


@points(5, name="pool_states 'max': padding never wins, even when every real value is negative")
def test_pool_max(kit):
    lengths = kit.lengths(4, 1, 6)
    kit.check_pooling(kit.outputs(lengths, 6, 5, padding=0.0, shift=-4.0), lengths, "max")


# --------------------------------------------------------------------- task 2: the model
@points(3, name="RNNClassifier: submodules embedding, lstm, classifier with PyTorch's parameter names (1 and 2 directions)")
def test_model_parameters(kit):
    kit.model(V, E, H, C, "last")
    kit.model(11, 3, 6, 2, "max", bidirectional=True)


@points(6, name="RNNClassifier, pooling 'last': logits (a batch of 5 with unsorted lengths; a batch of 1)")
def test_logits_last(kit, credit):
    def batch(size: int, steps: int) -> None:
        model, weights = kit.model(V, E, H, C, "last")
        lengths = kit.lengths(size, 1, steps)
        kit.check_logits(model, weights, kit.batch(lengths, steps, V), lengths, "last")
    kit.cases(credit, [lambda: batch(5, 6), lambda: batch(1, 4)], noun="batches (5 sequences; 1 sequence)")


@points(5, name="RNNClassifier, pooling 'mean': logits")
def test_logits_mean(kit):
    model, weights = kit.model(V, E, H, C, "mean")
    lengths = kit.lengths(5, 1, 7)
    kit.check_logits(model, weights, kit.batch(lengths, 7, V), lengths, "mean")


@points(5, name="RNNClassifier, pooling 'max': logits")
def test_logits_max(kit):
    model, weights = kit.model(V, E, H, C, "max")
    lengths = kit.lengths(5, 1, 7)
    kit.check_logits(model, weights, kit.batch(lengths, 7, V), lengths, "max")


@points(6, name="RNNClassifier, bidirectional, pooling 'last': logits")
def test_logits_bidirectional_last(kit):
    model, weights = kit.model(V, E, H, C, "last", bidirectional=True)
    lengths = kit.lengths(5, 1, 6)
    kit.check_logits(model, weights, kit.batch(lengths, 6, V), lengths, "last")


@points(6, name="RNNClassifier: sequences of length 1 beside longer ones (pooling 'last', 'mean', 'max')")
def test_logits_length_one(kit, credit):
    def case(pooling: str) -> None:
        model, weights = kit.model(V, E, H, C, pooling)
        lengths = kit.lengths(4, 1, 5)
        lengths[[0, 2]] = 1
        kit.check_logits(model, weights, kit.batch(lengths, 5, V), lengths, pooling)
    kit.cases(credit, [lambda p=pooling: case(p) for pooling in ("last", "mean", "max")], noun="pooling methods")


@points(5, name="RNNClassifier: padding does not change the logits (the same batch padded to two lengths)")
def test_padding_invariance(kit):
    model, weights = kit.model(V, E, H, C, "last")
    lengths = kit.lengths(4, 1, 5)
    kit.check_padding_invariance(model, weights, kit.batch(lengths, 5, V), lengths, "last")


# --------------------------------------------------------------------- task 3: predictions
@points(4, name="predict: the class with the largest logit, a long tensor (B,)")
def test_predict(kit):
    model, weights = kit.model(V, E, H, 4, "mean")
    lengths = kit.lengths(6, 1, 6)
    kit.check_predict(model, weights, kit.batch(lengths, 6, V), lengths, "mean")
