"""Record what the public tests ask the oracles (instructor side: imports ``reference``; never shipped).

``grader release`` grades the solution, the starter, the mutants and the
example submissions against the public tests with a :class:`Recorder`
active (:meth:`Recorder.patched`): every function of the ``reference``
modules, and every catalogue variant, is wrapped so that each call the tests
make (not the calls the oracles make among themselves) is keyed by its
arguments (:mod:`grader.recorded.keys`) and its outcome kept. For every oracle
call with known mistakes, the variants run on the same arguments too, so a
self-check can name a mistake the recorded submissions did not make.

The recorder is also a pytest plugin: it notes which test made each call and
whether the call explained a failure (:func:`grader.recorded.replay.explaining`).
:meth:`Recorder.offline_report` then says which public tests a self-check can
judge offline: those whose every verdict call could be recorded and was the
same call whatever the submission (a call whose arguments came from a
student's output could not be answered for a submission the release never
saw).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from grader.recorded import replay
from grader.recorded.codec import Unencodable, encode, encode_error
from grader.recorded.keys import Unkeyable, call_key
from grader.recorded.recording import Recording, changed_in_place, snapshot

__all__ = ["Recorder", "TestCalls", "OfflineReport", "offline_report", "surface_only"]

_REFERENCE = "reference"
_MISTAKES = "reference.mistakes"


@dataclass
class TestCalls:
    """What one test asked the oracles for one submission."""

    __test__ = False  # a record, not a pytest test class

    verdict: set[str] = field(default_factory=set)       # exact keys of calls outside explanations
    unrecordable: list[str] = field(default_factory=list)  # verdict calls that could not be recorded, and why


@dataclass
class OfflineReport:
    """Which public tests a self-check judges offline, and why the others cannot be."""

    points: dict[str, float]                 # test id -> points
    unchecked: dict[str, str] = field(default_factory=dict)  # test id -> why it is checked when graded

    @property
    def checkable_points(self) -> float:
        return round(sum(points for test_id, points in self.points.items() if test_id not in self.unchecked), 6)

    @property
    def total_points(self) -> float:
        return round(sum(self.points.values()), 6)

    def to_dict(self) -> dict[str, Any]:
        return {"checkable_points": self.checkable_points, "public_points": self.total_points,
                "checked_when_graded": [{"test": test_id, "why": why} for test_id, why in sorted(self.unchecked.items())]}


class Recorder:
    """Records oracle calls while assignment tests run in this process (see the module docstring)."""

    def __init__(self, anchor: Path, eager_mistakes: bool = True) -> None:
        self.anchor = Path(anchor).resolve()
        self.eager_mistakes = eager_mistakes
        self.recording = Recording()
        self.submission = ""                   # the label of the submission being graded
        self.calls: dict[tuple[str, str], TestCalls] = {}  # (submission, test id) -> its calls
        self._test: str | None = None
        self._depth = 0
        self._catalogue: Any = None

    # -- pytest hooks: which test is running ------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        relative = Path(str(item.path)).resolve().relative_to(self.anchor).as_posix()
        self._test = f"{relative}::{item.nodeid.split('::', 1)[1]}"

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._test = None

    def _log(self) -> TestCalls | None:
        if self._test is None:
            return None
        return self.calls.setdefault((self.submission, self._test), TestCalls())

    # -- recording one call ----------------------------------------------------------------
    def call(self, function_id: str, function: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        """Run ``function`` and record its outcome under ``function_id`` (calls the oracles make inside: not)."""
        if self._depth:
            return function(*args, **kwargs)
        log = self._log()
        # A recorded helper of the tests is computed where a self-check lacks its outcome: never a deferral.
        verdict = log is not None and not replay.is_explaining() and not function_id.startswith(replay.HELPER_PREFIX)
        try:
            key = call_key(function_id, args, kwargs, self.anchor)
        except Unkeyable as error:
            if verdict:
                log.unrecordable.append(f"{function_id}: {error}")
            return function(*args, **kwargs)
        known = key in self.recording
        before = [] if known else snapshot(args, kwargs)
        self._depth += 1
        try:
            value = function(*args, **kwargs)
        except Exception as error:
            if not known:
                self.recording.add(key, {"error": encode_error(error),
                                         "changes": changed_in_place(before, args, kwargs, self.recording.arrays)})
            if verdict:
                log.verdict.add(key.exact)
            raise
        finally:
            self._depth -= 1
        if not known:
            try:
                outcome = {"value": encode(value, self.recording.arrays)}
            except Unencodable as error:
                if verdict:
                    log.unrecordable.append(f"{function_id} returned {error}")
                return value
            outcome["changes"] = changed_in_place(before, args, kwargs, self.recording.arrays)
            self.recording.add(key, outcome)
            if self.eager_mistakes and not function_id.startswith((replay.MISTAKE_PREFIX, replay.HELPER_PREFIX)):
                self._record_mistakes(function_id, args, kwargs)
        if verdict:
            log.verdict.add(key.exact)
        return value

    def _record_mistakes(self, oracle: str, args: tuple, kwargs: dict[str, Any]) -> None:
        """Run every variant of ``oracle`` on the same arguments, so a diagnosis can be replayed."""
        entries = self._shadowing(oracle)
        with replay.explaining():
            for entry in entries:
                try:
                    self.call(replay.MISTAKE_PREFIX + entry.id, entry.variant, copy.deepcopy(args), copy.deepcopy(kwargs))
                except Exception:  # noqa: BLE001 - a variant that cannot run here: its exception is its outcome
                    pass

    def _shadowing(self, oracle: str) -> list[Any]:
        """The catalogue's entries for ``oracle``; their texts are kept for the self-check to show."""
        entries = [entry for entry in self._catalogue.catalogue().values() if entry.shadows == oracle]
        if entries:
            self.recording.shadowing[oracle] = [entry.id for entry in entries]
            for entry in entries:
                self._keep_texts(entry)
        return entries

    def _keep_texts(self, entry: Any) -> None:
        """A mistake's title, for the self-check to name it. Not its explanation: that often spells out the right
        code, and a bundle shows every student every text, not only those who made the mistake."""
        self.recording.mistakes[entry.id] = {"title": entry.title, "explanation": "", "shadows": entry.shadows}

    # -- patching the oracles ---------------------------------------------------------------
    @contextlib.contextmanager
    def patched(self) -> Iterator["Recorder"]:
        """Within the block, the ``reference`` modules' functions and the catalogue record their calls."""
        catalogue = importlib.import_module(_MISTAKES)
        self._catalogue = catalogue
        variants = {id(entry.variant) for entry in catalogue.catalogue().values()}
        originals: list[tuple[Any, str, Any]] = []
        try:
            for module in _reference_modules():
                if module.__name__ == _MISTAKES:  # the catalogue's own functions: _patch_catalogue
                    continue
                surface = self._surface(module, variants)
                self.recording.modules[module.__name__] = surface
                for name in surface["functions"]:
                    function = getattr(module, name)
                    originals.append((module, name, function))
                    setattr(module, name, self._wrapped(f"{module.__name__}.{name}", function))
            originals += self._patch_catalogue(catalogue)
            replay.set_recorder(self)
            yield self
        finally:
            replay.set_recorder(None)
            for owner, name, original in reversed(originals):
                setattr(owner, name, original)

    def _wrapped(self, function_id: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            return self.call(function_id, function, args, kwargs)

        return recorded

    def _patch_catalogue(self, catalogue: Any) -> list[tuple[Any, str, Any]]:
        """``Mistake.evaluate`` records; ``get`` and ``shadowing`` keep the texts of what they hand out."""
        recorder = self
        mistake_class, get, shadowing = catalogue.Mistake, catalogue.get, catalogue.shadowing
        evaluate = mistake_class.evaluate

        def recorded_evaluate(entry: Any, *args: Any, **kwargs: Any) -> Any:
            return recorder.call(replay.MISTAKE_PREFIX + entry.id, entry.variant, args, kwargs)

        def recorded_get(mistake_id: str) -> Any:
            entry = get(mistake_id)
            recorder._keep_texts(entry)
            return entry

        def recorded_shadowing(oracle: Any, only: Any = None) -> list[Any]:
            recorder._shadowing(catalogue.oracle_key(oracle))
            return shadowing(oracle, only)

        mistake_class.evaluate = recorded_evaluate
        catalogue.get, catalogue.shadowing = recorded_get, recorded_shadowing
        return [(mistake_class, "evaluate", evaluate), (catalogue, "get", get), (catalogue, "shadowing", shadowing)]

    @staticmethod
    def _surface(module: Any, variants: set[int]) -> dict[str, Any]:
        """The names a replayed module must offer: its functions (no variant), its simple constants."""
        functions, constants = [], {}
        for name, value in vars(module).items():
            if name.startswith("_"):
                continue
            if inspect.isfunction(value) and value.__module__ == module.__name__ and id(value) not in variants:
                functions.append(name)
            elif isinstance(value, (bool, int, float, str, tuple)) and not name.startswith("__"):
                try:
                    constants[name] = encode(value, {})
                except Unencodable:
                    continue
        return {"functions": sorted(functions), "constants": constants}

    # -- the verdict: what a self-check can judge offline ---------------------------------
    def offline_report(self, points: dict[str, float], reference_label: str) -> OfflineReport:
        """:func:`offline_report` of this recorder's calls."""
        return offline_report(self.calls, points, reference_label)


def offline_report(calls: dict[tuple[str, str], TestCalls], points: dict[str, float],
                   reference_label: str) -> OfflineReport:
    """Which of the public tests (``points``: id -> points) a self-check judges offline.

    ``calls`` maps (submission, test id) to what the test asked the oracles. A
    test is judged offline when no submission made a verdict call that could
    not be recorded, and no submission made a verdict call that the
    ``reference_label`` run (the solution) did not make.
    """
    report = OfflineReport(points)
    for test_id in points:
        expected = calls.get((reference_label, test_id), TestCalls()).verdict
        for (label, logged_test), logged in sorted(calls.items()):
            if logged_test != test_id:
                continue
            if logged.unrecordable:
                report.unchecked[test_id] = f"{label}: {logged.unrecordable[0]}"
                break
            extra = logged.verdict - expected
            if extra:
                report.unchecked[test_id] = (f"{label} made {len(extra)} oracle call(s) the solution did not: "
                                             "their arguments depend on the student's output")
                break
    return report


def surface_only() -> Recording:
    """A recording of no call: only what the replayed ``reference`` modules offer (names and constants), so a
    bundle's tests still import; each oracle call is then checked when graded."""
    catalogue = importlib.import_module(_MISTAKES)
    variants = {id(entry.variant) for entry in catalogue.catalogue().values()}
    recording = Recording()
    for module in _reference_modules():
        if module.__name__ != _MISTAKES:
            recording.modules[module.__name__] = Recorder._surface(module, variants)
    return recording


def _reference_modules() -> list[Any]:
    """Every module of the ``reference`` package, the catalogue's included."""
    package = importlib.import_module(_REFERENCE)
    modules = [package]
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{_REFERENCE}."):
        modules.append(importlib.import_module(info.name))
    return modules
