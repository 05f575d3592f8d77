"""The wire format: data only, no pickle, capped frames."""
from __future__ import annotations

import io
import socket
import threading

import numpy as np
import pytest

from grader.protocol import (
    EdugradArg, Encoded, FrameTooLarge, Handle, ProtocolError, TorchArg, decode_tree, encode_plain, npy_to_array,
    recv_frame, send_frame,
)


def roundtrip(value):
    encoded = encode_plain(value)
    return decode_tree(encoded.tree, encoded.blobs)


def test_plain_values_survive_a_roundtrip():
    value = {"a": [1, 2.5, None, True, "x"], "b": (3, {"c": -4}), "nan": float("nan"), "inf": float("-inf")}
    back = roundtrip(value)
    assert back["a"] == [1, 2.5, None, True, "x"]
    assert back["b"] == (3, {"c": -4})
    assert np.isnan(back["nan"]) and back["inf"] == float("-inf")


def test_arrays_keep_dtype_shape_and_values():
    for array in (np.arange(6, dtype=np.int32).reshape(2, 3), np.float32(1.5) * np.ones((2, 0)), np.array(3.25), np.array([True, False])):
        back = roundtrip(array)
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


def test_object_arrays_are_refused_when_sending():
    with pytest.raises(ProtocolError, match="cannot cross the sandbox boundary"):
        encode_plain(np.array([object()], dtype=object))


def test_a_pickled_array_blob_is_never_unpickled():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError, match="refused an array blob"):
        npy_to_array(buffer.getvalue())


def npy_blob(header: str, data: bytes = b"") -> bytes:
    """A version 1.0 ``.npy`` blob with a hand-written (possibly lying) header, padded as numpy pads it."""
    text = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin-1") + data


@pytest.mark.parametrize("header, data", [
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (10**12,), }", b"\0" * 16),  # claims 8 TB, holds 16 B
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, -1), }", b"\0" * 8),   # negative dimensions
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (0, -5), }", b""),
    ("{'descr': '|V0', 'fortran_order': False, 'shape': (2**62, 2**62), }", b""),    # zero-size items, huge shape
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", b"\0" * 23),      # one byte short
], ids=["lying-size", "negative", "negative-empty", "zero-itemsize", "short"])
def test_a_crafted_array_blob_is_a_protocol_error_without_allocating_what_it_claims(header, data):
    with pytest.raises(ProtocolError, match="refused an array blob"):
        npy_to_array(npy_blob(header, data))


def test_decoded_arrays_match_numpy_for_orders_and_byte_orders():
    for array in (np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.arange(5, dtype=">i4"),
                  np.zeros((2, 0, 3), dtype=np.float32), np.array(7, dtype=np.uint8)):
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        back = npy_to_array(buffer.getvalue())
        want = np.load(io.BytesIO(buffer.getvalue()))
        assert back.dtype == want.dtype and back.shape == want.shape and back.flags.writeable
        assert back.flags.f_contiguous == want.flags.f_contiguous
        np.testing.assert_array_equal(back, want)


def test_unknown_tags_and_missing_blobs_are_errors():
    with pytest.raises(ProtocolError, match="unknown value tag"):
        decode_tree({"$": "pickle", "data": "..."}, [])
    with pytest.raises(ProtocolError, match="missing blob"):
        decode_tree({"$": "array", "blob": 3}, [])


def test_handles_and_tensor_arguments_pass_through():
    encoded = encode_plain([Handle(7, "m.Model"), TorchArg(np.ones(2), True), EdugradArg(np.zeros(1))])
    handle, torch_arg, edugrad_arg = decode_tree(encoded.tree, encoded.blobs)
    assert handle == Handle(7, "m.Model")
    assert torch_arg.requires_grad and torch_arg.array.tolist() == [1.0, 1.0]
    assert edugrad_arg.array.tolist() == [0.0]


def test_arbitrary_objects_cannot_be_sent_to_student_code():
    with pytest.raises(ProtocolError, match="cannot send a object"):
        encode_plain(object())


def test_frames_over_the_cap_are_refused_before_reading_them():
    left, right = socket.socketpair()
    with left, right:
        big = encode_plain(np.zeros(200_000))
        sender = threading.Thread(target=lambda: _send_ignoring_reset(left, {"value": big.tree}, big.blobs), daemon=True)
        sender.start()  # 1.6 MB does not fit a socket buffer: send from another thread
        with pytest.raises(FrameTooLarge, match="exceeds the limit of 100,000 bytes"):
            recv_frame(right, max_bytes=100_000)


def _send_ignoring_reset(sock, header, blobs):
    try:
        send_frame(sock, header, blobs)
    except OSError:
        pass


def test_frames_roundtrip_over_a_socket():
    left, right = socket.socketpair()
    with left, right:
        encoded = encode_plain({"x": np.arange(3.0)})
        send_frame(left, {"ok": True, "value": encoded.tree}, encoded.blobs)
        header, blobs = recv_frame(right)
        assert header["ok"] is True
        assert decode_tree(header["value"], blobs)["x"].tolist() == [0.0, 1.0, 2.0]


def test_garbage_on_the_channel_is_a_protocol_error():
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"all tests passed!!!!")
        with pytest.raises(ProtocolError, match="bad frame marker"):
            recv_frame(right)
