"""Write every HTML report of a graded folder: ``index.html`` and, per submission, two pages.

Layout, beside ``batch.json`` and the ``<id>/result.json`` files::

    index.html            the class summary (instructors only: it names every student)
    <id>/report.html      the instructor's page of one submission: everything recorded
    <id>/feedback.html    the student's page: only what the tests' visibility allows

Each file is written atomically (temp file, then rename), so a reader never
sees half a page. A result whose student id is not a plain folder name of the
graded folder (a hand-edited ``result.json``, say) gets no page: reports are
never written outside the folder.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import InstructorError
from grader.manifest import GradedFolder
from grader.report.html import render_submission, render_summary
from grader.report.model import INSTRUCTOR, STUDENT
from grader.report.submission import build_submission_report
from grader.report.summary import FEEDBACK_FILE, REPORT_FILE, build_class_summary

INDEX_FILE = "index.html"


@dataclass
class SubmissionPages:
    student_id: str
    report: Path
    feedback: Path


@dataclass
class WrittenReports:
    """What :func:`write_reports` wrote, and the ids it could not write a page for."""

    index: Path
    submissions: list[SubmissionPages] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "index": str(self.index),
            "submissions": [{"id": pages.student_id, "report": str(pages.report), "feedback": str(pages.feedback)}
                            for pages in self.submissions],
            "skipped": list(self.skipped),
        }


def write_text_atomic(path: Path, text: str) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _page_folder(folder: GradedFolder, student_id: str) -> Path | None:
    """``folder/<id>`` when the id is a plain name of an existing subfolder, else None."""
    if not student_id or student_id in (".", "..") or any(sep in student_id for sep in ("/", "\\", "\0")):
        return None
    path = folder.path / student_id
    return path if path.is_dir() and not path.is_symlink() else None


def write_reports(folder: GradedFolder, now: dt.datetime | None = None) -> WrittenReports:
    """Render ``index.html`` and every submission's ``report.html`` and ``feedback.html`` into ``folder.path``.

    ``now`` decides whether ``after_due_date`` tests are shown to students
    (default: the current time). Raises :class:`InstructorError` when a file
    cannot be written.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    written = WrittenReports(index=folder.path / INDEX_FILE)
    try:
        for result in folder.results:
            page_folder = _page_folder(folder, result.student_id)
            if page_folder is None:
                written.skipped.append(result.student_id)
                continue
            pages = SubmissionPages(result.student_id, page_folder / REPORT_FILE, page_folder / FEEDBACK_FILE)
            for flavour, path in ((INSTRUCTOR, pages.report), (STUDENT, pages.feedback)):
                report = build_submission_report(result, folder.manifest, flavour, now=now)
                write_text_atomic(path, render_submission(report))
            written.submissions.append(pages)
        write_text_atomic(written.index, render_summary(build_class_summary(folder, now=now)))
    except OSError as error:
        raise InstructorError(f"cannot write the reports into {folder.path}: {error}") from None
    return written
