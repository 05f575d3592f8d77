"""Blackboard "Download assignment": ``Assignment_username_attempt_YYYY-MM-DD-HH-MM-SS_file``.

Each attempt has a receipt, ``Assignment_username_attempt_<stamp>.txt``
(``Name: Jane Smith (jsmith)``, then ``Original filename:`` / ``Filename:``
pairs), and one file per attachment. The latest attempt of each student is
graded; the report says which one and which were passed over. Original file
names come from the receipt when it has them, else from the file name, and
are mapped back to the student files (:func:`~grader.importers.names.expected_name`).

The assignment name may contain ``_``; it is the prefix every entry shares,
and the username is what lies between it and ``_attempt_``.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from grader.importers.entries import is_file, list_entries
from grader.importers.names import common_prefix, files_by_expected_name
from grader.importers.record import Candidate, Detection, Loaded, Submitted

NAME = "blackboard"
LABEL = "Blackboard download"
_ENTRY = re.compile(r"^(?P<head>.+)_attempt_(?P<stamp>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:_(?P<file>.+)|(?P<receipt>\.txt))$")
_RECEIPT_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*(?:\((?P<user>[^()]*)\))?\s*$")
_ORIGINAL = re.compile(r"^\s*Original filename:\s*(?P<value>.+?)\s*$")
_STORED = re.compile(r"^\s*Filename:\s*(?P<value>.+?)\s*$")
MAX_RECEIPT_BYTES = 1024 * 1024


def detect(entries: list[Path]) -> Detection:
    matched = sum(1 for entry in entries if is_file(entry) and _ENTRY.match(entry.name))
    return Detection(NAME, matched, len(entries),
                     f"{matched} of {len(entries)} entries are files named Assignment_user_attempt_<date>_file")


def load(folder: Path, student_files: Sequence[str]) -> Loaded:
    loaded = Loaded()
    matches: list[tuple[Path, re.Match]] = []
    for entry in list_entries(folder):
        match = _ENTRY.match(entry.name) if is_file(entry) else None
        if match is None:
            loaded.ignored.append((entry.name, "not a file named Assignment_user_attempt_<date>_file"))
        else:
            matches.append((entry, match))
    heads = sorted({match["head"] for _, match in matches})
    prefix = common_prefix(heads, "_")
    attempts: dict[str, dict[str, list[tuple[Path, re.Match]]]] = defaultdict(lambda: defaultdict(list))
    for entry, match in matches:
        user = match["head"][len(prefix):] if prefix else match["head"].rsplit("_", 1)[-1]
        attempts[user][match["stamp"]].append((entry, match))
    for user, by_stamp in sorted(attempts.items()):
        loaded.candidates.append(_candidate(user, by_stamp, student_files))
    return loaded


def _candidate(user: str, by_stamp: dict[str, list[tuple[Path, re.Match]]], student_files: Sequence[str]) -> Candidate:
    stamps = sorted(by_stamp)
    latest = stamps[-1]
    entries = by_stamp[latest]
    receipt = next((path for path, match in entries if match["receipt"]), None)
    name, originals = read_receipt(receipt) if receipt else ("", {})
    submitted = Submitted(source_format=LABEL, entries=tuple(path.name for path, _ in entries), name=name,
                          attempt=_readable(latest)).with_lms_id("blackboard_username", user)
    if len(stamps) > 1:
        submitted = submitted.noted(f"graded the latest attempt, {_readable(latest)}, of {len(stamps)}; passed over "
                                    + ", ".join(_readable(stamp) for stamp in stamps[:-1]))
    uploads = ((path, originals.get(path.name, match["file"])) for path, match in entries if not match["receipt"])
    pairs, submitted = files_by_expected_name(uploads, student_files, submitted)
    if not pairs:
        submitted = submitted.warned(f"the attempt of {_readable(latest)} has no files, only its receipt")
        return Candidate(user, str(receipt or entries[0][0]), "files", files=(), keys=(user,), submitted=submitted)
    return Candidate(user, pairs[0][0], "files", files=pairs, keys=(user,), submitted=submitted)


def read_receipt(path: Path) -> tuple[str, dict[str, str]]:
    """``(student name, {stored file name: original file name})`` from an attempt's receipt."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_RECEIPT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return "", {}
    name, originals, original = "", {}, None
    for line in text.splitlines():
        if not name and (match := _RECEIPT_NAME.match(line.strip())):
            name = match["name"]
        elif match := _ORIGINAL.match(line):
            original = match["value"]
        elif (match := _STORED.match(line)) and original is not None:
            originals[match["value"]] = original
            original = None
    return name, originals


def _readable(stamp: str) -> str:
    """``2024-01-15-10-30-00`` -> ``2024-01-15 10:30:00``."""
    try:
        return dt.datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S").strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp
