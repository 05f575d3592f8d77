"""Keys of oracle calls: what a call's arguments are, as data, so a recorded outcome can be found again.

A key has two parts (:class:`CallKey`). The *structure* hashes everything but
the contents of floating-point values: types, shapes, dtypes, integers,
strings, and the code of functions passed as arguments (where their source
file lies below the assignment, by its path there; their defaults and closure
values too). The *floats* are the floating-point leaves in order, as float64
arrays. A recorded call is found again when the structure matches and every
float leaf is equal, or close within a relative 1e-9: the same test computes
its inputs on another machine with another BLAS, and the last bits may differ.

Anything that is not data (an object, a handle to student code, a generator)
cannot be keyed: :class:`Unkeyable`, and that call is not recorded.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CallKey", "Unkeyable", "call_key", "floats_close", "FLOAT_RTOL", "FLOAT_ATOL"]

FLOAT_RTOL = 1e-9
FLOAT_ATOL = 1e-12
_MAX_DEPTH = 24


class Unkeyable(TypeError):
    """An argument the recording cannot key by value."""


@dataclass(frozen=True)
class CallKey:
    """A call of ``function`` on some arguments (see the module docstring)."""

    function: str
    structure: str
    exact: str
    floats: tuple[np.ndarray, ...] = ()


def call_key(function: str, args: tuple, kwargs: dict[str, Any], anchor: Path | None = None) -> CallKey:
    """The key of ``function(*args, **kwargs)``; code below ``anchor`` is named by its path there."""
    walker = _Walker(anchor)
    walker.tag("call", function)
    walker.visit(("args", tuple(args)), 0)
    walker.visit(("kwargs", dict(sorted(kwargs.items()))), 0)
    structure = walker.structure.hexdigest()
    exact = hashlib.sha256(structure.encode() + walker.values.digest()).hexdigest()
    return CallKey(function, structure, exact, tuple(walker.floats))


def floats_close(got: tuple[np.ndarray, ...], recorded: tuple[np.ndarray, ...]) -> bool:
    """Whether two calls' float leaves agree within the tolerance (NaN where NaN, the same infinities)."""
    if len(got) != len(recorded):
        return False
    for a, b in zip(got, recorded):
        if a.shape != b.shape or not np.allclose(a, b, rtol=FLOAT_RTOL, atol=FLOAT_ATOL, equal_nan=True):
            return False
    return True


class _Walker:
    def __init__(self, anchor: Path | None) -> None:
        self.anchor = str(anchor.resolve()) + os.sep if anchor is not None else None
        self.structure = hashlib.sha256()
        self.values = hashlib.sha256()
        self.floats: list[np.ndarray] = []

    def tag(self, *parts: Any) -> None:
        self.structure.update(repr(parts).encode("utf-8", "surrogatepass") + b"\x1f")

    def float_leaf(self, array: np.ndarray, kind: str) -> None:
        array = np.array(array, dtype=np.float64, order="C")  # keeps a 0-d array 0-d (ascontiguousarray does not)
        self.tag(kind, array.shape)
        self.values.update(array.tobytes())
        self.floats.append(array)

    def visit(self, value: Any, depth: int) -> None:  # noqa: C901 - one branch per kind of value
        if depth > _MAX_DEPTH:
            raise Unkeyable("arguments nested too deeply")
        if value is None or isinstance(value, (bool, str, bytes)):
            self.tag(type(value).__name__, value)
        elif isinstance(value, (np.ndarray, np.generic)):  # first: np.float64 is also a float
            self.array(np.asarray(value), "ndarray" if isinstance(value, np.ndarray) else "scalar")
        elif isinstance(value, int):
            self.tag("int", int(value))
        elif isinstance(value, float):
            self.float_leaf(np.asarray(value), "float")
        elif isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
            self.tag("record", type(value).__name__, tuple(value._fields))
            for item in value:
                self.visit(item, depth + 1)
        elif isinstance(value, (tuple, list)):
            self.tag(type(value).__name__, len(value))
            for item in value:
                self.visit(item, depth + 1)
        elif isinstance(value, dict):
            self.tag("dict", len(value))
            for key, item in value.items():
                self.visit(key, depth + 1)
                self.visit(item, depth + 1)
        elif isinstance(value, (set, frozenset)):
            self.tag(type(value).__name__, tuple(sorted(repr(item) for item in value)))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            self.tag("dataclass", type(value).__qualname__)
            for item in dataclasses.fields(value):
                self.visit(getattr(value, item.name), depth + 1)
        elif isinstance(value, np.random.Generator):
            self.tag("generator", repr(value.bit_generator.state))
        elif type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
            tensor = value.detach().cpu()
            self.tag("torch", str(tensor.dtype))
            self.array(tensor.numpy(), "torch")
        elif isinstance(value, functools.partial):
            self.tag("partial")
            self.visit(value.func, depth + 1)
            self.visit(value.args, depth + 1)
            self.visit(dict(value.keywords), depth + 1)
        elif isinstance(value, types.FunctionType):
            self.function(value, depth)
        elif isinstance(value, (types.BuiltinFunctionType, type, np.ufunc)):
            self.tag("named", getattr(value, "__module__", ""), getattr(value, "__qualname__", repr(value)))
        else:
            raise Unkeyable(f"cannot key an argument of type {type(value).__module__}.{type(value).__qualname__}")

    def array(self, array: np.ndarray, kind: str) -> None:
        if array.dtype.kind == "f":
            self.float_leaf(array, f"{kind}:{array.dtype.str}")
        elif array.dtype.kind in "biu":
            self.tag(kind, array.dtype.str, array.shape)
            self.structure.update(np.array(array, order="C").tobytes())
        else:
            raise Unkeyable(f"cannot key an array of dtype {array.dtype}")

    def function(self, function: types.FunctionType, depth: int) -> None:
        code = function.__code__
        filename = os.path.realpath(code.co_filename)
        where = (filename[len(self.anchor):] if self.anchor and filename.startswith(self.anchor)
                 else f"{function.__module__}")
        self.tag("function", where.replace(os.sep, "/"), function.__qualname__, code.co_firstlineno)
        self.visit(function.__defaults__ or (), depth + 1)
        self.visit(dict(sorted((function.__kwdefaults__ or {}).items())), depth + 1)
        for cell in function.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell: a name assigned later
                self.tag("empty cell")
                continue
            self.visit(contents, depth + 1)
