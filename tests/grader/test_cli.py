"""Tests of the ``grader`` command line: help, version, exit codes and messages.

Exit codes: 0 the command did its job (whatever the students scored), 1 an
instructor error (one "Error: ..." line on stderr, no traceback), 2 a usage
error (Click's own). Tests marked ``slow`` grade for real: they start worker
processes.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import grader
from grader import ingest
from grader.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TOY = FIXTURES / "assignments" / "toy"
TOY_SUBMISSIONS = FIXTURES / "submissions" / "toy"
COMMANDS = sorted(main.commands)


def run_cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader")


def assert_instructor_error(result: Result, message: str) -> None:
    """Exit 1 through a ClickException: exactly ``Error: message`` on stderr, nothing on stdout."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), "an exception escaped the CLI instead of a clean error"
    # lstrip: the progress display (table format) ends with a blank line even when nothing was graded.
    assert result.stderr.lstrip("\n") == f"Error: {message}\n"
    assert result.stdout == ""
    assert "Traceback" not in result.output


def assert_usage_error(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("Usage: grader grade [OPTIONS] SUBMISSIONS\n")
    assert result.stderr.rstrip("\n").endswith(f"Error: {message}")
    assert "Traceback" not in result.output


# -- version and help ------------------------------------------------------------------------

def test_version_prints_the_package_version():
    result = run_cli("--version")

    assert result.exit_code == 0
    assert result.stdout == f"grader, version {grader.__version__}\n"


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_short_and_long_help_work_on_the_group_and_every_command(command, flag):
    result = run_cli(*([command] if command else []), flag)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: grader {command + ' ' if command else ''}[OPTIONS]")
    assert "-h, --help" in result.stdout
    assert result.stderr == ""


def test_group_help_lists_every_command():
    result = run_cli("--help")

    commands_section = result.stdout.split("Commands:\n", 1)[1]
    assert [line.split()[0] for line in commands_section.splitlines() if line.strip()] == COMMANDS


def test_every_command_has_help_text_ending_with_an_example_of_itself():
    assert COMMANDS, "the group has no commands"
    for name, command in main.commands.items():
        assert command.help and command.help.strip(), f"{name} has no help text"
        assert command.short_help or command.help.splitlines()[0].strip(), f"{name} has no one-line summary"
        assert "Example" in command.help, f"{name}'s help has no Example section"
        example = command.help.split("Example", 1)[1]
        assert f"grader {name} " in example, f"{name}'s example does not run {name}"

        shown = run_cli(name, "--help").stdout
        assert "Example:" in shown and f"grader {name} " in shown.split("Example:", 1)[1]


def test_group_help_has_an_example():
    assert "Example:" in main.help
    assert "Example:" in run_cli("--help").stdout


# -- instructor errors: exit 1, one clear line ------------------------------------------------

def test_missing_assignment_folder_exits_1_naming_the_folder(tmp_path):
    missing = tmp_path / "no_such_assignment"

    result = run_cli("grade", TOY_SUBMISSIONS, "-a", missing, "-o", tmp_path / "out")

    assert_instructor_error(result, f"{missing}: no such assignment folder")


def test_malformed_assignment_toml_exits_1_naming_the_file_and_the_key(tmp_path):
    assignment = tmp_path / "toy"
    assignment.mkdir()
    (assignment / "tests").mkdir()
    (assignment / "tests" / "test_public.py").write_text("")
    (assignment / "assignment.toml").write_text(
        '[assignment]\ntitle = "Toy"\nversion = "1"\nstudent_files = "toy.py"\n\n'
        '[tests]\npublic = ["tests/test_public.py"]\n')

    result = run_cli("grade", TOY_SUBMISSIONS, "-a", assignment, "-o", tmp_path / "out")

    assert_instructor_error(
        result, f"{assignment / 'assignment.toml'}: assignment.student_files: expected a list of strings, got str 'toy.py'")


def test_invalid_toml_exits_1_with_the_file_and_line(tmp_path):
    assignment = tmp_path / "toy"
    assignment.mkdir()
    (assignment / "assignment.toml").write_text('[assignment]\ntitle = "Toy\n')

    result = run_cli("grade", TOY_SUBMISSIONS, "-a", assignment, "-o", tmp_path / "out")

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.lstrip("\n").startswith(f"Error: {assignment / 'assignment.toml'}: not valid TOML: ")
    assert "line 2" in result.stderr


def test_infinite_limit_exits_1_instead_of_crashing(tmp_path):
    assignment = tmp_path / "toy"
    assignment.mkdir()
    (assignment / "tests").mkdir()
    (assignment / "tests" / "test_public.py").write_text("")
    (assignment / "assignment.toml").write_text(
        '[assignment]\ntitle = "Toy"\nversion = "1"\nstudent_files = ["toy.py"]\n\n'
        '[limits]\nmemory_mb = inf\n\n[tests]\npublic = ["tests/test_public.py"]\n')

    result = run_cli("grade", TOY_SUBMISSIONS, "-a", assignment, "-o", tmp_path / "out")

    assert_instructor_error(result, f"{assignment / 'assignment.toml'}: limits.memory_mb: expected a finite number, got inf")


def test_missing_submissions_folder_exits_1_naming_it(tmp_path):
    missing = tmp_path / "no_such_submissions"

    result = run_cli("grade", missing, "-a", TOY, "-o", tmp_path / "out")

    assert_instructor_error(result, f"submissions folder {missing} does not exist")


def test_submissions_path_that_is_a_file_exits_1(tmp_path):
    not_a_folder = tmp_path / "submissions.txt"
    not_a_folder.write_text("alice\n")

    result = run_cli("grade", not_a_folder, "-a", TOY, "-o", tmp_path / "out")

    assert_instructor_error(result, f"submissions folder {not_a_folder} is not a folder")


def test_unreadable_submissions_folder_exits_1_with_the_reason(tmp_path, monkeypatch):
    # Simulated: the tests may run as root, for whom chmod 000 hides nothing.
    locked = tmp_path / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path=".", *args):
        if isinstance(path, (str, os.PathLike)) and Path(path) == locked:  # rmtree passes file descriptors
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path, *args)

    monkeypatch.setattr(ingest.os, "scandir", scandir)

    result = run_cli("grade", locked, "-a", TOY, "-o", tmp_path / "out")

    assert_instructor_error(result, f"cannot read submissions folder {locked}: Permission denied")


