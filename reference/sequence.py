"""Padding, masks and packing of variable-length batches, as in PyTorch's ``nn.utils.rnn``.

A batch of ``B`` sequences with lengths ``len_0 .. len_{B-1}`` has three views:

- a list of arrays ``(L_i, *)``;
- a padded array ``(B, T, *)`` (``batch_first``) or ``(T, B, *)``, with
  ``T >= max_i len_i`` and a boolean mask ``(B, T)`` marking the real tokens;
- a :class:`PackedSequence`: the real tokens only, time-major and interleaved,
  ``data[offset_t + k] = sequence sorted_k at step t`` where
  ``batch_sizes[t] = #{i : len_i > t}`` and ``offset_t = sum_{s<t} batch_sizes[s]``.

Float data is computed in float64; integer and boolean data keep their dtype
(padded token ids stay integers). Index arrays are int64.

Deliberate differences from PyTorch 2.13 (where PyTorch is silent or unspecified):

- ties in ``enforce_sorted=False`` are broken stably (original order). PyTorch's
  CPU sort is stable only for batches of at most 16 sequences;
- a length longer than the padded time axis raises here; PyTorch packs garbage;
- zero-size feature dimensions are allowed here; PyTorch refuses to pack them.
"""
from __future__ import annotations

import functools
from typing import NamedTuple, Optional, Sequence

import numpy as np

__all__ = [
    "PackedSequence",
    "lengths_to_mask",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "sort_by_length",
    "unpack_sequence",
    "unpad_sequence",
]

_PADDING_SIDES = ("left", "right")


class PackedSequence(NamedTuple):
    """Real tokens of a batch, time-major, longest sequence first.

    - ``data``: ``(sum_i len_i, *)``, the tokens at step 0 of every sequence
      (in sorted order), then step 1 of every sequence still running, ...
    - ``batch_sizes``: ``(max_i len_i,)`` int64, ``batch_sizes[t] = #{i : len_i > t}``.
    - ``sorted_indices``: ``(B,)`` int64, ``sorted_indices[k]`` is the original
      batch index of the k-th longest sequence; ``None`` when the input was
      already sorted (``enforce_sorted=True``).
    - ``unsorted_indices``: ``(B,)`` int64, the inverse permutation of
      ``sorted_indices``; ``None`` together with it.
    """

    data: np.ndarray
    batch_sizes: np.ndarray
    sorted_indices: Optional[np.ndarray] = None
    unsorted_indices: Optional[np.ndarray] = None


