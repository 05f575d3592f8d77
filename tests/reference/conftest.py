"""Shared helpers for the oracle tests: float64 torch conversion and one tolerance.

Every oracle is compared with PyTorch in float64 at ``RTOL`` relative and
``ATOL`` absolute error unless a test says why it needs another tolerance.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import settings

RTOL = 1e-8
ATOL = 1e-10

# One profile for all oracle tests: enough examples to cover shapes, no
# per-example deadline (torch's first call is slow), reproducible in CI.
settings.register_profile("oracles", max_examples=40, deadline=None, derandomize=True)
settings.load_profile("oracles")


def to_torch(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    """A float64 (or integer) torch tensor sharing nothing with ``array``."""
    tensor = torch.tensor(np.asarray(array))
    if tensor.is_floating_point():
        tensor = tensor.to(torch.float64)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def assert_close(actual, expected, rtol: float = RTOL, atol: float = ATOL, what: str = "") -> None:
    """``numpy.testing.assert_allclose`` on numpy or torch inputs, shapes compared too."""
    if isinstance(expected, torch.Tensor):
        expected = to_numpy(expected)
    if isinstance(actual, torch.Tensor):
        actual = to_numpy(actual)
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what} shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)
