"""The student's self-check: grade one folder against the public tests, locally, in seconds.

``grader check`` runs in the folder of a released assignment (see
:mod:`grader.release`): the student's files sit beside ``assignment.toml`` and
the public ``tests/``. Only the student files named in ``assignment.toml`` are
taken into the grading workspace (not ``tests/``, ``.git``, a virtual
environment or anything else in the folder); the tests and support files come
from the assignment folder. The grading itself is the same engine as a batch:
student code in a worker process, verdicts in the grader.

Only tests whose visibility is ``public`` run, even when ``--assignment``
points at an instructor's copy with hidden tests. Public tests draw the same
inputs as in ``grader grade`` (:mod:`grader.seeding`), so the self-check gives
exactly the public points the grading gives. The points of the tests it
cannot run come from ``hidden_points`` in a released ``assignment.toml``
(or, on an instructor's copy, from its hidden tests).

In a released bundle the oracles are not there (invariant 8): the public
tests' oracle calls are answered from what ``grader release`` recorded
(``.grader/expectations``, :mod:`grader.recorded.replay`). A test that needs
an outcome the release could not record (its arguments came from the
student's output) is ``deferred``: shown as checked when graded, neither
passed nor failed, and its points are neither earned nor lost here.

Nothing is written, except with ``--ci``/``--junit`` (:func:`write_ci_outputs`):
a JUnit report, GitHub annotations on stdout and the job summary appended to
``$GITHUB_STEP_SUMMARY``. Nothing here needs root or sandbox privileges: the
sandbox falls back to what the machine allows (``grader doctor``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.config import CONFIG_NAME, Assignment, load_assignment
from grader.errors import InstructorError
from grader.ingest import SubmissionSource
from grader.plan import PlannedTest, collect_plan
from grader.recorded.recording import RecordingError
from grader.recorded.replay import load_expectations, replaying
from grader.warmup import prewarm
from grader.results import (DEFERRED, ERROR, FAILED, GRADED, PARTIAL, PASSED, SKIPPED, TIMEOUT, SubmissionResult,
                            TestResult)

SELF_CHECK_ID = "self-check"
DEFAULT_JUNIT = "grader-junit.xml"
_CREDIT_NOTE = re.compile(r"^\d+(\.\d+)? of \d+(\.\d+)? .*correct$")
_HEADLINE_CHARS = 200
_STATUS_STYLES = {PASSED: "green", PARTIAL: "yellow", FAILED: "red", TIMEOUT: "magenta", ERROR: "magenta", DEFERRED: "cyan"}
# How a status reads in the student's table (a deferred test is judged when the submission is graded).
_STATUS_WORDS = {DEFERRED: "checked when graded"}


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


@dataclass
class SelfCheck:
    """A self-check's result, with what it needs to be shown: the assignment and the points it could not run."""

    result: SubmissionResult
    assignment: Assignment
    folder: Path
    hidden_points: float | None = None  # None: unknown (a bundle released before grader check said it)

    @property
    def ok(self) -> bool:
        """True when every public test passed (or was skipped, or is judged when graded): ``--ci``'s exit 0."""
        return (self.result.status == GRADED and bool(self.result.tests)
                and all(test.status in (PASSED, SKIPPED, DEFERRED) for test in self.result.tests))

    @property
    def deferred_points(self) -> float:
        """The points of the public tests the self-check could not judge offline."""
        return round(sum(test.max_points for test in self.result.tests if test.status == DEFERRED), 6)

    def score_line(self) -> str:
        """``public: X/Y; hidden tests worth Z points run at grading time``."""
        line = f"public: {self.result.total:g}/{self.result.possible:g}"
        if self.deferred_points:
            line += f" ({self.deferred_points:g} of them checked when graded)"
        if self.hidden_points is None:
            return line + "; your grade may also count tests that run only at grading time"
        if self.hidden_points == 0:
            return line + "; no other tests run at grading time"
        return line + f"; hidden tests worth {self.hidden_points:g} points run at grading time"


