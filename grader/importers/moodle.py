"""Moodle "Download all submissions": ``Full Name_participantid_assignsubmission_file_``.

With "download submissions in folders" (the default) each student has a
folder ``Full Name_123456_assignsubmission_file_`` holding the files as handed
in; without it the files sit at the top as
``Full Name_123456_assignsubmission_file_rnn.py``. Both are read. Online-text
entries (``assignsubmission_onlinetext_``) hold no code and are left out, with
a note. The participant id is the assignment's own, so a roster matches the
student by name (or by an ``id`` column holding the participant id); the id is
``Full_Name_participantid`` unless the roster gives one.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from grader.importers.entries import is_file, is_folder, list_entries
from grader.importers.names import files_by_expected_name
from grader.importers.record import Candidate, Detection, Loaded, Submitted

NAME = "moodle"
LABEL = "Moodle download"
_ENTRY = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.*)$")


def detect(entries: list[Path]) -> Detection:
    matched = sum(1 for entry in entries if _ENTRY.match(entry.name))
    return Detection(NAME, matched, len(entries),
                     f"{matched} of {len(entries)} entries are named Full Name_participantid_assignsubmission_…")


def load(folder: Path, student_files: Sequence[str]) -> Loaded:
    loaded = Loaded()
    found: dict[str, list[tuple[Path, re.Match]]] = defaultdict(list)
    for entry in list_entries(folder):
        match = _ENTRY.match(entry.name)
        if match is None:
            loaded.ignored.append((entry.name, "not named Full Name_participantid_assignsubmission_…"))
        elif match["plugin"] != "file":
            loaded.ignored.append((entry.name, f"a {match['plugin']} entry, which holds no files to grade"))
        elif not (is_folder(entry) or is_file(entry)) or (is_folder(entry) and match["file"]):
            loaded.ignored.append((entry.name, "neither a submission folder nor a submitted file"))
        else:
            found[match["participant"]].append((entry, match))
    for participant, items in sorted(found.items()):
        loaded.candidates.append(_candidate(participant, items, student_files))
    return loaded


def _candidate(participant: str, items: list[tuple[Path, re.Match]], student_files: Sequence[str]) -> Candidate:
    name = items[0][1]["name"]
    submitted = Submitted(source_format=LABEL, entries=tuple(path.name for path, _ in items), name=name)
    submitted = submitted.with_lms_id("moodle_participant_id", participant)
    default_id = f"{name.replace(' ', '_')}_{participant}"
    folders = [path for path, _ in items if is_folder(path)]
    files = [(path, match["file"]) for path, match in items if is_file(path)]
    if folders and files or len(folders) > 1:
        submitted = submitted.warned("several entries for one participant: "
                                     + ", ".join(path.name for path, _ in items) + f"; graded {items[0][0].name}")
    if folders:
        return Candidate(default_id, str(folders[0]), "folder", keys=(participant,), submitted=submitted)
    pairs, submitted = files_by_expected_name(files, student_files, submitted)
    return Candidate(default_id, pairs[0][0], "files", files=pairs, keys=(participant,), submitted=submitted)
