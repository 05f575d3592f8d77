"""A class roster: which LMS identity each submission id belongs to.

Gradebook exports (a Canvas CSV, say) need the LMS's identifiers, while a
graded folder knows only submission ids (the names of the entries in the
submissions folder). A roster is a CSV file, UTF-8 (a byte-order mark is
fine), comma-separated (a header with ``;`` or tabs and no comma is read with
that separator), with a header row. Column names are matched without regard
to case, spaces, ``-`` or ``_``; these are understood, other columns are ignored:

=============  ==============================================================
field          accepted headers
=============  ==============================================================
id             ``id``, ``submission id``, ``student id``, ``username``, ``github``
name           ``name``, ``student``, ``student name``, ``full name``
email          ``email``, ``e-mail``, ``email address``
canvas_id      ``canvas id``, ``canvas user id``, ``user id``
sis_user_id    ``sis user id``
sis_login_id   ``sis login id``, ``login id``, ``login``
section        ``section``, ``sections``
=============  ==============================================================

A Canvas gradebook export works as a roster as it is: in a file with both a
``Student`` and an ``SIS User ID`` column, ``ID`` is the Canvas user id (not a
submission id), and its ``    Points Possible`` row is skipped.

A submission matches the row whose ``id`` equals its id; failing that, the
row whose ``sis_login_id``, ``sis_user_id``, ``email`` or ``canvas_id`` does
(in that order), so submissions named by login or e-mail need no ``id``
column. Every row needs at least one of these five values, and no value may
belong to two rows. Every problem is a :class:`RosterError` that names the
file and the line.

Importers (:mod:`grader.importers`) know more than an id: :meth:`Roster.find`
tries each identity an LMS gave (Canvas user id, Gradescope sid, e-mail...)
and, for exports that carry only a name (Moodle), the one row of that name.
:meth:`Roster.missing` lists the students no submission claimed.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import InstructorError

FIELDS = ("id", "name", "email", "canvas_id", "sis_user_id", "sis_login_id", "section")
# The keys a submission id is looked up by, strongest first.
MATCH_KEYS = ("id", "sis_login_id", "sis_user_id", "email", "canvas_id")
HEADERS = {
    "id": ("id", "submission id", "student id", "username", "github", "github username"),
    "name": ("name", "student", "student name", "full name"),
    "email": ("email", "e mail", "email address"),
    "canvas_id": ("canvas id", "canvas user id", "user id"),
    "sis_user_id": ("sis user id",),
    "sis_login_id": ("sis login id", "login id", "login"),
    "section": ("section", "sections"),
}
_POINTS_POSSIBLE = "points possible"


class RosterError(InstructorError):
    """The roster file cannot be used: the message names the file and the line."""


@dataclass(frozen=True)
class RosterEntry:
    """One student of the roster, with the line it came from."""

    line: int
    id: str = ""
    name: str = ""
    email: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    @property
    def label(self) -> str:
        """How to name this student in a message."""
        return self.name or next((getattr(self, key) for key in MATCH_KEYS if getattr(self, key)), f"line {self.line}")


@dataclass
class Roster:
    """The students of a course, looked up by submission id."""

    source: str
    entries: list[RosterEntry] = field(default_factory=list)
    _index: dict[str, dict[str, RosterEntry]] = field(default_factory=dict, repr=False)
    _names: dict[str, list[RosterEntry]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {key: {} for key in MATCH_KEYS}
        self._names = {}
        for entry in self.entries:
            if entry.name:
                self._names.setdefault(normal_name(entry.name), []).append(entry)
        for entry in self.entries:
            for key in MATCH_KEYS:
                value = getattr(entry, key)
                if not value:
                    continue
                other = self._index[key].get(value)
                if other is not None:
                    raise RosterError(f"{self.source}, line {entry.line}: {key} {value!r} is already the {key} "
                                      f"of line {other.line}; every student needs values of their own")
                self._index[key][value] = entry

    def match(self, submission_id: str) -> RosterEntry | None:
        """The entry a submission id belongs to (see the module docstring for the order), or None."""
        for key in MATCH_KEYS:
            entry = self._index[key].get(submission_id)
            if entry is not None:
                return entry
        return None

    def find(self, identities: Iterable[str], name: str = "") -> RosterEntry | None:
        """The entry of the first identity any row holds (see :meth:`match`); failing that, the only row named ``name``.

        Names match without regard to case, accents, spacing or the order of
        ``Last, First``; a name two rows share matches neither.
        """
        for identity in identities:
            entry = self.match(identity) if identity else None
            if entry is not None:
                return entry
        same = self._names.get(normal_name(name), []) if name else []
        return same[0] if len(same) == 1 else None

    def missing(self, claimed_lines: Iterable[int]) -> list[RosterEntry]:
        """The entries whose line is not in ``claimed_lines``, in roster order."""
        claimed = set(claimed_lines)
        return [entry for entry in self.entries if entry.line not in claimed]


def normal_name(name: str) -> str:
    """``"Smith, Jané"`` and ``"jane  SMITH"`` -> ``"jane smith"``: how names are compared."""
    if name.count(",") == 1:
        last, first = name.split(",")
        name = f"{first} {last}"
    folded = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(folded.casefold().split())


def load_roster(path: str | Path) -> Roster:
    """Read a roster CSV file; a :class:`RosterError` names the line of any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise RosterError(f"{path}: cannot be read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise RosterError(f"{path}, line {line}: not UTF-8 text; save the roster as \"CSV UTF-8\"") from None
    return parse_roster(text, source=str(path))


