"""The pytest plugin that runs an assignment's trusted tests against one submission.

Tests run in the grader's process; student code runs in the worker behind the
``student`` fixture. Verdicts are computed here, from exceptions raised in
trusted code: a :class:`~grader.session.StudentFailure` or a failed ``assert``
fails the test; any other exception in a test is an ``error`` (a bug in the
test, flagged for the instructor). Partial credit comes from the ``credit``
fixture.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from grader import diagnosis as diagnoses
from grader.plan import PlannedTest
from grader.proxy import StudentProxy
from grader.recorded.replay import NotRecorded
from grader.results import DEFERRED, ERROR, FAILED, PARTIAL, PASSED, SKIPPED, TIMEOUT, Diagnosis, TestResult
from grader.seeding import derive_public_seed, derive_seed
from grader.session import GraderProtocolError, StudentFailure, WorkerSession
from grader.testing import Credit

MAX_MESSAGE_CHARS = 4000


@dataclass
class _Outcome:
    status: str = PASSED
    message: str = ""
    duration: float = 0.0
    credit: Credit | None = None
    diagnosis: Diagnosis | None = None


@dataclass
class GradingPlugin:
    """Runs inside ``pytest.main(plugins=[...])`` for one submission."""

    session: WorkerSession
    assignment_name: str
    seed_id: str  # who hidden tests draw inputs for: the student id, or the layout's seed identity
    seed_salt: str
    plan: dict[str, PlannedTest]
    assignment_root: Path
    outcomes: dict[str, _Outcome] = field(default_factory=dict)
    missing_files: tuple[str, ...] = ()
    _relative_paths: dict[str, str] = field(default_factory=dict, repr=False)

    def test_id(self, item: pytest.Item) -> str:
        path = str(item.path)
        relative = self._relative_paths.get(path)
        if relative is None:  # resolve() asks the file system: once per test file and submission, not per hook
            relative = self._relative_paths[path] = Path(path).resolve().relative_to(self.assignment_root).as_posix()
        return f"{relative}::{item.nodeid.split('::', 1)[1]}"

    # -- fixtures ------------------------------------------------------------------
    @pytest.fixture
    def student(self, request) -> StudentProxy:
        if self.missing_files:
            raise StudentFailure(f"your submission is missing {', '.join(self.missing_files)}, so this test cannot run")
        return StudentProxy(self.session)

    @pytest.fixture
    def seed(self, request) -> int:
        test_id = self.test_id(request.node)
        planned = self.plan.get(test_id)
        if planned is not None and planned.visibility == "public":
            # The same inputs in `grader check` and `grader grade`: see grader.seeding.
            return derive_public_seed(self.assignment_name, test_id)
        return derive_seed(self.assignment_name, test_id, self.seed_id, self.seed_salt)

    @pytest.fixture
    def rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng(seed)

    @pytest.fixture
    def credit(self, request) -> Credit:
        credit = Credit()
        self.outcomes.setdefault(self.test_id(request.node), _Outcome()).credit = credit
        return credit

    # -- hooks ---------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.session.test_deadline = time.monotonic() + self.session.spec.limits.test_seconds
        diagnoses.start_test()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        report = (yield).get_result()
        outcome = self.outcomes.setdefault(self.test_id(item), _Outcome())
        outcome.duration += call.duration
        if call.excinfo is None or outcome.status != PASSED:
            return
        error = call.excinfo.value
        if isinstance(error, NotRecorded):  # a self-check: this test's verdict needs the real oracles
            outcome.status, outcome.message = DEFERRED, str(error)
        elif call.excinfo.errisinstance(pytest.skip.Exception):
            outcome.status, outcome.message = SKIPPED, str(error)
        elif isinstance(error, StudentFailure):
            outcome.status = getattr(error, "status", FAILED)
            outcome.message = str(error)
        elif isinstance(error, AssertionError):
            outcome.status = FAILED
            outcome.message = _assertion_message(report, error)
        elif isinstance(error, GraderProtocolError):
            outcome.status, outcome.message = ERROR, f"the grader's test misused the student proxy: {error}"
        elif call.excinfo.errisinstance((KeyboardInterrupt,)):
            raise error
        else:
            outcome.status = ERROR
            outcome.message = f"the test itself raised {call.excinfo.exconly()[:1000]} (a problem in the grader's test, not necessarily your code)"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.session.test_deadline = float("inf")
        self.outcomes.setdefault(self.test_id(item), _Outcome()).diagnosis = diagnoses.finish_test()

    # -- results -------------------------------------------------------------------
    def results(self) -> list[TestResult]:
        results = []
        for test_id, planned in self.plan.items():
            outcome = self.outcomes.get(test_id)
            if outcome is None:
                results.append(_result(planned, FAILED, 0.0, "this test did not run (the grading of this submission stopped early)"))
                continue
            status, message, earned = outcome.status, outcome.message, planned.points if outcome.status == PASSED else 0.0
            credit = outcome.credit
            if credit is not None and credit.value is not None and status in (PASSED, FAILED, TIMEOUT):
                earned = planned.points * credit.value
                if 0 < credit.value < 1 or (status != PASSED and credit.value > 0):
                    status = PARTIAL
                elif credit.value == 0 and status == PASSED:
                    status = FAILED
                message = "\n".join(dict.fromkeys(part for part in (credit.note, message) if part))
            diagnosis = outcome.diagnosis if status != PASSED else None
            results.append(_result(planned, status, earned, message, outcome.duration, diagnosis))
        return results


def _result(planned: PlannedTest, status: str, earned: float, message: str, duration: float = 0.0,
            diagnosis: Diagnosis | None = None) -> TestResult:
    return planned.result(status, earned, message[:MAX_MESSAGE_CHARS], duration, diagnosis)


def _assertion_message(report, error: AssertionError) -> str:
    """The student-facing text of a failed ``assert``: its message, or pytest's explanation."""
    text = str(error).strip()
    if text and not text.startswith("assert "):
        # A custom message; pytest appends its own explanation after it.
        return text.split("\nassert ", 1)[0].strip()
    lines = text.splitlines() or [line[2:] for line in str(report.longreprtext).splitlines() if line.startswith("E ")]
    useful = [line.strip() for line in lines if "grader.proxy" not in line and "StudentProxy" not in line
              and "where module = " not in line and "= module(" not in line]
    return "\n".join(useful[:20]) or "assertion failed"
