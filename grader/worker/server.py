"""The worker's request loop: import, get attributes, call, backward, state dicts.

Each request is one frame ``{"op": ..., ...}``; each reply is ``{"ok": true,
"value": ...}`` or ``{"ok": false, "error": {...}}``. An exception raised by
student code is reported with its type, message and the traceback frames that
lie in the student's folder; the grader turns it into a failed test.
"""
from __future__ import annotations

import builtins
import importlib
import os
import socket
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from grader.protocol import Encoded, ProtocolError, decode_tree, recv_frame, send_frame
from grader.worker.values import HandleTable, encode_student_value, materialise_argument

MAX_REQUEST_BYTES = 512 * 1024 * 1024
MAX_MESSAGE_CHARS = 2000


class WorkerServer:
    """Serves one grader connection until it closes."""

    def __init__(self, sock: socket.socket, root: Path) -> None:
        self.sock = sock
        self.root = root.resolve()
        self.handles = HandleTable()
        self.ops: dict[str, Callable[[dict, list[bytes]], Any]] = {
            "ping": self.op_ping,
            "import": self.op_import,
            "getattr": self.op_getattr,
            "call": self.op_call,
            "value": self.op_value,
            "put": self.op_put,
            "getitem": self.op_getitem,
            "state_dict": self.op_state_dict,
            "load_state_dict": self.op_load_state_dict,
            "backward": self.op_backward,
            "grad": self.op_grad,
            "release": self.op_release,
            "legacy": self.op_legacy,
        }

    # -- loop -----------------------------------------------------------------
    def serve(self) -> None:
        while True:
            try:
                request, blobs = recv_frame(self.sock, MAX_REQUEST_BYTES)
            except (ProtocolError, OSError):
                return
            self.handle_request(request, blobs)

    def handle_request(self, request: dict, blobs: list[bytes]) -> None:
        op = self.ops.get(request.get("op", ""))
        try:
            if op is None:
                raise ProtocolError(f"unknown request {request.get('op')!r}")
            result = op(request, blobs)
            encoded = result if isinstance(result, Encoded) else Encoded(result)
            send_frame(self.sock, {"ok": True, "value": encoded.tree}, encoded.blobs)
        except ProtocolError as error:
            send_frame(self.sock, {"ok": False, "error": {"kind": "protocol", "type": "ProtocolError", "message": str(error)}})
        except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
            send_frame(self.sock, {"ok": False, "error": self.describe_error(error)})

    def describe_error(self, error: BaseException) -> dict:
        frames = []
        for frame in traceback.extract_tb(error.__traceback__):
            relative = self.relative_student_path(frame.filename)
            if relative is not None:
                frames.append({"file": relative, "line": frame.lineno, "function": frame.name, "code": (frame.line or "")[:300]})
        if isinstance(error, SyntaxError) and error.filename:
            relative = self.relative_student_path(error.filename)
            if relative is not None:
                frames.append({"file": relative, "line": error.lineno, "function": "<module>", "code": (error.text or "").rstrip()[:300]})
        message = _safe_str(error)
        return {"kind": "student", "type": type(error).__name__[:100], "message": message[:MAX_MESSAGE_CHARS], "traceback": frames[-20:]}

    def relative_student_path(self, filename: str) -> str | None:
        if not os.path.isabs(filename):  # "<frozen importlib._bootstrap>", "<string>"
            return None
        try:
            path = Path(filename).resolve()
        except (OSError, ValueError):
            return None
        if path.is_relative_to(self.root):
            return path.relative_to(self.root).as_posix()
        return None

    # -- helpers ----------------------------------------------------------------
    def decode(self, tree: Any, blobs: list[bytes]) -> Any:
        return materialise_argument(decode_tree(tree, blobs), self.handles)

    def target(self, request: dict) -> Any:
        return self.handles.get(int(request["target"]))

    def reply(self, value: Any, keep: bool = False) -> Encoded:
        return encode_student_value(value, self.handles, keep=keep)

    # -- operations ---------------------------------------------------------------
    def op_ping(self, request: dict, blobs: list[bytes]) -> Any:
        return {"pid": os.getpid(), "python": sys.version.split()[0]}

    def op_import(self, request: dict, blobs: list[bytes]) -> Encoded:
        module = importlib.import_module(str(request["module"]))
        return self.reply(module, keep=True)

    def op_getattr(self, request: dict, blobs: list[bytes]) -> Encoded:
        return self.reply(getattr(self.target(request), str(request["name"])), keep=bool(request.get("keep")))

    def op_call(self, request: dict, blobs: list[bytes]) -> Encoded:
        function = self.target(request)
        args = self.decode(request.get("args", []), blobs)
        kwargs = self.decode(request.get("kwargs", {"$": "dict", "items": {}}), blobs)
        result = function(*args, **kwargs)
        return self.reply(result, keep=bool(request.get("keep")))

    def op_put(self, request: dict, blobs: list[bytes]) -> Encoded:
        return self.reply(self.decode(request["value"], blobs), keep=True)

    def op_getitem(self, request: dict, blobs: list[bytes]) -> Encoded:
        key = self.decode(request["key"], blobs)
        return self.reply(self.target(request)[key], keep=bool(request.get("keep")))

    def op_value(self, request: dict, blobs: list[bytes]) -> Encoded:
        return self.reply(self.target(request))

    def op_state_dict(self, request: dict, blobs: list[bytes]) -> Encoded:
        return self.reply(_state_dict(self.target(request)))

    def op_load_state_dict(self, request: dict, blobs: list[bytes]) -> Any:
        module = self.target(request)
        state = decode_tree(request["state"], blobs)
        if hasattr(module, "load_state_dict") and "torch" in sys.modules:
            import torch

            module.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in state.items()}, strict=bool(request.get("strict", True)))
        else:
            params = _edugrad_params(module)
            for key, value in state.items():
                if key not in params:
                    raise KeyError(f"the model has no parameter {key!r} (it has {sorted(params)})")
                if np.shape(params[key].value) != np.shape(value):
                    raise ValueError(f"parameter {key!r} has shape {np.shape(params[key].value)}, the grader sent {np.shape(value)}")
                params[key].value = np.array(value, dtype=float)
        return None

    def op_backward(self, request: dict, blobs: list[bytes]) -> Any:
        tensor = self.target(request)
        grad = decode_tree(request["grad"], blobs) if request.get("grad") is not None else None
        if "torch" in sys.modules and isinstance(tensor, sys.modules["torch"].Tensor):
            import torch

            tensor.backward(None if grad is None else torch.from_numpy(np.array(grad)).to(tensor.dtype))
            return None
        if grad is None:
            tensor.backward()
        else:
            # edugrad only seeds backward() with ones on a scalar; seed an
            # upstream gradient by hand and run the same topological sweep.
            tensor.grad = np.array(grad, dtype=float)
            for node in reversed(tensor._topo_sort()):
                node._backward()
        return None

    def op_grad(self, request: dict, blobs: list[bytes]) -> Encoded:
        target = self.target(request)
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            if isinstance(target, torch.Tensor):
                return self.reply(target.grad)
            if isinstance(target, torch.nn.Module):
                return self.reply({name: p.grad for name, p in target.named_parameters()})
        if hasattr(target, "_params"):
            return self.reply({name: tensor.grad for name, tensor in _edugrad_params(target).items()})
        return self.reply(target.grad)

    def op_release(self, request: dict, blobs: list[bytes]) -> Any:
        self.handles.release([int(handle_id) for handle_id in request.get("ids", [])])
        return None

    def op_legacy(self, request: dict, blobs: list[bytes]) -> Any:
        from grader.worker.legacy import run_legacy_tests

        return run_legacy_tests(self.sock, self.root / str(request["file"]), list(request.get("args", [])))


