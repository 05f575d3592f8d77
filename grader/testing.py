"""What assignment test files import: points, partial credit, and comparisons with clear messages.

An assignment's trusted test::

    from grader.testing import points, assert_array_close
    from reference.rnn import lstm_cell

    @points(2, name="LSTM cell: one step matches the reference")
    def test_lstm_cell(student, rng):
        x, h, c = rng.normal(size=(3, 4)), rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
        ...
        got_h, got_c = student.module("cells").lstm_cell(x, (h, c), *weights)
        want_h, want_c = lstm_cell(x, (h, c), *weights)
        assert_array_close(got_h, want_h, what="h_next")

Fixtures provided by the grader: ``student`` (a :class:`grader.proxy.StudentProxy`),
``rng`` (a ``numpy.random.Generator``: public tests seed it from assignment and
test, hidden tests also from the student; see :mod:`grader.seeding`),
``seed`` (the integer behind it) and ``credit`` (partial credit).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from grader.recorded.replay import recorded
from grader.session import StudentCrash, StudentException, StudentFailure, StudentTimeout

__all__ = ["points", "Credit", "StudentFailure", "StudentException", "StudentTimeout", "StudentCrash", "assert_array_close",
           "assert_type", "describe_mismatch", "recorded"]


def points(value: float, name: str | None = None, visibility: str | None = None) -> Callable:
    """Declare a test's points, the name students see, and optionally its visibility.

    ``visibility`` overrides the file's default (``public`` or ``hidden``); it may
    also be ``after_due_date``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"points must be a number >= 0, got {value!r}")
    return pytest.mark.points(float(value), name=name, visibility=visibility)


class Credit:
    """Partial credit for one test: ``credit.fraction(passed_cases, total_cases)``.

    When a test sets a fraction, it earns ``points * fraction`` whether it then
    passes or fails; a test that never sets one earns all or nothing.
    """

    def __init__(self) -> None:
        self.value: float | None = None
        self.note = ""

    def fraction(self, earned: float, total: float = 1.0, note: str = "") -> None:
        if total <= 0:
            raise ValueError("total must be positive")
        self.value = min(max(float(earned) / float(total), 0.0), 1.0)
        self.note = note or (f"{earned:g} of {total:g} cases correct" if total != 1 else "")

    def run_cases(self, cases: list[Callable[[], Any]], noun: str = "cases") -> None:
        """Run independent checks, credit the share that passed, and fail with the first problem.

        After a timeout the remaining cases are not tried (this test's time is
        spent) and count as failed; a failure marked ``not_run`` (a case skipped
        at no cost, e.g. because its function hung in an earlier test) does not
        stop the others. The test keeps the first failure's status.
        """
        if not cases:
            raise ValueError("run_cases needs at least one case")
        failures: list[StudentFailure] = []
        for index, case in enumerate(cases):
            try:
                case()
            except StudentFailure as error:
                failures.append(error)
                if getattr(error, "status", "") == "timeout" and not getattr(error, "not_run", False):
                    failures += [error] * (len(cases) - index - 1)
                    break
        passed = len(cases) - len(failures)
        self.fraction(passed, len(cases), note=f"{passed} of {len(cases)} {noun} correct")
        if failures:
            error = StudentFailure(str(failures[0]))
            error.status = getattr(failures[0], "status", "failed")
            raise error


def assert_type(got: Any, expected: type | tuple[type, ...], what: str) -> None:
    """Fail with a message naming what was returned when ``got`` has the wrong type."""
    if not isinstance(got, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise StudentFailure(f"{what}: expected {names}, got {_describe_value(got)}")


def _describe_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    type_name = getattr(value, "type_name", None)
    if type_name:
        return f"an object of type {type_name}"
    return f"{type(value).__name__} {str(value)[:60]!r}"


def assert_array_close(got: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-6, what: str = "output") -> None:
    """Compare a student's array with the oracle's, failing with a message a student can act on.

    The message gives the shape, the maximum absolute and relative error, how
    many elements differ and the first positions, with expected and actual
    values there. ``rtol``/``atol`` follow ``numpy.isclose``; the defaults suit
    float32 student code compared with a float64 oracle.
    """
    expected = np.asarray(expected)
    if not isinstance(got, (np.ndarray, int, float, np.generic)) or isinstance(got, bool):
        raise StudentFailure(f"{what}: expected an array of shape {expected.shape}, got {_describe_value(got)}")
    got = np.asarray(got)
    if got.shape != expected.shape:
        raise StudentFailure(f"{what}: expected shape {expected.shape}, got shape {got.shape}")
    if got.dtype.kind not in "biuf":
        raise StudentFailure(f"{what}: expected numbers, got an array of dtype {got.dtype}")
    message = describe_mismatch(got, expected, rtol, atol, what)
    if message:
        raise StudentFailure(message)


def describe_mismatch(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, what: str, max_positions: int = 3) -> str:
    """An empty string when ``got`` matches, otherwise a description of where and how far it is off."""
    got64 = got.astype(np.float64)
    expected64 = expected.astype(np.float64)
    close = np.isclose(got64, expected64, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return ""
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_err = np.abs(got64 - expected64)
        # Relative error only where the expected value is not (near) zero: elsewhere it means nothing.
        meaningful = np.abs(expected64) > atol
        rel_err = np.where(meaningful, abs_err / np.where(meaningful, np.abs(expected64), 1.0), 0.0)
    abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
    bad = np.argwhere(~close)
    rel_values = rel_err[~close & meaningful & np.isfinite(rel_err)]
    rel_part = f", max rel error {np.max(rel_values):.3g}" if rel_values.size else ""
    lines = [
        f"{what} differs from the expected values: {len(bad)} of {close.size} elements off "
        f"(shape {got.shape}; max abs error {np.max(abs_err[~close]):.3g}{rel_part}; "
        f"tolerance rtol={rtol:g}, atol={atol:g})"
    ]
    if np.isnan(got64).any() and not np.isnan(expected64).any():
        lines.append(f"your {what} contains NaN at {int(np.isnan(got64).sum())} positions")
    for position in bad[:max_positions]:
        index = tuple(int(i) for i in position)
        lines.append(f"  at index {index if got.ndim else '()'}: expected {expected64[index]:.6g}, got {got64[index]:.6g}")
    return "\n".join(lines)
