"""Cross-check of reference.sequence against torch.nn.utils.rnn in float64.

Batches hold at most 16 sequences where torch's sorted_indices are compared:
torch's CPU sort is stable only up to 16 elements, and the oracle breaks ties
stably (see test_sort_ties_above_16_sequences_...).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn.utils import rnn

from reference.sequence import (
    PackedSequence,
    lengths_to_mask,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    sort_by_length,
    unpack_sequence,
    unpad_sequence,
)
from tests.reference.conftest import assert_close, to_numpy, to_torch

# Batches, lengths and trailing feature shapes (0, 1 or 2 extra dims).
lengths_strategy = st.lists(st.integers(1, 6), min_size=1, max_size=8)
feature_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)
seeds = st.integers(0, 2**32 - 1)


def _sequences(lengths, features, seed) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((length,) + features) for length in lengths]


def _padded(lengths, features, seed, extra_steps: int = 0, batch_first: bool = True) -> np.ndarray:
    """Right-padded batch with zeros past each length, ``extra_steps`` beyond the longest."""
    padded = pad_sequence(_sequences(lengths, features, seed))
    padded = np.concatenate([padded, np.zeros((len(lengths), extra_steps) + features)], axis=1)
    return padded if batch_first else np.swapaxes(padded, 0, 1).copy()


def _assert_packed_equal(ours: PackedSequence, theirs: rnn.PackedSequence) -> None:
    assert_close(ours.data, theirs.data, what="data")
    np.testing.assert_array_equal(ours.batch_sizes, to_numpy(theirs.batch_sizes))
    assert ours.batch_sizes.dtype == np.int64
    for field in ("sorted_indices", "unsorted_indices"):
        mine, expected = getattr(ours, field), getattr(theirs, field)
        if expected is None:
            assert mine is None, field
        else:
            np.testing.assert_array_equal(mine, to_numpy(expected), err_msg=field)


# --- pad_sequence -------------------------------------------------------------


@given(
    lengths=st.lists(st.integers(0, 6), min_size=1, max_size=8),
    features=feature_shapes,
    seed=seeds,
    batch_first=st.booleans(),
    padding_side=st.sampled_from(["right", "left"]),
    padding_value=st.sampled_from([0.0, -1.5, 7.0]),
)
def test_pad_sequence_matches_torch_for_every_layout_and_side(
    lengths, features, seed, batch_first, padding_side, padding_value
):
    sequences = _sequences(lengths, features, seed)
    ours = pad_sequence(sequences, padding_value, batch_first, padding_side)
    theirs = rnn.pad_sequence(
        [to_torch(s) for s in sequences], batch_first=batch_first,
        padding_value=padding_value, padding_side=padding_side,
    )
    assert ours.dtype == np.float64
    assert_close(ours, theirs)


def test_pad_sequence_keeps_integer_token_ids_integer():
    ids = [np.array([5, 6, 7]), np.array([8])]
    ours = pad_sequence(ids, padding_value=-1)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours, [[5, 6, 7], [8, -1, -1]])
    theirs = rnn.pad_sequence([torch.tensor(s) for s in ids], batch_first=True, padding_value=-1)
    np.testing.assert_array_equal(ours, to_numpy(theirs))


def test_pad_sequence_left_puts_padding_before_the_tokens():
    out = pad_sequence([np.array([1.0, 2.0]), np.array([3.0])], padding_side="left")
    np.testing.assert_array_equal(out, [[1.0, 2.0], [0.0, 3.0]])


def test_pad_sequence_promotes_float32_input_to_float64():
    out = pad_sequence([np.ones(2, dtype=np.float32), np.ones(1, dtype=np.float32)])
    assert out.dtype == np.float64


def test_pad_sequence_rejects_an_empty_list():
    with pytest.raises(ValueError, match="empty list of sequences"):
        pad_sequence([])


def test_pad_sequence_rejects_mismatched_trailing_dims_naming_the_sequence():
    with pytest.raises(ValueError, match=r"sequences\[2\] has trailing shape \(4,\) but sequences\[0\] has \(3,\)"):
        pad_sequence([np.zeros((2, 3)), np.zeros((1, 3)), np.zeros((2, 4))])


def test_pad_sequence_rejects_scalars_and_unknown_padding_side():
    with pytest.raises(ValueError, match=r"sequences\[1\] is a scalar"):
        pad_sequence([np.zeros(2), np.float64(1.0)])
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right', got 'middle'"):
        pad_sequence([np.zeros(2)], padding_side="middle")


def test_pad_sequence_rejects_non_numeric_data():
    with pytest.raises(TypeError, match="dtype <U1"):
        pad_sequence([np.array(["a", "b"])])


# --- lengths_to_mask ----------------------------------------------------------


@given(lengths=st.lists(st.integers(0, 6), min_size=1, max_size=8), extra=st.integers(0, 3))
def test_lengths_to_mask_is_true_exactly_before_each_length(lengths, extra):
    max_len = max(lengths) + extra
    mask = lengths_to_mask(lengths, max_len)
    assert mask.dtype == np.bool_ and mask.shape == (len(lengths), max_len)
    # torch's own mask idiom: arange(T) < lengths[:, None]
    expected = torch.arange(max_len)[None, :] < torch.tensor(lengths)[:, None]
    np.testing.assert_array_equal(mask, to_numpy(expected))
    np.testing.assert_array_equal(mask.sum(axis=1), lengths)


def test_lengths_to_mask_defaults_to_the_longest_length():
    np.testing.assert_array_equal(
        lengths_to_mask([2, 1, 3]),
        [[True, True, False], [True, False, False], [True, True, True]],
    )


def test_lengths_to_mask_matches_padding_positions_of_pad_sequence():
    sequences = [np.ones(3), np.ones(1), np.ones(2)]
    np.testing.assert_array_equal(lengths_to_mask([3, 1, 2]), pad_sequence(sequences) == 1.0)


def test_lengths_to_mask_rejects_max_len_shorter_than_longest():
    with pytest.raises(ValueError, match="max_len = 2 is shorter than the longest sequence \\(length 3\\)"):
        lengths_to_mask([1, 3], max_len=2)


def test_lengths_to_mask_rejects_negative_and_non_integer_lengths():
    with pytest.raises(ValueError, match=r"lengths\[1\] = -1: every length must be >= 0"):
        lengths_to_mask([2, -1])
    with pytest.raises(TypeError, match="lengths must hold integers, got dtype float64"):
        lengths_to_mask([2.0, 1.5])
    with pytest.raises(ValueError, match="lengths must be 1-D"):
        lengths_to_mask([[1, 2]])


# --- pack_padded_sequence -----------------------------------------------------


def test_pack_padded_sequence_documentation_example_exact_values():
    padded = np.array([[1, 2, 0], [3, 0, 0], [4, 5, 6]])
    packed = pack_padded_sequence(padded, [2, 1, 3], batch_first=True, enforce_sorted=False)
    np.testing.assert_array_equal(packed.data, [4, 1, 3, 5, 2, 6])
    np.testing.assert_array_equal(packed.batch_sizes, [3, 2, 1])
    np.testing.assert_array_equal(packed.sorted_indices, [2, 0, 1])
    np.testing.assert_array_equal(packed.unsorted_indices, [1, 2, 0])
    assert packed.data.dtype == np.int64
    theirs = rnn.pack_padded_sequence(torch.tensor(padded), [2, 1, 3], batch_first=True, enforce_sorted=False)
    _assert_packed_equal(packed, theirs)


@given(
    lengths=lengths_strategy,
    features=feature_shapes,
    seed=seeds,
    extra_steps=st.integers(0, 2),
    batch_first=st.booleans(),
)
def test_pack_padded_sequence_unsorted_matches_torch_fields(lengths, features, seed, extra_steps, batch_first):
    padded = _padded(lengths, features, seed, extra_steps, batch_first)
    ours = pack_padded_sequence(padded, lengths, batch_first=batch_first, enforce_sorted=False)
    theirs = rnn.pack_padded_sequence(to_torch(padded), lengths, batch_first=batch_first, enforce_sorted=False)
    _assert_packed_equal(ours, theirs)


@given(lengths=lengths_strategy, features=feature_shapes, seed=seeds, batch_first=st.booleans())
def test_pack_padded_sequence_sorted_matches_torch_with_no_indices(lengths, features, seed, batch_first):
    lengths = sorted(lengths, reverse=True)
    padded = _padded(lengths, features, seed, batch_first=batch_first)
    ours = pack_padded_sequence(padded, np.array(lengths), batch_first=batch_first, enforce_sorted=True)
    theirs = rnn.pack_padded_sequence(to_torch(padded), lengths, batch_first=batch_first, enforce_sorted=True)
    assert ours.sorted_indices is None and ours.unsorted_indices is None
    _assert_packed_equal(ours, theirs)


@given(lengths=lengths_strategy)
def test_pack_padded_sequence_batch_sizes_count_sequences_longer_than_each_step(lengths):
    packed = pack_padded_sequence(np.zeros((len(lengths), max(lengths))), lengths, enforce_sorted=False)
    expected = [sum(length > t for length in lengths) for t in range(max(lengths))]
    np.testing.assert_array_equal(packed.batch_sizes, expected)
    assert packed.data.shape == (sum(lengths),)


def test_pack_padded_sequence_rejects_a_zero_length():
    with pytest.raises(ValueError, match=r"lengths\[1\] = 0: every length must be >= 1"):
        pack_padded_sequence(np.zeros((3, 4)), [2, 0, 3], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        rnn.pack_padded_sequence(torch.zeros(3, 4), [2, 0, 3], batch_first=True, enforce_sorted=False)


def test_pack_padded_sequence_rejects_increasing_lengths_when_enforce_sorted():
    with pytest.raises(ValueError, match=r"must be sorted in decreasing order.*lengths\[2\] = 3 > lengths\[1\] = 1"):
        pack_padded_sequence(np.zeros((3, 4)), [2, 1, 3], enforce_sorted=True)


def test_pack_padded_sequence_rejects_a_length_longer_than_the_time_axis():
    # torch does not check this and packs out-of-range memory
    with pytest.raises(ValueError, match=r"lengths\[0\] = 5 is longer than the padded time axis \(T = 3\)"):
        pack_padded_sequence(np.zeros((2, 3)), [5, 1])
    with pytest.raises(ValueError, match=r"lengths\[1\] = 4 is longer than the padded time axis \(T = 3\)"):
        pack_padded_sequence(np.zeros((3, 2)), [2, 4], batch_first=False, enforce_sorted=False)


def test_pack_padded_sequence_rejects_wrong_number_of_lengths_and_bad_shapes():
    with pytest.raises(ValueError, match="got 2 lengths for a batch of 3 sequences"):
        pack_padded_sequence(np.zeros((3, 4)), [2, 1])
    with pytest.raises(ValueError, match=r"padded must have shape \(B, T, \*\), got shape \(4,\)"):
        pack_padded_sequence(np.zeros(4), [2])
    with pytest.raises(TypeError, match="lengths must hold integers"):
        pack_padded_sequence(np.zeros((2, 4)), [2.0, 1.0])


def test_sort_ties_above_16_sequences_are_stable_and_unpack_like_torch():
    # torch's CPU sort is not stable past 16 elements, so its sorted_indices
    # (and hence data) may order equal lengths differently; both must still
    # describe the same batch.
    lengths = np.tile([3, 1, 3, 2], 10)
    padded = _padded(lengths.tolist(), (2,), 7)
    ours = pack_padded_sequence(padded, lengths, enforce_sorted=False)
    theirs = rnn.pack_padded_sequence(to_torch(padded), to_torch(lengths), batch_first=True, enforce_sorted=False)
    np.testing.assert_array_equal(ours.sorted_indices, np.argsort(-lengths, kind="stable"))
    np.testing.assert_array_equal(ours.batch_sizes, to_numpy(theirs.batch_sizes))
    our_padded, our_lengths = pad_packed_sequence(ours)
    their_padded, their_lengths = rnn.pad_packed_sequence(theirs, batch_first=True)
    assert_close(our_padded, their_padded)
    np.testing.assert_array_equal(our_lengths, to_numpy(their_lengths))


def test_sort_by_length_is_descending_stable_and_inverts():
    sorted_lengths, sorted_indices, unsorted_indices = sort_by_length([2, 3, 2, 3, 1])
    np.testing.assert_array_equal(sorted_lengths, [3, 3, 2, 2, 1])
    np.testing.assert_array_equal(sorted_indices, [1, 3, 0, 2, 4])
    np.testing.assert_array_equal(sorted_lengths[unsorted_indices], [2, 3, 2, 3, 1])


# --- pad_packed_sequence and round trips ----------------------------------------


@given(
    lengths=lengths_strategy,
    features=feature_shapes,
    seed=seeds,
    batch_first=st.booleans(),
    enforce_sorted=st.booleans(),
    extra_total=st.none() | st.integers(0, 3),
    padding_value=st.sampled_from([0.0, -2.5]),
)
def test_pad_packed_sequence_matches_torch(
    lengths, features, seed, batch_first, enforce_sorted, extra_total, padding_value
):
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    packed_torch = rnn.pack_sequence([to_torch(s) for s in _sequences(lengths, features, seed)], enforce_sorted)
    packed = PackedSequence(*(None if f is None else to_numpy(f) for f in packed_torch))
    total = None if extra_total is None else max(lengths) + extra_total
    ours, our_lengths = pad_packed_sequence(packed, batch_first, padding_value, total)
    theirs, their_lengths = rnn.pad_packed_sequence(packed_torch, batch_first, padding_value, total)
    assert_close(ours, theirs)
    np.testing.assert_array_equal(our_lengths, to_numpy(their_lengths))
    assert our_lengths.dtype == np.int64


@given(
    lengths=lengths_strategy,
    features=feature_shapes,
    seed=seeds,
    extra_steps=st.integers(0, 2),
    batch_first=st.booleans(),
    enforce_sorted=st.booleans(),
)
def test_pad_pack_unpack_round_trip_restores_padded_input_and_lengths(
    lengths, features, seed, extra_steps, batch_first, enforce_sorted
):
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    padded = _padded(lengths, features, seed, extra_steps, batch_first)
    packed = pack_padded_sequence(padded, lengths, batch_first, enforce_sorted)
    total = max(lengths) + extra_steps
    restored, restored_lengths = pad_packed_sequence(packed, batch_first, total_length=total)
    np.testing.assert_array_equal(restored, padded)
    np.testing.assert_array_equal(restored_lengths, lengths)


@given(lengths=lengths_strategy, features=feature_shapes, seed=seeds)
def test_unpad_and_unpack_give_back_the_original_sequences(lengths, features, seed):
    sequences = _sequences(lengths, features, seed)
    padded = pad_sequence(sequences)
    for recovered in (unpad_sequence(padded, lengths), unpack_sequence(pack_sequence(sequences, False))):
        assert len(recovered) == len(sequences)
        for got, want in zip(recovered, sequences):
            assert_close(got, want)
    theirs = rnn.unpad_sequence(to_torch(padded), torch.tensor(lengths), batch_first=True)
    for got, want in zip(unpad_sequence(padded, lengths), theirs):
        assert_close(got, want)


def test_pad_packed_sequence_documentation_example_restores_original_order():
    packed = pack_padded_sequence(np.array([[1, 2, 0], [3, 0, 0], [4, 5, 6]]), [2, 1, 3], enforce_sorted=False)
    padded, lengths = pad_packed_sequence(packed, padding_value=-1)
    np.testing.assert_array_equal(padded, [[1, 2, -1], [3, -1, -1], [4, 5, 6]])
    np.testing.assert_array_equal(lengths, [2, 1, 3])


def test_pad_packed_sequence_rejects_total_length_shorter_than_longest():
    packed = pack_padded_sequence(np.zeros((2, 3)), [3, 1])
    with pytest.raises(ValueError, match="total_length=2 and max sequence length being 3"):
        pad_packed_sequence(packed, total_length=2)


def test_pad_packed_sequence_rejects_inconsistent_packed_fields():
    with pytest.raises(ValueError, match="packed.data has 3 rows but packed.batch_sizes sums to 4"):
        pad_packed_sequence(PackedSequence(np.zeros(3), np.array([2, 2])))
    with pytest.raises(ValueError, match=r"packed.batch_sizes\[1\] = 3 > packed.batch_sizes\[0\] = 2"):
        pad_packed_sequence(PackedSequence(np.zeros(5), np.array([2, 3])))
    with pytest.raises(ValueError, match="permutation of 0..1"):
        pad_packed_sequence(PackedSequence(np.zeros(3), np.array([2, 1]), np.array([0, 0]), np.array([0, 0])))


def test_pad_packed_sequence_derives_unsorted_indices_when_only_sorted_given():
    packed = pack_padded_sequence(np.array([[1, 2, 0], [3, 0, 0], [4, 5, 6]]), [2, 1, 3], enforce_sorted=False)
    padded, lengths = pad_packed_sequence(packed._replace(unsorted_indices=None))
    np.testing.assert_array_equal(lengths, [2, 1, 3])
    np.testing.assert_array_equal(padded[2], [4, 5, 6])