def test_only_with_an_unknown_id_exits_1_naming_the_id(tmp_path):
    result = run_cli("grade", TOY_SUBMISSIONS, "-a", TOY, "-o", tmp_path / "out", "--only", "correct", "--only", "nobody")

    assert_instructor_error(result, f"--only 'nobody': no such submission in {TOY_SUBMISSIONS}")
    assert not (tmp_path / "out" / "correct").exists(), "nothing is graded when an id is unknown"


# -- usage errors: exit 2 ------------------------------------------------------------------

def test_missing_assignment_option_is_a_usage_error(tmp_path):
    result = run_cli("grade", TOY_SUBMISSIONS, "-o", tmp_path / "out")

    assert_usage_error(result, "Missing option '--assignment' / '-a'.")


def test_missing_submissions_argument_is_a_usage_error(tmp_path):
    result = run_cli("grade", "-a", TOY, "-o", tmp_path / "out")

    assert_usage_error(result, "Missing argument 'SUBMISSIONS'.")


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_below_one_is_a_usage_error(tmp_path, jobs):
    result = run_cli("grade", TOY_SUBMISSIONS, "-a", TOY, "-o", tmp_path / "out", "--jobs", jobs)

    assert_usage_error(result, f"Invalid value for '--jobs' / '-j': {jobs} is not in the range x>=1.")
    assert not (tmp_path / "out").exists()


