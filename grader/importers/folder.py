"""The plain layout: a folder per student, single files named after a student file, zips.

This is :func:`grader.ingest.discover_submissions` as an importer. Two entries
that give the same id (``alice/`` and ``alice.zip``) are both graded, the
second as ``alice~zip``; each gets a warning naming the other.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from grader.importers.record import Candidate, Detection, Loaded, Submitted
from grader.ingest import discover_submissions, ignored_entries

NAME = "folder"
LABEL = "folder of submissions"


def detect(entries: list[Path]) -> Detection:
    """Always fits: it is the layout of last resort."""
    return Detection(NAME, len(entries), len(entries),
                     f"{len(entries)} entries in no LMS layout, read as a folder, .zip or file per student")


def load(folder: Path, student_files: Sequence[str]) -> Loaded:
    loaded = Loaded(ignored=[(path.name, "not a folder, a .zip or a file named like a student file")
                             for path in ignored_entries(folder, student_files)])
    sources = discover_submissions(folder, student_files)
    by_base: dict[str, list[str]] = {}
    for source in sources:
        by_base.setdefault(source.student_id.split("~")[0], []).append(source.student_id)
    for source in sources:
        submitted = Submitted(entries=(source.path.name,))
        twins = by_base[source.student_id.split("~")[0]]
        if len(twins) > 1:
            others = ", ".join(f"{other}" for other in twins if other != source.student_id)
            submitted = submitted.warned(f"{len(twins)} entries claim the student {twins[0]!r}: graded separately "
                                         f"as {', '.join(twins)}; this is {source.path.name}, see also {others}")
        base = source.student_id.split("~")[0]  # a twin belongs to the same roster student
        loaded.candidates.append(Candidate(source.student_id, str(source.path), source.kind,
                                           keys=(source.student_id, base), submitted=submitted))
    return loaded
