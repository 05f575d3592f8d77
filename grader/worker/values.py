"""Turn whatever student code returned into protocol data, or into a handle.

Arrays, tensors, numbers, strings and containers of them travel as data;
anything else (a model, a function, an object with a lying ``__eq__``) stays in
the worker behind a numbered handle. Torch and edugrad are looked up in
``sys.modules`` so that this module never imports them itself.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from grader.protocol import EdugradArg, Encoded, Handle, ProtocolError, TorchArg, array_to_npy, encode_float

MAX_DEPTH = 32
# The grader refuses larger replies anyway; checking here saves encoding and sending them.
MAX_REPLY_BYTES = 64 * 1024 * 1024


class ReplyTooLarge(ValueError):
    """A value whose arrays exceed what the grader accepts."""


def _add_blob(blobs: list[bytes], array: np.ndarray) -> int:
    used = sum(len(blob) for blob in blobs)
    if used + array.nbytes > MAX_REPLY_BYTES:
        raise ReplyTooLarge(
            f"your code returned arrays of {used + array.nbytes:,} bytes; the grader accepts at most {MAX_REPLY_BYTES:,}"
        )
    blobs.append(array_to_npy(array))
    return len(blobs) - 1


class HandleTable:
    """Objects kept alive in the worker, by id."""

    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}
        self._next_id = 1

    def add(self, obj: Any) -> Handle:
        handle_id = self._next_id
        self._next_id += 1
        self._objects[handle_id] = obj
        return Handle(handle_id, type_name(obj))

    def get(self, handle_id: int) -> Any:
        try:
            return self._objects[handle_id]
        except KeyError:
            raise ProtocolError(f"no object with handle {handle_id} (released, or from an earlier worker)") from None

    def release(self, handle_ids: list[int]) -> None:
        for handle_id in handle_ids:
            self._objects.pop(handle_id, None)


def type_name(obj: Any) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    name = f"{module}.{cls.__qualname__}" if module not in ("builtins", "") else cls.__qualname__
    return name[:200]


def _torch_tensor_type():
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None) if torch else None


def _edugrad_tensor_type():
    module = sys.modules.get("edugrad.tensor")
    return getattr(module, "Tensor", None) if module else None


def encode_student_value(value: Any, handles: HandleTable, keep: bool = False) -> Encoded:
    """Encode a value from student code; with ``keep`` the value itself stays as a handle."""
    encoded = Encoded(None)
    if keep:
        encoded.tree = _handle_tree(handles.add(value))
    else:
        encoded.tree = _encode(value, handles, encoded.blobs, MAX_DEPTH)
    return encoded


def _handle_tree(handle: Handle) -> dict:
    return {"$": "handle", "id": handle.id, "type": handle.type_name}


def _encode(value: Any, handles: HandleTable, blobs: list[bytes], depth: int) -> Any:
    if depth < 0:
        return _handle_tree(handles.add(value))
    # Exact type checks: a subclass of int or str could carry a lying __eq__.
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return encode_float(value)
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        item = value.item()
        return encode_float(item) if isinstance(item, float) else item
    if type(value) is np.ndarray and not value.dtype.hasobject:
        return {"$": "array", "blob": _add_blob(blobs, value), "origin": "numpy"}
    torch_tensor = _torch_tensor_type()
    if torch_tensor is not None and isinstance(value, torch_tensor):
        array = value.detach().cpu().resolve_conj().resolve_neg().numpy()
        return {"$": "array", "blob": _add_blob(blobs, array), "origin": "torch"}
    edugrad_tensor = _edugrad_tensor_type()
    if edugrad_tensor is not None and isinstance(value, edugrad_tensor):
        array = np.asarray(value.value)
        if array.dtype.hasobject:
            return _handle_tree(handles.add(value))
        return {"$": "array", "blob": _add_blob(blobs, array), "origin": "edugrad"}
    if type(value) is list:
        return [_encode(item, handles, blobs, depth - 1) for item in value]
    if type(value) is tuple:
        return {"$": "tuple", "items": [_encode(item, handles, blobs, depth - 1) for item in value]}
    if type(value) is dict and all(type(key) is str for key in value):
        return {"$": "dict", "items": {key: _encode(item, handles, blobs, depth - 1) for key, item in value.items()}}
    if hasattr(value, "_fields") and isinstance(value, tuple):  # NamedTuple: keep the fields in order
        return {"$": "tuple", "items": [_encode(item, handles, blobs, depth - 1) for item in value]}
    return _handle_tree(handles.add(value))


def materialise_argument(value: Any, handles: HandleTable) -> Any:
    """Turn a decoded argument into what student code expects (tensors, handled objects)."""
    if isinstance(value, Handle):
        return handles.get(value.id)
    if isinstance(value, TorchArg):
        import torch  # only when a test sends a tensor, so numpy assignments never load torch

        tensor = torch.from_numpy(np.array(value.array))
        if value.requires_grad:
            tensor.requires_grad_(True)
        return tensor
    if isinstance(value, EdugradArg):
        from edugrad.tensor import Tensor

        return Tensor(np.array(value.array, dtype=float))
    if isinstance(value, list):
        return [materialise_argument(item, handles) for item in value]
    if isinstance(value, tuple):
        return tuple(materialise_argument(item, handles) for item in value)
    if isinstance(value, dict):
        return {key: materialise_argument(item, handles) for key, item in value.items()}
    return value

