"""Tests of ``grader check``, the student's self-check, on a released bundle of the toy assignment.

The student's folder is the bundle: their ``toy.py`` sits beside
``assignment.toml`` and ``tests/``. Tests that grade are marked ``slow``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader.check import check_submission, headline
from grader.cli import main
from grader.errors import InstructorError
from grader.release import release_assignment

from .conftest import CORRECT_TOY
from .test_validate import make_toy_assignment

PUBLIC_TESTS = ["add two arrays", "scale an array", "counter object keeps state", "square four inputs (partial credit)",
                "uses the support file", "echo the seeded input"]


def run_cli(*args: object) -> Result:
    """Run ``grader``; a wide terminal, so that no table cell wraps the text a test looks for."""
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader", env={"COLUMNS": "200"})


@pytest.fixture
def bundle(tmp_path) -> Path:
    """A released toy bundle (the starter in place), as a student receives it."""
    out = tmp_path / "bundle"
    release_assignment(make_toy_assignment(tmp_path / "toy"), out)
    return out


# -- no grading --------------------------------------------------------------------------------

def test_headline_is_the_first_line_or_a_credit_note_with_its_reason():
    assert headline("") == ""
    assert headline("add(a, b) differs\n  at index 0") == "add(a, b) differs"
    assert headline("0 of 2 cases correct\nnot implemented yet: scale") == "0 of 2 cases correct: not implemented yet: scale"
    assert headline("2 of 2 cases correct") == "2 of 2 cases correct"
    assert headline("x" * 500).endswith("...") and len(headline("x" * 500)) == 200


def test_folder_without_an_assignment_is_an_error_that_says_what_to_do(tmp_path):
    (tmp_path / "toy.py").write_text(CORRECT_TOY)

    result = run_cli("check", tmp_path)

    assert result.exit_code == 1
    assert result.stderr == (f"Error: no assignment.toml in {tmp_path}: run grader check in the folder of the "
                             "assignment you were given, or pass --assignment PATH\n")
    assert result.stdout == ""


def test_assignment_without_public_tests_is_an_error(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy")
    config = assignment / "assignment.toml"
    config.write_text(config.read_text().replace('public = ["tests/test_public.py"]\n', ""))

    with pytest.raises(InstructorError, match="no public tests, so there is nothing to check"):
        check_submission(tmp_path, assignment=assignment)


# -- grading ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_solution_in_the_bundle_gets_full_public_marks(bundle, monkeypatch):
    (bundle / "toy.py").write_text(CORRECT_TOY)
    monkeypatch.chdir(bundle)

    result = run_cli("check")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Self-check: Toy assignment for the engine's tests" in out
    assert all(name in out for name in ["add two arrays", "scale an array", "uses the support file"])
    assert "Total: 10/10 points on the public tests (6 of 6 tests passed)." in out
    assert "Hint: all public tests pass." in out
    assert "add broadcasts a row" not in out, "hidden tests never run in a self-check"


@pytest.mark.slow
def test_starter_gets_zero_with_not_implemented_messages_and_a_hint(bundle):
    result = run_cli("check", bundle)

    assert result.exit_code == 0, result.output
    assert "Total: 0/10 points on the public tests (0 of 6 tests passed)." in result.stdout
    assert "not implemented yet: add (task 1)" in result.stdout
    assert "Hint: 6 test(s) reach code that is not written yet (it raises" in result.stdout


@pytest.mark.slow
def test_json_is_the_result_of_the_public_tests_only(bundle):
    (bundle / "toy.py").write_text(CORRECT_TOY.replace("return x * factor", "return x + factor"))

    result = run_cli("check", bundle, "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["total"], data["possible"], data["status"]) == (9.0, 10.0, "graded")
    assert [test["name"] for test in data["tests"]] == PUBLIC_TESTS
    assert {test["visibility"] for test in data["tests"]} == {"public"}
    scale = next(test for test in data["tests"] if test["name"] == "scale an array")
    assert scale["status"] == "failed" and "scale(x, 3) differs from the expected values" in scale["message"]
    assert data["title"] == "Toy assignment for the engine's tests" and data["folder"] == str(bundle)


@pytest.mark.slow
def test_only_the_student_files_are_taken_from_the_folder(bundle):
    """A student's folder may hold a virtual environment or a repository: none of it is graded or copied."""
    (bundle / "toy.py").write_text(CORRECT_TOY)
    junk = bundle / ".venv" / "lib"
    junk.mkdir(parents=True)
    for index in range(2100):  # more entries than one submission may hold
        (junk / f"module_{index}.py").write_text("")

    result = check_submission(bundle)

    assert (result.status, result.total, result.possible) == ("graded", 10.0, 10.0)
    assert result.notes == []


@pytest.mark.slow
def test_assignment_option_with_hidden_tests_runs_only_the_public_ones(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy")
    work = tmp_path / "my_work"
    work.mkdir()
    (work / "toy.py").write_text(CORRECT_TOY)

    result = check_submission(work, assignment=assignment)

    assert [test.name for test in result.tests] == PUBLIC_TESTS
    assert result.total == result.possible == 10


@pytest.mark.slow
def test_missing_student_file_is_named_first(bundle):
    (bundle / "toy.py").unlink()

    result = run_cli("check", bundle)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Missing: toy.py. Put your file(s) in this folder, named exactly so.\n")
    assert "Total: 0/10" in result.stdout