def test_unknown_format_is_a_usage_error(tmp_path):
    result = run_cli("grade", TOY_SUBMISSIONS, "-a", TOY, "-o", tmp_path / "out", "--format", "xml")

    assert result.exit_code == 2
    assert "Invalid value for '--format': 'xml' is not one of 'table', 'json'." in result.stderr


def test_unknown_command_is_a_usage_error():
    result = run_cli("grdae")

    assert result.exit_code == 2
    assert "No such command 'grdae'." in result.stderr


# -- real runs -----------------------------------------------------------------------------

def read_grades(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open(newline="", encoding="utf-8") as file:
        return {row["id"]: row for row in csv.DictReader(file)}


@pytest.mark.slow
def test_grading_two_submissions_prints_their_scores_and_writes_the_results(tmp_path):
    out = tmp_path / "out"

    result = run_cli("grade", TOY_SUBMISSIONS, "-a", TOY, "-o", out, "--only", "correct", "--only", "wrong", "-j", "1")

    assert result.exit_code == 0, result.output
    assert result.exception is None
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if line.split()[1:2] in (["correct"], ["wrong"])}
    assert set(rows) == {"correct", "wrong"}, result.stdout
    assert "13/13" in rows["correct"]
    assert "3/13" in rows["wrong"]
    assert "2 submission(s), mean score 8.00 of 13" in result.stdout

    grades = read_grades(out)
    assert set(grades) == {"correct", "wrong"}
    assert (grades["correct"]["score"], grades["correct"]["max"], grades["correct"]["status"]) == ("13", "13", "graded")
    assert (grades["wrong"]["score"], grades["wrong"]["max"]) == ("3", "13")
    for student_id in ("correct", "wrong"):
        saved = json.loads((out / student_id / "result.json").read_text(encoding="utf-8"))
        assert saved["student_id"] == student_id
    assert not (out / "crashing").exists(), "--only grades only the ids given"


@pytest.mark.slow
def test_json_format_prints_only_valid_json_with_a_submissions_list(tmp_path):
    out = tmp_path / "out"

    result = run_cli("grade", TOY_SUBMISSIONS, "-a", TOY, "-o", out, "--only", "correct", "--only", "wrong",
                     "-j", "2", "--format", "json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(s["id"], s["score"], s["max"], s["status"]) for s in summary["submissions"]] == [
        ("correct", 13.0, 13.0, "graded"), ("wrong", 3.0, 13.0, "graded")]
    assert summary["assignment"] == {"name": "toy", "title": "Toy assignment for the engine's tests", "version": "1"}
    assert summary["grades_csv"] == str(out / "grades.csv")
    assert all(Path(s["result"]).is_file() for s in summary["submissions"])


@pytest.mark.slow
def test_batch_where_every_student_fails_still_exits_0(tmp_path):
    out = tmp_path / "out"

    result = run_cli("grade", TOY_SUBMISSIONS, "-a", TOY, "-o", out, "--only", "crashing", "--only", "syntax",
                     "--only", "missing", "-j", "2", "--format", "json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {s["id"]: s["score"] for s in summary["submissions"]} == {"crashing": 0.0, "syntax": 0.0, "missing": 0.0}
    assert set(read_grades(out)) == {"crashing", "syntax", "missing"}


def test_grade_warns_about_a_seed_secret_short_enough_to_guess(tmp_path, monkeypatch):
    from grader.seeding import weak_secret

    monkeypatch.setenv("GRADER_SEED_SECRET", "Fall-2026")
    assert "9 characters" in weak_secret() and "token_hex" in weak_secret()
    monkeypatch.setenv("GRADER_SEED_SECRET", "a3f1c09e7b2d44e58a6f9c1d2b3e4f50")
    assert weak_secret() == ""
    monkeypatch.delenv("GRADER_SEED_SECRET")
    assert weak_secret() == ""
