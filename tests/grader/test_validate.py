"""Tests of ``grader validate``: the solution must earn everything, the starter nothing, cleanly.

Each test builds its own assignment in ``tmp_path`` from the toy fixture, with
``solution/`` and ``starter/`` folders (see :func:`make_toy_assignment`, which
the release and check tests use too). Tests that grade are marked ``slow``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader.cli import main
from grader.errors import ValidationFailed
from grader.validate import cause, says_not_implemented, validate_assignment

from .conftest import CORRECT_TOY, TOY_ASSIGNMENT

STARTER_TOY = '''"""Starter code of the toy assignment: fill in every function."""


def add(a, b):
    raise NotImplementedError("add (task 1)")


def scale(x, factor):
    raise NotImplementedError("scale (task 2)")


def square(x):
    raise NotImplementedError("square (task 3)")


def quadruple(x):
    raise NotImplementedError("quadruple (task 4)")


def echo(x):
    raise NotImplementedError("echo (task 5)")


class Counter:
    def __init__(self):
        raise NotImplementedError("Counter (task 6)")

    def increment(self):
        raise NotImplementedError("Counter.increment (task 6)")
'''
HANDOUT = "# Toy assignment\n\nWrite `toy.py`: add, scale, square, quadruple, echo and a Counter.\n"
SEED_SALT = "salt-that-never-leaves-the-course-staff"


def make_toy_assignment(root: Path, solution: str | None = CORRECT_TOY, starter: str | None = STARTER_TOY,
                        extra_config: str = "") -> Path:
    """The toy assignment at ``root``, with a handout, a seed salt and the given solution and starter.

    ``None`` leaves a folder out (and undeclared).
    """
    shutil.copytree(TOY_ASSIGNMENT, root, ignore=shutil.ignore_patterns("__pycache__"))
    declared = f'seed_salt = "{SEED_SALT}"\n'
    for name, source in (("solution", solution), ("starter", starter)):
        if source is not None:
            (root / name).mkdir()
            (root / name / "toy.py").write_text(source, encoding="utf-8")
            declared += f'{name} = "{name}"\n'
    config = root / "assignment.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('allowed_packages = ["numpy"]\n', f'allowed_packages = ["numpy"]\n{declared}{extra_config}'),
                      encoding="utf-8")
    (root / "README.md").write_text(HANDOUT, encoding="utf-8")
    return root


def run_cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader")


def checks_of(report) -> dict[str, object]:
    return {check.name: check for check in report.checks}


# -- no grading --------------------------------------------------------------------------------

def test_says_not_implemented_reads_trusted_and_legacy_messages():
    assert says_not_implemented("not implemented yet: add (task 1)")
    assert says_not_implemented("0 of 2 cases correct\nnot implemented yet: square")
    assert says_not_implemented("E   NotImplementedError: scale")
    assert not says_not_implemented("your code raised ValueError: shapes\n  at toy.py, line 2")
    assert not says_not_implemented("")


def test_cause_picks_the_exception_line_of_a_message():
    message = "backward() through your cell failed; is every output computed with torch?\nyour code raised KeyError: 'x'"
    assert cause(message) == "your code raised KeyError: 'x'"
    assert cause("add(a, b) differs from the expected values") == "add(a, b) differs from the expected values"


def test_assignment_without_folders_fails_both_folder_checks_without_grading(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy", solution=None, starter=None)

    report = validate_assignment(assignment)

    checks = checks_of(report)
    assert not report.ok
    assert checks["solution folder"].detail == 'not declared: add solution = "solution" to [assignment] in assignment.toml'
    assert checks["starter folder"].detail == 'not declared: add starter = "starter" to [assignment] in assignment.toml'
    assert checks["points"].ok and checks["points"].detail == "public 10 + hidden 2 + after_due_date 1 = 13 points in 8 tests"
    assert report.solution is None and report.starter is None
    assert "solution: full marks" not in checks, "nothing is graded without the folders"
    assert checks["student bundle"].ok


def test_hidden_test_in_a_public_file_fails_the_bundle_check(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy", solution=None, starter=None)
    with (assignment / "tests" / "test_public.py").open("a") as tests:
        tests.write('\n\n@points(1, visibility="hidden")\ndef test_secret(student):\n    assert True\n')

    report = validate_assignment(assignment)

    check = checks_of(report)["student bundle"]
    assert not check.ok and check.detail.startswith("refusing to release: tests/test_public.py::test_secret is marked hidden")


def test_zero_total_points_fails_the_points_check(tmp_path):
    assignment = tmp_path / "zero"
    (assignment / "tests").mkdir(parents=True)
    (assignment / "tests" / "test_public.py").write_text(
        "from grader.testing import points\n\n@points(0)\ndef test_nothing(student):\n    pass\n")
    (assignment / "assignment.toml").write_text(
        '[assignment]\ntitle = "Zero"\nversion = "1"\nstudent_files = ["zero.py"]\n\n[tests]\npublic = ["tests/test_public.py"]\n')

    report = validate_assignment(assignment)

    assert checks_of(report)["points"] == type(report.checks[0])("points", False, "public 0 = 0 points in 1 test: every test is worth 0 points")


@pytest.mark.slow  # grades the starter
def test_missing_student_file_in_the_solution_is_named(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy", solution=None)
    (assignment / "solution").mkdir()
    (assignment / "solution" / "notes.txt").write_text("oops")
    config = assignment / "assignment.toml"
    config.write_text(config.read_text().replace('starter = "starter"', 'starter = "starter"\nsolution = "solution"'))

    report = validate_assignment(assignment, out=tmp_path / "out")

    assert checks_of(report)["solution folder"].detail == "solution/ lacks toy.py"
    assert not checks_of(report)["solution folder"].ok


# -- grading ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_good_assignment_passes_every_check(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy")

    report = validate_assignment(assignment, jobs=2, out=tmp_path / "out")

    assert report.ok, [check for check in report.checks if not check.ok]
    checks = checks_of(report)
    assert list(checks) == ["solution folder", "starter folder", "points", "solution: full marks", "solution: time",
                            "starter: 0 points", "starter: not implemented yet", "every test ran", "student bundle"]
    assert checks["solution: full marks"].detail.startswith("13/13, all 8 tests passed in ")
    assert checks["starter: 0 points"].detail == "0/13"
    assert checks["starter: not implemented yet"].detail == "all 8 tests with points fail with 'not implemented yet'"
    assert checks["student bundle"].detail == ("12 files, self-check of 6 public tests (10 points); "
                                               "left out: assignment.toml: seed_salt, solution/, tests/test_hidden.py")
    assert (tmp_path / "out" / "solution" / "result.json").is_file()
    assert (tmp_path / "out" / "starter" / "result.json").is_file()
    assert report.points() == {"public": 10.0, "hidden": 2.0, "after_due_date": 1.0, "total": 13.0}


@pytest.mark.slow
def test_wrong_solution_fails_naming_the_test_and_the_problem(tmp_path):
    wrong = CORRECT_TOY.replace("return x * factor", "return x + factor")
    assignment = make_toy_assignment(tmp_path / "toy", solution=wrong)

    report = validate_assignment(assignment)

    check = checks_of(report)["solution: full marks"]
    assert not check.ok
    assert check.detail.startswith("12/13; 1 test(s) did not pass: [failed] scale(x, 3) differs from the expected values")
    assert check.detail.endswith(" in scale an array")
    assert [failed.name for failed in report.failures] == ["solution: full marks"]


@pytest.mark.slow
def test_starter_that_crashes_or_earns_points_fails_with_details(tmp_path):
    starter = (STARTER_TOY.replace('raise NotImplementedError("add (task 1)")', "return a + b")
               .replace('raise NotImplementedError("echo (task 5)")', 'raise RuntimeError("forgot to stub this out")'))
    assignment = make_toy_assignment(tmp_path / "toy", starter=starter)

    report = validate_assignment(assignment)

    checks = checks_of(report)
    assert not checks["starter: 0 points"].ok
    assert checks["starter: 0 points"].detail == "4/13; points for: [passed] in add two arrays (2/2), add broadcasts a row (2/2)"
    messages = checks["starter: not implemented yet"]
    assert not messages.ok
    assert messages.detail == ("3 test(s) fail otherwise: [passed] in add two arrays, add broadcasts a row; "
                               "[failed] your code raised RuntimeError: forgot to stub this out in echo the seeded input")
    assert checks["solution: full marks"].ok and checks["every test ran"].ok


@pytest.mark.slow
def test_cli_prints_the_table_and_exits_1_when_a_check_fails(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy", starter=CORRECT_TOY)

    result = run_cli("validate", assignment, "--jobs", "2")

    assert result.exit_code == 1, result.output
    assert "starter: 0 points" in result.stdout and "FAIL" in result.stdout
    assert result.stderr.rstrip().endswith(
        "Error: toy: 2 of 9 checks failed: starter: 0 points, starter: not implemented yet")
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_cli_json_is_valid_and_exit_0_when_every_check_holds(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy")

    result = run_cli("validate", assignment, "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert data["assignment"]["name"] == "toy"
    assert [check["ok"] for check in data["checks"]] == [True] * 9
    assert data["solution"]["score"] == 13 and data["starter"]["score"] == 0
    assert data["results"] is None, "without --out the results live in a removed temporary folder"


def test_cli_reports_a_broken_assignment_as_an_error(tmp_path):
    result = run_cli("validate", tmp_path / "nowhere")

    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'nowhere'}: no such assignment folder\n"


def test_validation_failed_is_an_instructor_error():
    from grader.errors import InstructorError

    assert issubclass(ValidationFailed, InstructorError)


@pytest.mark.slow
def test_validate_fails_when_the_tests_do_not_add_up_to_the_declared_total(tmp_path):
    root = make_toy_assignment(tmp_path / "toy", extra_config="total_points = 20\n")
    report = validate_assignment(root, jobs=2)
    points = next(check for check in report.checks if check.name == "points")
    assert not points.ok
    assert points.detail.endswith("= 13 points in 8 tests, but assignment.total_points declares 20")


@pytest.mark.slow
def test_validate_accepts_tests_that_add_up_to_the_declared_total(tmp_path):
    root = make_toy_assignment(tmp_path / "toy", extra_config="total_points = 13\n")
    points = next(check for check in validate_assignment(root, jobs=2).checks if check.name == "points")
    assert points.ok and points.detail.endswith("as assignment.total_points declares")
