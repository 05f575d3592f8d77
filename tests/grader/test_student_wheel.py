"""The student-side wheel: what ``grader check`` needs and nothing that needs the oracles."""
from __future__ import annotations

import zipfile

import pytest

from grader.errors import InstructorError
from grader.student_wheel import FORBIDDEN, build_student_wheel, requirements, roots_of_tests, student_modules


def test_the_student_modules_reach_no_oracle_and_no_instructor_tool():
    modules = student_modules()
    assert "grader.check" in modules and "grader.recorded.replay" in modules and "grader.worker.server" in modules
    assert not [name for name in modules for forbidden in FORBIDDEN
                if name == forbidden or name.startswith(forbidden + ".")]


def test_a_released_test_that_imports_an_instructor_tool_is_refused(tmp_path):
    test = tmp_path / "test_public.py"
    test.write_text("from grader.mutants import load_mutants\n")
    with pytest.raises(InstructorError, match="grader.mutants"):
        student_modules(["grader.cli_student", *roots_of_tests([test])])


def test_the_wheel_is_a_valid_wheel_with_the_grader_command_and_the_same_bytes_each_time(tmp_path):
    first = build_student_wheel(tmp_path / "a").read_bytes()
    wheel = build_student_wheel(tmp_path / "b")
    assert wheel.read_bytes() == first
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
        assert archive.read(info).decode() == "[console_scripts]\ngrader = grader.cli_student:main\n"
        metadata = archive.read(next(name for name in names if name.endswith("/METADATA"))).decode()
        record = archive.read(next(name for name in names if name.endswith("/RECORD"))).decode()
    assert "Name: nlm-grader-check" in metadata and "Requires-Dist: torch" not in metadata
    assert all(f"Requires-Dist: {requirement}" in metadata for requirement in requirements())
    assert not [name for name in names if name.startswith("reference/") or name.endswith(".pyc")]
    assert all(name in record for name in names if not name.endswith("RECORD"))
