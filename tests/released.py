"""The ``released`` fixture: bundled assignments released once per test session, for tests/assignments and
tests/deploy (each conftest imports it; the cache is this module's).

Not a ``tests/conftest.py``: a grading run in this process imports an assignment's ``tests/conftest.py`` under
the same module name, and pytest would hand it this one instead.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
_RELEASED: dict[str, tuple] = {}


@pytest.fixture(scope="session")
def released(tmp_path_factory) -> Callable:
    """``released(name)`` -> ``(report, bundle)``: the bundled assignment ``name`` released with its example
    submissions (recorded, replayed and compared by the release itself), once per session."""
    from grader.release import release_assignment
    from grader.resources import assignments_dir

    cache = _RELEASED

    def release(name: str):
        if name not in cache:
            bundle = tmp_path_factory.mktemp(f"released-{name}") / name
            examples = ROOT / "examples" / "submissions" / name
            report = release_assignment(assignments_dir() / name, bundle, examples=examples if examples.is_dir() else None)
            cache[name] = (report, bundle)
        return cache[name]

    return release
