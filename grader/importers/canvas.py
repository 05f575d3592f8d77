"""Canvas bulk download: one file per attachment, ``name[_LATE]_userid_attachmentid_original``.

``name`` is Canvas's run-together student name (``smithjane``), ``LATE`` marks a
submission after the due date, ``userid`` is the Canvas user id (with
anonymous grading: ``anon_<anonymous id>``), ``attachmentid`` grows with every
upload. Canvas renames a file handed in again (``rnn.py`` -> ``rnn-1.py``); the
name is mapped back to the student file it stands for
(:func:`grader.importers.names.expected_name`).

A student's files make one submission (``files`` kind; a single ``.zip`` is a
``zip`` submission). Two files of one student that map to the same name: the
later upload (larger attachment id) is graded, and both are named in a warning.
The id is ``name_userid`` (``anon_<id>`` when anonymous) unless the roster
gives one (matched by Canvas user id).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from grader.importers.entries import is_file, list_entries
from grader.importers.names import files_by_expected_name
from grader.importers.record import Candidate, Detection, Loaded, Submitted

NAME = "canvas"
LABEL = "Canvas bulk download"
_NAMED = re.compile(r"^(?P<name>[^_]+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>.+)$")
_ANONYMOUS = re.compile(r"^anon(?P<late>_LATE)?_(?P<user>[A-Za-z0-9]+)(?P<late2>_LATE)?_(?P<attachment>\d+)_(?P<file>.+)$")


def parse_name(name: str) -> dict[str, str | bool] | None:
    """The parts of a Canvas download file name, or None when it is not one."""
    match = _ANONYMOUS.match(name)
    if match:
        return {"name": "anon", "late": bool(match["late"] or match["late2"]), "user": match["user"],
                "attachment": match["attachment"], "file": match["file"], "anonymous": True}
    match = _NAMED.match(name)
    if match:
        return {"name": match["name"], "late": bool(match["late"]), "user": match["user"],
                "attachment": match["attachment"], "file": match["file"], "anonymous": False}
    return None


def detect(entries: list[Path]) -> Detection:
    matched = sum(1 for entry in entries if is_file(entry) and parse_name(entry.name))
    return Detection(NAME, matched, len(entries), f"{matched} of {len(entries)} entries are files named "
                     "name[_LATE]_userid_attachmentid_file")


def load(folder: Path, student_files: Sequence[str]) -> Loaded:
    loaded = Loaded()
    by_user: dict[tuple[bool, str], list[tuple[Path, dict]]] = defaultdict(list)
    for entry in list_entries(folder):
        parts = parse_name(entry.name) if is_file(entry) else None
        if parts is None:
            loaded.ignored.append((entry.name, "not a file named name[_LATE]_userid_attachmentid_file"))
            continue
        by_user[(bool(parts["anonymous"]), str(parts["user"]))].append((entry, parts))
    for (anonymous, user), uploads in sorted(by_user.items()):
        loaded.candidates.append(_candidate(anonymous, user, uploads, student_files))
    return loaded


def _candidate(anonymous: bool, user: str, uploads: list[tuple[Path, dict]],
               student_files: Sequence[str]) -> Candidate:
    uploads = sorted(uploads, key=lambda upload: (int(str(upload[1]["attachment"])), upload[0].name))
    slug = str(uploads[0][1]["name"])
    submitted = Submitted(source_format=LABEL, entries=tuple(path.name for path, _ in uploads),
                          late=any(bool(parts["late"]) for _, parts in uploads))
    submitted = submitted.with_lms_id("canvas_anonymous_id" if anonymous else "canvas_user_id", user)
    files, submitted = files_by_expected_name(((path, str(parts["file"])) for path, parts in uploads), student_files,
                                              submitted, winner="the later upload, ")  # later attachments win
    default_id = f"anon_{user}" if anonymous else f"{slug}_{user}"
    keys = () if anonymous else (user,)
    if len(files) == 1 and files[0][1].lower().endswith(".zip"):
        return Candidate(default_id, files[0][0], "zip", keys=keys, submitted=submitted)
    return Candidate(default_id, files[0][0], "files", files=files, keys=keys, submitted=submitted)
