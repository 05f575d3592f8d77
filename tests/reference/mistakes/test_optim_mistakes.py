"""Mistakes in a clipped SGD step (reference/mistakes/optim.py) are real mistakes, each diagnosed as itself."""
from __future__ import annotations

import numpy as np
import pytest

from reference.mistakes import get
from reference.optim import sgd_step
from tests.reference.mistakes.checks import check_variants_of

SHAPES = {"embedding.weight": (6, 3), "lstm.weight_hh_l0": (8, 2), "output.bias": (6,)}


def flat(params: dict) -> np.ndarray:
    return np.concatenate([params[name].ravel() for name in SHAPES])


@pytest.fixture
def step_inputs():
    rng = np.random.default_rng(20261122)
    params = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    grads = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    grads["output.bias"] *= 0.01  # one short gradient, so per-parameter clipping differs from the global one
    previous = {name: rng.normal(scale=0.3, size=shape) for name, shape in SHAPES.items()}
    return params, grads, previous


def test_step_mistakes(step_inputs):
    params, grads, previous = step_inputs
    check_variants_of(sgd_step, (params, grads, 0.5, 1.5), {"previous_grads": previous}, output=flat)


@pytest.mark.parametrize("mistake_id, max_norm", [
    ("sgd_clip_after_step", 1e3), ("sgd_clip_per_parameter", 1e3), ("sgd_clip_by_value", 1e3),
    ("sgd_clip_by_value", 10.0), ("sgd_clip_per_parameter", None), ("sgd_no_zero_grad", 1.0)])
def test_a_mistake_that_changes_nothing_raises(step_inputs, mistake_id, max_norm):
    """Without clipping, below the norm, or on a first step (no previous gradients), these change nothing."""
    params, grads, _ = step_inputs
    with pytest.raises(ValueError):
        get(mistake_id).evaluate(params, grads, 0.5, max_norm)


def test_no_step_leaves_the_parameters(step_inputs):
    params, grads, _ = step_inputs
    got = get("sgd_no_step").evaluate(params, grads, 0.5, 1.0)
    assert all(np.array_equal(got[name], params[name]) for name in SHAPES)
