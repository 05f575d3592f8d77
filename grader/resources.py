"""Where the bundled assignments and templates are, in a checkout and in an installed wheel.

In a source checkout (or an editable install) they are the top-level
``assignments/`` and ``templates/`` folders; a wheel carries them as
``grader/_data/assignments`` and ``grader/_data/templates`` (see
``pyproject.toml``).
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def assignments_dir() -> Path:
    """The folder holding the bundled assignments."""
    return _data_dir("assignments")


def templates_dir() -> Path:
    """The folder holding the Jinja2 templates."""
    return _data_dir("templates")


def bundled_assignment(name: str) -> Path:
    """The folder of a bundled assignment by name (it may not exist; callers validate)."""
    return assignments_dir() / name