def parse_roster(text: str, source: str = "roster") -> Roster:
    """Read roster CSV text (see the module docstring); ``source`` names it in errors."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    header_line = next((index for index, line in enumerate(lines) if line.strip()), None)
    if header_line is None:
        raise RosterError(f"{source}: empty; expected a header row such as id,name,email,sis_login_id,section")
    delimiter = _delimiter(lines[header_line])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise RosterError(f"{source}, line {reader.line_num}: not valid CSV: {error}") from None
    rows = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise RosterError(f"{source}: no header row; expected one such as id,name,email,sis_login_id,section")
    (header_at, header), body = rows[0], rows[1:]
    columns = _columns(header, source, header_at)
    entries = []
    for line, row in body:
        if len(row) > len(header):
            raise RosterError(f"{source}, line {line}: {len(row)} fields, but the header has {len(header)}")
        values = {name: row[index].strip() if index < len(row) else "" for name, index in columns.items()}
        if values.get("name", "").lower() == _POINTS_POSSIBLE and not any(values.get(key) for key in MATCH_KEYS):
            continue  # the second row of a Canvas gradebook export
        if not any(values.get(key) for key in MATCH_KEYS):
            raise RosterError(f"{source}, line {line}: no {', '.join(key for key in MATCH_KEYS if key in columns)} "
                              "value, so no submission can be matched to this student")
        entries.append(RosterEntry(line=line, **values))
    return Roster(source, entries)


def _delimiter(header: str) -> str:
    if "," in header:
        return ","
    return next((candidate for candidate in (";", "\t") if candidate in header), ",")


def _normal(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


def _columns(header: list[str], source: str, line: int) -> dict[str, int]:
    """``field -> column index`` for the header row."""
    names = [_normal(cell) for cell in header]
    canvas_export = "student" in names and "sis user id" in names
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        if canvas_export and name == "id":
            found = "canvas_id"
        else:
            found = next((key for key, accepted in HEADERS.items() if name in accepted), None)
        if found is None:
            continue
        if found in columns:
            raise RosterError(f"{source}, line {line}: columns {header[columns[found]]!r} and {header[index]!r} "
                              f"both give the {found}; keep one")
        columns[found] = index
    if not any(key in columns for key in MATCH_KEYS):
        raise RosterError(f"{source}, line {line}: no column to match submissions by; expected one of "
                          "id, sis_login_id, sis_user_id, email, canvas_id (got "
                          f"{', '.join(repr(cell) for cell in header)})")
    return columns
