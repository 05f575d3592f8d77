"""The ``student`` fixture's object: student code as seen from a trusted test.

Tests never import student modules. They ask the proxy::

    lm = student.module("lm")                 # a RemoteObject for the module
    model = lm.LSTMLanguageModel(10, 8, 16)   # a RemoteObject for the instance
    student.load_state_dict(model, weights)   # arrays in, strict loading
    logits = model(student.tensor(ids))       # data back: a numpy array
    loss = student.keep(model.loss)(logits_t, targets_t)  # keep the result remote
    student.backward(loss)
    grads = student.grads(model)              # {name: array}

Calls return plain data (numpy arrays, numbers, strings, lists, tuples, dicts);
anything else stays in the worker and comes back as a :class:`RemoteObject`.
Every failure of student code raises :class:`~grader.session.StudentFailure`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from grader.protocol import EdugradArg, Encoded, Handle, TorchArg, decode_tree, encode_plain
from grader.session import GraderProtocolError, StudentFailure, WorkerSession


class RemoteObject:
    """An object living in the worker: attribute access and calls go over the channel."""

    __slots__ = ("_grader_session", "_grader_handle", "_grader_generation", "_grader_label")

    def __init__(self, session: WorkerSession, handle: Handle, label: str) -> None:
        object.__setattr__(self, "_grader_session", session)
        object.__setattr__(self, "_grader_handle", handle)
        object.__setattr__(self, "_grader_generation", session.generation)
        object.__setattr__(self, "_grader_label", label)

    @property
    def type_name(self) -> str:
        return self._grader_handle.type_name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # numpy/pytest probe dunders; never ask student code
        return _request(self._grader_session, {"op": "getattr", "target": self._target(), "name": name}, f"{self._grader_label}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("student objects are read through the proxy; use load_state_dict to set parameters")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self, args, kwargs, keep=False)

    def __getitem__(self, key: Any) -> Any:
        """``obj[key]`` in the worker (a kept tuple's element stays remote unless it is data)."""
        encoded = encode_plain(key)
        header = {"op": "getitem", "target": self._target(), "key": encoded.tree}
        return _request(self._grader_session, header, f"{self._grader_label}[{key!r}]", encoded)

    def __repr__(self) -> str:
        return f"<student {self.type_name} {self._grader_label}>"

    def __eq__(self, other: object) -> bool:  # identity only: student __eq__ never runs here
        return self is other

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return True

    def _target(self) -> int:
        session = self._grader_session
        if self._grader_generation != session.generation or session.worker is None:
            raise StudentFailure(
                f"{self._grader_label} was lost when the process running your code was restarted "
                "(after an earlier timeout or crash)"
            )
        return self._grader_handle.id


def _call(target: RemoteObject, args: tuple, kwargs: dict, keep: bool) -> Any:
    encoded = encode_plain(list(args))
    args_tree = encoded.tree
    kwargs_tree = encode_plain(kwargs, Encoded(None, encoded.blobs)).tree
    header = {"op": "call", "target": target._target(), "args": args_tree, "kwargs": kwargs_tree, "keep": keep}
    return _request(target._grader_session, header, f"{target._grader_label}(...)", Encoded(None, encoded.blobs))


def _request(session: WorkerSession, header: dict, label: str, encoded: Encoded | None = None) -> Any:
    tree, blobs = session.request(header, encoded)
    return decode_tree(tree, blobs, handle_factory=lambda handle: RemoteObject(session, handle, label))


class StudentProxy:
    """What the ``student`` fixture gives a test."""

    def __init__(self, session: WorkerSession) -> None:
        self._session = session

    # values to send ---------------------------------------------------------
    @staticmethod
    def tensor(array: Any, requires_grad: bool = False, dtype: Any = None) -> TorchArg:
        """An argument that reaches student code as a ``torch.Tensor``."""
        array = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
        return TorchArg(array, requires_grad)

    @staticmethod
    def edugrad(array: Any) -> EdugradArg:
        """An argument that reaches student code as an ``edugrad.Tensor`` (float64)."""
        return EdugradArg(np.asarray(array, dtype=np.float64))

    def put(self, value: Any) -> "RemoteObject":
        """Create ``value`` in the worker and keep it there, e.g. a leaf tensor whose grad is read later::

            x = student.put(student.tensor(array, requires_grad=True))
            loss = student.keep(model)(x)
            student.backward(loss)
            dx = student.grads(x)
        """
        encoded = encode_plain(value)
        tree, blobs = self._session.request({"op": "put", "value": encoded.tree}, encoded)
        return decode_tree(tree, blobs, handle_factory=lambda handle: RemoteObject(self._session, handle, "value"))

    # student code -------------------------------------------------------------
    def module(self, name: str) -> RemoteObject:
        """Import a student (or support) module in the worker."""
        tree, blobs = self._session.request({"op": "import", "module": name})
        return decode_tree(tree, blobs, handle_factory=lambda handle: RemoteObject(self._session, handle, name))

    def keep(self, target: RemoteObject):
        """``student.keep(f)(*args)`` calls ``f`` and keeps the result in the worker."""
        _require_remote(target, "keep")
        return lambda *args, **kwargs: _call(target, args, kwargs, keep=True)

    def value(self, target: RemoteObject) -> Any:
        """Fetch a kept object as data (arrays, numbers, containers)."""
        _require_remote(target, "value")
        return _request(self._session, {"op": "value", "target": target._target()}, target._grader_label)

    def state_dict(self, module: RemoteObject) -> dict[str, np.ndarray]:
        """A torch ``state_dict`` (or an edugrad Module's parameters) as arrays."""
        _require_remote(module, "state_dict")
        return _request(self._session, {"op": "state_dict", "target": module._target()}, module._grader_label)

    def load_state_dict(self, module: RemoteObject, state: dict[str, Any], strict: bool = True) -> None:
        """Load arrays into a student module (``load_state_dict(strict=True)`` for torch)."""
        _require_remote(module, "load_state_dict")
        encoded = encode_plain({key: np.asarray(value) for key, value in state.items()})
        header = {"op": "load_state_dict", "target": module._target(), "state": encoded.tree, "strict": strict}
        self._session.request(header, encoded)

    def backward(self, tensor: RemoteObject, grad_output: Any = None) -> None:
        """Run ``tensor.backward(grad_output)`` in the worker (torch or edugrad)."""
        _require_remote(tensor, "backward")
        encoded = encode_plain(None if grad_output is None else np.asarray(grad_output))
        self._session.request({"op": "backward", "target": tensor._target(), "grad": encoded.tree}, encoded)

    def grads(self, target: RemoteObject) -> Any:
        """Gradients: of a tensor (an array) or of a module's parameters ({name: array})."""
        _require_remote(target, "grads")
        return _request(self._session, {"op": "grad", "target": target._target()}, target._grader_label)

    def release(self, *targets: RemoteObject) -> None:
        ids = [target._grader_handle.id for target in targets if isinstance(target, RemoteObject)]
        if ids and self._session.worker is not None:
            self._session.request({"op": "release", "ids": ids})


def _require_remote(target: Any, what: str) -> None:
    if not isinstance(target, RemoteObject):
        raise GraderProtocolError(f"student.{what}() needs an object kept in the worker, got {type(target).__name__}")
