"""Gradebook and CI files built from a graded folder: one module per format, all reading the same results.

- :mod:`grader.exports.gradescope`: Gradescope's ``results.json``, written as
  ``<id>/gradescope.json`` per submission;
- :mod:`grader.exports.canvas`: a Canvas gradebook import file, ``canvas.csv``,
  with LMS identities from a roster (:mod:`grader.roster`);
- :mod:`grader.exports.junit`: ``junit.xml``, one test suite per submission;
- :mod:`grader.exports.github`: annotations and a job summary for
  ``grader check --ci``;
- :mod:`grader.exports.autograder_zip` and :mod:`grader.exports.autograder`:
  a Gradescope autograder zip and the program it runs.

:func:`write_exports` is what ``grader export`` (and the HTML report) calls;
:func:`export_folder` returns the same files with what an instructor should
know before uploading them (submissions without a roster entry, and so on).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.exports.canvas import CanvasExport, canvas_export, write_canvas_csv
from grader.exports.gradescope import write_gradescope_files
from grader.exports.junit import write_junit
from grader.manifest import GradedFolder
from grader.roster import Roster

__all__ = ["ExportReport", "export_folder", "write_exports"]


@dataclass
class ExportReport:
    """What :func:`export_folder` wrote, and what to check before uploading it."""

    out_dir: Path
    canvas_csv: Path
    junit_xml: Path
    gradescope: list[Path] = field(default_factory=list)
    canvas: CanvasExport | None = None
    unreadable: list[Path] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [self.canvas_csv, self.junit_xml, *self.gradescope]

    def notes(self) -> list[str]:
        notes = list(self.canvas.notes()) if self.canvas else []
        if self.unreadable:
            notes.append(f"{len(self.unreadable)} result file(s) could not be read and are in no export but the "
                         f"Canvas file (empty score): {', '.join(str(path) for path in self.unreadable)}")
        return notes

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out_dir),
            "files": {"canvas": str(self.canvas_csv), "junit": str(self.junit_xml),
                      "gradescope": [str(path) for path in self.gradescope]},
            "canvas": self.canvas.to_dict() if self.canvas else None,
            "unreadable": [str(path) for path in self.unreadable],
            "notes": self.notes(),
        }


def export_folder(folder: GradedFolder, out_dir: Path | None = None, roster: Roster | None = None,
                  canvas_assignment_id: str | int | None = None, hidden_visibility: str = "hidden") -> ExportReport:
    """Write every export of ``folder`` into ``out_dir`` (default: the graded folder itself).

    ``canvas_assignment_id`` goes into the Canvas column title, ``Title (id)``,
    which makes the import update that assignment; ``hidden_visibility`` is how
    Gradescope shows hidden tests (``hidden`` or ``after_published``).
    """
    out_dir = Path(out_dir) if out_dir is not None else folder.path
    out_dir.mkdir(parents=True, exist_ok=True)
    results = sorted(folder.results, key=lambda result: result.student_id)
    canvas = canvas_export(folder, roster, canvas_assignment_id)
    report = ExportReport(out_dir, canvas_csv=out_dir / "canvas.csv", junit_xml=out_dir / "junit.xml",
                          canvas=canvas, unreadable=list(folder.unreadable))
    write_canvas_csv(report.canvas_csv, canvas)
    write_junit(report.junit_xml, results, name=f"{folder.manifest.assignment} {folder.manifest.version}")
    report.gradescope = write_gradescope_files(folder, out_dir, hidden_visibility)
    return report


def write_exports(folder: GradedFolder, out_dir: Path, roster: Roster | None = None) -> list[Path]:
    """Write the Canvas CSV, the JUnit XML and a Gradescope ``results.json`` per submission; the paths written."""
    return export_folder(folder, out_dir, roster).paths
