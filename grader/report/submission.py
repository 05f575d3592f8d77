"""One submission's report data, in the instructor's flavour or the student's.

The instructor sees everything recorded. The student sees only what each
test's visibility allows (invariant 5: hidden tests never reach a student):

- ``public``: everything, message included;
- ``hidden``: the test's name, points and passed or not; no message, no status detail;
- ``after_due_date``: shown like a public test once the due date has passed
  (``now`` is an argument, so callers and tests decide when that is); until
  then, and when the batch has no due date, left out and counted as withheld;
- any other visibility is treated as ``hidden``.

What student code printed runs across every test, hidden ones included, so
the student's flavour shows it only when no test's details are withheld.
"""
from __future__ import annotations

import datetime as dt

from grader.importers.record import Submitted
from grader.manifest import BatchManifest
from grader.report.messages import parse_message
from grader.report.model import INSTRUCTOR, STUDENT, OutputExcerpt, SandboxInfo, SubmissionReport, TestRow, Withheld
from grader.results import FAILED, GRADED, PARTIAL, PASSED, SubmissionResult, TestResult

OUTPUT_EXCERPT_CHARS = 8000


def parse_due(due: str | None) -> dt.datetime | None:
    """The manifest's due date as an aware datetime (UTC when it names no zone); None when absent or unreadable."""
    if not due:
        return None
    try:
        value = dt.datetime.fromisoformat(due.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def due_has_passed(manifest: BatchManifest, now: dt.datetime) -> bool:
    due = parse_due(manifest.due)
    return due is not None and now >= due


def build_submission_report(result: SubmissionResult, manifest: BatchManifest, flavour: str = INSTRUCTOR,
                            now: dt.datetime | None = None) -> SubmissionReport:
    """The data of ``report.html`` (``flavour="instructor"``) or ``feedback.html`` (``"student"``)."""
    if flavour not in (INSTRUCTOR, STUDENT):
        raise ValueError(f"flavour must be {INSTRUCTOR!r} or {STUDENT!r}, got {flavour!r}")
    now = now or dt.datetime.now(dt.timezone.utc)
    instructor = flavour == INSTRUCTOR
    submitted = Submitted.from_dict(result.submitted)
    released = due_has_passed(manifest, now)
    rows: list[TestRow] = []
    withheld_tests, withheld_points, details_withheld = 0, 0.0, False
    for test in result.tests:
        if instructor or test.visibility == "public" or (test.visibility == "after_due_date" and released):
            rows.append(_full_row(test, instructor))
        elif test.visibility == "after_due_date":
            withheld_tests += 1
            withheld_points += test.max_points
            details_withheld = True
        else:
            rows.append(_hidden_row(test))
            details_withheld = True
    return SubmissionReport(
        flavour=flavour, student_id=result.student_id, assignment=manifest.assignment, title=manifest.title,
        version=result.assignment_version or manifest.version, status=result.status,
        message=result.message if instructor else _student_message(result),
        score=round(sum(row.points for row in rows), 6), possible=round(sum(row.max_points for row in rows), 6),
        tests=rows, sandbox=sandbox_info(result.sandbox), generated_at=now.isoformat(timespec="seconds"),
        notes=[*submitted.notes, *result.notes], missing_files=list(result.missing_files),
        outputs=[] if details_withheld and not instructor else output_excerpts(result),
        output_withheld=details_withheld and not instructor,
        withheld=Withheld(withheld_tests, round(withheld_points, 6), manifest.due) if withheld_tests else None,
        computed_in_sandbox=result.computed_in_sandbox, file_isolated=result.file_isolated, due=manifest.due,
        started_at=result.started_at if instructor else "",
        duration=result.duration if instructor else None,
        grader_version=result.grader_version if instructor else "",
        content_hash=result.content_hash if instructor else "",
        submitted=submitted.describe(instructor), import_warnings=list(submitted.warnings) if instructor else [],
    )


def _full_row(test: TestResult, instructor: bool) -> TestRow:
    return TestRow(
        name=test.name, visibility=test.visibility, points=test.points, max_points=test.max_points,
        status=test.status, id=test.id if instructor else "", duration=test.duration if instructor else None,
        computed_in_sandbox=test.computed_in == "sandbox", message=test.message, parts=parse_message(test.message),
        diagnosis=test.diagnosis,
    )


def _hidden_row(test: TestResult) -> TestRow:
    status = PASSED if test.status == PASSED else PARTIAL if test.points > 0 else FAILED
    return TestRow(name=test.name, visibility="hidden", points=test.points, max_points=test.max_points,
                   status=status, computed_in_sandbox=test.computed_in == "sandbox", details_withheld=True)


def _student_message(result: SubmissionResult) -> str:
    """The submission's message without its count of passed tests, which would count withheld tests too."""
    if result.status != GRADED:
        return result.message
    return "; ".join(part for part in result.message.split("; ") if not part.endswith("tests passed"))


def output_excerpts(result: SubmissionResult, limit: int = OUTPUT_EXCERPT_CHARS) -> list[OutputExcerpt]:
    """The start of stdout and stderr (``limit`` characters each), with what is left out counted."""
    excerpts = []
    for stream, text, dropped in (("stdout", result.output.stdout, result.output.stdout_dropped_bytes),
                                  ("stderr", result.output.stderr, result.output.stderr_dropped_bytes)):
        excerpts.append(OutputExcerpt(stream, text[:limit], max(len(text) - limit, 0), dropped))
    return excerpts


_LIMIT_LABELS = {
    "memory_bytes": "memory (address space)",
    "cpu_seconds": "CPU time",
    "file_bytes": "largest file written",
    "open_files": "open files",
    "processes": "processes",
    "uid": "user id",
    "landlock": "Landlock",
    "warm": "worker",
}


def sandbox_info(sandbox: dict) -> SandboxInfo:
    """The recorded ``result.sandbox`` as rows a page can print; unknown keys are shown as they are."""
    limits = sandbox.get("limits") if isinstance(sandbox.get("limits"), dict) else {}
    backend = str(sandbox.get("backend") or limits.get("backend") or "not recorded")
    settings = []
    for key, value in limits.items():
        if key == "backend":
            continue
        settings.append((_LIMIT_LABELS.get(key, key.replace("_", " ")), _format_setting(key, value)))
    restarts = sandbox.get("worker_restarts") or []
    return SandboxInfo(backend, settings, [str(reason) for reason in restarts] if isinstance(restarts, list) else [])


def _format_setting(key: str, value: object) -> str:
    if key == "warm" and isinstance(value, bool):
        return "warm (forked from a preloaded zygote)" if value else "cold (a fresh interpreter)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if key.endswith("_bytes") and isinstance(value, (int, float)):
        return format_bytes(value)
    if key.endswith("_seconds") and isinstance(value, (int, float)):
        return f"{value:g} s"
    return str(value)


def format_bytes(size: float) -> str:
    """``4294967296`` -> ``4 GiB``, ``1536`` -> ``1.5 KiB``."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{round(size, 2):g} {unit}" if unit != "bytes" else f"{int(size)} bytes"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
