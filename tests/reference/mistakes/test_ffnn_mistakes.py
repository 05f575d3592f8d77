"""Mistakes in the feed-forward LM (reference/mistakes/ffnn.py) are real mistakes, and each is diagnosed as itself.

Inputs are chosen so that every mistake shows: contexts of several words (an
order to get wrong) with repeated words (gradient to lose), batches of more
than one example, an upstream gradient other than 1, a bos id other than 0,
and for the softmax overflow logits 1000 apart.
"""
from __future__ import annotations

import numpy as np
import pytest

from grader.diagnosis import arrays_match, diagnose
from reference.ffnn import (PARAMETER_NAMES, cross_entropy_and_grad, ffnn_lm_forward, ffnn_lm_loss_and_grads,
                            ffnn_lm_sgd, sliding_windows, window_embeddings)
from reference.mistakes import get
from tests.reference.mistakes.checks import check_variants_of

V, K, D, H = 6, 3, 2, 4  # vocabulary, context words, embedding size, hidden units


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


def model_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shapes = {"embedding": (V, D), "hidden_weight": (H, K * D), "hidden_bias": (H,), "output_weight": (V, H),
              "output_bias": (V,)}
    return {name: rng.normal(size=shape) for name, shape in shapes.items()}


def exactly_equal(got, candidate) -> bool:
    return np.shape(got) == np.shape(candidate) and bool(np.array_equal(got, candidate))


def same_grads(got: dict, candidate: dict) -> bool:
    return got.keys() == candidate.keys() and all(arrays_match(got[name], candidate[name]) for name in got)


def test_window_mistakes():
    tokens = [7, 3, 9, 3, 5, 8]
    for output in (0, 1):
        # Reversed contexts and a context that includes the target keep the targets; the bos id only shows in contexts.
        skip = {"ffnn_windows_context_reversed", "ffnn_windows_padding_ignores_bos_id",
                "ffnn_windows_context_includes_target"} if output == 1 else set()
        check_variants_of(sliding_windows, (tokens, 4, 2), output=output, same=exactly_equal, skip=skip)


def test_window_mistakes_that_do_not_apply_refuse():
    with pytest.raises(ValueError, match="one word has no order"):
        get("ffnn_windows_context_reversed").evaluate([4, 5, 6], 2, 1)
    with pytest.raises(ValueError, match="bos == 0"):
        get("ffnn_windows_padding_ignores_bos_id").evaluate([4, 5, 6], 3, 0)


def test_windows_without_padding_of_a_sequence_shorter_than_the_window_are_empty():
    contexts, targets = get("ffnn_windows_without_bos_padding").evaluate([4, 5], 4, 1)
    assert contexts.shape == (0, 3) and targets.shape == (0,)


def test_embed_window_mistakes(rng):
    embedding = rng.normal(size=(V, D))
    contexts = np.array([[1, 1, 4], [0, 1, 5]])
    grad_output = rng.normal(size=(2, K * D))
    check_variants_of(window_embeddings, (embedding, contexts, grad_output), output=0,
                      skip={"ffnn_embed_window_backward_fancy_index", "ffnn_embed_window_backward_ignores_upstream"})
    check_variants_of(window_embeddings, (embedding, contexts, grad_output), output=1)


