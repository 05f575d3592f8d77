"""The wire format between the grader and the sandboxed worker: data only.

A message is a JSON header plus zero or more binary blobs, each blob the bytes
of one ``.npy`` file. Values are encoded as a JSON tree in which everything that
plain JSON cannot hold carries a ``"$"`` tag:

================  ==========================================================
Python value      encoding
================  ==========================================================
None/bool/int/str the JSON value itself
float             the JSON number; ``{"$": "float", "v": "nan"|"inf"|"-inf"}``
list              a JSON list
tuple             ``{"$": "tuple", "items": [...]}``
dict (str keys)   ``{"$": "dict", "items": {...}}``
ndarray, tensor   ``{"$": "array", "blob": i, "origin": "numpy"|"torch"|"edugrad"}``
anything else     ``{"$": "handle", "id": n, "type": "module.Class"}`` (worker only)
================  ==========================================================

Nothing here ever unpickles, evaluates or imports what it decodes: arrays are
read with ``numpy.load(..., allow_pickle=False)`` and object arrays are refused
(design invariant 2). Both sides read frames with a byte cap, so an oversized
reply is refused before it is held in memory.

Frame layout on a stream socket::

    b"NLMG" | u32 header length | u32 blob count | header | (u64 length | blob)*
"""
from __future__ import annotations

import io
import json
import math
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAGIC = b"NLMG"
_PREFIX = struct.Struct(">4sII")
_BLOB_LEN = struct.Struct(">Q")
DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024


class ProtocolError(Exception):
    """A frame that breaks the format, or a value that may not cross the boundary."""


class FrameTooLarge(ProtocolError):
    """A frame larger than the reader's cap; the rest of it is never read."""

    def __init__(self, size: int, cap: int) -> None:
        self.size = size
        self.cap = cap
        super().__init__(f"reply of at least {size:,} bytes exceeds the limit of {cap:,} bytes")


class ConnectionClosed(ProtocolError):
    """The other side closed the channel (for a worker: it exited or crashed)."""


@dataclass(frozen=True)
class Handle:
    """A reference to an object that lives in the worker and never leaves it."""

    id: int
    type_name: str = "object"


@dataclass(frozen=True)
class TorchArg:
    """An array the worker must turn into a ``torch.Tensor`` before the call."""

    array: np.ndarray
    requires_grad: bool = False


@dataclass(frozen=True)
class EdugradArg:
    """An array the worker must wrap in an ``edugrad.Tensor`` before the call."""

    array: np.ndarray


@dataclass
class Encoded:
    """A value as a JSON-able tree plus the array blobs it refers to."""

    tree: Any
    blobs: list[bytes] = field(default_factory=list)


# ``np.save`` and ``np.load`` spend most of their time writing and parsing the ``.npy`` header (a Python
# literal, read with ``ast.literal_eval``), and the same few headers come back request after request. The
# headers are cached here: what numpy wrote or parsed once for a (dtype, shape) is reused byte for byte.
# Anything unusual (a structured dtype, a format version other than 1.0, a header numpy refuses, a length
# that does not match) takes numpy's own path, so the bytes and the errors are numpy's.
_NPY_V1 = b"\x93NUMPY\x01\x00"
_HEADER_CACHE_MAX = 4096
_SAVED_HEADERS: dict[tuple[str, tuple[int, ...]], bytes] = {}
_READ_HEADERS: dict[bytes, tuple[np.dtype, tuple[int, ...], bool]] = {}


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= _HEADER_CACHE_MAX:
        cache.clear()
    cache[key] = value


def array_to_npy(array: np.ndarray) -> bytes:
    """The ``.npy`` bytes of a numeric or boolean array; object arrays are refused."""
    array = np.asarray(array)
    if array.dtype.hasobject:
        raise ProtocolError(f"arrays of dtype {array.dtype} (Python objects) cannot cross the sandbox boundary")
    array = np.asarray(array, order="C")
    dtype = array.dtype
    simple = dtype.names is None and dtype.subdtype is None and not dtype.metadata
    key = (dtype.str, array.shape)
    header = _SAVED_HEADERS.get(key) if simple else None
    if header is not None:
        return header + array.tobytes()
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    data = buffer.getvalue()
    if simple:
        split = len(data) - array.nbytes
        if data.startswith(_NPY_V1) and data[split:] == array.tobytes():
            _remember(_SAVED_HEADERS, key, data[:split])
    return data


