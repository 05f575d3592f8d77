"""Name the student's mistake: compare a failed output with the known wrong variants of its oracle.

An assignment's trusted test compares a student's output with an oracle from
``reference/``. When they differ, the variants in :mod:`reference.mistakes` that
shadow that oracle run **in the grader's process, on the same inputs**; a
variant whose output matches the student's (within the check's tolerance)
names the mistake. A diagnosis only explains: points never depend on it.

In a test::

    from grader.diagnosis import compare_with_oracle
    from reference.rnn import lstm_cell

    h, c = kit.forward(...)
    compare_with_oracle(h, lstm_cell, x, (h0, c0), *weights, output=0, what="h_next")

Diagnoses made while a test runs are collected by the grading plugin
(:func:`start_test` / :func:`finish_test`) and stored on the test's
:class:`~grader.results.TestResult`, from where the terminal, the HTML reports
and every export show them.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable

import numpy as np

from grader.recorded.replay import NotRecorded, active_recording, explaining, explanation
from grader.results import Diagnosis, MatchedMistake
from grader.testing import StudentFailure, assert_array_close

__all__ = ["compare_with_oracle", "explain_mismatch", "diagnose", "start_test", "finish_test", "arrays_match",
           "explanation"]

Selector = int | str | Callable[[Any], Any] | None
Same = Callable[[Any, Any], bool]

# The diagnoses recorded during the test that is running (tests run one at a time in a grading process).
_current: list[Diagnosis] | None = None


def compare_with_oracle(got: Any, oracle: Callable[..., Any], *args: Any, what: str = "output", output: Selector = None,
                        rtol: float = 1e-5, atol: float = 1e-6, mistakes: Iterable[str] | None = None,
                        same: Same | None = None, **kwargs: Any) -> None:
    """Check ``got`` against ``oracle(*args, **kwargs)`` (the part picked by ``output``); on a mismatch, diagnose.

    Raises the :class:`~grader.testing.StudentFailure` of
    :func:`~grader.testing.assert_array_close` when the values differ, after
    recording which known mistakes were tried and which match. ``mistakes``
    limits the diagnosis to those catalogue ids (default: every variant of the
    oracle); ``same(got, candidate)`` decides whether a variant's output
    matches (default: :func:`arrays_match` with ``rtol``/``atol``).
    """
    expected = _pick(oracle(*args, **kwargs), output)
    try:
        assert_array_close(got, expected, rtol=rtol, atol=atol, what=what)
    except StudentFailure:
        explain_mismatch(got, oracle, *args, output=output, same=same, rtol=rtol, atol=atol, mistakes=mistakes,
                         **kwargs)
        raise


def explain_mismatch(got: Any, oracle: Callable[..., Any] | str, *args: Any, output: Selector = None,
                     same: Same | None = None, rtol: float = 1e-5, atol: float = 1e-6,
                     mistakes: Iterable[str] | None = None, **kwargs: Any) -> Diagnosis:
    """Diagnose an output the caller already found wrong, and record the diagnosis for the running test.

    For checks that compare in their own way (token lists, beam hypotheses):
    ``same(got, candidate)`` decides whether a variant's output matches; the
    default compares numbers with ``rtol``/``atol``.
    """
    diagnosis = diagnose(got, oracle, args, kwargs, output=output, same=same, rtol=rtol, atol=atol, mistakes=mistakes)
    if diagnosis.checked:  # when no variant could run on these inputs there is nothing to say
        record(diagnosis)
    return diagnosis


def diagnose(got: Any, oracle: Callable[..., Any] | str, args: tuple = (), kwargs: dict[str, Any] | None = None,
             output: Selector = None, same: Same | None = None, rtol: float = 1e-5, atol: float = 1e-6,
             mistakes: Iterable[str] | None = None) -> Diagnosis:
    """Run every variant of ``oracle`` on ``args``/``kwargs``; those whose output matches ``got`` are named.

    A variant that raises (its mistake cannot be expressed for these inputs,
    e.g. swapped weights of different shapes) neither matches nor counts as
    checked, so "N classic mistakes checked" counts only those that ran.
    Nothing is recorded: see :func:`explain_mismatch`. An oracle that no
    catalogue entry shadows is the test author's error (ValueError).
    """
    kwargs = kwargs or {}
    same = same or (lambda student, candidate: arrays_match(student, candidate, rtol, atol))
    catalogue = _catalogue()
    entries = catalogue.shadowing(oracle, mistakes)
    if not entries:
        if active_recording() is not None:  # a self-check: the release recorded no mistake of this oracle
            return Diagnosis(matched=[], checked=[])
        raise ValueError(f"no mistake in reference/mistakes shadows {catalogue.oracle_key(oracle)}; "
                         "nothing to diagnose with")
    matched, checked = [], []
    with explaining():
        for entry in entries:
            try:
                candidate = _pick(entry.evaluate(*args, **kwargs), output)
                hit = bool(same(got, candidate))
            except NotRecorded:  # a self-check without this variant's outcome: it names the mistake when graded
                continue
            except Exception:  # noqa: BLE001 - a variant that cannot run on these inputs is no match
                continue
            checked.append(entry.id)
            if hit:
                matched.append(MatchedMistake(entry.id, entry.title, entry.explanation))
    return Diagnosis(matched=matched, checked=checked)


def _catalogue():
    """The catalogue of mistakes: :mod:`reference.mistakes`, or in a self-check the texts and outcomes the
    release recorded (:mod:`grader.recorded.replay`), looked up when used, never at import."""
    return importlib.import_module("reference.mistakes")


def arrays_match(got: Any, candidate: Any, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Whether ``got`` equals ``candidate`` elementwise within tolerance (NaN matches NaN, inf matches inf)."""
    try:
        got_array = np.asarray(got, dtype=np.float64)
        candidate_array = np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if got_array.shape != candidate_array.shape:
        return False
    return bool(np.isclose(got_array, candidate_array, rtol=rtol, atol=atol, equal_nan=True).all())


def _pick(value: Any, output: Selector) -> Any:
    if output is None:
        return value
    if callable(output):
        return output(value)
    return value[output]


# -- per-test recording (driven by grader.pytest_plugin) -----------------------------------


def start_test() -> None:
    """Begin collecting the diagnoses of one test."""
    global _current
    _current = []


def record(diagnosis: Diagnosis) -> None:
    """Add a diagnosis to the running test (ignored outside a grading run, e.g. in a unit test of a kit)."""
    if _current is not None:
        _current.append(diagnosis)


def finish_test() -> Diagnosis | None:
    """The running test's diagnoses merged into one (matches first-seen order), or None when none was made."""
    global _current
    collected, _current = _current or [], None
    if not collected:
        return None
    matched: dict[str, MatchedMistake] = {}
    checked: dict[str, None] = {}
    for diagnosis in collected:
        for entry in diagnosis.matched:
            matched.setdefault(entry.id, entry)
        checked.update(dict.fromkeys(diagnosis.checked))
    return Diagnosis(matched=list(matched.values()), checked=list(checked))