def check_submission(folder: str | Path = ".", assignment: str | Path | None = None) -> SubmissionResult:
    """Grade the student files in ``folder`` against the public tests; nothing is written.

    The assignment is ``assignment`` (a folder or its ``assignment.toml``) or
    the one in ``folder``. Raises :class:`~grader.errors.InstructorError` when
    there is no usable assignment; anything wrong with the student's code is
    part of the returned result.
    """
    return run_self_check(folder, assignment).result


def run_self_check(folder: str | Path = ".", assignment: str | Path | None = None) -> SelfCheck:
    """:func:`check_submission`, with the points of the tests the self-check cannot run."""
    from grader.runner import grade_submission  # imports pytest machinery; keep `grader --help` fast
    from grader.sandbox import default_sandbox

    folder = Path(folder)
    if not folder.is_dir():
        raise InstructorError(f"{folder} is not a folder")
    full = load_assignment(resolve_assignment(folder, assignment))
    config = public_part(full)
    sandbox = default_sandbox()
    prewarm(sandbox, config)  # first: everything below overlaps with the worker's imports (a no-op if started)
    try:
        recording = load_expectations(full.root)
    except RecordingError as error:
        raise InstructorError(str(error)) from None
    oracles = replaying(recording, full.root) if recording is not None else contextlib.nullcontext()
    with tempfile.TemporaryDirectory(prefix="grader-check-") as scratch_name, oracles:
        scratch = Path(scratch_name)
        plan = public_plan(config, scratch)
        hidden = points_beyond_public(full, plan, scratch)
        staged = scratch / "submission"
        staged.mkdir()
        for relative in config.student_files:
            source = folder / relative
            if source.is_file():  # a missing file is reported by the grading, test by test
                (staged / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staged / relative)
        result = grade_submission(config, plan, SubmissionSource(SELF_CHECK_ID, staged, "folder"), sandbox)
    return SelfCheck(result, config, folder, hidden)


def points_beyond_public(assignment: Assignment, public: list[PlannedTest], work_dir: Path) -> float | None:
    """The points grading adds to the public tests: ``hidden_points`` if declared, else counted on an instructor's copy."""
    if assignment.hidden_points is not None:
        return assignment.hidden_points
    legacy_not_public = assignment.legacy is not None and assignment.legacy.visibility != "public"
    if not (assignment.hidden_tests or assignment.solution or legacy_not_public):
        return None  # a bundle without the key: what it left out is unknown
    public_ids = {test.id for test in public}
    return round(sum(test.points for test in collect_plan(assignment, work_dir) if test.id not in public_ids), 6)


# -- output ---------------------------------------------------------------------------------

def headline(message: str) -> str:
    """The line of a test's message worth showing in a table (a bare "0 of 2 cases correct" gets its reason)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    shown = f"{lines[0]}: {lines[1]}" if _CREDIT_NOTE.match(lines[0]) and len(lines) > 1 else lines[0]
    return shown if len(shown) <= _HEADLINE_CHARS else shown[: _HEADLINE_CHARS - 3] + "..."


def print_check(result: SubmissionResult | SelfCheck, assignment: Assignment | None = None,
                console: Console | None = None) -> None:
    """The student-facing report: one row per public test, the total, the points still to come, what to do next."""
    check = result if isinstance(result, SelfCheck) else SelfCheck(result, assignment, Path("."))
    result, assignment = check.result, check.assignment
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
    table.add_column("hint", overflow="fold", ratio=3)
    for test in result.tests:
        points = "–" if test.status == DEFERRED else f"{test.points:g}/{test.max_points:g}"
        table.add_row(Text(test.name), points, Text(_STATUS_WORDS.get(test.status, test.status),
                                                    style=_STATUS_STYLES.get(test.status, "")), _hint_cell(test))
    console.print(table)
    passed = sum(test.status == PASSED for test in result.tests)
    console.print(Text(f"Total: {result.total:g}/{result.possible:g} points on the public tests "
                       f"({passed} of {len(result.tests)} tests passed).", style="bold"))
    console.print(Text(check.score_line()))
    for hint in hints(result, assignment, known_rest=check.hidden_points is not None):
        console.print(Text(f"Hint: {hint}"))


def _hint_cell(test: TestResult) -> Text:
    """The message's headline, then the mistake the diagnosis names, if any."""
    cell = Text(headline(test.message))
    if test.diagnosis is not None and test.diagnosis.matched:
        for mistake in test.diagnosis.matched:
            cell.append(f"\nLikely mistake: {mistake.title}.", style="bold yellow")
    return cell


