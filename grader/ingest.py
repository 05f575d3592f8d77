"""Turn a folder of submissions into one normalised workspace per student, safely.

Every entry of the submissions folder is one submission: a folder, a ``.zip``, or a
single file named after a required student file (``alice_lm.py`` for ``lm.py``;
``alice_lm.ipynb`` too). :func:`discover_submissions` lists them (the plain layout;
LMS exports are read by :mod:`grader.importers`, which build the same
:class:`SubmissionSource` records); :func:`prepare_workspace` copies or extracts one
into its own folder, where the required files sit at the top. A notebook handed in
for a required ``.py`` file becomes that module (:mod:`grader.importers.notebook`).

Submissions are hostile input: the files are written by :mod:`grader.staging`,
which follows no symbolic link and trusts no zip header (names checked before
anything is written, sizes from the headers *and* while streaming), and a failure
leaves the destination empty. Errors are :class:`~grader.errors.SubmissionError`
subclasses that name the archive member, so they become that student's result.

Work happens in a hidden staging folder beside ``dest``; only the chosen root is
moved into ``dest`` at the end, so ``Workspace.root`` is always ``dest``. A zip inside
a student's zip is extracted too, one level deep only. A file name that is not UTF-8
(on disk) is renamed to its Latin-1 reading, with a note.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator, Sequence

from grader.errors import BadArchiveError, SubmissionsFolderError, UnsafeArchiveError
from grader.importers.entries import list_entries
from grader.importers.notebook import notebook_to_module
from grader.importers.record import Submitted
from grader.staging import CHUNK, IngestLimits, Stager, copy_folder, extract_zip, junk_kind, junk_notes, repaired_name

_KIND_ORDER = {"folder": 0, "zip": 1, "file": 2}  # who keeps the bare id on a collision
_SKIPPED_IN_FOLDERS = (".git",)  # a cloned repository's history is not part of the submission
NOTEBOOK_SUFFIX = ".ipynb"
_SKIPPED_ENTRIES = {"__MACOSX"}
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._@+-]")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                     *(f"LPT{i}" for i in range(10))}
_MAX_ID_LENGTH = 200


@dataclass(frozen=True)
class SubmissionSource:
    """One submission and the student it belongs to: plain, picklable data.

    ``kind`` is ``folder`` (a top-level ``.git`` is left out), ``zip`` or ``file``
    (one file named after a student file). ``submitted`` is what an importer
    learned (names, LMS ids, late, attempt, commit, seed identity, notes and warnings).
    """

    student_id: str
    path: Path
    kind: str  # "folder" | "zip" | "file"
    submitted: Submitted = Submitted()

    @property
    def seed_identity(self) -> str:
        """Who the hidden tests' inputs are drawn for: the importer's ``seed_id``, else the student id.

        Only the Gradescope layout sets a ``seed_id`` (the one Gradescope's own
        autograder uses); every other layout seeds by the student id, as before.
        """
        return self.submitted.seed_id or self.student_id


@dataclass
class Workspace:
    """A student's files, flattened so the required files sit at the top of ``root``."""

    student_id: str
    root: Path
    files: dict[str, str]  # relative POSIX path -> sha256 hex
    missing_files: list[str]
    content_hash: str
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------- discovery


def discover_submissions(folder: Path, student_files: Sequence[str]) -> list[SubmissionSource]:
    """List one submission per entry of ``folder``, sorted by ``student_id``.

    Hidden entries, ``__MACOSX``, symbolic links and loose files that are not named
    after a student file are skipped (see :func:`ignored_entries`). Ids are sanitised
    to ``[A-Za-z0-9._@+-]``. When two entries give the same id, the one ranked first
    (folder, then zip, then single file, then by entry name) keeps it and the others
    get ``~<kind>`` (``alice~zip``), then ``~<kind>2``, ``~<kind>3``...; ``~`` never
    occurs in a sanitised id, so a suffixed id cannot clash with a real one.
    """
    found: list[tuple[str, str, Path]] = []
    for entry in list_entries(folder, skipped=_SKIPPED_ENTRIES):
        classified = _classify(entry, student_files)
        if classified is not None:
            kind, raw_id = classified
            found.append((sanitise_student_id(raw_id), kind, entry))
    found.sort(key=lambda item: (item[0], _KIND_ORDER[item[1]], item[2].name))
    taken: set[str] = set()
    sources = []
    for student_id, kind, entry in found:
        unique, n = student_id, 1
        while unique in taken:
            n += 1
            unique = f"{student_id}~{kind}" if n == 2 else f"{student_id}~{kind}{n - 1}"
        taken.add(unique)
        sources.append(SubmissionSource(unique, entry, kind))
    return sorted(sources, key=lambda s: s.student_id)


def ignored_entries(folder: Path, student_files: Sequence[str]) -> list[Path]:
    """Entries of ``folder`` that are not submissions (loose files, links), sorted by name.

    Hidden entries and ``__MACOSX`` are left out: they are noise, not mistakes.
    """
    return [e for e in list_entries(folder, skipped=_SKIPPED_ENTRIES) if _classify(e, student_files) is None]


