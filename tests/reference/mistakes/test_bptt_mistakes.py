"""Mistakes in BPTT and gradient clipping (reference/mistakes/bptt.py) are real, and each is diagnosed as itself.

The checks compare what the rnn assignment compares: the loss, groups of
gradients, the clipped arrays and the returned total norm.
"""
from __future__ import annotations

import numpy as np
import pytest

from grader.diagnosis import arrays_match, diagnose
from reference.bptt import clip_grad_norm, elman_bptt
from reference.mistakes import get, shadowing
from tests.reference.mistakes.checks import check_variants_of

T, I, H, V = 5, 3, 4, 6
GRAD_KEYS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y", "h0")


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


def bptt_args(rng: np.random.Generator, steps: int = T) -> tuple:
    return (rng.normal(size=(steps, I)), rng.integers(0, V, size=steps), rng.uniform(-0.5, 0.5, size=H),
            rng.normal(0, 0.5, size=(H, I)), rng.normal(0, 0.5, size=(H, H)), rng.normal(0, 0.3, size=H),
            rng.normal(0, 0.5, size=(V, H)), rng.normal(0, 0.3, size=V))


def dicts_match(got: dict, candidate: dict) -> bool:
    return set(got) == set(candidate) and all(arrays_match(got[key], candidate[key], 1e-6, 1e-8) for key in got)


def loss_and_grads(result: tuple) -> dict:
    return {"loss": np.asarray(result[0]), **result[1]}


def norm_and_arrays(result: tuple) -> dict:
    return {"total_norm": np.asarray(result[1]), **result[0]}


def grads_of(*keys: str):
    return lambda result: {key: result[1][key] for key in keys}


def test_every_bptt_variant_is_diagnosed_as_itself_from_the_whole_answer(rng):
    checked = check_variants_of(elman_bptt, bptt_args(rng), output=loss_and_grads, same=dicts_match)
    assert {"bptt_no_gradient_through_time", "bptt_missing_tanh_derivative", "bptt_sum_over_steps"} <= set(checked)


# Which variants change which part of the answer: the assignment checks the parts separately.
ALL = {entry.id for entry in shadowing(elman_bptt)}
CHANGES = {
    "loss": {"bptt_sum_over_steps"},
    ("W_hy", "b_y"): {"bptt_sum_over_steps"},
    ("W_hh",): ALL - {"bptt_initial_state_without_w_hh"},
    ("W_xh", "b_h"): ALL - {"bptt_initial_state_without_w_hh", "bptt_recurrent_gradient_with_current_state"},
    ("h0",): ALL - {"bptt_recurrent_gradient_with_current_state"},
}


@pytest.mark.parametrize("part", list(CHANGES), ids=str)
def test_each_checked_part_names_exactly_the_variants_that_change_it(rng, part):
    args = bptt_args(rng)
    output = (lambda result: result[0]) if part == "loss" else grads_of(*part)
    same = None if part == "loss" else dicts_match
    want = output(elman_bptt(*args))
    for entry in shadowing(elman_bptt):
        got = output(entry.evaluate(*args))
        changed = not (arrays_match(got, want, 1e-6, 1e-8) if part == "loss" else dicts_match(got, want))
        assert changed == (entry.id in CHANGES[part]), f"{entry.id} on {part}"
        if changed:
            named = [match.id for match in diagnose(got, elman_bptt, args, output=output, same=same).matched]
            assert named == [entry.id]


def test_a_single_step_has_no_time_to_backpropagate_through(rng):
    args = bptt_args(rng, steps=1)
    _, want = elman_bptt(*args)
    _, got = get("bptt_no_gradient_through_time").evaluate(*args)
    assert dicts_match(got, want)


def test_bptt_variants_refuse_the_arguments_the_oracle_refuses(rng):
    args = list(bptt_args(rng))
    args[1] = args[1] + V  # targets out of range
    for entry in shadowing(elman_bptt):
        with pytest.raises(ValueError, match="out of range"):
            entry.evaluate(*args)


def clip_inputs(rng: np.random.Generator, scale: float = 1.0) -> dict[str, np.ndarray]:
    return {"W_xh": scale * rng.normal(size=(5, 4)), "b_h": scale * rng.normal(size=5),
            "W_hy": scale * rng.normal(size=(2, 3, 2)), "b_y": scale * rng.normal(size=1)}


def test_every_clipping_variant_is_diagnosed_as_itself(rng):
    grads = clip_inputs(rng, scale=3.0)
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    max_norm = 0.3 * total  # well below the total norm, above the norm of b_y alone
    # Above max_norm, rescaling always is right: that mistake shows only below it (next test).
    checked = check_variants_of(clip_grad_norm, (grads, max_norm), output=norm_and_arrays, same=dicts_match,
                                skip={"clip_always_rescales"})
    assert {"clip_per_tensor", "clip_norm_without_sqrt"} <= set(checked)
    # The assignment checks the norm first, then the arrays: each variant shows in one of them, as itself.
    for mistake_id, part in (("clip_per_tensor", 0), ("clip_by_value", 0), ("clip_norm_without_sqrt", 1),
                             ("clip_norm_after_clipping", 1)):
        got = get(mistake_id).evaluate(grads, max_norm)[part]
        same = dicts_match if part == 0 else None
        named = [match.id for match in diagnose(got, clip_grad_norm, (grads, max_norm), output=part, same=same).matched]
        assert named == [mistake_id]


def test_below_max_norm_only_rescaling_always_and_the_squared_norm_show(rng):
    grads = clip_inputs(rng, scale=0.2)
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    clipped, norm = clip_grad_norm(grads, 2.5 * total)
    showing = {"clip_always_rescales", "clip_norm_without_sqrt"}
    for entry in shadowing(clip_grad_norm):
        got_clipped, got_norm = entry.evaluate(grads, 2.5 * total)
        differs = not dicts_match(got_clipped, clipped) or not arrays_match(got_norm, norm, 1e-6, 1e-8)
        assert differs == (entry.id in showing), entry.id
    check_variants_of(clip_grad_norm, (grads, 2.5 * total), output=norm_and_arrays, same=dicts_match,
                      skip={entry.id for entry in shadowing(clip_grad_norm)} - showing)
    got = get("clip_always_rescales").evaluate(grads, 2.5 * total)[0]
    named = [match.id for match in diagnose(got, clip_grad_norm, (grads, 2.5 * total), output=0, same=dicts_match).matched]
    assert named == ["clip_always_rescales"]


def test_clipping_variants_take_lists_like_the_oracle_and_leave_the_input_alone(rng):
    grads = list(clip_inputs(rng, scale=3.0).values())
    before = [g.copy() for g in grads]
    for entry in shadowing(clip_grad_norm):
        clipped, _ = entry.evaluate(grads, 1.0)
        assert isinstance(clipped, list) and [g.shape for g in clipped] == [g.shape for g in grads]
    assert all(np.array_equal(g, b) for g, b in zip(grads, before))
    with pytest.raises(ValueError, match="max_norm"):
        get("clip_per_tensor").evaluate(grads, -1.0)
