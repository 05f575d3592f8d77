"""GitHub Classroom: a folder of cloned repositories named ``prefix-username``.

Each repository's working tree, as it is on disk and without ``.git``, is the
submission (a ``folder``; ingest leaves ``.git`` out). The commit is read from ``.git/HEAD`` and the refs
without running git: ``HEAD`` names a branch (``ref: refs/heads/main``) whose
commit is in ``refs/heads/main`` or ``packed-refs``, or holds a commit itself.
Student repositories are untrusted, so nothing is followed out of ``.git`` (no
links, no ``gitdir:`` files, no ``..`` in a ref) and reads are capped. The
prefix is the one every repository name shares (``hw3-``); the rest is the
GitHub username, which the roster matches (``github`` or ``id`` column).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from grader.importers.entries import is_file, is_folder, list_entries
from grader.importers.names import common_prefix
from grader.importers.record import Candidate, Detection, Loaded, Submitted

NAME = "classroom"
LABEL = "GitHub Classroom repositories"
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REF = re.compile(r"^ref:\s*(?P<ref>refs/[A-Za-z0-9._/-]+)$")
MAX_REF_BYTES = 4096
MAX_PACKED_REFS_BYTES = 4 * 1024 * 1024


def is_repository(path: Path) -> bool:
    git = path / ".git"
    return is_folder(path) and (git.exists() or git.is_symlink())


def detect(entries: list[Path]) -> Detection:
    matched = sum(1 for entry in entries if is_repository(entry))
    return Detection(NAME, matched, len(entries), f"{matched} of {len(entries)} entries are git repositories")


def load(folder: Path, student_files: Sequence[str]) -> Loaded:
    loaded = Loaded()
    repositories = []
    for entry in list_entries(folder):
        if is_repository(entry):
            repositories.append(entry)
        else:
            loaded.ignored.append((entry.name, "not a cloned repository (no .git)"))
    prefix = common_prefix([repo.name for repo in repositories], "-")
    if prefix:
        loaded.notes.append(f"repository names share the prefix {prefix!r}; the rest is taken as the GitHub username")
    for repo in repositories:
        user = repo.name[len(prefix):]
        commit, problem = read_commit(repo)
        submitted = Submitted(source_format=LABEL, entries=(repo.name,), commit=commit)
        submitted = submitted.with_lms_id("github_username", user)
        if problem:
            submitted = submitted.warned(f"commit not recorded: {problem}")
        submitted = submitted.noted("graded the working tree as it is on disk (uncommitted changes included)")
        loaded.candidates.append(Candidate(user, str(repo), "folder", keys=(user,), submitted=submitted))
    return loaded


def read_commit(repo: Path) -> tuple[str, str]:
    """``(commit, problem)``: the commit checked out (``sha (branch)``), or ``""`` and why not."""
    git = repo / ".git"
    if git.is_symlink():
        return "", ".git is a symbolic link (never followed)"
    if is_file(git):
        return "", ".git is a file pointing elsewhere (a worktree or submodule; not followed)"
    if not is_folder(git):
        return "", "no .git folder"
    head = _read_small(git / "HEAD", MAX_REF_BYTES)
    if head is None:
        return "", ".git/HEAD cannot be read"
    if _SHA.match(head):
        return f"{head} (detached HEAD)", ""
    match = _REF.match(head)
    if match is None or ".." in match["ref"].split("/"):
        return "", f".git/HEAD does not name a commit or a branch ({head[:60]!r})"
    ref = match["ref"]
    branch = ref.removeprefix("refs/heads/")
    loose = _read_small(git.joinpath(*ref.split("/")), MAX_REF_BYTES)
    if loose is not None and _SHA.match(loose):
        return f"{loose} ({branch})", ""
    packed = _read_small(git / "packed-refs", MAX_PACKED_REFS_BYTES) or ""
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name.strip() == ref and _SHA.match(sha):
            return f"{sha} ({branch})", ""
    return "", f"branch {branch} has no commit yet"


def _read_small(path: Path, limit: int) -> str | None:
    """The stripped text of a regular file up to ``limit`` bytes, or None (links and folders included)."""
    if not is_file(path) or any(parent.is_symlink() for parent in path.parents if ".git" in parent.parts):
        return None
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace").strip()
    except OSError:
        return None
