"""Tests of write_exports and the ``grader export`` command, on a graded folder made without grading."""
from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

from click.testing import CliRunner, Result

from grader.cli import main
from grader.exports import export_folder, write_exports

from .gradescope_schema import validate


def run_cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader")


def test_write_exports_writes_every_format_and_returns_the_paths(graded, tmp_path):
    out = tmp_path / "exports"

    paths = write_exports(graded, out)

    assert [path.relative_to(out).as_posix() for path in paths] == [
        "canvas.csv", "junit.xml", *[f"{name}/gradescope.json" for name in ("alice", "bob", "carol", "dave", "erin")]]
    assert all(path.is_file() for path in paths)
    assert len(ET.parse(out / "junit.xml").getroot().findall("testsuite")) == 5
    validate(json.loads((out / "alice" / "gradescope.json").read_text()))


def test_export_folder_defaults_to_the_graded_folder(graded):
    report = export_folder(graded)

    assert report.canvas_csv == graded.path / "canvas.csv" and (graded.path / "bob" / "gradescope.json").is_file()
    assert report.notes()[-1].startswith("1 result file(s) could not be read")


def test_cli_writes_into_dir_prints_the_paths_and_lists_unmatched_submissions_on_stderr(graded, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,sis_login_id\nalice,Alice,asmith\nbob,Bob,bjones\nzoe,Zoe,zzed\n")

    result = run_cli("export", graded.path, "--roster", roster, "--canvas-assignment-id", "12345")

    assert result.exit_code == 0, result.output
    assert result.stdout == (f"canvas: {graded.path / 'canvas.csv'}\njunit: {graded.path / 'junit.xml'}\n"
                             f"gradescope: 5 file(s), {graded.path}/<id>/gradescope.json\n")
    assert "note: 4 submission(s) have no roster entry" in result.stderr and "carol, dave, erin, frank" in result.stderr
    assert "note: 1 student(s) on the roster have no submission, exported with an empty score: Zoe" in result.stderr
    rows = list(csv.reader((graded.path / "canvas.csv").open()))
    assert rows[0][-1] == 'Toy, "quoted" & <tagged> (12345)'
    assert [row[0] for row in rows[2:]] == ["Alice", "Bob", "Zoe", "carol", "dave", "erin", "frank"]


def test_cli_json_lists_every_file_and_note(graded, tmp_path):
    result = run_cli("export", graded.path, "--out", tmp_path / "out", "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["files"]["canvas"] == str(tmp_path / "out" / "canvas.csv")
    assert len(data["files"]["gradescope"]) == 5
    assert data["canvas"]["unmatched"] == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert data["unreadable"] == [str(graded.path / "frank" / "result.json")]


def test_hidden_tests_can_be_shown_after_publishing(graded):
    result = run_cli("export", graded.path, "--hidden-visibility", "after_published")

    assert result.exit_code == 0, result.output
    tests = json.loads((graded.path / "alice" / "gradescope.json").read_text())["tests"]
    assert [test["visibility"] for test in tests] == ["visible", "visible", "visible", "after_published", "after_due_date"]


def test_not_a_graded_folder_or_a_bad_roster_exits_1_with_one_line(graded, tmp_path):
    result = run_cli("export", tmp_path)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path} is not a graded folder: it has no batch.json "
                             f"(run grader grade --out {tmp_path} first)\n")

    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\nalice,Alice\nalice,Alice twice\n")
    result = run_cli("export", graded.path, "--roster", roster)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"Error: {roster}, line 3: id 'alice' is already the id of line 2; every student needs "
                             "values of their own\n")
