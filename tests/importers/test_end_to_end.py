"""Every layout through the command line: ``grader grade --from X --roster R``, then ``grader export`` to Canvas."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader.cli import main

from .conftest import BUILDERS, TOY_ASSIGNMENT, WRONG, make_zip, read_json

POSSIBLE = "13"


def run_cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader")


def grade_and_export(tmp_path: Path, source: Path, layout: str, roster: Path) -> tuple[Result, dict, list[list[str]]]:
    out = tmp_path / "graded"
    graded = run_cli("grade", source, "-a", TOY_ASSIGNMENT, "-o", out, "-j", "1", "--from", layout, "--roster", roster)
    assert graded.exit_code == 0, graded.output
    exported = run_cli("export", out, "--roster", roster, "--canvas-assignment-id", "77")
    assert exported.exit_code == 0, exported.output
    grades = {row["id"]: row for row in csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}
    canvas = list(csv.reader((out / "canvas.csv").open(encoding="utf-8")))
    return graded, grades, canvas


@pytest.mark.parametrize("layout", sorted(BUILDERS))
def test_each_layout_grades_end_to_end_down_to_the_canvas_csv(tmp_path, roster_file, layout):
    source = BUILDERS[layout](tmp_path / "source")

    graded, grades, canvas = grade_and_export(tmp_path, source, layout, roster_file)

    assert "source: " in graded.stderr and f"(chosen with --from {layout})" in graded.stderr
    assert grades["jane"]["score"] == POSSIBLE and grades["jane"]["status"] == "graded"
    assert float(grades["john"]["score"]) < float(POSSIBLE)
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                         "Toy assignment for the engine's tests (77)"]
    rows = {row[0]: row for row in canvas[2:]}
    assert rows["Jane Smith"] == ["Jane Smith", "101", "S1", "jsmith", "A", POSSIBLE]
    assert rows["John Doe"][:5] == ["John Doe", "102", "S2", "jdoe", "B"]
    assert rows["John Doe"][5] == grades["john"]["score"]
    if layout == "gradescope":  # Zoe handed in with Jane: the group's score is hers too
        assert rows["Zoe Zed"][5] == POSSIBLE and "zoe" not in grades
    else:
        assert rows["Zoe Zed"][5] == "" and grades["zoe"]["status"] == "missing" and grades["zoe"]["score"] == ""
        assert "1 roster student(s) without a submission: Zoe Zed" in graded.stderr
    assert len(canvas) == 2 + 3  # header, points possible, the three roster students: nothing unmatched


def test_auto_detection_is_printed_and_metadata_reaches_results_and_reports(tmp_path, roster_file):
    source = BUILDERS["canvas"](tmp_path / "source")
    out = tmp_path / "graded"

    result = run_cli("grade", source, "-a", TOY_ASSIGNMENT, "-o", out, "-j", "1", "--roster", roster_file)

    assert result.exit_code == 0, result.output
    assert ("source: Canvas bulk download (detected: 3 of 3 entries are files named "
            "name[_LATE]_userid_attachmentid_file)") in result.stderr.splitlines()
    jane = read_json(out / "jane" / "result.json")
    assert jane["submitted"]["late"] is True and jane["submitted"]["lms_ids"]["canvas_user_id"] == "101"
    report = (out / "jane" / "report.html").read_text()
    assert "<dt>late</dt><dd>yes: handed in after the due date</dd>" in report
    assert "<dt>Canvas user id</dt><dd>101</dd>" in report
    feedback = (out / "jane" / "feedback.html").read_text()
    assert "<dt>late</dt>" in feedback and "Canvas user id" not in feedback
    index = (out / "index.html").read_text()
    assert "Submissions read as a Canvas bulk download" in index
    assert '<span class="badge late">late</span>' in index and '<span class="badge missing">missing</span>' in index
    assert read_json(out / "import.json")["missing"][0]["label"] == "Zoe Zed"


def test_a_broken_zip_and_an_unreadable_notebook_are_per_submission_errors_and_the_batch_goes_on(tmp_path, roster_file):
    source = BUILDERS["canvas"](tmp_path / "source")
    (source / "zedzoe_103_5020_work.zip").write_bytes(b"PK\x03\x04 cut short")
    (source / "doejohn_102_5002_toy.py").unlink()
    (source / "doejohn_102_5004_toy.ipynb").write_text("{ not a notebook")

    _, grades, canvas = grade_and_export(tmp_path, source, "canvas", roster_file)

    assert grades["jane"]["status"] == "graded"
    assert grades["zoe"]["status"] == "broken" and grades["john"]["status"] == "broken"
    zoe = read_json(tmp_path / "graded" / "zoe" / "result.json")
    assert zoe["message"] == "zedzoe_103_5020_work.zip: truncated or damaged zip archive (File is not a zip file)"
    john = read_json(tmp_path / "graded" / "john" / "result.json")
    assert john["message"].startswith("toy.ipynb: not a readable notebook: ")
    assert [row[5] for row in canvas[2:]] == [POSSIBLE, "0", "0"]


def test_a_bulk_download_zip_grades_with_auto_and_json_output_describes_the_import(tmp_path, roster_file):
    folder = BUILDERS["blackboard"](tmp_path / "download")
    archive = make_zip(tmp_path / "gradebook.zip", {path.name: path.read_bytes() for path in folder.iterdir()})

    result = run_cli("grade", archive, "-a", TOY_ASSIGNMENT, "-o", tmp_path / "graded", "-j", "1",
                     "--roster", roster_file, "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["import"]["layout"] == "blackboard"
    assert data["import"]["submissions"]["jane"]["attempt"] == "2026-01-11 09:00:00"
    assert [student["id"] for student in data["import"]["missing"]] == ["zoe"]
    assert {row["id"]: row["score"] for row in data["submissions"]} == {"jane": 13.0, "john": 3.0}


def test_a_rerun_keeps_lms_submissions_whose_files_did_not_change(tmp_path, roster_file):
    source = BUILDERS["canvas"](tmp_path / "source")
    args = ("grade", source, "-a", TOY_ASSIGNMENT, "-o", tmp_path / "graded", "-j", "1", "--format", "json")
    assert run_cli(*args).exit_code == 0
    (source / "doejohn_102_5002_toy.py").write_text(WRONG + "\n# changed\n")

    again = run_cli(*args)

    assert json.loads(again.stdout)["reused"] == ["smithjane_101"]


def test_a_bad_roster_or_layout_is_an_instructor_error(tmp_path):
    source = BUILDERS["canvas"](tmp_path / "source")
    roster = tmp_path / "roster.csv"
    roster.write_text("name\nJane\n")

    result = run_cli("grade", source, "-a", TOY_ASSIGNMENT, "--roster", roster)

    assert result.exit_code == 1
    assert result.stderr == (f"Error: {roster}, line 1: no column to match submissions by; expected one of id, "
                             "sis_login_id, sis_user_id, email, canvas_id (got 'name')\n")
    assert run_cli("grade", source, "-a", TOY_ASSIGNMENT, "--from", "webct").exit_code == 2
