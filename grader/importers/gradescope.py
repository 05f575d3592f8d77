"""Gradescope export: ``submission_<id>/`` folders and ``submission_metadata.yml``.

The metadata maps each folder name to its submitters (Gradescope writes Ruby
symbols, so the keys read ``:submitters:``, ``:name:``, ``:sid:``,
``:email:``), the time it was created and more. A file of that name inside a
submission's folder is read too. A group submission lists several submitters:
every one of them is recorded (the Canvas export credits each member on the
roster); the id is the first submitter's sid, else e-mail, else the folder name.

The hidden tests are seeded by :func:`seed_identity`, not by that id: the
value Gradescope's own autograder (:mod:`grader.exports.autograder`) computes
from ``submission_metadata.json`` for the same submission, so a regrade of the
export draws the inputs and gives the score Gradescope gave.

The metadata file is the instructor's input: one that cannot be read is an
:class:`~grader.errors.InstructorError` naming the file and the line.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from grader.errors import InstructorError
from grader.importers.entries import is_file, is_folder, list_entries
from grader.importers.record import Candidate, Detection, Loaded, Member, Submitted

NAME = "gradescope"
LABEL = "Gradescope export"
METADATA = "submission_metadata.yml"
MAX_METADATA_BYTES = 64 * 1024 * 1024
_FOLDER = re.compile(r"^submission_(?P<id>\d+)$")


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads Ruby object tags (``!ruby/object:…``) as plain values."""


def _untagged(loader: _Loader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _untagged)


def detect(entries: list[Path]) -> Detection:
    folders = sum(1 for entry in entries if is_folder(entry) and _FOLDER.match(entry.name))
    metadata = any(entry.name == METADATA for entry in entries)
    total = len(entries) - metadata
    return Detection(NAME, folders, total, f"{folders} of {total} entries are submission_<id> folders"
                     + (f" and {METADATA} is there" if metadata else f", without {METADATA}"))


def seed_identity(submitters: Sequence[Any], submission_id: Any = "") -> str:
    """Who a Gradescope submission's hidden tests are seeded by; ``""`` when the metadata names nobody.

    The smallest of the submitters' e-mails (stripped, lower-cased), else the
    smallest sid (stripped), else the Gradescope submission id. Both of
    Gradescope's files name every submitter with ``email`` and ``sid`` (the
    export's ``submission_metadata.yml`` and the autograder's
    ``submission_metadata.json``, whose ``users`` also hold an account ``id``
    the export lacks), and both know the submission id. The smallest, not the
    first, because nothing promises that the two files list a group's members
    in the same order; e-mails first because an account always has one, while
    a sid is only there when the course roster gives it.
    """
    people = [person for person in submitters if isinstance(person, Mapping)]
    for key, clean in (("email", _email), ("sid", _text)):
        values = sorted(value for value in (clean(person.get(key)) for person in people) if value)
        if values:
            return values[0]
    return _text(submission_id)


def _email(value: Any) -> str:
    return _text(value).lower()


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata file as a dict, keys without Ruby's leading ``:``."""
    try:
        if path.stat().st_size > MAX_METADATA_BYTES:
            raise InstructorError(f"{path}: larger than {MAX_METADATA_BYTES} bytes; not a Gradescope metadata file")
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except OSError as error:
        raise InstructorError(f"{path}: cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise InstructorError(f"{path}: not UTF-8 text (at byte {error.start})") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f", line {where.line + 1}" if where is not None else ""
        raise InstructorError(f"{path}{line}: not valid YAML: {getattr(error, 'problem', None) or error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InstructorError(f"{path}: expected a mapping of submission_<id> to its metadata, got {type(data).__name__}")
    return _plain(data)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key).lstrip(":"): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def load(folder: Path, student_files: Sequence[str]) -> Loaded:
    loaded = Loaded()
    entries = list_entries(folder)
    metadata: dict[str, Any] = {}
    top = folder / METADATA
    if is_file(top):
        metadata = read_metadata(top)
    for entry in entries:
        match = _FOLDER.match(entry.name) if is_folder(entry) else None
        if match is None:
            if entry.name != METADATA:
                loaded.ignored.append((entry.name, "not a submission_<id> folder"))
            continue
        own = entry / METADATA
        info = metadata.get(entry.name)
        if info is None and is_file(own):
            info = read_metadata(own)
            info = info.get(entry.name, info)
        loaded.candidates.append(_candidate(entry, match["id"], info))
    unknown = sorted(set(metadata) - {entry.name for entry in entries})
    if unknown:
        loaded.notes.append(f"{METADATA} describes {len(unknown)} submission(s) with no folder: {', '.join(unknown[:10])}")
    return loaded


def _candidate(entry: Path, submission_id: str, info: Any) -> Candidate:
    submitted = Submitted(source_format=LABEL, entries=(entry.name,)).with_lms_id("gradescope_submission_id", submission_id)
    if not isinstance(info, dict):
        submitted = replace(submitted, seed_id=seed_identity([], submission_id))
        submitted = submitted.warned(f"{METADATA} says nothing about {entry.name}: no name, e-mail or student id")
        return Candidate(entry.name, str(entry), "folder", submitted=submitted)
    submitters = info.get("submitters") if isinstance(info.get("submitters"), list) else []
    members = tuple(Member(name=_text(person.get("name")), sid=_text(person.get("sid")), email=_text(person.get("email")))
                    for person in submitters if isinstance(person, dict))
    if not members:
        submitted = submitted.warned(f"{METADATA} lists no submitter for {entry.name}")
    first = members[0] if members else Member()
    submitted = Submitted(
        source_format=LABEL, entries=(entry.name,), name=first.name, email=first.email,
        lms_ids=submitted.lms_ids, members=members if len(members) > 1 else (),
        submitted_at=_text(info.get("created_at")), seed_id=seed_identity(submitters, submission_id),
        warnings=submitted.warnings,
    ).with_lms_id("gradescope_sid", first.sid)
    if len(members) > 1:
        submitted = submitted.noted(f"group submission of {len(members)} students: "
                                    + ", ".join(member.name or member.sid or member.email for member in members))
    keys = tuple(value for member in members for value in (member.sid, member.email) if value)
    default_id = first.sid or first.email or entry.name
    return Candidate(default_id, str(entry), "folder", keys=keys, submitted=submitted)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