def _state_dict(module: Any) -> dict:
    if "torch" in sys.modules and isinstance(module, sys.modules["torch"].nn.Module):
        return dict(module.state_dict())
    return {name: tensor.value for name, tensor in _edugrad_params(module).items()}


def _edugrad_params(module: Any, prefix: str = "") -> dict:
    """Parameters of an edugrad ``Module`` by dotted name, like a torch state_dict."""
    params = {prefix + name: tensor for name, tensor in getattr(module, "_params", {}).items()}
    for name, child in getattr(module, "_modules", {}).items():
        params.update(_edugrad_params(child, f"{prefix}{name}."))
    if not params and not hasattr(module, "_params"):
        raise TypeError(f"{type(module).__name__} is neither a torch.nn.Module nor an edugrad Module")
    return params


def _safe_str(error: BaseException) -> str:
    try:
        return str(error)
    except BaseException:  # noqa: BLE001 - a student exception whose __str__ raises
        return f"<{type(error).__name__} whose message could not be printed>"


def install_import_guard(root: Path, allowed: set[str]) -> None:
    """Refuse imports of third-party packages that the assignment does not allow.

    Only imports made by files in the student's folder are checked; libraries
    importing their own dependencies are not. This is a courtesy that gives a
    clear message, not a security boundary (student code shares this process).
    """
    original_import = builtins.__import__
    stdlib = set(sys.stdlib_module_names)
    local = {path.stem for path in root.glob("*.py")} | {path.name for path in root.iterdir() if path.is_dir()}
    resolved_root = str(root.resolve())

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and globals is not None:
            top = name.partition(".")[0]
            caller = str(globals.get("__file__") or "")
            if caller.startswith(resolved_root) and top not in stdlib and top not in local and top not in allowed:
                raise ImportError(
                    f"importing {top!r} is not allowed in this assignment (allowed: {', '.join(sorted(allowed)) or 'the standard library only'})",
                    name=top,
                )
        return original_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import


def run_worker(config: dict, channel_fd: int) -> None:
    """Serve the grader on ``channel_fd`` from the student's folder (after confinement)."""
    root = Path(config["root"])
    sock = socket.socket(fileno=channel_fd)
    os.chdir(root)
    sys.path.insert(0, str(root))
    sys.argv = [str(root / "student")]
    if config.get("allowed_packages") is not None:
        install_import_guard(root, set(config["allowed_packages"]))
    WorkerServer(sock, root).serve()
