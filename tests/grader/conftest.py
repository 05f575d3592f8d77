"""Fixtures for the engine tests: the toy assignment and its submissions."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TOY_ASSIGNMENT = FIXTURES / "assignments" / "toy"
LEGACY_ASSIGNMENT = FIXTURES / "assignments" / "legacy_toy"
TOY_SUBMISSIONS = FIXTURES / "submissions" / "toy"
CORRECT_TOY = (TOY_SUBMISSIONS / "correct" / "toy.py").read_text()


@pytest.fixture
def toy_assignment() -> Path:
    return TOY_ASSIGNMENT


def make_submissions(root: Path, sources: dict[str, str | None]) -> Path:
    """A submissions folder with one ``<id>/toy.py`` per entry (None: copy the fixture of that name)."""
    root.mkdir(parents=True, exist_ok=True)
    for student_id, source in sources.items():
        if source is None:
            shutil.copytree(TOY_SUBMISSIONS / student_id, root / student_id)
        else:
            (root / student_id).mkdir()
            (root / student_id / "toy.py").write_text(source)
    return root
