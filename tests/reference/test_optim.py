"""reference.optim.sgd_step against torch.nn.utils.clip_grad_norm_ followed by torch.optim.SGD, in float64."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reference.optim import sgd_step
from tests.reference.conftest import assert_close

SHAPES = {"embedding.weight": (5, 3), "lstm.weight_ih_l0": (8, 3), "lstm.bias_ih_l0": (8,), "output.bias": (5,)}


def _torch_step(params: dict, grads: dict, lr: float, max_norm) -> dict:
    tensors = {name: torch.nn.Parameter(torch.tensor(value, dtype=torch.float64)) for name, value in params.items()}
    for name, tensor in tensors.items():
        tensor.grad = torch.tensor(grads[name], dtype=torch.float64)
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(tensors.values(), max_norm)
    torch.optim.SGD(tensors.values(), lr=lr).step()
    return {name: tensor.detach().numpy() for name, tensor in tensors.items()}


@pytest.mark.parametrize("factor", [0.05, 0.7, 1.0 - 1e-9, 3.0, None])
def test_sgd_step_matches_torch(factor, rng):
    params = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    grads = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    max_norm = None if factor is None else factor * norm
    got = sgd_step(params, grads, 0.3, max_norm)
    want = _torch_step(params, grads, 0.3, max_norm)
    assert set(got) == set(want)
    for name in want:
        assert_close(got[name], want[name], what=name)


def test_clipping_scales_every_gradient_by_one_factor(rng):
    params = {name: np.zeros(shape) for name, shape in SHAPES.items()}
    grads = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    got = sgd_step(params, grads, 1.0, norm / 4)
    ratios = [(-got[name] / grads[name]).ravel() for name in SHAPES]
    assert np.allclose(np.concatenate(ratios), 1 / 4, rtol=1e-5)
    assert all(np.shares_memory(got[name], params[name]) is False for name in SHAPES)


def test_previous_gradients_do_not_change_a_correct_step(rng):
    params = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    grads = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    previous = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    with_previous = sgd_step(params, grads, 0.1, 1.0, previous_grads=previous)
    for name, value in sgd_step(params, grads, 0.1, 1.0).items():
        assert np.array_equal(value, with_previous[name])


@pytest.mark.parametrize("grads, lr, max_norm, message", [
    ({"a": np.ones(2)}, 0.1, None, "same keys"),
    ({"a": np.ones(3), "b": np.ones(2)}, 0.1, None, r"grads\['a'\] has shape"),
    ({"a": np.ones(2), "b": np.ones(2)}, -1.0, None, "lr must be"),
    ({"a": np.ones(2), "b": np.ones(2)}, 0.1, "1", "max_norm must be"),
    ({"a": np.ones(2), "b": np.ones(2)}, 0.1, -1.0, "max_norm must be a finite number >= 0"),
])
def test_bad_arguments_are_named(grads, lr, max_norm, message):
    with pytest.raises(ValueError, match=message):
        sgd_step({"a": np.zeros(2), "b": np.zeros(2)}, grads, lr, max_norm)
