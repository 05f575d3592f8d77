"""Read SOURCE in any layout into :class:`~grader.ingest.SubmissionSource` records, with a roster.

:func:`import_submissions` is what ``grader grade SOURCE --from LAYOUT
--roster R`` runs before grading:

1. a ``.zip`` SOURCE (a bulk download) is extracted, within
   :data:`ARCHIVE_LIMITS`, into ``work_dir``; zips inside stay whole (each is a
   submission, extracted when it is graded);
2. ``--from auto`` asks every layout's ``detect`` and takes the one most
   entries fit (at least half of them), else the plain folder; a folder holding
   only one folder in a recognised layout (a Gradescope export's top folder)
   is entered. The report says what was detected and from what evidence;
3. the layout's importer reads the submissions; with a roster each is matched
   (by its LMS identities, then by name) and, for an LMS layout, takes the
   roster's id; ids are made safe and unique (``~2``, with a warning);
4. roster students no submission claims are ``missing``; submissions with no
   roster entry are ``unmatched`` and warned about.

The report is saved beside the results as ``import.json``
(:func:`write_import_report`), so reports rebuilt later still list the missing.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, Sequence

from grader.errors import InstructorError, SubmissionError
from grader.importers import FORMATS, blackboard, canvas, classroom, folder, gradescope, moodle
from grader.importers.entries import is_file, is_folder, list_entries
from grader.importers.record import Candidate, Detection, Submitted
from grader.ingest import IngestLimits, SubmissionSource, extract_archive, sanitise_student_id
from grader.results import write_json_atomic
from grader.roster import Roster, RosterEntry

# Detection order breaks ties: the layouts with the most specific names first.
IMPORTERS: dict[str, ModuleType] = {module.NAME: module for module in (gradescope, moodle, blackboard, canvas,
                                                                       classroom, folder)}

IMPORT_FILE = "import.json"
SOURCES_DIR = ".sources"
ARCHIVE_LIMITS = IngestLimits(max_files=100_000, max_total_bytes=8 * 1024 ** 3, max_file_bytes=1024 ** 3)


@dataclass(frozen=True)
class MissingStudent:
    """A roster student no submission claims."""

    label: str
    id: str = ""
    name: str = ""
    email: str = ""
    section: str = ""
    line: int = 0

    @property
    def row_id(self) -> str:
        """What the ``id`` column of ``grades.csv`` shows: the roster's id, else the label."""
        return self.id or self.label

    @classmethod
    def of(cls, entry: RosterEntry) -> "MissingStudent":
        return cls(entry.label, entry.id, entry.name, entry.email, entry.section, entry.line)


@dataclass
class ImportReport:
    """What :func:`import_submissions` read, how it decided, and what an instructor must check."""

    source: Path
    layout: str
    label: str
    how: str
    folder: Path
    sources: list[SubmissionSource] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    roster: str | None = None
    missing: list[MissingStudent] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    @property
    def ignored_paths(self) -> list[Path]:
        """The plain layout's ignored entries (loose files, links), as ``grade`` has always listed them."""
        return [self.folder / name for name, _ in self.ignored] if self.layout == folder.NAME else []

    @property
    def warnings(self) -> list[tuple[str, str]]:
        return [(source.student_id, warning) for source in self.sources for warning in source.submitted.warnings]

    def lines(self) -> list[str]:
        """What to print for an instructor, one line each."""
        lines = [f"source: {self.label} ({self.how})", *self.notes]
        lines += [f"ignored {name}: {why}" for name, why in self.ignored]
        lines += [f"warning for {student_id}: {warning}" for student_id, warning in self.warnings]
        if self.missing:
            lines.append(f"{len(self.missing)} roster student(s) without a submission: "
                         + ", ".join(student.label for student in self.missing))
        if self.unmatched:
            lines.append(f"{len(self.unmatched)} submission(s) not on the roster: {', '.join(self.unmatched)}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source), "layout": self.layout, "label": self.label, "how": self.how,
            "folder": str(self.folder), "roster": self.roster, "notes": list(self.notes),
            "ignored": [{"entry": name, "why": why} for name, why in self.ignored],
            "submissions": {source.student_id: source.submitted.to_dict() for source in self.sources},
            "missing": [vars(student) for student in self.missing], "unmatched": list(self.unmatched),
        }


