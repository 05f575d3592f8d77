"""Reports of a graded folder: per-submission pages for instructors and students, and a class summary.

Data first, then rendering: :mod:`grader.report.model` holds the types,
:mod:`grader.report.submission` and :mod:`grader.report.summary` build them
from results (:mod:`grader.report.messages` structures test messages),
:mod:`grader.report.html` renders them with the templates in ``templates/``,
and :mod:`grader.report.writer` puts the files in place.
"""
from __future__ import annotations

from grader.report.writer import INDEX_FILE, WrittenReports, write_reports

__all__ = ["INDEX_FILE", "WrittenReports", "write_reports"]
