"""Outcomes of oracle calls as data: JSON with arrays beside it, never a pickle (invariant 2).

:func:`encode` turns what an oracle returned (arrays, numbers, strings,
tuples, lists, dicts, named tuples and dataclasses of those) into JSON-able
values; every array goes into a content-addressed table (``digest ->
array``), so one array recorded many times is stored once. :func:`decode`
turns them back. Named tuples and dataclasses come back as records of the same
name and fields, built here: no class of ``reference`` is needed (or shipped)
to read them. An exception the oracle raised is an outcome too
(:func:`encode_error`); it is raised again as the nearest built-in type.
"""
from __future__ import annotations

import builtins
import collections
import dataclasses
import functools
import hashlib
from typing import Any

import numpy as np

__all__ = ["Unencodable", "encode", "decode", "encode_error", "decode_error", "array_digest"]


class Unencodable(TypeError):
    """An outcome that is not data (a generator, an object)."""


def array_digest(array: np.ndarray) -> str:
    array = np.array(array, order="C")  # not ascontiguousarray: it turns a 0-d array into shape (1,)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()[:32]


def encode(value: Any, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:  # noqa: C901 - one branch per kind
    """``value`` as JSON-able data; its arrays are added to ``arrays``."""
    if depth > 32:
        raise Unencodable("outcome nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.ndarray, np.generic)):  # first: np.float64 is also a float
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise Unencodable(f"an array of dtype {array.dtype}")
        digest = array_digest(array)
        arrays.setdefault(digest, np.array(array))
        return {"array" if isinstance(value, np.ndarray) else "scalar": digest}
    if isinstance(value, int):
        return {"int": str(int(value))}
    if isinstance(value, float):
        return {"float": float(value).hex()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"record": type(value).__name__, "kind": "namedtuple", "fields": list(value._fields),
                "values": [encode(item, arrays, depth + 1) for item in value]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [field.name for field in dataclasses.fields(value)]
        return {"record": type(value).__name__, "kind": "dataclass", "fields": fields,
                "values": [encode(getattr(value, name), arrays, depth + 1) for name in fields]}
    if isinstance(value, tuple):
        return {"tuple": [encode(item, arrays, depth + 1) for item in value]}
    if isinstance(value, list):
        return [encode(item, arrays, depth + 1) for item in value]
    if isinstance(value, dict):
        return {"dict": [[encode(key, arrays, depth + 1), encode(item, arrays, depth + 1)] for key, item in value.items()]}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    raise Unencodable(f"an outcome of type {type(value).__module__}.{type(value).__qualname__}")


def decode(data: Any, arrays: dict[str, np.ndarray]) -> Any:  # noqa: C901
    """The value :func:`encode` wrote (arrays are fresh copies: a caller may change them)."""
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, list):
        return [decode(item, arrays) for item in data]
    if not isinstance(data, dict) or len(data) == 0:
        raise ValueError(f"not a recorded value: {data!r:.80}")
    if "int" in data:
        return int(data["int"])
    if "float" in data:
        return float.fromhex(data["float"])
    if "array" in data:
        return np.array(arrays[data["array"]])
    if "scalar" in data:
        return np.array(arrays[data["scalar"]])[()]
    if "tuple" in data:
        return tuple(decode(item, arrays) for item in data["tuple"])
    if "dict" in data:
        return {decode(key, arrays): decode(item, arrays) for key, item in data["dict"]}
    if "bytes" in data:
        return bytes.fromhex(data["bytes"])
    if "record" in data:
        record = _record_type(str(data["record"]), str(data["kind"]), tuple(data["fields"]))
        return record(*[decode(item, arrays) for item in data["values"]])
    raise ValueError(f"not a recorded value: {data!r:.80}")


@functools.lru_cache(maxsize=None)
def _record_type(name: str, kind: str, fields: tuple[str, ...]) -> type:
    """A stand-in for a named tuple or dataclass of the oracles: same name, same fields, no behaviour."""
    if not name.isidentifier() or not all(field.isidentifier() for field in fields):
        raise ValueError(f"bad record {name}{fields}")
    if kind == "namedtuple":
        return collections.namedtuple(name, fields)
    return dataclasses.make_dataclass(name, fields, frozen=True)


def encode_error(error: BaseException) -> dict[str, Any]:
    """An exception an oracle raised: its class's ancestry by name, and its message."""
    names = [klass.__name__ for klass in type(error).__mro__ if klass not in (object, BaseException)]
    return {"raises": names, "message": str(error)[:2000]}


def decode_error(data: dict[str, Any]) -> Exception:
    """The recorded exception as the nearest built-in type (``ValueError`` for a ``ValueError`` subclass, ...)."""
    for name in data.get("raises", []):
        klass = getattr(builtins, name, None)
        if isinstance(klass, type) and issubclass(klass, Exception):
            return klass(data.get("message", ""))
    return RuntimeError(data.get("message", ""))
