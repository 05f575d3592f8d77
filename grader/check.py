"""The student's self-check: grade one folder against the public tests, locally, in seconds.

``grader check`` runs in the folder of a released assignment (see
:mod:`grader.release`): the student's files sit beside ``assignment.toml`` and
the public ``tests/``. Only the student files named in ``assignment.toml`` are
taken into the grading workspace (not ``tests/``, ``.git``, a virtual
environment or anything else in the folder); the tests and support files come
from the assignment folder. The grading itself is the same engine as a batch:
student code in a worker process, verdicts in the grader.

Only tests whose visibility is ``public`` run, even when ``--assignment``
points at an instructor's copy with hidden tests; nothing is written to disk.
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.config import CONFIG_NAME, Assignment, load_assignment
from grader.errors import InstructorError
from grader.ingest import SubmissionSource
from grader.plan import PlannedTest, collect_plan
from grader.results import ERROR, FAILED, PARTIAL, PASSED, TIMEOUT, SubmissionResult

SELF_CHECK_ID = "self-check"
_CREDIT_NOTE = re.compile(r"^\d+(\.\d+)? of \d+(\.\d+)? .*correct$")
_HEADLINE_CHARS = 200
_STATUS_STYLES = {PASSED: "green", PARTIAL: "yellow", FAILED: "red", TIMEOUT: "magenta", ERROR: "magenta"}


def resolve_assignment(folder: Path, assignment: str | Path | None = None) -> Path:
    """The assignment to check against: ``assignment`` if given, else the one in ``folder``."""
    if assignment is not None:
        return Path(assignment)
    if (Path(folder) / CONFIG_NAME).is_file():
        return Path(folder)
    raise InstructorError(
        f"no {CONFIG_NAME} in {folder}: run grader check in the folder of the assignment you were given, "
        "or pass --assignment PATH"
    )


def public_part(assignment: Assignment) -> Assignment:
    """The assignment without hidden test files and without a legacy file that is not public."""
    legacy = assignment.legacy if assignment.legacy and assignment.legacy.visibility == "public" else None
    return dataclasses.replace(assignment, hidden_tests=(), legacy=legacy)


def public_plan(assignment: Assignment, work_dir: Path) -> list[PlannedTest]:
    """The tests a student may run: those of :func:`public_part` whose visibility is ``public``."""
    public = public_part(assignment)
    if not public.public_tests and public.legacy is None:
        raise InstructorError(f"{assignment.config_path}: no public tests, so there is nothing to check")
    plan = [test for test in collect_plan(public, work_dir) if test.visibility == "public"]
    if not plan:
        raise InstructorError(f"{assignment.config_path}: the public test files hold no test with visibility 'public'")
    return plan


def check_submission(folder: str | Path = ".", assignment: str | Path | None = None) -> SubmissionResult:
    """Grade the student files in ``folder`` against the public tests; nothing is written.

    The assignment is ``assignment`` (a folder or its ``assignment.toml``) or
    the one in ``folder``. Raises :class:`~grader.errors.InstructorError` when
    there is no usable assignment; anything wrong with the student's code is
    part of the returned result.
    """
    from grader.runner import grade_submission  # imports pytest machinery; keep `grader --help` fast

    folder = Path(folder)
    if not folder.is_dir():
        raise InstructorError(f"{folder} is not a folder")
    config = public_part(load_assignment(resolve_assignment(folder, assignment)))
    with tempfile.TemporaryDirectory(prefix="grader-check-") as scratch_name:
        scratch = Path(scratch_name)
        plan = public_plan(config, scratch)
        staged = scratch / "submission"
        staged.mkdir()
        for relative in config.student_files:
            source = folder / relative
            if source.is_file():  # a missing file is reported by the grading, test by test
                (staged / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staged / relative)
        return grade_submission(config, plan, SubmissionSource(SELF_CHECK_ID, staged, "folder"))


# -- output ---------------------------------------------------------------------------------

def headline(message: str) -> str:
    """The line of a test's message worth showing in a table (a bare "0 of 2 cases correct" gets its reason)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    shown = f"{lines[0]}: {lines[1]}" if _CREDIT_NOTE.match(lines[0]) and len(lines) > 1 else lines[0]
    return shown if len(shown) <= _HEADLINE_CHARS else shown[: _HEADLINE_CHARS - 3] + "..."


def print_check(result: SubmissionResult, assignment: Assignment, console: Console | None = None) -> None:
    """The student-facing report: one row per public test, the total, and what to do next."""
    console = console or Console()
    if result.missing_files:
        console.print(Text(f"Missing: {', '.join(result.missing_files)}. Put your file(s) in this folder, "
                           "named exactly so.", style="bold red"))
    for note in result.notes:
        console.print(Text(f"Note: {note}", style="yellow"))
    table = Table(title=Text(f"Self-check: {assignment.title}"), title_justify="left")
    table.add_column("test", overflow="fold", ratio=2)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("message", overflow="fold", ratio=3)
    for test in result.tests:
        table.add_row(Text(test.name), f"{test.points:g}/{test.max_points:g}",
                      Text(test.status, style=_STATUS_STYLES.get(test.status, "")), Text(headline(test.message)))
    console.print(table)
    passed = sum(test.status == PASSED for test in result.tests)
    console.print(Text(f"Total: {result.total:g}/{result.possible:g} points on the public tests "
                       f"({passed} of {len(result.tests)} tests passed).", style="bold"))
    for hint in hints(result, assignment):
        console.print(Text(f"Hint: {hint}"))


def hints(result: SubmissionResult, assignment: Assignment) -> list[str]:
    """What a student should do next, given how the tests went."""
    statuses = [test.status for test in result.tests]
    if result.status != "graded":
        return [f"your files could not be graded: {headline(result.message)}"]
    found = []
    not_written = sum(test.status == FAILED and "not implemented yet" in test.message for test in result.tests)
    if not_written:
        found.append(f"{not_written} test(s) reach code that is not written yet (it raises NotImplementedError).")
    if any(status in (FAILED, PARTIAL) for status in statuses) and not_written < statuses.count(FAILED) + statuses.count(PARTIAL):
        found.append("each message says which value is off and how; run `grader check --format json` "
                     "for the full messages.")
    if TIMEOUT in statuses:
        found.append(f"a timeout means your code ran longer than {assignment.limits.test_seconds:g} s in one test: "
                     "look for an endless loop or a very slow step.")
    if ERROR in statuses:
        found.append("an 'error' is a problem in the test itself, not necessarily in your code: tell your course staff.")
    if result.output.stdout or result.output.stderr:
        found.append("your code printed output while it was tested; `grader check --format json` shows it.")
    if passed_all(result):
        found.append("all public tests pass. Your grade may also count tests that run only when your "
                     "submission is graded.")
    else:
        found.append("the self-check runs the public tests only; your grade may also count other tests.")
    return found


def passed_all(result: SubmissionResult) -> bool:
    return bool(result.tests) and all(test.status == PASSED for test in result.tests)


def check_as_json(result: SubmissionResult, assignment: Assignment, folder: Path) -> dict[str, Any]:
    data = result.to_dict()
    data["title"] = assignment.title
    data["folder"] = str(folder)
    return data