def import_submissions(source: Path, student_files: Sequence[str], layout: str = "auto",
                       roster: Roster | None = None, work_dir: Path | None = None) -> ImportReport:
    """Read ``source`` (a folder, or a ``.zip`` of submissions extracted into ``work_dir``) in ``layout``.

    Raises :class:`InstructorError` (unknown layout, unreadable folder or
    archive); a problem of one submission is that submission's warning.
    """
    if layout not in FORMATS:
        raise InstructorError(f"--from {layout!r}: unknown layout; expected one of {', '.join(FORMATS)}")
    source = Path(source)
    notes: list[str] = []
    folder_path = _unpack(source, work_dir, notes)
    folder_path, detection = _choose_layout(folder_path, layout, notes)
    module = IMPORTERS[detection.layout]
    how = f"detected: {detection.evidence}" if layout == "auto" else f"chosen with --from {layout}"
    loaded = module.load(folder_path, student_files)
    report = ImportReport(source, module.NAME, module.LABEL, how, folder_path, ignored=loaded.ignored,
                          notes=notes + loaded.notes, roster=roster.source if roster else None)
    if not loaded.candidates:
        report.notes.append(f"no submissions found in {folder_path} as a {module.LABEL}")
    if any(candidate.kind == "files" for candidate in loaded.candidates) and work_dir is None:
        work_dir = Path(tempfile.mkdtemp(prefix="grader-import-"))
    files_root = Path(work_dir or ".") / f"{module.NAME}-files"
    if any(candidate.kind == "files" for candidate in loaded.candidates):
        shutil.rmtree(files_root, ignore_errors=True)  # no stale students from an earlier import
    report.sources = _assign_ids(loaded.candidates, roster, module is not folder, report, files_root)
    return report


def _unpack(source: Path, work_dir: Path | None, notes: list[str]) -> Path:
    """``source`` itself, or the folder its archive was extracted into."""
    if not (source.is_file() and source.name.lower().endswith(".zip")):
        return source
    if work_dir is None:
        raise InstructorError(f"{source}: an archive of submissions needs a folder to be extracted into")
    target = Path(work_dir) / sanitise_student_id(source.name[:-4])
    shutil.rmtree(target, ignore_errors=True)
    try:
        count = extract_archive(source, target, ARCHIVE_LIMITS)
    except SubmissionError as error:
        raise InstructorError(f"{source}: cannot be used as an archive of submissions: {error}") from None
    except OSError as error:
        raise InstructorError(f"{source}: cannot be extracted into {target}: {error}") from None
    notes.append(f"extracted {source.name} ({count} files) into {target}")
    return target


def _choose_layout(path: Path, layout: str, notes: list[str]) -> tuple[Path, Detection]:
    entries = list_entries(path)
    if layout != "auto":
        return path, IMPORTERS[layout].detect(entries)
    best = _best(entries)
    if best is None and len(entries) == 1 and is_folder(entries[0]):
        inner = _best(list_entries(entries[0]))
        if inner is not None:
            notes.append(f"read the folder {entries[0].name}/, the only entry of {path}")
            return entries[0], inner
    return path, best or folder.detect(entries)


def _best(entries: list[Path]) -> Detection | None:
    fitting = [module.detect(entries) for name, module in IMPORTERS.items() if name != folder.NAME]
    fitting = [detection for detection in fitting if detection.fits]
    return max(fitting, key=lambda detection: detection.matched, default=None)


def _assign_ids(candidates: list[Candidate], roster: Roster | None, roster_ids: bool,
                report: ImportReport, files_root: Path) -> list[SubmissionSource]:
    """Final ids (the roster's for LMS layouts), roster details, unique ids, missing and unmatched."""
    placed: list[tuple[str, Candidate, Submitted]] = []
    matched: list[RosterEntry | None] = []
    for candidate in candidates:
        submitted = candidate.submitted
        entry = roster.find([*candidate.keys, *submitted.identities(), candidate.default_id], submitted.name) \
            if roster else None
        if roster_ids:  # an LMS layout: the roster's id, else the importer's, made safe
            student_id = sanitise_student_id(entry.id if entry is not None and entry.id else candidate.default_id)
        else:  # the plain layout's ids are safe and unique already (alice~zip)
            student_id = candidate.default_id
        placed.append((student_id, candidate, _with_roster(submitted, entry, roster)))
        matched.append(entry)
    sources = _unique(placed, files_root)
    if roster is not None:
        claims: dict[int, list[int]] = {}
        for index, entry in enumerate(matched):
            if entry is not None:
                claims.setdefault(entry.line, []).append(index)
        for line, indexes in claims.items():
            for index in indexes if len(indexes) > 1 else ():
                others = ", ".join(sources[other].student_id for other in indexes if other != index)
                sources[index] = _warn(sources[index], f"{matched[index].label} (roster line {line}) is also "
                                       f"claimed by {others}: check which submission is theirs")
        covered = set(claims)
        for source in sources:  # the members of a group submission have handed in too
            for member in source.submitted.members:
                entry = roster.find([member.sid, member.email], member.name)
                if entry is not None:
                    covered.add(entry.line)
        report.missing = [MissingStudent.of(entry) for entry in roster.missing(covered)]
        report.unmatched = sorted(source.student_id for source in sources if source.submitted.on_roster is False)
    return sorted(sources, key=lambda source: source.student_id)