def sanitise_student_id(raw: str) -> str:
    """Make ``raw`` a safe, non-empty folder name: accents folded, others -> ``_``."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", raw) if not unicodedata.combining(c))
    clean = _UNSAFE_ID_CHARS.sub("_", folded)[:_MAX_ID_LENGTH]
    if not clean.strip("."):  # "", ".", "..": never a usable folder name
        clean = "_" * max(1, len(clean))
    if clean.split(".")[0].upper() in _WINDOWS_RESERVED:
        clean = "_" + clean
    return clean


def _classify(entry: Path, student_files: Sequence[str]) -> tuple[str, str] | None:
    """``(kind, raw id)`` for a submission entry, ``None`` for one to ignore."""
    if entry.is_symlink():
        return None
    if entry.is_dir():
        return "folder", entry.name
    if not entry.is_file():
        return None
    if entry.name.lower().endswith(".zip") and len(entry.name) > 4:
        return "zip", entry.name[:-4]
    match = _match_student_file(entry.name, student_files)
    return ("file", match[0]) if match else None


def _match_student_file(name: str, student_files: Sequence[str]) -> tuple[str, str] | None:
    """``(raw id, student file)`` when ``name`` is a student file, maybe prefixed.

    ``alice_lm.py`` and ``alice-lm.py`` -> ``("alice", "lm.py")``; ``lm.py`` ->
    ``("lm", "lm.py")``. A prefix must end in ``_`` or ``-`` (``xlm.py`` is not
    ``lm.py``). The longest matching student file name wins.
    """
    accepted = [(PurePosixPath(f).name, f) for f in student_files]
    accepted += [(PurePosixPath(f).with_suffix(NOTEBOOK_SUFFIX).name, PurePosixPath(f).with_suffix(NOTEBOOK_SUFFIX).as_posix())
                 for f in student_files if f.endswith(".py")]
    for base, wanted in sorted(accepted, key=lambda pair: -len(pair[0])):
        if name == base:
            return PurePosixPath(base).stem or base, wanted
        if name.endswith(base) and name[-len(base) - 1] in "_-":
            prefix = name[: -len(base)].rstrip("_-")
            return prefix or PurePosixPath(base).stem or base, wanted
    return None


# ----------------------------------------------------------------- workspaces


def prepare_workspace(source: SubmissionSource, dest: Path, student_files: Sequence[str],
                      limits: IngestLimits = IngestLimits()) -> Workspace:
    """Copy, extract or rename ``source`` into ``dest`` (created; must be empty).

    If a required file is not at the top but one sub-folder holds more of them than
    the top does (a zip with a ``hw3/`` folder), that sub-folder becomes the root.
    ``__pycache__``, ``.pyc``, ``.DS_Store``, ``._*`` and ``__MACOSX`` are dropped.
    A required ``name.py`` that is missing while ``name.ipynb`` is there is written from
    the notebook's code cells (each removed IPython line is noted); ``content_hash``
    covers the files as handed in, not the generated module.
    Raises :class:`UnsafeArchiveError`, :class:`BadArchiveError` or
    :class:`~grader.importers.notebook.NotebookError`; ``dest`` is then left empty.
    """
    dest = Path(dest)
    if source.path.is_symlink():
        raise UnsafeArchiveError(f"{source.path.name}: is a symbolic link (never followed)")
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"workspace folder {dest} is not empty")
    staging = Path(tempfile.mkdtemp(prefix=".ingest-", dir=dest.parent))
    try:
        tree = staging / "tree"
        tree.mkdir()
        stager = Stager(tree, limits, source.path.name)
        _stage(source, stager, student_files)
        subdir = _choose_root(stager.files, student_files, stager.notes)
        prefix = f"{subdir}/" if subdir else ""
        files = {rel[len(prefix):]: digest for rel, digest in sorted(stager.files.items())
                 if rel.startswith(prefix)}
        content_hash = _hash_entries(files)
        _convert_notebooks(tree / subdir, files, student_files, stager.notes)
        for child in (tree / subdir).iterdir():
            shutil.move(str(child), str(dest / child.name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    missing = [f for f in student_files if PurePosixPath(f).as_posix() not in files]
    _note_case_mismatches(missing, files, stager.notes)
    return Workspace(source.student_id, dest, files, missing, content_hash,
                     stager.notes + junk_notes(stager.junk))


def extract_archive(archive: Path, dest: Path, limits: IngestLimits) -> int:
    """Extract the whole of ``archive`` into ``dest`` (created; must be empty) within ``limits``.

    For an archive of many submissions (a Canvas bulk download, say): the same
    checks as a student's zip, zips inside kept as files (each is a submission),
    junk (``__MACOSX``...) dropped. Returns the number of files written. Raises
    :class:`UnsafeArchiveError` or :class:`BadArchiveError`; ``dest`` is then left empty.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"folder {dest} is not empty")
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest.parent))
    try:
        stager = Stager(staging, limits, archive.name)
        extract_zip(Path(archive), stager, nested=False)
        for child in staging.iterdir():
            shutil.move(str(child), str(dest / child.name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(stager.files)


def _convert_notebooks(root: Path, files: dict[str, str], student_files: Sequence[str], notes: list[str]) -> None:
    """Write each missing required ``.py`` file from the notebook of the same name, if any."""
    for wanted in student_files:
        module = PurePosixPath(wanted)
        notebook = module.with_suffix(NOTEBOOK_SUFFIX).as_posix()
        if module.suffix != ".py" or module.as_posix() in files or notebook not in files:
            continue
        data = root.joinpath(*PurePosixPath(notebook).parts).read_bytes()
        text, removals = notebook_to_module(data, notebook)
        encoded = text.encode("utf-8")
        root.joinpath(*module.parts).write_bytes(encoded)
        files[module.as_posix()] = hashlib.sha256(encoded).hexdigest()
        notes.append(f"{notebook} was handed in for {module.as_posix()}: its code cells became the module"
                     + (f"; {len(removals)} IPython line(s) or cell(s) removed" if removals else ""))
        notes.extend(removals)


def _stage(source: SubmissionSource, stager: Stager, student_files: Sequence[str]) -> None:
    """Write the submission's files into the staging tree, whatever its kind."""
    if source.kind == "zip":
        extract_zip(source.path, stager)
    elif source.kind == "folder":
        copy_folder(source.path, stager, skip=_SKIPPED_IN_FOLDERS)
    elif source.kind == "file":
        match = _match_student_file(source.path.name, student_files)
        target = match[1] if match else source.path.name
        stager.count_entry(source.path.name)
        if not stager.copy_file(source.path, PurePosixPath(target).parts):
            raise BadArchiveError(f"{source.path.name}: not a regular file")
        if target != source.path.name:
            stager.notes.append(f"renamed {source.path.name} to {target}")
    else:
        raise ValueError(f"unknown submission kind {source.kind!r}")


def hash_tree(root: Path) -> str:
    """sha256 over the sorted (relative path, file sha256) of the regular files under ``root``.

    Links, empty folders, a top-level ``.git`` and junk (``__pycache__``...) do not count; paths are POSIX and NFC-normalised, so the
    hash is the same across runs, machines and packagings (zip or folder).
    """
    files = {}
    for path in _walk_regular_files(Path(root)):
        parts = path.relative_to(root).parts
        if parts[0] in _SKIPPED_IN_FOLDERS or junk_kind(parts) is not None:
            continue  # left out of workspaces too
        with open(path, "rb") as handle:
            rel = "/".join(repaired_name(part)[0] for part in path.relative_to(root).parts)
            files[rel] = _sha256_stream(handle)
    return _hash_entries(files)


def _hash_entries(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for rel, file_hash in sorted((unicodedata.normalize("NFC", r), h) for r, h in files.items()):
        digest.update(rel.encode("utf-8") + b"\0" + file_hash.encode("ascii") + b"\n")
    return digest.hexdigest()


def _sha256_stream(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _walk_regular_files(root: Path) -> Iterator[Path]:
    with os.scandir(root) as it:
        for entry in sorted(it, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                yield from _walk_regular_files(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield Path(entry.path)


def _choose_root(files: dict[str, str], student_files: Sequence[str], notes: list[str]) -> str:
    """The sub-folder (``""`` for the top) holding the most required files."""
    wanted = [PurePosixPath(f).as_posix() for f in student_files]
    at_top = sum(f in files for f in wanted)
    if not wanted or at_top == len(wanted):
        return ""
    counts: Counter[str] = Counter()
    for rel in files:
        for name in wanted:
            if rel.endswith("/" + name):
                counts[rel[: -len(name) - 1]] += 1
    best = max(counts.values(), default=0)
    winners = sorted(d for d, n in counts.items() if n == best)
    if best <= at_top:
        return ""
    if len(winners) > 1:
        notes.append("required files found in several sub-folders ("
                     + ", ".join(f"{d}/" for d in winners) + "); used none of them")
        return ""
    root = winners[0]
    found = ", ".join(n for n in wanted if f"{root}/{n}" in files)
    notes.append(f"found {found} in sub-folder {root}/; used it as the workspace root")
    outside = sum(not rel.startswith(root + "/") for rel in files)
    if outside:
        notes.append(f"ignored {outside} file{'s' * (outside != 1)} outside {root}/")
    return root


def _note_case_mismatches(missing: list[str], files: dict[str, str], notes: list[str]) -> None:
    by_lower = {rel.lower(): rel for rel in files}
    for name in missing:
        if name.lower() in by_lower:
            notes.append(f"found {by_lower[name.lower()]} but expected {name} (names are case-sensitive)")
