"""A Canvas gradebook import CSV: ``Student, ID, SIS User ID, SIS Login ID, Section, <Title (assignment id)>``.

The second row is ``    Points Possible`` with the assignment's total. A
roster (:mod:`grader.roster`) gives each submission its Canvas identity:

- every student on the roster gets a row, in roster order; one without a
  submission gets an empty score (and is listed in ``missing``), so the
  import leaves their grade alone;
- a submission with no roster entry still gets a row (Student: its id, the
  identity columns empty), after the roster's, and is listed in ``unmatched``:
  never dropped, so nobody's grade goes missing silently;
- a submission the grader failed on, or whose result cannot be read, gets an
  empty score and is listed in ``not_scored``: a zero would be a wrong grade.

Without a roster every submission is ``unmatched``: Canvas matches rows by
``ID``, ``SIS User ID`` or ``SIS Login ID``, so pass one before importing.

Submissions read by an importer (:mod:`grader.importers`) carry what the LMS
said (``SubmissionResult.submitted``): a roster row is also matched by those
identities (Canvas user id, Gradescope sid, e-mail) or, failing them, by name;
every member of a group submission on the roster gets the group's score; and
an unmatched submission from a Canvas download keeps its Canvas user id in
``ID`` (listed in ``from_download``), so Canvas can match it without a roster.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from grader.exports.atomic import write_text_atomic
from grader.importers.record import Submitted
from grader.manifest import GradedFolder
from grader.results import GRADER_FAILURE, SubmissionResult
from grader.roster import Roster, RosterEntry

FILE_NAME = "canvas.csv"
IDENTITY_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"


@dataclass
class CanvasRow:
    student: str
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    score: str = ""
    submission_id: str | None = None

    def cells(self) -> list[str]:
        return [self.student, self.canvas_id, self.sis_user_id, self.sis_login_id, self.section, self.score]


@dataclass
class CanvasExport:
    """The rows of the gradebook file and what an instructor must know before importing it."""

    column: str
    points_possible: float
    roster: str | None = None                              # where the roster came from; None: no roster
    rows: list[CanvasRow] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)    # submission ids with no roster entry
    missing: list[str] = field(default_factory=list)      # roster students without a submission
    not_scored: list[str] = field(default_factory=list)   # submission ids left without a score
    duplicates: list[str] = field(default_factory=list)   # submission ids whose student already has a row
    from_download: list[str] = field(default_factory=list)  # unmatched, but with the Canvas user id of the download
    caveats: dict[str, list[str]] = field(default_factory=dict)  # submission id -> what weakens trust in its score

    def to_csv(self, points_row: bool = True) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*IDENTITY_COLUMNS, self.column])
        if points_row:
            writer.writerow([POINTS_POSSIBLE, "", "", "", "", format_points(self.points_possible)])
        writer.writerows(row.cells() for row in self.rows)
        return buffer.getvalue()

    def notes(self) -> list[str]:
        """One line per thing to check before the import."""
        notes = []
        blank = [student_id for student_id in self.unmatched if student_id not in self.from_download]
        if self.roster is None and blank:
            notes.append(f"no roster: the {len(blank)} row(s) carry submission ids and empty identity "
                         "columns, which Canvas cannot match; pass a roster to fill them")
        elif blank:
            notes.append(f"{len(blank)} submission(s) have no roster entry, exported with empty identity "
                         f"columns (Canvas cannot match them): {', '.join(blank)}")
        if self.from_download:
            notes.append(f"{len(self.from_download)} submission(s) have no roster entry but keep the Canvas user id "
                         f"of the bulk download, which Canvas matches: {', '.join(self.from_download)}")
        if self.missing:
            notes.append(f"{len(self.missing)} student(s) on the roster have no submission, exported with an empty "
                         f"score: {', '.join(self.missing)}")
        if self.not_scored:
            notes.append(f"{len(self.not_scored)} submission(s) have no score to export (grader failure or unreadable "
                         f"result; regrade them): {', '.join(self.not_scored)}")
        if self.duplicates:
            notes.append(f"{len(self.duplicates)} submission(s) belong to a student who already has one, exported "
                         f"on rows of their own: {', '.join(self.duplicates)}")
        # A Canvas gradebook file has no comment rows, and every extra column becomes an assignment: say it here.
        for caveat in sorted({caveat for found in self.caveats.values() for caveat in found}):
            ids = sorted(student_id for student_id, found in self.caveats.items() if caveat in found)
            notes.append(f"{len(ids)} score(s) were {caveat.removeprefix('graded ')}: {', '.join(ids)}"
                         if caveat.startswith("graded ") else f"{len(ids)} score(s) carry a caveat ({caveat}): "
                         f"{', '.join(ids)}")
        return notes

    def to_dict(self) -> dict:
        return {"column": self.column, "points_possible": self.points_possible, "roster": self.roster,
                "rows": len(self.rows),
                "unmatched": self.unmatched, "missing": self.missing, "not_scored": self.not_scored,
                "duplicates": self.duplicates, "from_download": self.from_download, "caveats": self.caveats}


def format_points(value: float) -> str:
    """Points as Canvas reads them: ``12``, ``9.5``, ``3.3333``."""
    text = f"{round(value, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def column_title(title: str, assignment_id: str | int | None) -> str:
    return f"{title} ({assignment_id})" if assignment_id not in (None, "") else title


def canvas_export(folder: GradedFolder, roster: Roster | None = None,
                  assignment_id: str | int | None = None) -> CanvasExport:
    """The gradebook rows for ``folder`` (see the module docstring for who gets a row)."""
    manifest = folder.manifest
    export = CanvasExport(column_title(manifest.title, assignment_id), manifest.possible,
                          roster=roster.source if roster is not None else None)
    scores: dict[str, str] = {result.student_id: _score(result) for result in folder.results}
    # A result that cannot be read still names its submission: its folder.
    for path in folder.unreadable:
        scores.setdefault(path.parent.name, "")
    export.not_scored = sorted(student_id for student_id, score in scores.items() if score == "")
    export.caveats = {result.student_id: result.caveats for result in folder.results if result.caveats}
    submitted = {result.student_id: Submitted.from_dict(result.submitted) for result in folder.results}
    claimed: dict[int, str] = {}  # roster line -> submission id
    unmatched: list[str] = []
    for student_id in sorted(scores):
        entry = _match(roster, student_id, submitted.get(student_id)) if roster is not None else None
        if entry is None:
            unmatched.append(student_id)
        elif entry.line in claimed:
            export.duplicates.append(student_id)
        else:
            claimed[entry.line] = student_id
    for student_id in sorted(submitted) if roster is not None else []:  # the other members of a group
        for member in submitted[student_id].members:
            entry = roster.find([member.sid, member.email], member.name)
            if entry is not None and entry.line not in claimed:
                claimed[entry.line] = student_id
    for entry in roster.entries if roster is not None else []:
        submission = claimed.get(entry.line)
        export.rows.append(_row(entry, scores.get(submission, "") if submission else "", submission))
        if submission is None:
            export.missing.append(entry.label)
    for student_id in [*unmatched, *export.duplicates]:
        export.rows.append(_unmatched_row(student_id, scores[student_id], submitted.get(student_id)))
        if student_id in unmatched and export.rows[-1].canvas_id:
            export.from_download.append(student_id)
    export.unmatched = unmatched
    return export


def _match(roster: Roster, student_id: str, submitted: Submitted | None) -> RosterEntry | None:
    """The roster row of a submission: by its id, else by what its LMS said (ids, e-mail, then name)."""
    entry = roster.match(student_id)
    if entry is None and submitted is not None and submitted.source_format:
        entry = roster.find(submitted.identities(), submitted.name)
    return entry


def _unmatched_row(student_id: str, score: str, submitted: Submitted | None) -> CanvasRow:
    """A row for a submission without a roster entry; a Canvas download's user id and SIS ids are kept."""
    if submitted is None:
        return CanvasRow(student=student_id, score=score, submission_id=student_id)
    return CanvasRow(student=submitted.name or student_id, canvas_id=submitted.lms_id("canvas_user_id"),
                     sis_user_id=submitted.lms_id("sis_user_id"), sis_login_id=submitted.lms_id("sis_login_id"),
                     section=submitted.section, score=score, submission_id=student_id)


def write_canvas_csv(path: Path, export: CanvasExport) -> Path:
    return write_text_atomic(Path(path), export.to_csv())


def _row(entry: RosterEntry, score: str, submission_id: str | None) -> CanvasRow:
    return CanvasRow(student=entry.name or entry.label, canvas_id=entry.canvas_id, sis_user_id=entry.sis_user_id,
                     sis_login_id=entry.sis_login_id, section=entry.section, score=score, submission_id=submission_id)


def _score(result: SubmissionResult) -> str:
    return "" if result.status == GRADER_FAILURE else format_points(result.total)