def _as_data(array, what: str) -> np.ndarray:
    """``array`` as float64 if floating, unchanged if integer or bool; TypeError otherwise."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return array
    raise TypeError(f"{what} must hold real numbers (float, int or bool), got dtype {array.dtype}")


def _as_lengths(lengths, what: str = "lengths") -> np.ndarray:
    """``lengths`` as a 1-D int64 array; TypeError for non-integers, ValueError for bad shape."""
    array = np.asarray(lengths)
    if array.ndim != 1:
        raise ValueError(f"{what} must be 1-D (one length per sequence), got shape {array.shape}")
    if array.size and (array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{what} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def _check_padding_side(padding_side: str) -> None:
    if padding_side not in _PADDING_SIDES:
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")


def _invert_permutation(permutation: np.ndarray) -> np.ndarray:
    """``inverse`` with ``inverse[permutation[k]] = k``."""
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(permutation.size, dtype=permutation.dtype)
    return inverse


def pad_sequence(
    sequences: Sequence[np.ndarray],
    padding_value: float = 0,
    batch_first: bool = True,
    padding_side: str = "right",
) -> np.ndarray:
    """Stack arrays ``(L_i, *)`` into one padded array, like PyTorch's ``pad_sequence``.

    With ``T = max_i L_i`` and ``padding_side="right"``:
    ``out[i, t] = sequences[i][t]`` for ``t < L_i`` and ``padding_value`` for
    ``L_i <= t < T``. With ``"left"`` the padding comes first:
    ``out[i, T - L_i + t] = sequences[i][t]``.

    Shapes: ``(B, T, *)`` if ``batch_first`` else ``(T, B, *)``. The dtype is the
    common dtype of the sequences (float64 if any is floating); ``padding_value``
    is cast to it (truncated for integer data, as PyTorch does). Zero-length
    sequences are allowed.
    """
    _check_padding_side(padding_side)
    sequences = [np.asarray(seq) for seq in sequences]
    if not sequences:
        raise ValueError("pad_sequence received an empty list of sequences")
    for i, seq in enumerate(sequences):
        if seq.ndim == 0:
            raise ValueError(f"sequences[{i}] is a scalar: every sequence must have shape (L_i, *)")
    trailing = sequences[0].shape[1:]
    for i, seq in enumerate(sequences):
        if seq.shape[1:] != trailing:
            raise ValueError(
                f"sequences[{i}] has trailing shape {seq.shape[1:]} but sequences[0] has {trailing}: "
                "all sequences must agree beyond the time axis"
            )
    common = functools.reduce(np.promote_types, (seq.dtype for seq in sequences))
    dtype = _as_data(np.empty(0, dtype=common), "sequences").dtype
    max_len = max(seq.shape[0] for seq in sequences)
    out = np.full((len(sequences), max_len) + trailing, padding_value, dtype=dtype)
    for i, seq in enumerate(sequences):
        length = seq.shape[0]
        if padding_side == "right":
            out[i, :length] = seq
        else:
            out[i, max_len - length :] = seq
    return out if batch_first else np.swapaxes(out, 0, 1).copy()


def unpad_sequence(padded: np.ndarray, lengths, batch_first: bool = True) -> list[np.ndarray]:
    """Inverse of right-padding: ``[padded[i, :len_i] for i in range(B)]``, each ``(len_i, *)``.

    ``padded`` is ``(B, T, *)`` if ``batch_first`` else ``(T, B, *)``; like
    PyTorch's ``unpad_sequence``.
    """
    padded = _as_data(padded, "padded")
    batch_major = _batch_major(padded, batch_first)
    lengths = _check_lengths_fit(_as_lengths(lengths), batch_major.shape[0], batch_major.shape[1], minimum=0)
    return [batch_major[i, :length].copy() for i, length in enumerate(lengths)]


def lengths_to_mask(lengths, max_len: Optional[int] = None) -> np.ndarray:
    """Boolean mask ``(B, T)`` with ``mask[i, t] = t < lengths[i]`` (True at real tokens).

    ``T = max_len`` if given, else ``max_i lengths[i]`` (0 for an empty batch).
    Lengths must be >= 0 and ``max_len >= max_i lengths[i]``.
    """
    lengths = _as_lengths(lengths)
    for i, length in enumerate(lengths):
        if length < 0:
            raise ValueError(f"lengths[{i}] = {length}: every length must be >= 0")
    longest = int(lengths.max()) if lengths.size else 0
    if max_len is None:
        max_len = longest
    else:
        if isinstance(max_len, (bool, np.bool_)) or not isinstance(max_len, (int, np.integer)):
            raise TypeError(f"max_len must be an integer or None, got {max_len!r}")
        if max_len < longest:
            raise ValueError(f"max_len = {max_len} is shorter than the longest sequence (length {longest})")
    return np.arange(int(max_len))[None, :] < lengths[:, None]


def sort_by_length(lengths) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable descending sort of ``lengths`` ``(B,)``.

    Returns ``(sorted_lengths, sorted_indices, unsorted_indices)``, all ``(B,)`` int64,
    with ``sorted_lengths = lengths[sorted_indices]`` non-increasing, equal lengths
    in their original order, and ``sorted_lengths[unsorted_indices] = lengths``.
    """
    lengths = _as_lengths(lengths)
    sorted_indices = np.argsort(-lengths, kind="stable").astype(np.int64)
    return lengths[sorted_indices], sorted_indices, _invert_permutation(sorted_indices)


def _batch_major(padded: np.ndarray, batch_first: bool) -> np.ndarray:
    if padded.ndim < 2:
        layout = "(B, T, *)" if batch_first else "(T, B, *)"
        raise ValueError(f"padded must have shape {layout}, got shape {padded.shape}")
    return padded if batch_first else np.swapaxes(padded, 0, 1)


def _check_lengths_fit(lengths: np.ndarray, batch: int, max_len: int, minimum: int) -> np.ndarray:
    if lengths.size != batch:
        raise ValueError(f"got {lengths.size} lengths for a batch of {batch} sequences: need one length each")
    for i, length in enumerate(lengths):
        if length < minimum:
            raise ValueError(f"lengths[{i}] = {length}: every length must be >= {minimum}")
        if length > max_len:
            raise ValueError(f"lengths[{i}] = {length} is longer than the padded time axis (T = {max_len})")
    return lengths