def _with_roster(submitted: Submitted, entry: RosterEntry | None, roster: Roster | None) -> Submitted:
    if roster is None:
        return submitted
    if entry is None:
        return replace(submitted, on_roster=False).warned(f"not on the roster ({Path(roster.source).name})")
    merged = replace(submitted, on_roster=True, name=submitted.name or entry.name,
                     email=submitted.email or entry.email, section=submitted.section or entry.section)
    for key, value in (("canvas_user_id", entry.canvas_id), ("sis_user_id", entry.sis_user_id),
                       ("sis_login_id", entry.sis_login_id)):
        merged = merged.with_lms_id(key, value)
    return merged


def _unique(placed: list[tuple[str, Candidate, Submitted]], files_root: Path) -> list[SubmissionSource]:
    """One source per candidate, in order; ids made unique (``id``, ``id~2``...) in a stable order, twins warned."""
    order = sorted(range(len(placed)), key=lambda i: (placed[i][0], placed[i][1].path))
    taken: dict[str, list[int]] = {}
    ids: dict[int, str] = {}
    for index in order:
        base = placed[index][0]
        twins = taken.setdefault(base, [])
        ids[index] = base if not twins else f"{base}~{len(twins) + 1}"
        twins.append(index)
    sources = []
    for index, (base, candidate, submitted) in enumerate(placed):
        twins = taken[base]
        if len(twins) > 1:
            names = ", ".join(f"{ids[i]} ({', '.join(placed[i][2].entries) or Path(placed[i][1].path).name})"
                              for i in twins)
            submitted = submitted.warned(f"{len(twins)} submissions claim the student {base!r}; graded each: {names}")
        if candidate.kind == "files":
            path, submitted = materialise(candidate.files, files_root / ids[index], submitted)
            sources.append(SubmissionSource(ids[index], path, "folder", submitted=submitted))
        else:
            sources.append(SubmissionSource(ids[index], Path(candidate.path), candidate.kind, submitted=submitted))
    return sources


def materialise(files: tuple[tuple[str, str], ...], folder: Path, submitted: Submitted) -> tuple[Path, Submitted]:
    """Copy an LMS download's files of one student into ``folder`` under their workspace names.

    Only regular files within the per-file size limit are copied; a ``.zip``
    among them is extracted into a sub-folder of its name (ingest then finds
    the student files there). Whatever is left out is a warning.
    """
    limits = IngestLimits()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path_text, name in files:
        path = Path(path_text)
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or any(part in (".", "..") for part in parts) or "\\" in name:
            submitted = submitted.warned(f"left out {path.name}: {name!r} is not a usable file name")
        elif not is_file(path):
            submitted = submitted.warned(f"left out {path.name}: not a regular file")
        elif path.stat().st_size > limits.max_file_bytes:
            submitted = submitted.warned(f"left out {path.name}: {path.stat().st_size} bytes, more than "
                                         f"{limits.max_file_bytes}")
        elif name.lower().endswith(".zip") and len(files) > 1:
            target = folder.joinpath(*parts[:-1], parts[-1][:-4])
            try:
                extract_archive(path, target, limits)
            except (SubmissionError, OSError) as error:
                shutil.rmtree(target, ignore_errors=True)
                submitted = submitted.warned(f"left out {path.name}: {error}")
            else:
                submitted = submitted.noted(f"extracted {path.name} into {PurePosixPath(*parts[:-1], parts[-1][:-4])}/")
        else:
            target = folder.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target, follow_symlinks=False)
            if name != path.name:
                submitted = submitted.noted(f"{path.name} graded as {name}")
    return folder, submitted


def _warn(source: SubmissionSource, warning: str) -> SubmissionSource:
    return replace(source, submitted=source.submitted.warned(warning))


def write_import_report(out_dir: Path, report: ImportReport) -> Path:
    path = Path(out_dir) / IMPORT_FILE
    write_json_atomic(path, report.to_dict())
    return path


def load_import_report(folder_path: Path) -> dict[str, Any]:
    """``import.json`` of a graded folder as a dict; ``{}`` when absent or unreadable (older folders)."""
    try:
        data = json.loads((Path(folder_path) / IMPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
