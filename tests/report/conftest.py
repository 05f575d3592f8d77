"""Graded folders built from hand-written results: fast, deterministic inputs for the report tests.

Nothing here grades: a folder is ``batch.json`` plus ``<id>/result.json``,
written with the engine's own writers and read back with
:func:`grader.manifest.load_graded_folder`, as ``grader report`` does.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from grader.manifest import BatchManifest, GradedFolder, load_graded_folder, write_manifest
from grader.plan import PlannedTest
from grader.results import Output, SubmissionResult, TestResult, save_result

DUE = "2026-12-01T23:59:00+00:00"
BEFORE_DUE = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)
AFTER_DUE = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.timezone.utc)

HIDDEN_MESSAGE = "HIDDEN-ORACLE-SAYS: expected 42 for the secret sequence [3, 1, 4]"
LATE_MESSAGE = "LATE-DETAIL: scale(2, 2) returned 5"
MISMATCH_MESSAGE = (
    "0 of 2 cases correct\n"
    "h_next of LSTMCell (B=4, I=3, H=5) differs from the expected values: 20 of 20 elements off "
    "(shape (4, 5); max abs error 0.746, max rel error 70.2; tolerance rtol=0.0001, atol=1e-05)\n"
    "  at index (0, 0): expected 0.029682, got 0.0209187\n"
    "  at index (0, 1): expected -0.177802, got 0.0210888\n"
    "  at index (0, 2): expected 0.709192, got 0.712169\n"
    "Likely cause: your LSTMCell reads the stacked gate blocks in the order i|f|o|g."
)
PLAN = [
    PlannedTest("tests/test_public.py::test_add", "add two arrays", 2.0, "public"),
    PlannedTest("tests/test_public.py::test_lstm", "LSTMCell: one step", 8.0, "public"),
    PlannedTest("tests/test_hidden.py::test_secret_case", "long sequences", 4.0, "hidden"),
    PlannedTest("tests/test_hidden.py::test_late", "after the due date", 1.0, "after_due_date"),
]
SANDBOX = {"backend": "bwrap", "limits": {"backend": "bwrap", "warm": True, "uid": 61001, "landlock": True,
                                          "memory_bytes": 4294967296, "cpu_seconds": 185, "file_bytes": 67108864,
                                          "open_files": 256, "processes": 64}, "worker_restarts": []}


def manifest(due: str | None = DUE, plan: list[PlannedTest] | None = None) -> BatchManifest:
    return BatchManifest(assignment="toy", title="Toy assignment", version="1", plan=list(plan or PLAN), due=due,
                         backend="bwrap", graded_at="2026-11-19T10:00:00+00:00", grader_version="0.1.0")


def result(student_id: str = "alice", *, add: float = 2.0, lstm: str = "failed", hidden: float = 0.0,
           late: float = 1.0, stdout: str = "", stderr: str = "", duration: float = 1.5,
           status: str = "graded", message: str = "") -> SubmissionResult:
    """One submission's result over :data:`PLAN`; keyword arguments pick its outcome."""
    tests = [
        TestResult(PLAN[0].id, PLAN[0].name, add, 2.0, "passed" if add == 2.0 else "failed",
                   message="" if add == 2.0 else "add(a, b): expected shape (3, 4), got shape (4,)", duration=0.01),
        TestResult(PLAN[1].id, PLAN[1].name, 8.0 if lstm == "passed" else 0.0, 8.0, lstm,
                   message="2 of 2 cases correct" if lstm == "passed" else MISMATCH_MESSAGE, duration=0.25),
        TestResult(PLAN[2].id, PLAN[2].name, hidden, 4.0, "passed" if hidden == 4.0 else "failed", "hidden",
                   message="" if hidden == 4.0 else HIDDEN_MESSAGE, duration=0.5),
        TestResult(PLAN[3].id, PLAN[3].name, late, 1.0, "passed" if late == 1.0 else "failed", "after_due_date",
                   message="" if late == 1.0 else LATE_MESSAGE, duration=0.02),
    ]
    return SubmissionResult(
        student_id=student_id, assignment="toy", assignment_version="1", status=status, tests=tests,
        message=message or f"{sum(t.passed for t in tests)} of {len(tests)} tests passed",
        content_hash="c0ffee", output=Output(stdout=stdout, stderr=stderr), sandbox=dict(SANDBOX),
        started_at="2026-11-19T10:00:05+00:00", duration=duration, grader_version="0.1.0",
    )


def make_folder(path: Path, results: list[SubmissionResult], batch: BatchManifest | None = None) -> GradedFolder:
    """Write a graded folder and read it back the way ``grader report`` does."""
    path.mkdir(parents=True, exist_ok=True)
    write_manifest(path, batch or manifest())
    for item in results:
        save_result(path, item)
    return load_graded_folder(path)


@pytest.fixture
def graded(tmp_path: Path) -> GradedFolder:
    """Three students: one with a mismatch and a failed hidden test, one perfect, one broken."""
    return make_folder(tmp_path / "graded", [
        result("alice", stdout="epoch 1 loss 2.31\n"),
        result("bob", lstm="passed", hidden=4.0, duration=3.0),
        result("carol", add=0.0, late=0.0, status="broken", message="carol.zip is not a zip file"),
    ])