def pack_padded_sequence(
    padded: np.ndarray,
    lengths,
    batch_first: bool = True,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch, like PyTorch's ``pack_padded_sequence``.

    ``padded`` is ``(B, T, *)`` if ``batch_first`` else ``(T, B, *)``; ``lengths``
    is ``(B,)`` with ``1 <= len_i <= T``. With ``enforce_sorted`` the lengths must
    be non-increasing and both index fields are ``None``; otherwise the batch is
    sorted by length, descending and stably (see :func:`sort_by_length`).

    With ``s = sorted_indices`` (identity when sorted):
    ``batch_sizes[t] = #{i : len_i > t}`` for ``t < max_i len_i`` and
    ``data[offset_t + k] = padded[s[k], t]`` for ``k < batch_sizes[t]``,
    ``offset_t = sum_{u<t} batch_sizes[u]``; ``data`` is ``(sum_i len_i, *)``.
    """
    padded = _as_data(padded, "padded")
    batch_major = _batch_major(padded, batch_first)
    lengths = _check_lengths_fit(_as_lengths(lengths), batch_major.shape[0], batch_major.shape[1], minimum=1)
    if batch_major.shape[0] == 0:
        raise ValueError("cannot pack an empty batch (B = 0)")
    if enforce_sorted:
        for i in range(1, lengths.size):
            if lengths[i] > lengths[i - 1]:
                raise ValueError(
                    f"`lengths` array must be sorted in decreasing order when `enforce_sorted` is True "
                    f"(lengths[{i}] = {lengths[i]} > lengths[{i - 1}] = {lengths[i - 1]}). "
                    "Pass enforce_sorted=False to sort the batch instead."
                )
        sorted_lengths, sorted_indices, unsorted_indices = lengths, None, None
        ordered = batch_major
    else:
        sorted_lengths, sorted_indices, unsorted_indices = sort_by_length(lengths)
        ordered = batch_major[sorted_indices]
    steps = np.arange(int(sorted_lengths[0]))
    batch_sizes = (sorted_lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)
    # Time-major view: the rows still running at step t are a prefix of the sorted batch.
    time_major = np.swapaxes(ordered, 0, 1)
    data = np.concatenate([time_major[t, :size] for t, size in enumerate(batch_sizes)], axis=0)
    return PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)


def pack_sequence(sequences: Sequence[np.ndarray], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of arrays ``(L_i, *)``: ``pack_padded_sequence(pad_sequence(sequences), [L_i])``."""
    sequences = [np.asarray(seq) for seq in sequences]
    lengths = np.array([seq.shape[0] if seq.ndim else 0 for seq in sequences], dtype=np.int64)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def _check_packed(packed: PackedSequence) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Validated ``(data, batch_sizes, unsorted_indices)`` of a packed batch."""
    data = _as_data(packed.data, "packed.data")
    batch_sizes = _as_lengths(packed.batch_sizes, "packed.batch_sizes")
    if data.ndim < 1:
        raise ValueError(f"packed.data must have shape (N, *), got shape {data.shape}")
    if batch_sizes.size == 0:
        raise ValueError("packed.batch_sizes is empty: a packed batch has at least one time step")
    for t, size in enumerate(batch_sizes):
        if size < 1:
            raise ValueError(f"packed.batch_sizes[{t}] = {size}: every batch size must be >= 1")
        if t and size > batch_sizes[t - 1]:
            raise ValueError(
                f"packed.batch_sizes[{t}] = {size} > packed.batch_sizes[{t - 1}] = {batch_sizes[t - 1]}: "
                "batch sizes must be non-increasing"
            )
    if int(batch_sizes.sum()) != data.shape[0]:
        raise ValueError(
            f"packed.data has {data.shape[0]} rows but packed.batch_sizes sums to {int(batch_sizes.sum())}"
        )
    batch = int(batch_sizes[0])
    sorted_indices, unsorted_indices = packed.sorted_indices, packed.unsorted_indices
    if unsorted_indices is None and sorted_indices is not None:
        unsorted_indices = _invert_permutation(_as_lengths(sorted_indices, "packed.sorted_indices"))
    if unsorted_indices is not None:
        unsorted_indices = _as_lengths(unsorted_indices, "packed.unsorted_indices")
        if not np.array_equal(np.sort(unsorted_indices), np.arange(batch)):
            raise ValueError(
                f"packed.unsorted_indices must be a permutation of 0..{batch - 1}, got {unsorted_indices}"
            )
    return data, batch_sizes, unsorted_indices


def pad_packed_sequence(
    packed: PackedSequence,
    batch_first: bool = True,
    padding_value: float = 0.0,
    total_length: Optional[int] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Unpack to ``(padded, lengths)`` in the original batch order (PyTorch's semantics).

    With ``T = total_length`` if given (it must be >= ``len(batch_sizes)``), else
    ``len(batch_sizes)``: ``padded[i, t]`` is step ``t`` of sequence ``i`` for
    ``t < lengths[i]`` and ``padding_value`` after, where
    ``lengths[i] = #{t : batch_sizes[t] > k_i}`` and ``k_i`` is the sorted
    position of sequence ``i``. ``padded`` is ``(B, T, *)`` if ``batch_first``
    else ``(T, B, *)``, with ``B = batch_sizes[0]``; ``lengths`` is ``(B,)`` int64.
    """
    data, batch_sizes, unsorted_indices = _check_packed(packed)
    max_len = batch_sizes.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, "
                f"but got total_length={total_length} and max sequence length being {max_len}"
            )
        max_len = int(total_length)
    batch = int(batch_sizes[0])
    out = np.full((batch, max_len) + data.shape[1:], padding_value, dtype=data.dtype)
    offset = 0
    for t, size in enumerate(batch_sizes):
        out[:size, t] = data[offset : offset + size]
        offset += size
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1).astype(np.int64)
    if unsorted_indices is not None:
        out, lengths = out[unsorted_indices], lengths[unsorted_indices]
    return (out if batch_first else np.swapaxes(out, 0, 1).copy()), lengths


def unpack_sequence(packed: PackedSequence) -> list[np.ndarray]:
    """The list of arrays ``(len_i, *)`` in the original order, like PyTorch's ``unpack_sequence``."""
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    return [padded[i, :length].copy() for i, length in enumerate(lengths)]
