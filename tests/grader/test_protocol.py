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