def test_embed_window_mistakes_that_do_not_apply_refuse(rng):
    embedding, distinct = rng.normal(size=(V, D)), np.array([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="loses nothing"):
        get("ffnn_embed_window_backward_fancy_index").evaluate(embedding, distinct, rng.normal(size=(2, 2 * D)))
    with pytest.raises(ValueError, match="no order"):
        get("ffnn_embed_window_reversed").evaluate(embedding, np.array([[2], [3]]), rng.normal(size=(2, D)))


def test_cross_entropy_mistakes(rng):
    logits, targets = rng.normal(0.0, 2.0, size=(4, 5)), np.array([0, 3, 3, 1])
    args = (logits, targets, 1.7)
    only_forward = {"ffnn_cross_entropy_sums_batch", "ffnn_cross_entropy_per_example"}
    only_backward = {"ffnn_cross_entropy_backward_times_batch", "ffnn_cross_entropy_backward_ignores_upstream"}
    overflow = {"ffnn_cross_entropy_softmax_overflow"}
    # Summing changes both outputs; the look-alike in the gradient is the backward that forgets 1/B.
    check_variants_of(cross_entropy_and_grad, args, output=0, skip=only_backward | overflow)
    check_variants_of(cross_entropy_and_grad, args, output=1, skip=overflow | {"ffnn_cross_entropy_per_example"},
                      look_alikes={"ffnn_cross_entropy_sums_batch": {"ffnn_cross_entropy_backward_times_batch"},
                                   "ffnn_cross_entropy_backward_times_batch": {"ffnn_cross_entropy_sums_batch"}})
    large = logits + np.array([[1000.0], [-1000.0], [0.0], [0.0]])
    for output in (0, 1):
        check_variants_of(cross_entropy_and_grad, (large, targets, 1.7), output=output,
                          skip=only_forward | only_backward)


def test_cross_entropy_mistakes_that_do_not_apply_refuse(rng):
    logits, targets = rng.normal(size=(1, 4)), np.array([2])
    for mistake_id, match in (("ffnn_cross_entropy_sums_batch", "one loss"),
                              ("ffnn_cross_entropy_backward_times_batch", "1/B is 1"),
                              ("ffnn_cross_entropy_softmax_overflow", "does not overflow")):
        with pytest.raises(ValueError, match=match):
            get(mistake_id).evaluate(logits, targets, 2.0)
    with pytest.raises(ValueError, match="grad_output = 1"):
        get("ffnn_cross_entropy_backward_ignores_upstream").evaluate(logits, targets)


def test_the_overflowing_loss_is_not_finite():
    logits = np.array([[1000.0, 0.0, -2.0], [-1000.0, -1001.0, -999.0]])
    loss, grad = get("ffnn_cross_entropy_softmax_overflow").evaluate(logits, np.array([1, 2]))
    assert not np.isfinite(loss) and not np.all(np.isfinite(grad))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_forward_mistakes(rng, nonlinearity):
    weights = model_weights(rng)
    contexts = rng.integers(0, V, size=(5, K))
    other = {"tanh": "ffnn_tanh_instead_of_relu", "relu": "ffnn_relu_instead_of_tanh"}[nonlinearity]
    checked = check_variants_of(ffnn_lm_forward, (contexts,), {**weights, "nonlinearity": nonlinearity}, skip={other})
    assert {"ffnn_context_reversed", "ffnn_forward_returns_probabilities"} <= set(checked)
    with pytest.raises(ValueError, match="only a"):
        get(other).evaluate(contexts, **weights, nonlinearity=nonlinearity)


def test_a_bigram_context_cannot_be_reversed(rng):
    weights = {**model_weights(rng), "hidden_weight": rng.normal(size=(H, D))}
    with pytest.raises(ValueError, match="no order"):
        get("ffnn_context_reversed").evaluate(np.array([[1], [2]]), **weights)


def test_gradient_mistakes(rng):
    weights = model_weights(rng)
    contexts, targets = np.array([[1, 1, 2], [3, 1, 0], [2, 5, 5]]), np.array([0, 4, 2])
    check_variants_of(ffnn_lm_loss_and_grads, (contexts, targets), weights, output=1, same=same_grads)
    _, lost = get("ffnn_embedding_grad_fancy_index").evaluate(contexts, targets, **weights)
    _, right = ffnn_lm_loss_and_grads(contexts, targets, **weights)
    assert all(np.array_equal(lost[name], right[name]) for name in PARAMETER_NAMES if name != "embedding")
    with pytest.raises(ValueError, match="loses nothing"):
        get("ffnn_embedding_grad_fancy_index").evaluate(np.array([[0, 1, 2]]), np.array([3]), **weights)


def loss_of_last_step(steps: list) -> float:
    return steps[-1][0]


def weights_after_last_step(steps: list) -> dict:
    return steps[-1][1]


def test_sgd_mistakes(rng):
    weights = model_weights(rng)
    batches = [(rng.integers(0, V, size=(4, K)), rng.integers(0, V, size=4)) for _ in range(2)]
    args, kwargs = (batches,), {**weights, "lr": 0.3}
    check_variants_of(ffnn_lm_sgd, args, kwargs, output=loss_of_last_step,
                      skip={"ffnn_sgd_no_zero_grad"})  # the loss before step 2 is taken at the same weights
    check_variants_of(ffnn_lm_sgd, args, kwargs, output=weights_after_last_step, same=same_grads,
                      skip={"ffnn_sgd_loss_after_step"})


def test_sgd_mistakes_on_one_step(rng):
    weights = model_weights(rng)
    batches = [(rng.integers(0, V, size=(4, K)), rng.integers(0, V, size=4))]
    with pytest.raises(ValueError, match="zero gradients either way"):
        get("ffnn_sgd_no_zero_grad").evaluate(batches, **weights, lr=0.3)
    got = get("ffnn_sgd_no_step").evaluate(batches, **weights, lr=0.3)
    named = diagnose(weights_after_last_step(got), ffnn_lm_sgd, (batches,), {**weights, "lr": 0.3},
                     output=weights_after_last_step, same=same_grads).matched
    assert [entry.id for entry in named] == ["ffnn_sgd_no_step"]
