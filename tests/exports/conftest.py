"""A graded folder built from result objects, without grading: the exports' input."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.manifest import BatchManifest, GradedFolder, load_graded_folder, write_manifest
from grader.plan import PlannedTest
from grader.results import BROKEN, GRADED, GRADER_FAILURE, Output, SubmissionResult, TestResult, save_result

PLAN = [
    PlannedTest("tests/test_public.py::test_add", "add two arrays", 2.0, "public"),
    PlannedTest("tests/test_public.py::test_square", "square four inputs", 4.0, "public"),
    PlannedTest("tests/test_public.py::test_slow", "finishes in time", 1.0, "public"),
    PlannedTest("tests/test_hidden.py::test_broadcast", "add broadcasts a row", 2.0, "hidden"),
    PlannedTest("tests/test_hidden.py::test_late", "after the due date", 1.0, "after_due_date"),
]
TRACEBACK = ('your code raised ValueError: bad shape, 50% off: (3, 4)\n  at rnn.py, line 42, in forward\n'
             'Traceback (your files only):\n  File "rnn.py", line 40, in step\n    return forward(x)\n'
             '  File "rnn.py", line 42, in forward\n    raise ValueError("bad shape")\n'
             '  File "helpers.py", line 3, in check\n    raise ValueError')


def make_result(student_id: str, outcomes: dict[str, tuple[str, float, str]] | None = None,
                status: str = GRADED, message: str = "", **fields) -> SubmissionResult:
    """A result over PLAN: ``outcomes`` maps a test id's suffix to (status, points, message); the rest passed."""
    outcomes = outcomes or {}
    tests = []
    for test in PLAN:
        state, points, text = outcomes.get(test.id.split("::")[1], ("passed", test.points, ""))
        tests.append(TestResult(id=test.id, name=test.name, points=points, max_points=test.points, status=state,
                                visibility=test.visibility, message=text, duration=0.25))
    return SubmissionResult(student_id=student_id, assignment="toy", assignment_version="1", status=status,
                            tests=tests, message=message, started_at="2026-11-01T10:00:00+00:00", duration=1.5,
                            sandbox={"backend": "bwrap"}, grader_version="0.1.0", **fields)


def standard_results() -> list[SubmissionResult]:
    return [
        make_result("alice", {"test_square": ("partial", 2.0, "2 of 4 cases correct"),
                              "test_broadcast": ("failed", 0.0, TRACEBACK)},
                    output=Output(stdout="debug \x00\x1b[31m print\n")),
        make_result("bob"),
        make_result("carol", {"test_slow": ("timeout", 0.0, "your code ran longer than 3 s"),
                              "test_late": ("error", 0.0, "the test itself raised KeyError")}),
        make_result("dave", {name.split("::")[1]: ("failed", 0.0, "not graded: bad zip") for name in
                             [test.id for test in PLAN]}, status=BROKEN, message="bad zip: not a zip file"),
        make_result("erin", {name.split("::")[1]: ("failed", 0.0, "not graded: the grader failed") for name in
                             [test.id for test in PLAN]}, status=GRADER_FAILURE,
                    message="the grader failed on this submission: OSError: disk full\nTraceback (most recent call last)"),
    ]


def write_graded_folder(path: Path, results: list[SubmissionResult], title: str = "Toy, \"quoted\" & <tagged>") -> GradedFolder:
    manifest = BatchManifest(assignment="toy", title=title, version="1", plan=list(PLAN), backend="bwrap",
                             graded_at="2026-11-01T10:00:00+00:00")
    path.mkdir(parents=True, exist_ok=True)
    for result in results:
        save_result(path, result)
    write_manifest(path, manifest)
    return load_graded_folder(path)


@pytest.fixture
def graded(tmp_path) -> GradedFolder:
    """alice (partial), bob (full marks), carol (timeout, test error), dave (broken), erin (grader failure),
    and frank, whose result.json cannot be read."""
    folder = tmp_path / "graded"
    write_graded_folder(folder, standard_results())
    (folder / "frank").mkdir()
    (folder / "frank" / "result.json").write_text("{ not json")
    return load_graded_folder(folder)