def _read_header(data: bytes) -> tuple[np.dtype, tuple[int, ...], bool, int] | None:
    """(dtype, shape, fortran_order, data offset) of a version 1.0 ``.npy`` blob whose header numpy accepts."""
    if len(data) < 10 or not data.startswith(_NPY_V1):
        return None
    start = 10 + int.from_bytes(data[8:10], "little")
    if len(data) < start:
        return None
    header = data[10:start]
    parsed = _READ_HEADERS.get(header)
    if parsed is None:
        try:
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(io.BytesIO(data[8:start]))
        except Exception:  # noqa: BLE001 - numpy's own path below raises numpy's error
            return None
        if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None or min(shape, default=0) < 0:
            return None
        parsed = (dtype, tuple(shape), bool(fortran_order))
        _remember(_READ_HEADERS, header, parsed)
    return (*parsed, start)


def npy_to_array(data: bytes) -> np.ndarray:
    """Read ``.npy`` bytes without ever unpickling; a blob numpy refuses, or one shorter than its header
    declares, is a :class:`ProtocolError` (checked before anything of the declared size is allocated)."""
    known = _read_header(data)
    if known is not None:
        dtype, shape, fortran_order, start = known
        count = math.prod(shape)
        if len(data) - start < count * dtype.itemsize:
            raise ProtocolError(f"refused an array blob: its header declares {count * dtype.itemsize} bytes of "
                                f"data, it holds {len(data) - start}")
        if len(data) - start == count * dtype.itemsize:
            try:
                # What np.load does with a file-like object (numpy.lib.format.read_array): a fresh, writable array.
                array = np.ndarray(count, dtype=dtype)
                if count and dtype.itemsize:
                    array[:] = np.frombuffer(data, dtype=dtype, count=count, offset=start)
                if fortran_order:
                    return array.reshape(shape[::-1]).transpose()
                return array.reshape(shape)
            except (ValueError, OverflowError, MemoryError) as error:  # e.g. a huge shape of zero-size items
                raise ProtocolError(f"refused an array blob: {error}") from None
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OverflowError, MemoryError) as error:  # pickled/object content, a header numpy refuses
        raise ProtocolError(f"refused an array blob: {error}") from None
    if not isinstance(array, np.ndarray):
        raise ProtocolError("an array blob held something other than one array")
    return array


def encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$": "float", "v": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def decode_tree(tree: Any, blobs: list[bytes], handle_factory=None, max_depth: int = 64) -> Any:
    """Rebuild a value from its JSON tree; ``handle_factory(Handle)`` maps handles."""
    if max_depth < 0:
        raise ProtocolError("value nested too deeply")
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode_tree(item, blobs, handle_factory, max_depth - 1) for item in tree]
    if not isinstance(tree, dict) or "$" not in tree:
        raise ProtocolError(f"malformed value in message: {str(tree)[:80]}")
    tag = tree["$"]
    if tag == "float":
        return float(tree["v"])
    if tag == "tuple":
        return tuple(decode_tree(item, blobs, handle_factory, max_depth - 1) for item in tree["items"])
    if tag == "dict":
        return {str(key): decode_tree(value, blobs, handle_factory, max_depth - 1) for key, value in tree["items"].items()}
    if tag == "array":
        index = tree["blob"]
        if not isinstance(index, int) or not 0 <= index < len(blobs):
            raise ProtocolError(f"array refers to missing blob {index!r}")
        return npy_to_array(blobs[index])
    if tag == "handle":
        handle = Handle(int(tree["id"]), str(tree.get("type", "object")))
        return handle_factory(handle) if handle_factory else handle
    if tag == "torch":
        return TorchArg(npy_to_array(blobs[tree["blob"]]), bool(tree.get("requires_grad", False)))
    if tag == "edugrad":
        return EdugradArg(npy_to_array(blobs[tree["blob"]]))
    raise ProtocolError(f"unknown value tag {tag!r}")


