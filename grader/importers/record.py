"""What an importer learned about a submission besides its files, as plain data.

:class:`Submitted` travels inside :class:`grader.ingest.SubmissionSource` (so a
pool process or a Dask task receives it with the files to grade) and ends in
``SubmissionResult.submitted`` as a dict (:meth:`Submitted.to_dict`), which the
reports and the Canvas export read back with :meth:`Submitted.from_dict`.

This module imports nothing from the grader: :mod:`grader.ingest` depends on it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

# LMS identity keys an importer may record, and how reports name them.
LMS_ID_LABELS = {
    "canvas_user_id": "Canvas user id",
    "canvas_anonymous_id": "Canvas anonymous id",
    "gradescope_submission_id": "Gradescope submission id",
    "gradescope_sid": "student id (Gradescope)",
    "moodle_participant_id": "Moodle participant id",
    "blackboard_username": "Blackboard username",
    "github_username": "GitHub username",
    "sis_user_id": "SIS user id",
    "sis_login_id": "SIS login id",
}


@dataclass(frozen=True)
class Member:
    """One student of a group submission (Gradescope lists each submitter)."""

    name: str = ""
    sid: str = ""
    email: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "sid": self.sid, "email": self.email}


@dataclass(frozen=True)
class Submitted:
    """Who handed a submission in, where it came from, and what the import did to it.

    Every field is optional: a plain folder of submissions knows nothing but
    the entry's name. ``notes`` say what the import did (a file renamed back,
    an attempt chosen); ``warnings`` are what an instructor must check (two
    files claiming one student, no roster entry). ``seed_id`` is the identity
    that seeds the hidden tests when a layout needs one other than the student
    id (Gradescope: the same as on Gradescope itself; see
    :func:`grader.importers.gradescope.seed_identity`); empty: the student id.
    """

    source_format: str = ""
    entries: tuple[str, ...] = ()          # the names of the files or folders it came from
    name: str = ""
    email: str = ""
    section: str = ""
    lms_ids: tuple[tuple[str, str], ...] = ()
    members: tuple[Member, ...] = ()
    late: bool = False
    submitted_at: str = ""
    attempt: str = ""
    commit: str = ""
    seed_id: str = ""
    on_roster: bool | None = None         # None: no roster was given
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def lms_id(self, key: str) -> str:
        return dict(self.lms_ids).get(key, "")

    def with_lms_id(self, key: str, value: str) -> "Submitted":
        """A copy with ``key`` set (first value wins: an importer's own ids are not overwritten)."""
        if not value or self.lms_id(key):
            return self
        return replace(self, lms_ids=self.lms_ids + ((key, value),))

    def noted(self, note: str) -> "Submitted":
        return replace(self, notes=self.notes + (note,))

    def warned(self, warning: str) -> "Submitted":
        return replace(self, warnings=self.warnings + (warning,))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without empty values (an old-style result has ``{}``)."""
        data: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name == "lms_ids":
                value = dict(value)
            elif spec.name == "members":
                value = [member.to_dict() for member in value]
            elif isinstance(value, tuple):
                value = list(value)
            if spec.name == "on_roster" and value is not None:  # False says something: not on the roster
                data[spec.name] = value
            elif value not in ("", (), [], {}, None, False):
                data[spec.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "Submitted":
        """Read :meth:`to_dict`'s output back; anything malformed is dropped, never raised."""
        if not isinstance(data, dict):
            return cls()
        values: dict[str, Any] = {}
        for key in ("source_format", "name", "email", "section", "submitted_at", "attempt", "commit", "seed_id"):
            if isinstance(data.get(key), str):
                values[key] = data[key]
        for key in ("entries", "notes", "warnings"):
            if isinstance(data.get(key), list):
                values[key] = tuple(str(item) for item in data[key])
        if isinstance(data.get("lms_ids"), dict):
            values["lms_ids"] = tuple((str(k), str(v)) for k, v in data["lms_ids"].items())
        if isinstance(data.get("members"), list):
            values["members"] = tuple(Member(**{k: str(v) for k, v in member.items() if k in ("name", "sid", "email")})
                                      for member in data["members"] if isinstance(member, dict))
        if isinstance(data.get("late"), bool):
            values["late"] = data["late"]
        if isinstance(data.get("on_roster"), bool):
            values["on_roster"] = data["on_roster"]
        return cls(**values)

    def identities(self) -> list[str]:
        """Every value a roster row could be matched by: LMS ids, e-mails, members' ids."""
        found = [value for _, value in self.lms_ids] + [self.email]
        for member in self.members:
            found += [member.sid, member.email]
        return [value for value in dict.fromkeys(found) if value]

    def describe(self, instructor: bool = True) -> list[tuple[str, str]]:
        """``(label, value)`` rows for a report; the student's flavour leaves out LMS ids and warnings."""
        rows: list[tuple[str, str]] = []
        if self.source_format:
            rows.append(("imported from", self.source_format))
        if self.name:
            rows.append(("name", self.name))
        if instructor and self.email:
            rows.append(("e-mail", self.email))
        if instructor and self.section:
            rows.append(("section", self.section))
        if self.members:
            rows.append(("group", "; ".join(_member_label(member, instructor) for member in self.members)))
        if self.late:
            rows.append(("late", "yes: handed in after the due date"))
        if self.submitted_at:
            rows.append(("submitted", self.submitted_at))
        if self.attempt:
            rows.append(("attempt", self.attempt))
        if self.commit:
            rows.append(("commit", self.commit))
        if instructor:
            rows += [(LMS_ID_LABELS.get(key, key.replace("_", " ")), value) for key, value in self.lms_ids]
            if self.entries:
                rows.append(("from", ", ".join(self.entries)))
            if self.seed_id:
                rows.append(("hidden inputs seeded by", self.seed_id))
            if self.on_roster is False:
                rows.append(("roster", "not on the roster"))
        return rows


def _member_label(member: Member, instructor: bool) -> str:
    label = member.name or member.sid or member.email or "unnamed"
    extra = [value for value in (member.sid, member.email) if value and value != label] if instructor else []
    return f"{label} ({', '.join(extra)})" if extra else label


@dataclass
class Candidate:
    """One submission as an importer found it, before the driver gives it its final id.

    ``kind`` and ``path`` follow :class:`grader.ingest.SubmissionSource`, plus
    ``files``: several files of an LMS download, ``files`` holding ``(source
    path, name in the workspace)``; the driver copies them into a folder of
    their own (:func:`grader.importers.driver.import_submissions`). ``keys``
    are the values a roster row may be matched by, strongest first;
    ``default_id`` is the id used when the roster gives none.
    """

    default_id: str
    path: str
    kind: str
    files: tuple[tuple[str, str], ...] = ()
    keys: tuple[str, ...] = ()
    submitted: Submitted = field(default_factory=Submitted)


@dataclass(frozen=True)
class Detection:
    """How well a folder fits one layout: ``matched`` of its ``total`` entries look like it."""

    layout: str
    matched: int
    total: int
    evidence: str  # "12 entries named name_userid_attachmentid_file"

    @property
    def fits(self) -> bool:
        """At least one entry, and at least half of them, look like this layout."""
        return self.matched > 0 and 2 * self.matched >= self.total


@dataclass
class Loaded:
    """What an importer read from a folder: the submissions, and what it skipped and why."""

    candidates: list[Candidate] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (entry name, why)
    notes: list[str] = field(default_factory=list)               # about the batch as a whole
