"""Gradescope's ``results.json``, built from one :class:`~grader.results.SubmissionResult`.

The full schema of Gradescope's autograder specification: at the top level
``score``, ``execution_time``, ``output``, ``output_format``, ``visibility``,
``stdout_visibility``, ``extra_data``, ``tests`` and ``leaderboard``; per test
``score``, ``max_score``, ``status``, ``name``, ``number``, ``output``,
``output_format``, ``tags`` and ``visibility``.

Visibility maps from ours: ``public`` -> ``visible``, ``after_due_date`` ->
``after_due_date``, ``hidden`` -> ``hidden`` (never shown to students; pass
``hidden_visibility="after_published"`` to show them once grades are
published). A grader failure shows students no traceback: the details stay in
``extra_data``, which students do not see.

:func:`write_gradescope_files` writes ``<id>/gradescope.json`` per submission
of a graded folder; the autograder zip (:mod:`grader.exports.autograder`)
writes the same document to ``/autograder/results/results.json``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from grader.manifest import GradedFolder
from grader.results import BROKEN, GRADER_FAILURE, PASSED, SubmissionResult, write_json_atomic

FILE_NAME = "gradescope.json"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")
HIDDEN_CHOICES = ("hidden", "after_published")
_VISIBILITY = {"public": "visible", "after_due_date": "after_due_date", "hidden": "hidden"}
_QUIET_STATUSES = ("passed", "failed")  # every other status of ours becomes a tag


def results_json(result: SubmissionResult, title: str = "", hidden_visibility: str = "hidden") -> dict[str, Any]:
    """Gradescope's ``results.json`` for one graded submission."""
    if hidden_visibility not in HIDDEN_CHOICES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(HIDDEN_CHOICES)}, got {hidden_visibility!r}")
    mapping = {**_VISIBILITY, "hidden": hidden_visibility}
    tests = []
    for number, test in enumerate(result.tests, start=1):
        tags = [] if test.status in _QUIET_STATUSES else [test.status]
        if test.computed_in == "sandbox":
            tags.append("computed-in-sandbox")
        tests.append({
            "score": test.points,
            "max_score": test.max_points,
            "status": "passed" if test.status == PASSED else "failed",
            "name": test.name,
            "number": str(number),
            "output": test.feedback(),
            "output_format": "text",
            "tags": tags,
            "visibility": mapping.get(test.visibility, "hidden"),
        })
    return {
        "score": result.total,
        "execution_time": int(math.ceil(max(result.duration, 0.0))),
        "output": overall_output(result, title),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "student_id": result.student_id, "assignment": result.assignment, "version": result.assignment_version,
            "status": result.status, "possible": result.possible, "backend": result.sandbox.get("backend", ""),
            "computed_in_sandbox": result.computed_in_sandbox, "file_isolation": result.file_isolated,
            "caveats": result.caveats, "grader_version": result.grader_version,
            "message": result.message[-4000:],
        },
        "tests": tests,
        "leaderboard": [],
    }


def overall_output(result: SubmissionResult, title: str = "") -> str:
    """The text above the tests: the score, and what went wrong with the submission as a whole."""
    passed = sum(test.status == PASSED for test in result.tests)
    lines = [f"{title + ': ' if title else ''}{result.total:g}/{result.possible:g} points "
             f"({passed} of {len(result.tests)} tests passed)."]
    if result.status == GRADER_FAILURE:
        lines.append("The grader failed on this submission, not because of your code; your course staff will "
                     "grade it again.")
    elif result.status == BROKEN:
        lines.append(f"Your submission could not be graded as handed in: {result.message}")
    if result.missing_files:
        lines.append(f"Missing file(s): {', '.join(result.missing_files)}.")
    lines.extend(result.notes)
    if result.computed_in_sandbox:
        lines.append("Some verdicts were computed inside the sandbox (legacy tests).")
    return "\n".join(lines)


def write_gradescope_files(folder: GradedFolder, out_dir: Path, hidden_visibility: str = "hidden") -> list[Path]:
    """``out_dir/<id>/gradescope.json`` for every readable result of ``folder``."""
    written = []
    for result in folder.results:
        path = Path(out_dir) / result.student_id / FILE_NAME
        write_json_atomic(path, results_json(result, folder.manifest.title, hidden_visibility))
        written.append(path)
    return written