def encode_plain(value: Any, encoded: Encoded | None = None, max_depth: int = 64) -> Encoded:
    """Encode a value built from plain data (the grader's side: arguments to student code).

    Arrays become blobs; :class:`Handle`, :class:`TorchArg` and :class:`EdugradArg`
    are passed through; anything else is a programming error in a test.
    """
    encoded = encoded if encoded is not None else Encoded(None)
    encoded.tree = _encode_plain(value, encoded.blobs, max_depth)
    return encoded


def _encode_plain(value: Any, blobs: list[bytes], depth: int) -> Any:
    if depth < 0:
        raise ProtocolError("value nested too deeply")
    # The common exact types first; each gives what its branch of the chain below gives.
    kind = type(value)
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else encode_float(value)
    if kind is list:
        return [_encode_plain(item, blobs, depth - 1) for item in value]
    if kind is np.ndarray:
        blobs.append(array_to_npy(value))
        return {"$": "array", "blob": len(blobs) - 1, "origin": "numpy"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return encode_float(float(value))
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        blobs.append(array_to_npy(value))
        return {"$": "array", "blob": len(blobs) - 1, "origin": "numpy"}
    if isinstance(value, TorchArg):
        blobs.append(array_to_npy(value.array))
        return {"$": "torch", "blob": len(blobs) - 1, "requires_grad": value.requires_grad}
    if isinstance(value, EdugradArg):
        blobs.append(array_to_npy(value.array))
        return {"$": "edugrad", "blob": len(blobs) - 1}
    if isinstance(value, Handle):
        return {"$": "handle", "id": value.id, "type": value.type_name}
    handle = getattr(value, "_grader_handle", None)
    if isinstance(handle, Handle):
        return {"$": "handle", "id": handle.id, "type": handle.type_name}
    if isinstance(value, list):
        return [_encode_plain(item, blobs, depth - 1) for item in value]
    if isinstance(value, tuple):
        return {"$": "tuple", "items": [_encode_plain(item, blobs, depth - 1) for item in value]}
    if isinstance(value, dict):
        return {"$": "dict", "items": {str(k): _encode_plain(v, blobs, depth - 1) for k, v in value.items()}}
    raise ProtocolError(f"cannot send a {type(value).__name__} to student code; send arrays and plain data")


def send_frame(sock: socket.socket, header: dict, blobs: list[bytes] = ()) -> None:
    """Write one frame (header as JSON, then the blobs)."""
    header_bytes = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    parts = [_PREFIX.pack(MAGIC, len(header_bytes), len(blobs)), header_bytes]
    for blob in blobs:
        parts.append(_BLOB_LEN.pack(len(blob)))
        parts.append(blob)
    sock.sendall(b"".join(parts))


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionClosed("the worker closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> tuple[dict, list[bytes]]:
    """Read one frame, refusing it (:class:`FrameTooLarge`) once it passes ``max_bytes``.

    The caller sets the socket's timeout; :class:`socket.timeout` propagates.
    """
    magic, header_len, blob_count = _PREFIX.unpack(_read_exact(sock, _PREFIX.size))
    if magic != MAGIC:
        raise ProtocolError("bad frame marker: the channel is out of step")
    total = header_len
    if total > max_bytes:
        raise FrameTooLarge(total, max_bytes)
    try:
        header = json.loads(_read_exact(sock, header_len))
    except json.JSONDecodeError as error:
        raise ProtocolError(f"frame header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not a JSON object")
    blobs = []
    for _ in range(blob_count):
        (blob_len,) = _BLOB_LEN.unpack(_read_exact(sock, _BLOB_LEN.size))
        total += blob_len
        if total > max_bytes:
            raise FrameTooLarge(total, max_bytes)
        blobs.append(_read_exact(sock, blob_len))
    return header, blobs
