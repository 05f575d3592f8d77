"""Tests of the student's self-check beyond tests/grader/test_check.py: the same public points as grading,
the points still to come, and ``grader check --ci`` as GitHub Actions runs it.

Tests that grade are marked ``slow``.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader.batch import grade_batch
from grader.check import SelfCheck, run_self_check
from grader.cli import main
from grader.config import load_assignment
from grader.errors import AssignmentConfigError
from grader.release import release_assignment
from grader.results import SubmissionResult
from grader.seeding import derive_public_seed, derive_seed

from ..grader.conftest import CORRECT_TOY
from ..grader.test_validate import SEED_SALT, make_toy_assignment

# Wrong in scale, and in square for inputs whose first entry is below -1: a score that depends on the inputs.
PARTLY_WRONG = (CORRECT_TOY.replace("return x * factor", "return x + factor")
                .replace("    return x * x\n", "    return x * x if x[0] > -1 else x\n"))
RAISES_IN_ECHO = CORRECT_TOY.replace("def echo(x):\n    return x", "def echo(x):\n    y = list(x)\n"
                                     "    raise ValueError('echo: 100% wrong, see: x\\nsecond line')")


def run_cli(*args: object, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader", env={"COLUMNS": "200", **(env or {})})


@pytest.fixture
def toy(tmp_path) -> Path:
    return make_toy_assignment(tmp_path / "toy")


@pytest.fixture
def bundle(toy, tmp_path) -> Path:
    out = tmp_path / "bundle"
    release_assignment(toy, out)
    return out


# -- no grading --------------------------------------------------------------------------------

def test_public_seeds_ignore_student_salt_and_secret_and_hidden_seeds_do_not(monkeypatch):
    public = derive_public_seed("toy", "tests/test_public.py::test_add")
    monkeypatch.setenv("GRADER_SEED_SECRET", "s3cret")

    assert derive_public_seed("toy", "tests/test_public.py::test_add") == public
    assert public != derive_public_seed("toy", "tests/test_public.py::test_scale")
    hidden = derive_seed("toy", "tests/test_hidden.py::test_add_broadcast", "ann", SEED_SALT)
    assert hidden != derive_seed("toy", "tests/test_hidden.py::test_add_broadcast", "ben", SEED_SALT)
    monkeypatch.delenv("GRADER_SEED_SECRET")
    assert hidden != derive_seed("toy", "tests/test_hidden.py::test_add_broadcast", "ann", SEED_SALT)


def test_release_writes_the_hidden_points_and_a_ci_workflow(bundle):
    released = load_assignment(bundle)
    workflow = (bundle / ".github" / "workflows" / "grader.yml").read_text()

    assert released.hidden_points == 3.0, "tests/test_hidden.py: 2 hidden points and 1 after the due date"
    assert "        run: grader check --ci --junit grader-junit.xml\n" in workflow
    assert "uses: actions/upload-artifact@v7" in workflow and "if: always()" in workflow
    assert "grader-junit.xml" in (bundle / ".gitignore").read_text().splitlines()
    assert "grader check --ci" in (bundle / "CHECK.md").read_text()


@pytest.mark.parametrize("value, problem", [
    ("-1", "assignment.hidden_points: expected a number of points >= 0, got -1"),
    ('"3"', "assignment.hidden_points: expected a number of points >= 0, got str '3'"),
    ("nan", "assignment.hidden_points: expected a number of points >= 0, got nan"),
])
def test_hidden_points_must_be_a_number_of_points(toy, value, problem):
    config = toy / "assignment.toml"
    config.write_text(config.read_text().replace("[limits]", f"hidden_points = {value}\n\n[limits]"))

    with pytest.raises(AssignmentConfigError) as error:
        load_assignment(toy)
    assert str(error.value) == f"{config}: {problem}"


def test_score_line_says_what_the_grading_adds():
    result = SubmissionResult("self-check", "toy", "1", "graded")
    check = SelfCheck(result, None, Path("."), hidden_points=None)

    assert check.score_line() == "public: 0/0; your grade may also count tests that run only at grading time"
    check.hidden_points = 0.0
    assert check.score_line() == "public: 0/0; no other tests run at grading time"
    check.hidden_points = 12.5
    assert check.score_line() == "public: 0/0; hidden tests worth 12.5 points run at grading time"
    assert not check.ok, "no tests ran: not a pass"


# -- grading -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_check_gives_exactly_the_public_points_and_inputs_that_grading_gives(toy, bundle, tmp_path, monkeypatch):
    """Grading uses a seed salt, a secret and the student's id; the self-check has none of them."""
    (bundle / "toy.py").write_text(PARTLY_WRONG)
    submissions = tmp_path / "submissions"
    (submissions / "alice").mkdir(parents=True)
    (submissions / "alice" / "toy.py").write_text(PARTLY_WRONG)

    checked = run_self_check(bundle).result
    monkeypatch.setenv("GRADER_SEED_SECRET", "the-instructors-secret")
    graded = grade_batch(submissions, toy, tmp_path / "graded", jobs=1).results[0]

    public = {test.id: (test.points, test.status, test.message) for test in graded.tests if test.visibility == "public"}
    assert {test.id: (test.points, test.status, test.message) for test in checked.tests} == public
    assert checked.total == 7.0, "2 + 0 (scale) + 1 + 2 (2 of 4 squares) + 1 + 1"
    assert public["tests/test_public.py::test_square_cases"][:2] == (2.0, "partial")
    assert "got" in public["tests/test_public.py::test_scale"][2], "the message shows input-dependent values"


