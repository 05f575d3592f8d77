"""The class summary's data: score histogram, pass rate per test, common failures, incidents.

Built from a graded folder alone (:func:`grader.manifest.load_graded_folder`),
so ``grader report`` can rebuild it without the assignment or a regrade.
"""
from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from urllib.parse import quote

from grader.importers.driver import load_import_report
from grader.importers.record import Submitted
from grader.manifest import GradedFolder
from grader.report.messages import headline, normalise_message
from grader.report.model import (ClassSummary, CommonFailure, CommonMistake, Histogram, HistogramBin, ImportInfo, Incident,
                                 MissingRow, SubmissionRow, TestStats)
from grader.results import ERROR, FAILED, GRADED, PARTIAL, PASSED, TIMEOUT, SubmissionResult

COMMON_FAILURES_SHOWN = 10
INCIDENTS_SHOWN = 100
SLOWEST_SHOWN = 5
REPORT_FILE = "report.html"
FEEDBACK_FILE = "feedback.html"


def score_histogram(scores: list[float], possible: float, bins: int | None = None) -> Histogram:
    """Counts of ``scores`` in equal bins over ``[0, possible]``.

    By default one bin per point when ``possible`` is a whole number up to 20
    (so a 13-point assignment shows 0, 1, ..., 12-13), otherwise ten bins.
    Each bin holds ``low <= score < high``; the last also holds ``high`` itself
    (full marks). Scores outside the range count in the nearest end bin.
    """
    if possible <= 0:
        return Histogram(possible, [HistogramBin(0.0, 0.0, len(scores), "0")])
    if bins is None:
        bins = int(possible) if float(possible).is_integer() and possible <= 20 else 10
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    width = possible / bins
    counts = [0] * bins
    for score in scores:
        index = 0 if score <= 0 or math.isnan(score) else min(int(score / width + 1e-9), bins - 1)
        counts[index] += 1
    edges = [round(i * width, 6) for i in range(bins + 1)]
    return Histogram(possible, [
        HistogramBin(edges[i], edges[i + 1], counts[i], _bin_label(edges[i], edges[i + 1], width))
        for i in range(bins)
    ])


def _bin_label(low: float, high: float, width: float) -> str:
    if width == 1 and float(low).is_integer():
        return f"{low:g}"
    return f"{round(low, 2):g}–{round(high, 2):g}"


def submission_links(student_id: str) -> tuple[str, str]:
    """Relative links from ``index.html`` to a submission's two pages, safe for any id."""
    folder = "./" + quote(student_id, safe="")
    return f"{folder}/{REPORT_FILE}", f"{folder}/{FEEDBACK_FILE}"


def _row(result: SubmissionResult) -> SubmissionRow:
    report_href, feedback_href = submission_links(result.student_id)
    submitted = Submitted.from_dict(result.submitted)
    return SubmissionRow(
        student_id=result.student_id, score=result.total, possible=result.possible, status=result.status,
        passed=sum(test.status == PASSED for test in result.tests), tests=len(result.tests),
        duration=result.duration, report_href=report_href, feedback_href=feedback_href,
        computed_in_sandbox=result.computed_in_sandbox, name=submitted.name, late=submitted.late,
        import_warnings=len(submitted.warnings),
    )


def import_info(folder: GradedFolder) -> ImportInfo | None:
    """The batch's ``import.json`` as the summary shows it; None when the folder has none."""
    data = load_import_report(folder.path)
    if not data:
        return None
    missing = [MissingRow(str(student.get("label", "")), str(student.get("id", "")), str(student.get("section", "")))
               for student in data.get("missing", []) if isinstance(student, dict)]
    return ImportInfo(label=str(data.get("label", "")), how=str(data.get("how", "")), roster=data.get("roster"),
                      notes=[str(note) for note in data.get("notes", [])], missing=missing,
                      unmatched=[str(student_id) for student_id in data.get("unmatched", [])])