def hints(result: SubmissionResult, assignment: Assignment, known_rest: bool = False) -> list[str]:
    """What a student should do next, given how the tests went.

    ``known_rest``: the score line already says what the grading adds, so the
    hints need not.
    """
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
    if DEFERRED in statuses:
        found.append("'checked when graded': that test compares with values worked out from your code's own output, "
                     "which only the grading can compute; it is neither passed nor failed here.")
    if result.output.stdout or result.output.stderr:
        found.append("your code printed output while it was tested; `grader check --format json` shows it.")
    if passed_all(result):
        found.append("all public tests pass." if known_rest else
                     "all public tests pass. Your grade may also count tests that run only when your submission is graded.")
    elif not known_rest:
        found.append("the self-check runs the public tests only; your grade may also count other tests.")
    return found


def passed_all(result: SubmissionResult) -> bool:
    return bool(result.tests) and all(test.status == PASSED for test in result.tests)


def check_as_json(result: SubmissionResult | SelfCheck, assignment: Assignment | None = None,
                  folder: Path | None = None) -> dict[str, Any]:
    check = result if isinstance(result, SelfCheck) else SelfCheck(result, assignment, Path(folder or "."))
    data = check.result.to_dict()
    data["title"] = check.assignment.title
    data["folder"] = str(folder if folder is not None else check.folder)
    data["hidden_points"] = check.hidden_points
    data["score_line"] = check.score_line()
    data["ok"] = check.ok
    return data


# -- CI -------------------------------------------------------------------------------------

def github_lines(check: SelfCheck, workspace: str | Path | None = None) -> list[str]:
    """The workflow commands for GitHub Actions: one ``::error`` per problem, pointing at the student's line.

    File paths are relative to ``workspace`` (``$GITHUB_WORKSPACE``, else the
    current folder), where GitHub expects them.
    """
    from grader.exports.github import Annotation, annotations

    lines = [item.command() for item in annotations(check.result, check.assignment.student_files,
                                                    _relative_folder(check.folder, workspace))]
    lines.append(Annotation("notice", check.score_line(), title=f"Self-check: {check.assignment.title}").command())
    return lines


def write_ci_outputs(check: SelfCheck, junit: str | Path | None = None,
                     environ: Mapping[str, str] | None = None) -> list[Path]:
    """Write the JUnit report (when ``junit`` is given) and append the job summary (when
    ``GITHUB_STEP_SUMMARY`` is set in ``environ``); the files written."""
    from grader.exports.github import append_step_summary
    from grader.exports.junit import write_junit

    environ = os.environ if environ is None else environ
    written = []
    if junit is not None:
        written.append(write_junit(Path(junit), [check.result], name=f"self-check {check.assignment.name}"))
    summary = environ.get("GITHUB_STEP_SUMMARY", "")
    if summary:
        append_step_summary(summary, check.result, check.assignment.title, check.score_line())
        written.append(Path(summary))
    return written


def _relative_folder(folder: Path, workspace: str | Path | None) -> str:
    base = Path(workspace or os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
    try:
        relative = Path(folder).resolve().relative_to(base).as_posix()
    except ValueError:  # outside the workspace: GitHub cannot place it anyway
        return Path(folder).as_posix()
    return "" if relative == "." else relative
