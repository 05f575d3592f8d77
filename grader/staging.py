"""Write untrusted files (a folder, a zip) into a staging tree, within limits, never trusting a name or a header.

:class:`Stager` streams regular files under a tree, hashing them and counting
entries and bytes against :class:`IngestLimits`. :func:`copy_folder` copies a
folder without following links; :func:`extract_zip` checks every member of a
zip before writing any (no absolute paths, ``..``, drive letters, backslash
tricks, links, devices, encryption, duplicates up to case and Unicode
normalisation, control characters; sizes from the headers and again while
streaming; a compression-ratio guard against zip bombs), then extracts, and
opens a zip inside the zip one level deep. Junk (``__MACOSX``, ``__pycache__``,
``.pyc``, ``.DS_Store``) is counted, not written. Every refusal is an
:class:`~grader.errors.UnsafeArchiveError` or
:class:`~grader.errors.BadArchiveError` naming the archive and the member, so it
becomes that student's result. :mod:`grader.ingest` builds workspaces on it.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from struct import error as struct_error
from typing import BinaryIO, Sequence

from grader.errors import BadArchiveError, UnsafeArchiveError

__all__ = ["CHUNK", "IngestLimits", "Stager", "copy_folder", "extract_zip", "junk_kind", "junk_notes", "repaired_name"]

CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_END_RECORD = getattr(zipfile, "_EndRecData", None)  # see _check_central_directory


@dataclass(frozen=True)
class IngestLimits:
    """How much one submission may hold. ``max_files`` counts every entry (files and folders)."""

    max_files: int = 2000
    max_total_bytes: int = 200 * 1024 * 1024
    max_file_bytes: int = 50 * 1024 * 1024
    max_compression_ratio: float = 200.0  # zip bomb guard, per member
    # Smaller members are exempt from the ratio guard: a 10 KB blank file compresses
    # 300:1 and is harmless; the size limits still bound them.
    ratio_exempt_bytes: int = 1024 * 1024


def junk_kind(parts: Sequence[str]) -> str | None:
    if "__MACOSX" in parts or parts[-1].startswith("._"):
        return "__MACOSX"
    if "__pycache__" in parts:
        return "__pycache__"
    if parts[-1] == ".DS_Store":
        return ".DS_Store"
    return ".pyc" if parts[-1].endswith(".pyc") else None


def junk_notes(junk: Counter[str]) -> list[str]:
    return [f"ignored {n} {kind} file{'s' * (n != 1)}" for kind, n in sorted(junk.items())]


def _check_name(name: str, label: str) -> None:
    """Reject names that no sane workspace holds: control characters, undecodable bytes."""
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise UnsafeArchiveError(f"{label}: name {name!r} contains control characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeArchiveError(f"{label}: name {name!r} is not valid UTF-8") from None


def repaired_name(name: str) -> tuple[str, bool]:
    """A file name from disk made valid UTF-8: undecodable bytes read as Latin-1. ``(name, changed)``."""
    try:
        name.encode("utf-8")
        return name, False
    except UnicodeEncodeError:
        return os.fsencode(name).decode("latin-1"), True


class Stager:
    """Writes regular files under ``tree`` within the limits, hashing as it streams."""

    def __init__(self, tree: Path, limits: IngestLimits, label: str) -> None:
        self.tree, self.limits, self.label = tree, limits, label
        self.entries = 0
        self.total_bytes = 0
        self.files: dict[str, str] = {}
        self.notes: list[str] = []
        self.junk: Counter[str] = Counter()

    def count_entry(self, name: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_files:
            raise UnsafeArchiveError(f"{self.label}: more than {self.limits.max_files} "
                                     f"files and folders (at {name!r})")

    def write(self, stream: BinaryIO, parts: Sequence[str], name: str) -> None:
        """Stream ``stream`` to ``tree/parts``, stopping before any limit is passed."""
        target = self.tree.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        digest, size = hashlib.sha256(), 0
        try:
            handle = os.open(target, flags, 0o644)
        except FileExistsError:
            raise BadArchiveError(f"{self.label}: two files claim the name {name!r} "
                                  "(say which one to grade, or send one)") from None
        with os.fdopen(handle, "wb") as out:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                size += len(chunk)
                if size > self.limits.max_file_bytes:
                    raise UnsafeArchiveError(f"{self.label}: {name!r} is larger than "
                                             f"{self.limits.max_file_bytes} bytes")
                if self.total_bytes + size > self.limits.max_total_bytes:
                    raise UnsafeArchiveError(f"{self.label}: files exceed "
                                             f"{self.limits.max_total_bytes} bytes in all (at {name!r})")
                out.write(chunk)
                digest.update(chunk)
        self.total_bytes += size
        self.files["/".join(parts)] = digest.hexdigest()

    def copy_file(self, path: Path, parts: Sequence[str]) -> bool:
        """Copy a regular file without following links; ``False`` if it is not one."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            if os.path.islink(path):
                return False
            raise BadArchiveError(f"{self.label}: cannot read {path.name!r}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            self.write(handle, parts, "/".join(parts))
        return True


# ----------------------------------------------------------------- folders


def copy_folder(folder: Path, stager: Stager, parts: tuple[str, ...] = (),
                 skip: tuple[str, ...] = ()) -> None:
    """Copy regular files and folders; links and special files are skipped with a note.

    Top-level entries named in ``skip`` (``.git`` of a cloned repository) are left out.
    """
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise BadArchiveError(f"{stager.label}: cannot read folder {folder.name!r}: {exc.strerror}") from exc
    for entry in entries:
        if not parts and entry.name in skip:
            stager.notes.append(f"left out {entry.name} (not part of the submitted files)")
            continue
        name, repaired = repaired_name(entry.name)
        rel = parts + (name,)
        shown = "/".join(rel)
        _check_name(name, stager.label)
        if repaired:
            stager.notes.append(f"renamed {os.fsencode(entry.name)!r} to {shown!r}: the name was not UTF-8")
        stager.count_entry(shown)
        if entry.is_symlink():
            stager.notes.append(f"skipped symbolic link {shown} (links are never followed)")
        elif entry.is_dir(follow_symlinks=False):
            copy_folder(Path(entry.path), stager, rel)
        elif (kind := junk_kind(rel)) is not None:
            stager.junk[kind] += 1
        elif not stager.copy_file(Path(entry.path), rel):
            stager.notes.append(f"skipped {shown}: not a regular file")


# ----------------------------------------------------------------- zips


def extract_zip(archive: Path, stager: Stager, prefix: tuple[str, ...] = (), nested: bool = True,
                 label: str | None = None) -> None:
    """Check every member of ``archive`` first, then stream the wanted ones out under ``prefix``.

    With ``nested``, a ``.zip`` member is then extracted into a folder of its name
    without ``.zip`` (one level only: zips inside it stay files), unless that name is
    taken; every byte counts against the same limits.
    """
    label = label or archive.name
    try:
        handle = os.fdopen(os.open(archive, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")
    except OSError as exc:
        raise BadArchiveError(f"{label}: cannot read the archive: {exc.strerror}") from exc
    inner: list[tuple[str, ...]] = []
    with handle:
        _check_central_directory(handle, label, stager.limits)
        try:
            with zipfile.ZipFile(handle) as zf:
                plan = _plan_members(zf, stager, label)
                for _, parts in plan:  # cumulative over nested zips and several files
                    stager.count_entry("/".join(parts))
                for info, parts in plan:
                    with zf.open(info) as member:
                        stager.write(member, prefix + parts, "/".join(parts))
                    if parts[-1].lower().endswith(".zip") and len(parts[-1]) > 4:
                        inner.append(prefix + parts)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            handle.seek(0)
            if handle.read(4) != b"PK\x03\x04":
                raise BadArchiveError(f"{label}: not a zip archive") from exc
            raise BadArchiveError(f"{label}: truncated or damaged zip archive ({exc})") from exc
        except UnicodeDecodeError as exc:
            raise BadArchiveError(f"{label}: a member name is marked UTF-8 but is not ({exc.reason})") from exc
        except OSError as exc:  # e.g. a member name too long for this file system
            raise BadArchiveError(f"{label}: cannot extract: {exc}") from exc
    for parts in inner:
        shown = "/".join(parts)
        if not nested:
            stager.notes.append(f"kept {shown} as a file: only one level of zips inside a zip is extracted")
            continue
        folder = parts[:-1] + (parts[-1][:-4],)
        if stager.tree.joinpath(*folder).exists():
            stager.notes.append(f"kept {shown} as a file: {'/'.join(folder)} already exists")
            continue
        extract_zip(stager.tree.joinpath(*parts), stager, folder, nested=False, label=f"{label}: {shown}")
        stager.tree.joinpath(*parts).unlink()
        del stager.files[shown]
        stager.notes.append(f"extracted the zip {shown} inside the submission into {'/'.join(folder)}/")


def _check_central_directory(handle: BinaryIO, label: str, limits: IngestLimits) -> None:
    """Refuse a central directory too big for ``max_files`` before zipfile parses all of it.

    zipfile builds one object per entry, so a crafted directory of millions of entries
    would exhaust memory first. ``_EndRecData`` is private but unchanged since Python 2;
    without it the member count is still checked after parsing.
    """
    try:
        end = _END_RECORD(handle) if _END_RECORD else None
    except (OSError, ValueError, struct_error):
        end = None
    if end and end[4] > limits.max_files:
        raise UnsafeArchiveError(f"{label}: {end[4]} members, more than {limits.max_files}")
    if end and end[5] > limits.max_files * 1024:  # 1 KiB per entry: generous for real names
        raise UnsafeArchiveError(f"{label}: a central directory of {end[5]} bytes is too big "
                                 f"for {limits.max_files} members")
    handle.seek(0)


def _plan_members(zf: zipfile.ZipFile, stager: Stager,
                  label: str | None = None) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """Validate every member; return the (member, path parts) of the files to write."""
    label, limits = label or stager.label, stager.limits
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise UnsafeArchiveError(f"{label}: {len(infos)} members, more than {limits.max_files}")
    seen: dict[str, str] = {}
    dirs: set[tuple[str, ...]] = set()
    plan = []
    total = 0
    for info in infos:
        name = _member_name(info)
        parts = _safe_parts(name, label)
        file_type = _member_type(info, name, label)
        dirs.update(parts[:i] for i in range(1, len(parts)))
        if name.replace("\\", "/").endswith("/") or file_type == stat.S_IFDIR:
            dirs.add(parts)
            continue
        if not parts:
            raise UnsafeArchiveError(f"{label}: member {name!r} has an empty name")
        # Case and Unicode-normalisation variants would overwrite each other on macOS and Windows.
        key = unicodedata.normalize("NFC", "/".join(parts)).casefold()
        if key in seen:
            raise UnsafeArchiveError(f"{label}: duplicate member {name!r} (also {seen[key]!r})")
        seen[key] = name
        _check_member_size(info, name, label, limits)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(f"{label}: members exceed {limits.max_total_bytes} bytes in all "
                                     f"(at {name!r})")
        if (kind := junk_kind(parts)) is not None:
            stager.junk[kind] += 1
        else:
            plan.append((info, parts))
    clash = dirs & {parts for _, parts in plan}
    if clash:
        raise UnsafeArchiveError(f"{label}: {'/'.join(min(clash))!r} is both a file and a folder")
    return plan


def _member_type(info: zipfile.ZipInfo, name: str, label: str) -> int:
    """The member's ``S_IFMT`` bits (0 when unset); links, devices and encryption are refused."""
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        raise UnsafeArchiveError(f"{label}: member {name!r} is a symbolic link")
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchiveError(f"{label}: member {name!r} is a special file")
    if info.flag_bits & 0x1:
        raise BadArchiveError(f"{label}: member {name!r} is encrypted")
    return file_type


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name; UTF-8 bytes stored without the UTF-8 flag are read as UTF-8."""
    name = info.orig_filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def _safe_parts(name: str, label: str) -> tuple[str, ...]:
    """Path components of a member name, or :class:`UnsafeArchiveError` if it could escape."""
    _check_name(name, label)
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        raise UnsafeArchiveError(f"{label}: member {name!r} has an absolute path")
    parts = tuple(p for p in unified.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(f"{label}: member {name!r} points outside the archive ('..')")
    if any(_DRIVE.match(p) for p in parts):
        raise UnsafeArchiveError(f"{label}: member {name!r} holds a drive letter")
    return parts


def _check_member_size(info: zipfile.ZipInfo, name: str, label: str, limits: IngestLimits) -> None:
    if info.file_size > limits.ratio_exempt_bytes:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise UnsafeArchiveError(f"{label}: member {name!r} expands {ratio:.0f}:1 "
                                     f"(more than {limits.max_compression_ratio:g}:1; a zip bomb?)")
    if info.file_size > limits.max_file_bytes:
        raise UnsafeArchiveError(f"{label}: member {name!r} is {info.file_size} bytes, more than "
                                 f"{limits.max_file_bytes}")