def _test_stats(folder: GradedFolder) -> list[TestStats]:
    stats = {test.id: TestStats(test.id, test.name, test.visibility, test.points,
                                computed_in_sandbox=test.computed_in == "sandbox")
             for test in folder.manifest.plan}
    for result in folder.results:
        for test in result.tests:
            entry = stats.get(test.id)
            if entry is None:  # a result from an older plan: still counted, under its own name
                entry = stats[test.id] = TestStats(test.id, test.name, test.visibility, test.max_points,
                                                   computed_in_sandbox=test.computed_in == "sandbox")
            entry.attempted += 1
            entry.points_earned += test.points
            if test.status == PASSED:
                entry.passed += 1
            elif test.status == PARTIAL:
                entry.partial += 1
            elif test.status == TIMEOUT:
                entry.timeouts += 1
            elif test.status == ERROR:
                entry.errors += 1
            elif test.status == FAILED:
                entry.failed += 1
    return list(stats.values())


def _common_failures(results: list[SubmissionResult]) -> list[CommonFailure]:
    occurrences: dict[str, int] = defaultdict(int)
    students: dict[str, dict[str, None]] = defaultdict(dict)
    tests: dict[str, dict[str, None]] = defaultdict(dict)
    for result in results:
        for test in result.tests:
            if test.status == PASSED or not test.message:
                continue
            key = normalise_message(test.message)
            if not key:
                continue
            occurrences[key] += 1
            students[key][result.student_id] = None
            tests[key][test.name] = None
    ranked = sorted(occurrences, key=lambda key: (-len(students[key]), -occurrences[key], key))
    return [CommonFailure(key, occurrences[key], list(students[key]), list(tests[key]))
            for key in ranked[:COMMON_FAILURES_SHOWN]]


def common_mistakes(results: list[SubmissionResult]) -> tuple[list[CommonMistake], int]:
    """The mistakes the diagnosis named, most widespread first, and how many diagnosed failures it could not name."""
    found: dict[str, CommonMistake] = {}
    unexplained = 0
    for result in results:
        for test in result.tests:
            if test.diagnosis is None:
                continue
            if not test.diagnosis.matched:
                unexplained += 1
            for entry in test.diagnosis.matched:
                mistake = found.setdefault(entry.id, CommonMistake(entry.id, entry.title, [], []))
                if result.student_id not in mistake.students:
                    mistake.students.append(result.student_id)
                if test.name not in mistake.tests:
                    mistake.tests.append(test.name)
    ranked = sorted(found.values(), key=lambda mistake: (-len(mistake.students), mistake.title))
    return ranked, unexplained


def _incidents(folder: GradedFolder) -> list[Incident]:
    incidents = []
    for result in folder.results:
        if result.status != GRADED:
            incidents.append(Incident(result.student_id, result.status, "", headline(result.message)))
        for test in result.tests:
            if test.status in (ERROR, TIMEOUT):
                incidents.append(Incident(result.student_id, test.status, test.name, headline(test.message)))
    return incidents


def build_class_summary(folder: GradedFolder, now: dt.datetime | None = None) -> ClassSummary:
    """The data of ``index.html`` for a graded folder."""
    now = now or dt.datetime.now(dt.timezone.utc)
    manifest = folder.manifest
    rows = sorted((_row(result) for result in folder.results), key=lambda row: row.student_id)
    incidents = _incidents(folder)
    mistakes, undiagnosed = common_mistakes(folder.results)
    return ClassSummary(
        assignment=manifest.assignment, title=manifest.title, version=manifest.version,
        possible=manifest.possible, generated_at=now.isoformat(timespec="seconds"), submissions=rows,
        histogram=score_histogram([row.score for row in rows], manifest.possible), tests=_test_stats(folder),
        common_failures=_common_failures(folder.results), common_mistakes=mistakes, undiagnosed_failures=undiagnosed,
        incidents=incidents[:INCIDENTS_SHOWN],
        incidents_not_shown=max(len(incidents) - INCIDENTS_SHOWN, 0),
        slowest=sorted(rows, key=lambda row: -row.duration)[:SLOWEST_SHOWN],
        unreadable=[path.relative_to(folder.path).as_posix() if path.is_relative_to(folder.path) else str(path)
                    for path in folder.unreadable],
        due=manifest.due, backend=manifest.backend, graded_at=manifest.graded_at,
        grader_version=manifest.grader_version,
        computed_in_sandbox=any(test.computed_in == "sandbox" for test in manifest.plan),
        file_isolated=all(result.file_isolated for result in folder.results),
        imported=import_info(folder),
    )
