"""Listing a submissions folder the same way for every importer."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Collection

from grader.errors import SubmissionsFolderError

SKIPPED = {"__MACOSX", "Thumbs.db", "desktop.ini"}


def list_entries(folder: Path, skipped: Collection[str] = SKIPPED) -> list[Path]:
    """The entries of ``folder`` an importer looks at (no hidden ones, none named in ``skipped``), sorted by name."""
    folder = Path(folder)
    if not folder.exists():
        raise SubmissionsFolderError(f"submissions folder {folder} does not exist")
    if not folder.is_dir():
        raise SubmissionsFolderError(f"submissions folder {folder} is not a folder")
    try:
        with os.scandir(folder) as it:
            names = sorted(entry.name for entry in it)
    except OSError as error:
        raise SubmissionsFolderError(f"cannot read submissions folder {folder}: {error.strerror or error}") from None
    return [folder / name for name in names if not name.startswith(".") and name not in skipped]


def is_file(path: Path) -> bool:
    """A regular file, never through a link."""
    return path.is_file() and not path.is_symlink()


def is_folder(path: Path) -> bool:
    """A folder, never through a link."""
    return path.is_dir() and not path.is_symlink()
