"""The ``reference`` package as the self-check sees it: recorded outcomes in place of the oracles.

While :func:`replaying` is active, ``import reference.rnn`` (and
``reference.mistakes``) gives a module built from a
:class:`~grader.recorded.recording.Recording`: the same function names, and
the same constants, but each function looks its call up in the recording
instead of computing. A call the release did not record raises
:class:`NotRecorded`; the grading plugin then shows the test as "checked
when graded", never as passed or failed. It derives from ``BaseException`` so
that no ``except Exception`` in a test turns it into a verdict.

Calls made to explain a failure (a diagnosis, a hint) run inside
:func:`explaining`: there a missing outcome only leaves the explanation out.

A trusted helper of the tests may be recorded too (:func:`recorded`): a
computation in PyTorch, say, whose result depends on its arguments only. The
self-check then replays it and needs no PyTorch in its own process, and
computes it where the release recorded no such call.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.machinery
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from grader.recorded.codec import decode_error
from grader.recorded.keys import Unkeyable, call_key
from grader.recorded.recording import Recording, apply_changes

__all__ = ["NotRecorded", "replaying", "explaining", "explanation", "active_recording", "recorded",
           "REFERENCE_PACKAGE"]

REFERENCE_PACKAGE = "reference"
MISTAKES_MODULE = "reference.mistakes"
MISTAKE_PREFIX = "mistake:"
HELPER_PREFIX = "helper:"

# The active recording (replaying) and recorder (grader.recorded.recorder, at release), and the explanation depth.
_state: dict[str, Any] = {"recording": None, "anchor": None, "explaining": 0, "recorder": None}


class NotRecorded(BaseException):
    """An oracle call whose outcome the release did not record (its arguments came from the student's code)."""

    def __init__(self, function: str, reason: str = "") -> None:
        super().__init__(function, reason)
        self.function = function
        self.reason = reason

    def __str__(self) -> str:
        return (f"checked when graded: this check asks {self.function.removeprefix(MISTAKE_PREFIX)} about values "
                f"that depend on your code's output, which the self-check cannot answer offline"
                + (f" ({self.reason})" if self.reason else ""))


def active_recording() -> Recording | None:
    return _state["recording"]


# -- explaining ------------------------------------------------------------------------------

@contextlib.contextmanager
def explaining() -> Iterator[None]:
    """Mark the calls inside as explaining a verdict already reached (see :func:`explanation`)."""
    _state["explaining"] += 1
    try:
        yield
    finally:
        _state["explaining"] -= 1


def is_explaining() -> bool:
    return _state["explaining"] > 0


def explanation(compute: Callable[[], Any], default: Any = "") -> Any:
    """``compute()``, an explanation of a verdict already reached; ``default`` when the self-check cannot
    compute it offline (an oracle call it did not record)."""
    with explaining():
        try:
            return compute()
        except NotRecorded:
            return default


# -- recorded helpers of the tests --------------------------------------------------------------

def recorded(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a helper of the tests whose result depends on its arguments only: recorded like an oracle.

    At release the recorder keeps its outcomes; a self-check replays them and
    runs the helper itself only for a call the release did not record. Use it
    for what is costly or needs a library the student's install may lack in
    the grader's process (PyTorch as a gradient oracle)::

        @recorded
        def torch_gradients(weights, inputs, upstream): ...
    """
    @functools.wraps(function)
    def helper(*args: Any, **kwargs: Any) -> Any:
        recorder, recording = _state["recorder"], _state["recording"]
        if recorder is not None:
            return recorder.call(_helper_id(function, recorder.anchor), function, args, kwargs)
        if recording is not None:
            try:
                return replay_call(_helper_id(function, _state["anchor"]), args, kwargs)
            except NotRecorded:
                pass
        return function(*args, **kwargs)

    helper.__recorded__ = True
    return helper


def _helper_id(function: Callable[..., Any], anchor: Path | None) -> str:
    """``helper:tests/conftest.py:torch_gradients``: by its file below the assignment, the same in every copy."""
    filename = os.path.realpath(function.__code__.co_filename)
    root = str(anchor) + os.sep if anchor is not None else None
    where = filename[len(root):] if root and filename.startswith(root) else function.__module__
    return f"{HELPER_PREFIX}{where.replace(os.sep, '/')}:{function.__qualname__}"


def set_recorder(recorder: Any) -> None:
    """The release's recorder (or None): recorded helpers report their calls to it."""
    _state["recorder"] = recorder


# -- the replayed functions -----------------------------------------------------------------

class ReplayedFunction:
    """Stands for the oracle ``module.name``: looks each call up in the active recording."""

    def __init__(self, module: str, name: str, function_id: str | None = None) -> None:
        self.__module__ = module
        self.__name__ = self.__qualname__ = name
        self.__doc__ = f"{module}.{name}, replayed from the outcomes recorded when the assignment was released."
        self.function_id = function_id or f"{module}.{name}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return replay_call(self.function_id, args, kwargs)

    def __repr__(self) -> str:
        return f"<replayed {self.function_id}>"


def replay_call(function_id: str, args: tuple, kwargs: dict[str, Any]) -> Any:
    recording = _state["recording"]
    if recording is None:
        raise NotRecorded(function_id, "no recording is active")
    try:
        key = call_key(function_id, args, kwargs, _state["anchor"])
    except Unkeyable as error:
        raise NotRecorded(function_id, str(error)) from None
    outcome = recording.find(key)
    if outcome is None:
        raise NotRecorded(function_id)
    apply_changes(outcome.get("changes", []), args, kwargs, recording.arrays)
    if "error" in outcome:
        raise decode_error(outcome["error"])
    return recording.decode(outcome["value"])


@dataclass(frozen=True)
class ReplayedMistake:
    """A catalogue entry as the self-check knows it: its texts, and its recorded outputs."""

    id: str
    title: str
    explanation: str
    shadows: str

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        return replay_call(MISTAKE_PREFIX + self.id, args, kwargs)

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "explanation": self.explanation, "shadows": self.shadows}


class UnknownMistake(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def _oracle_key(oracle: Any) -> str:
    if isinstance(oracle, str):
        return oracle
    return f"{oracle.__module__}.{oracle.__qualname__}"


def _mistakes_module(recording: Recording) -> types.ModuleType:
    """``reference.mistakes``: ``get``, ``shadowing``, ``oracle_key`` over the recorded texts."""
    module = types.ModuleType(MISTAKES_MODULE, "The mistakes the self-check can name (texts only).")
    entries = {mistake_id: ReplayedMistake(mistake_id, **texts) for mistake_id, texts in recording.mistakes.items()}

    def get(mistake_id: str) -> ReplayedMistake:
        if mistake_id not in entries:
            raise UnknownMistake(f"no mistake {mistake_id!r} was recorded for the self-check")
        return entries[mistake_id]

    def shadowing(oracle: Any, only: Iterable[str] | None = None) -> list[ReplayedMistake]:
        wanted = None if only is None else set(only)
        return [entries[mistake_id] for mistake_id in recording.shadowing.get(_oracle_key(oracle), [])
                if mistake_id in entries and (wanted is None or mistake_id in wanted)]

    module.get, module.shadowing, module.oracle_key = get, shadowing, _oracle_key
    module.Mistake, module.UnknownMistake = ReplayedMistake, UnknownMistake
    module.catalogue = lambda: dict(entries)
    module.__path__ = []  # a package: reference.mistakes.ops and friends come from the recording too
    return module


def build_module(name: str, recording: Recording) -> types.ModuleType:
    """The replayed module ``name`` (``reference`` itself, one of its modules, or ``reference.mistakes``)."""
    if name == MISTAKES_MODULE:
        module = _mistakes_module(recording)
    else:
        module = types.ModuleType(name, f"{name}, replayed from the outcomes recorded at release.")
        if name == REFERENCE_PACKAGE or any(other.startswith(name + ".") for other in recording.modules):
            module.__path__ = []
    surface = recording.modules.get(name, {})
    for function in surface.get("functions", []):
        setattr(module, function, ReplayedFunction(name, function))
    for constant, value in surface.get("constants", {}).items():
        setattr(module, constant, recording.decode(value))
    return module


class _ReplayFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``reference`` and its modules from the recording, before any other finder is asked."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != REFERENCE_PACKAGE and not fullname.startswith(REFERENCE_PACKAGE + "."):
            return None
        known = fullname in (REFERENCE_PACKAGE, MISTAKES_MODULE) or fullname in self.recording.modules
        if not known:
            return None  # then the import fails: nothing else may answer for reference
        package = fullname == REFERENCE_PACKAGE or fullname == MISTAKES_MODULE or any(
            other.startswith(fullname + ".") for other in self.recording.modules)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return build_module(spec.name, self.recording)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _Blocker(importlib.abc.MetaPathFinder):
    """Keeps the real ``reference`` from loading while replaying (an instructor's machine has it)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == REFERENCE_PACKAGE or fullname.startswith(REFERENCE_PACKAGE + "."):
            raise ModuleNotFoundError(f"No module named {fullname!r} in the self-check (not recorded)", name=fullname)
        return None


def _forget_reference() -> dict[str, types.ModuleType]:
    taken = {name: module for name, module in sys.modules.items()
             if name == REFERENCE_PACKAGE or name.startswith(REFERENCE_PACKAGE + ".")}
    for name in taken:
        del sys.modules[name]
    return taken


@contextlib.contextmanager
def replaying(recording: Recording, anchor: Path) -> Iterator[Recording]:
    """Within the block, ``reference`` is the recording (``anchor``: the assignment folder the tests live in)."""
    previous = (_state["recording"], _state["anchor"])
    outside = _forget_reference()
    finders = [_ReplayFinder(recording), _Blocker()]
    sys.meta_path[:0] = finders
    _state["recording"], _state["anchor"] = recording, Path(anchor).resolve()
    try:
        yield recording
    finally:
        _state["recording"], _state["anchor"] = previous
        for finder in finders:
            sys.meta_path.remove(finder)
        _forget_reference()
        sys.modules.update(outside)


def load_expectations(assignment_root: Path) -> Recording | None:
    """The recording a released bundle carries, or None when ``assignment_root`` has none."""
    from grader.recorded.recording import EXPECTATIONS_DIR

    folder = Path(assignment_root) / EXPECTATIONS_DIR
    return Recording.load(folder) if folder.is_dir() else None
