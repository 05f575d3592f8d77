"""Hidden tests of the ``rnn_classifier`` assignment (40 points): edge cases and the bidirectional model.

Students see these results only after grading; the handout says in general
terms what they cover.
"""
from __future__ import annotations

from grader.testing import points

V, E, H, C = 13, 3, 4, 3
METHODS = ("last", "mean", "max")


# --------------------------------------------------------------------- task 1
@points(4, name="pool_states: a batch of one sequence of length 1 (every method, 1 and 2 directions)")
def test_pool_single_step(kit, credit):
    def case(method: str, bidirectional: bool) -> None:
        kit.check_pooling(kit.outputs([1], 3, 4, padding=None), [1], method, bidirectional)
    kit.cases(credit, [lambda m=m, b=b: case(m, b) for m in METHODS for b in (False, True)])


@points(3, name="pool_states: large values at the padded steps ('mean' and 'max')")
def test_pool_garbage_padding(kit, credit):
    def case(method: str) -> None:
        lengths = kit.lengths(4, 1, 6)
        kit.check_pooling(kit.outputs(lengths, 6, 3, padding=1e3), lengths, method)
    kit.cases(credit, [lambda: case("mean"), lambda: case("max")])


# --------------------------------------------------------------------- task 2
@points(6, name="RNNClassifier, bidirectional, pooling 'mean' and 'max': logits")
def test_logits_bidirectional_mean_max(kit, credit):
    def case(pooling: str) -> None:
        model, weights = kit.model(V, E, H, C, pooling, bidirectional=True)
        lengths = kit.lengths(5, 1, 6)
        kit.check_logits(model, weights, kit.batch(lengths, 6, V), lengths, pooling)
    kit.cases(credit, [lambda: case("mean"), lambda: case("max")])


@points(4, name="RNNClassifier, bidirectional: a batch of one sequence of length 1 (every method)")
def test_logits_single_token(kit, credit):
    def case(pooling: str) -> None:
        model, weights = kit.model(V, E, H, C, pooling, bidirectional=True)
        kit.check_logits(model, weights, kit.batch([1], 1, V), [1], pooling)
    kit.cases(credit, [lambda p=p: case(p) for p in METHODS], noun="pooling methods")


@points(8, name="RNNClassifier, bidirectional: padding does not change the logits (every method)")
def test_padding_invariance_bidirectional(kit, credit):
    def case(pooling: str) -> None:
        model, weights = kit.model(V, E, H, C, pooling, bidirectional=True)
        lengths = kit.lengths(4, 1, 5)
        kit.check_padding_invariance(model, weights, kit.batch(lengths, 5, V), lengths, pooling, extra=4)
    kit.cases(credit, [lambda p=p: case(p) for p in METHODS], noun="pooling methods")


@points(4, name="RNNClassifier, bidirectional 'last': inputs padded beyond the longest sequence")
def test_logits_wide_padding(kit):
    model, weights = kit.model(V, E, H, C, "last", bidirectional=True)
    lengths = kit.lengths(3, 1, 4)
    kit.check_logits(model, weights, kit.batch(lengths, 7, V), lengths, "last")


@points(4, name="RNNClassifier, bidirectional 'mean': a batch of 8 longer sequences")
def test_logits_long_batch(kit):
    model, weights = kit.model(V, E, H, C, "mean", bidirectional=True)
    lengths = kit.lengths(8, 2, 12)
    kit.check_logits(model, weights, kit.batch(lengths, 12, V), lengths, "mean")


@points(3, name="RNNClassifier: two classes, wider embeddings, pooling 'max'")
def test_logits_two_classes(kit):
    model, weights = kit.model(20, 7, 3, 2, "max")
    lengths = kit.lengths(5, 1, 6)
    kit.check_logits(model, weights, kit.batch(lengths, 6, 20), lengths, "max")


# --------------------------------------------------------------------- task 3
@points(4, name="predict: a bidirectional 'max' model; the same predictions under two paddings")
def test_predict_padding(kit, credit):
    model, weights = kit.model(V, E, H, 5, "max", bidirectional=True)
    lengths = kit.lengths(6, 1, 5)
    inputs = kit.batch(lengths, 5, V)
    wide = kit.repad(inputs, lengths, 8, kit.batch(lengths, 8, V))
    kit.cases(credit, [lambda: kit.check_predict(model, weights, inputs, lengths, "max"),
                       lambda: kit.check_predict(model, weights, wide, lengths, "max")],
              noun="paddings (T=5; T=8)")
