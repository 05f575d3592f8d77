"""Rebuild every output of a graded folder from its saved results, without grading again.

What ``grader report DIR`` runs: the HTML reports (:func:`write_reports`) and,
when the exports package offers ``grader.exports.write_exports(folder,
out_dir)``, the gradebook and CI exports too. The exports package is looked
up at run time, so reports work with or without it.
"""
from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.manifest import GradedFolder, load_graded_folder
from grader.report.writer import WrittenReports, write_reports

EXPORTS_MODULE = "grader.exports"


@dataclass
class RebuiltOutputs:
    """What :func:`rebuild_outputs` wrote."""

    folder: GradedFolder
    reports: WrittenReports
    exports: list[str] = field(default_factory=list)
    exports_available: bool = False

    def to_dict(self) -> dict:
        return {
            "folder": str(self.folder.path),
            "assignment": self.folder.manifest.assignment,
            **self.reports.to_dict(),
            "unreadable": [str(path) for path in self.folder.unreadable],
            "exports": list(self.exports),
        }


def find_write_exports() -> Any:
    """``grader.exports.write_exports`` when that package provides it, else None."""
    try:
        if importlib.util.find_spec(EXPORTS_MODULE) is None:
            return None
    except (ImportError, ValueError):
        return None
    return getattr(importlib.import_module(EXPORTS_MODULE), "write_exports", None)


def _paths(written: Any) -> list[str]:
    """Whatever ``write_exports`` returned, as a list of printable paths."""
    if written is None:
        return []
    if isinstance(written, (str, Path)):
        return [str(written)]
    if isinstance(written, Mapping):
        return [str(value) for value in written.values()]
    if isinstance(written, Iterable):
        return [str(value) for value in written]
    return [str(written)]


def export_lines(paths: list[str], folder: Path) -> list[str]:
    """Exports for a terminal: files of the folder itself one by one, per-submission files counted."""
    lines, per_submission = [], {}
    for text in paths:
        path = Path(text)
        if path.parent.parent == folder:
            per_submission[path.name] = per_submission.get(path.name, 0) + 1
        else:
            lines.append(text)
    lines += [f"{folder}/<id>/{name} ({count} submission(s))" for name, count in per_submission.items()]
    return lines


def rebuild_outputs(path: str | Path, now: dt.datetime | None = None) -> RebuiltOutputs:
    """Re-render the reports (and exports, when available) of the graded folder at ``path``.

    Raises :class:`grader.errors.InstructorError` when ``path`` is not a graded folder.
    """
    folder = load_graded_folder(path)
    reports = write_reports(folder, now=now)
    write_exports = find_write_exports()
    rebuilt = RebuiltOutputs(folder, reports, exports_available=write_exports is not None)
    if write_exports is not None:
        rebuilt.exports = _paths(write_exports(folder, folder.path))
    return rebuilt
