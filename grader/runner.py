"""Grade one submission: workspace, worker, trusted tests, legacy tests, one result.

:func:`grade_submission` never raises for anything a submission can do: a bad
archive, a missing file, a crash or a hang all end in a recorded
:class:`~grader.results.SubmissionResult`. Only a failure of the grader itself
is recorded as ``grader_failure``, and that too is a result, not a crash.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import shutil
import time
import traceback
from pathlib import Path
from typing import Sequence

import pytest

from grader import __version__
from grader.config import Assignment
from grader.errors import SubmissionError
from grader.ingest import SubmissionSource, Workspace, prepare_workspace
from grader.sandbox import Sandbox, WorkerSpec, default_sandbox
from grader.sandbox.probe import ISOLATING_BACKENDS
from grader.warmup import uses_optimizers
from grader.plan import PlannedTest, forget_modules_under, pytest_base_args, rewritten_code_cache, write_pytest_ini
from grader.pytest_plugin import GradingPlugin
from grader.results import BROKEN, FAILED, GRADED, GRADER_FAILURE, PASSED, TIMEOUT, SubmissionResult, TestResult
from grader.session import StudentFailure, WorkerSession


def grade_submission(assignment: Assignment, plan: list[PlannedTest], source: SubmissionSource,
                     sandbox: Sandbox | None = None, plugins: Sequence[object] = ()) -> SubmissionResult:
    """Grade ``source`` against ``assignment`` in ``sandbox`` (this process's by default); always returns a result.

    ``plugins`` join the pytest run of the trusted tests (the release's recorder of oracle calls).
    """
    started = time.monotonic()
    sandbox = sandbox or default_sandbox()
    result = SubmissionResult(
        student_id=source.student_id, assignment=assignment.name, assignment_version=assignment.version,
        status=GRADED, started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        grader_version=__version__, submitted=source.submitted.to_dict(),
    )
    scratch = sandbox.new_scratch(prefix=f"grade-{source.student_id[:40]}-")
    try:
        workspace = prepare_workspace(source, scratch / "work", assignment.student_files)
        result.content_hash = workspace.content_hash
        result.notes.extend(workspace.notes)
        result.missing_files = list(workspace.missing_files)
        place_support_files(assignment, workspace.root)
        syntax_problems = check_syntax(workspace, assignment.student_files)
        result.notes.extend(syntax_problems)
        sandbox.hand_over(workspace.root)
        result.tests, session = run_tests(assignment, plan, workspace, scratch, sandbox, source.seed_identity, plugins)
        result.output = session.output(assignment.limits.output_kib * 1024)
        backend = session.backend or sandbox.backend
        result.sandbox = {"backend": backend, "file_isolation": backend in ISOLATING_BACKENDS,
                          "limits": session.limits_in_force,
                          "worker_restarts": session.restarts, "timing": session.timing()}
        result.message = summary_message(result, syntax_problems)
    except SubmissionError as error:
        result.status = BROKEN
        result.message = str(error)
        result.tests = [test.result(FAILED, 0.0, f"not graded: {error}") for test in plan]
    except Exception as error:  # noqa: BLE001 - recorded, so one submission never stops a batch
        result.status = GRADER_FAILURE
        result.message = f"the grader failed on this submission: {type(error).__name__}: {error}\n{traceback.format_exc()[-3000:]}"
        result.tests = [test.result(FAILED, 0.0, "not graded: the grader failed (see the submission's message)") for test in plan]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.duration = round(time.monotonic() - started, 3)
    return result


def place_support_files(assignment: Assignment, root: Path) -> None:
    """Copy support files (and a legacy test file) beside the student's; the instructor's copy wins."""
    relatives = list(assignment.support_files) + ([assignment.legacy.file] if assignment.legacy else [])
    for relative in relatives:
        source = assignment.root / relative
        target = root / relative
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)


def check_syntax(workspace: Workspace, student_files: tuple[str, ...]) -> list[str]:
    """Compile (never run) each student Python file; describe syntax errors."""
    problems = []
    for relative in student_files:
        path = workspace.root / relative
        if relative.endswith(".py") and path.is_file():
            try:
                compile(path.read_bytes(), relative, "exec", dont_inherit=True)
            except SyntaxError as error:
                problems.append(f"{relative} has a syntax error at line {error.lineno}: {error.msg}")
            except ValueError as error:  # null bytes
                problems.append(f"{relative} cannot be read as Python source: {error}")
    return problems


def run_tests(assignment: Assignment, plan: list[PlannedTest], workspace: Workspace, scratch: Path,
              sandbox: Sandbox, seed_id: str = "", plugins: Sequence[object] = ()) -> tuple[list[TestResult], WorkerSession]:
    """Run trusted tests (in this process) and legacy tests (in the sandbox) against one workspace.

    ``seed_id`` seeds the hidden tests (:attr:`SubmissionSource.seed_identity`); empty: the student id.
    """
    spec = WorkerSpec(root=workspace.root, limits=assignment.limits, allowed_packages=assignment.allowed_packages,
                      optimizers=uses_optimizers(assignment))
    session = WorkerSession(spec, launcher=sandbox.launch)
    session.submission_deadline = time.monotonic() + assignment.limits.submission_seconds
    results: list[TestResult] = []
    try:
        trusted = [test for test in plan if test.computed_in == "grader"]
        if trusted:
            results.extend(run_trusted_tests(assignment, trusted, workspace, session, scratch, seed_id, plugins))
        legacy = [test for test in plan if test.computed_in == "sandbox"]
        if legacy:
            results.extend(run_legacy_tests(assignment, legacy, session))
    finally:
        session.close()
    return results, session


def run_trusted_tests(assignment: Assignment, plan: list[PlannedTest], workspace: Workspace,
                      session: WorkerSession, scratch: Path, seed_id: str = "",
                      plugins: Sequence[object] = ()) -> list[TestResult]:
    plugin = GradingPlugin(
        session=session, assignment_name=assignment.name, seed_id=seed_id or workspace.student_id,
        seed_salt=assignment.seed_salt, plan={test.id: test for test in plan},
        assignment_root=assignment.root, missing_files=tuple(workspace.missing_files),
    )
    guard_seconds = max(assignment.limits.test_seconds * 3 + 10, 30)
    args = pytest_base_args(assignment, write_pytest_ini(scratch)) + ["-p", "timeout", f"--timeout={guard_seconds:g}"]
    args += [str(assignment.root / path) for path, _ in assignment.test_files()]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), rewritten_code_cache():
        pytest.main(args, plugins=[plugin, *plugins])
    forget_modules_under(assignment.root)
    return plugin.results()


def run_legacy_tests(assignment: Assignment, plan: list[PlannedTest], session: WorkerSession) -> list[TestResult]:
    """Run the legacy file in the worker; only outcomes reported over the channel count."""
    assert assignment.legacy is not None
    reported: dict[str, list[dict]] = {}
    error_message = ""
    session.test_deadline = session.submission_deadline
    try:
        for event in session.request_events({
            "op": "legacy", "file": assignment.legacy.file,
            # pytest-timeout inside the sandbox stops one hanging test; the wall clock still bounds the whole run.
            "args": ["-p", "timeout", f"--timeout={assignment.limits.test_seconds:g}"],
        }):
            if event.get("event") == "collect_error":
                error_message = "the test file could not be loaded with your code:\n" + _error_lines(str(event.get("message", "")))
                continue
            nodeid = str(event.get("nodeid", ""))
            base = nodeid.split("[", 1)[0]
            reported.setdefault(base, []).append(event)
    except StudentFailure as error:
        error_message = str(error)
    results = []
    for test in plan:
        events = reported.get(test.id, [])
        if not events:
            message = error_message or "this test reported no result (exit codes and printed summaries are not trusted)"
            results.append(test.result(FAILED, 0.0, message))
        elif all(event.get("outcome") == "passed" for event in events):
            results.append(test.result(PASSED, test.points, ""))
        else:
            failed = [event for event in events if event.get("outcome") != "passed"]
            message = _error_lines(str(failed[0].get("message", ""))) or f"outcome: {failed[0].get('outcome')}"
            status = TIMEOUT if "Timeout (>" in message else FAILED
            results.append(test.result(status, 0.0, message))
    return results


def _error_lines(text: str) -> str:
    """The ``E   ...`` lines of a pytest report (the error itself), else its tail."""
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return "\n".join(lines[-10:]) if lines else text[-1500:]


def summary_message(result: SubmissionResult, syntax_problems: list[str]) -> str:
    parts = []
    if result.missing_files:
        parts.append(f"missing file(s): {', '.join(result.missing_files)}")
    parts.extend(syntax_problems)
    parts.extend(result.caveats)
    passed = sum(test.status == PASSED for test in result.tests)
    parts.append(f"{passed} of {len(result.tests)} tests passed")
    return "; ".join(parts)