@pytest.mark.slow
def test_table_ends_with_the_public_score_and_the_hidden_points(bundle):
    (bundle / "toy.py").write_text(CORRECT_TOY)

    result = run_cli("check", bundle)

    assert result.exit_code == 0, result.output
    assert "┃ test" in result.stdout and "┃ hint" in result.stdout
    assert "\npublic: 10/10; hidden tests worth 3 points run at grading time\n" in result.stdout
    assert "Hint: all public tests pass.\n" in result.stdout


@pytest.mark.slow
def test_instructor_copy_counts_its_own_hidden_points(toy, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "toy.py").write_text(CORRECT_TOY)

    check = run_self_check(work, toy)

    assert (check.result.total, check.hidden_points, check.ok) == (10.0, 3.0, True)


@pytest.mark.slow
def test_ci_mode_annotates_the_students_line_writes_junit_and_the_job_summary_and_fails(bundle, tmp_path, monkeypatch):
    (bundle / "toy.py").write_text(RAISES_IN_ECHO.replace("return x * factor", "return x + factor"))
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier output\n")
    monkeypatch.chdir(tmp_path)  # the repository root; the assignment sits in bundle/

    result = run_cli("check", "bundle", "--ci", env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
                                                      "GITHUB_WORKSPACE": str(tmp_path)})

    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    errors = [line for line in lines if line.startswith("::error")]
    assert errors == [
        "::error title=scale an array (0/1 points%2C failed)::scale(x, 3) differs from the expected values: "
        + errors[0].split("the expected values: ", 1)[1],
        "::error file=bundle/toy.py,line=24,title=echo the seeded input (0/1 points%2C failed)::your code raised "
        "ValueError: echo: 100%25 wrong, see: x%0Asecond line%0A  at toy.py, line 24, in echo%0ATraceback (your "
        "files only):%0A  File \"toy.py\", line 24, in echo%0A    raise ValueError('echo: 100%25 wrong, see: "
        "x\\nsecond line')",
    ]
    assert lines[-1] == ("::notice title=Self-check%3A Toy assignment for the engine's tests::public: 8/10; "
                         "hidden tests worth 3 points run at grading time")
    assert "public: 8/10; hidden tests worth 3 points run at grading time" in lines  # the table's line too

    junit = ET.parse(tmp_path / "grader-junit.xml").getroot()
    (suite,) = junit.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "2", "0")

    text = summary.read_text()
    assert text.startswith("earlier output\n## Self-check: Toy assignment for the engine's tests\n")
    assert "**public: 8/10; hidden tests worth 3 points run at grading time**" in text
    assert "| ❌ | echo the seeded input | 0/1 | failed | your code raised ValueError: echo: 100% wrong, see: x |" in text


@pytest.mark.slow
def test_ci_mode_passes_with_only_a_notice_and_a_custom_junit_path(bundle, tmp_path):
    (bundle / "toy.py").write_text(CORRECT_TOY)

    result = run_cli("check", bundle, "--ci", "--junit", tmp_path / "reports" / "junit.xml", env={"GITHUB_STEP_SUMMARY": ""})

    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("::")] == [
        "::notice title=Self-check%3A Toy assignment for the engine's tests::public: 10/10; hidden tests worth 3 "
        "points run at grading time"]
    assert ET.parse(tmp_path / "reports" / "junit.xml").getroot().get("failures") == "0"
    assert not (bundle / "grader-junit.xml").exists()


@pytest.mark.slow
def test_json_format_says_whether_the_check_passed(bundle):
    (bundle / "toy.py").write_text(CORRECT_TOY.replace("return x * factor", "return x + factor"))

    result = run_cli("check", bundle, "--format", "json")

    assert result.exit_code == 0, "without --ci a failing test is not a failing command"
    data = json.loads(result.stdout)
    assert (data["ok"], data["hidden_points"], data["score_line"]) == (
        False, 3.0, "public: 9/10; hidden tests worth 3 points run at grading time")
