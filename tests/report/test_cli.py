"""``grader report DIR``: rebuild the reports from saved results; and the reports ``grader grade`` writes."""
from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader.cli import main
from grader.report import rebuild


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def run_cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader")


@pytest.fixture
def no_exports(monkeypatch):
    monkeypatch.setattr(rebuild, "find_write_exports", lambda: None)


def test_report_rebuilds_every_page_from_saved_results(graded, no_exports):
    result_files = {path: path.read_bytes() for path in graded.path.glob("*/result.json")}

    outcome = run_cli("report", graded.path)

    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout == (
        f"class summary: {graded.path / 'index.html'}\n"
        f"3 submission(s): <id>/report.html (instructor) and <id>/feedback.html (student) in {graded.path}\n")
    for student_id in ("alice", "bob", "carol"):
        assert (graded.path / student_id / "report.html").is_file()
        assert (graded.path / student_id / "feedback.html").is_file()
    assert {path: path.read_bytes() for path in result_files} == result_files, "results are only read"


def test_report_json_lists_what_it_wrote(graded, no_exports):
    (graded.path / "dave").mkdir()
    (graded.path / "dave" / "result.json").write_text("{", encoding="utf-8")

    outcome = run_cli("report", graded.path, "--format", "json")

    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["index"] == str(graded.path / "index.html")
    assert [s["id"] for s in data["submissions"]] == ["alice", "bob", "carol"]
    assert data["submissions"][0]["feedback"] == str(graded.path / "alice" / "feedback.html")
    assert data["unreadable"] == [str(graded.path / "dave" / "result.json")]
    assert (data["skipped"], data["exports"], data["assignment"]) == ([], [], "toy")


def test_report_warns_about_unreadable_results_on_stderr(graded, no_exports):
    (graded.path / "dave").mkdir()
    (graded.path / "dave" / "result.json").write_text("{", encoding="utf-8")

    outcome = run_cli("report", graded.path)

    assert outcome.exit_code == 0
    assert outcome.stderr == f"unreadable, left out: {graded.path / 'dave' / 'result.json'} (grade this submission again)\n"


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()])
def test_report_on_a_folder_that_is_not_graded_exits_1_with_a_clear_message(tmp_path, make):
    target = tmp_path / "nothing-here"
    make(target)

    outcome = run_cli("report", target)

    assert outcome.exit_code == 1
    assert outcome.stdout == ""
    assert outcome.stderr == (f"Error: {target} is not a graded folder: it has no batch.json "
                              f"(run grader grade --out {target} first)\n")
    assert "Traceback" not in outcome.output


def test_report_calls_write_exports_when_the_exports_package_offers_it(graded, monkeypatch):
    calls = []

    def write_exports(folder, out_dir):
        calls.append((folder.manifest.assignment, [r.student_id for r in folder.results], out_dir))
        return [out_dir / "canvas.csv", out_dir / "junit.xml", out_dir / "alice" / "gradescope.json",
                out_dir / "bob" / "gradescope.json"]

    fake = types.ModuleType("grader.exports")
    fake.__spec__ = importlib.machinery.ModuleSpec("grader.exports", None)
    fake.write_exports = write_exports
    monkeypatch.setitem(sys.modules, "grader.exports", fake)

    outcome = run_cli("report", graded.path)

    assert outcome.exit_code == 0, outcome.output
    assert calls == [("toy", ["alice", "bob", "carol"], graded.path)]
    assert outcome.stdout.endswith(
        f"export: {graded.path / 'canvas.csv'}\nexport: {graded.path / 'junit.xml'}\n"
        f"export: {graded.path}/<id>/gradescope.json (2 submission(s))\n")


def test_an_exports_package_without_write_exports_is_ignored(graded, monkeypatch):
    fake = types.ModuleType("grader.exports")
    fake.__spec__ = importlib.machinery.ModuleSpec("grader.exports", None)
    monkeypatch.setitem(sys.modules, "grader.exports", fake)

    assert rebuild.find_write_exports() is None
    assert rebuild.rebuild_outputs(graded.path).exports == []


def test_whatever_write_exports_returns_is_listed_as_paths():
    assert rebuild._paths(None) == []
    assert rebuild._paths(Path("a.csv")) == ["a.csv"]
    assert rebuild._paths(["a", Path("b")]) == ["a", "b"]
    assert rebuild._paths({"x": Path("c")}) == ["c"]


def test_report_help_ends_with_an_example():
    outcome = run_cli("report", "--help")

    assert outcome.exit_code == 0
    example = outcome.stdout.split("Example:\n", 1)[1].split("\n")[0]
    assert example.strip() == "grader report graded/rnn"


@pytest.mark.slow
def test_grade_writes_the_reports_and_says_where_the_index_is(tmp_path):
    out = tmp_path / "out"

    table = run_cli("grade", FIXTURES / "submissions" / "toy", "-a", FIXTURES / "assignments" / "toy", "-o", out,
                    "--only", "correct", "--only", "wrong", "-j", "2")

    assert table.exit_code == 0, table.output
    assert f"reports: {out / 'index.html'} (class summary)" in table.stdout
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "./correct/report.html" in index and "./wrong/feedback.html" in index
    feedback = (out / "wrong" / "feedback.html").read_text(encoding="utf-8")
    assert "add broadcasts a row" in feedback and "hidden test: only its result is shown" in feedback
    assert "after the due date</h3>" not in feedback, "the toy assignment has no due date"

    as_json = run_cli("grade", FIXTURES / "submissions" / "toy", "-a", FIXTURES / "assignments" / "toy", "-o", out,
                      "--only", "correct", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["reports"] == str(out / "index.html")
