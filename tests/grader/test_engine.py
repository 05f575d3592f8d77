"""End-to-end tests of the engine on the toy assignment: every submission ends in a result.

The whole fixture folder is graded once (two jobs) and each test reads the
result it is about.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.results import SubmissionResult, load_result
from grader.sandbox.probe import choose_backend

from .conftest import CORRECT_TOY, LEGACY_ASSIGNMENT, TOY_ASSIGNMENT, TOY_SUBMISSIONS, make_submissions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, SubmissionResult]:
    out = tmp_path_factory.mktemp("graded")
    summary = grade_batch(TOY_SUBMISSIONS, TOY_ASSIGNMENT, out, jobs=2)
    return {result.student_id: result for result in summary.results}


def by_name(result: SubmissionResult) -> dict:
    return {test.name: test for test in result.tests}


def test_every_submission_gets_a_result(graded):
    assert sorted(graded) == ["correct", "crashing", "looping", "missing", "syntax", "wrong", "wrongtype"]
    assert all(result.possible == 13 for result in graded.values())


def test_correct_submission_earns_full_marks(graded):
    result = graded["correct"]
    assert result.total == 13
    assert all(test.status == "passed" for test in result.tests)
    assert result.sandbox["backend"] == choose_backend("auto")
    limits = result.sandbox["limits"]
    assert limits["backend"] == result.sandbox["backend"] and limits["warm"] is True
    assert limits["memory_bytes"] == 1024 * 1024 * 1024 and limits["cpu_seconds"] == 35


def test_wrong_submission_gets_array_mismatch_details(graded):
    tests = by_name(graded["wrong"])
    assert tests["add two arrays"].status == "failed"
    message = tests["add two arrays"].message
    assert "add(a, b) differs from the expected values: 12 of 12 elements off" in message
    assert "max abs error" in message and "at index (0, 0): expected" in message
    assert tests["scale an array"].status == "passed"
    assert "after two increments the counter reads 1, expected 2" == tests["counter object keeps state"].message


def test_student_exception_traceback_is_trimmed_to_student_lines(graded):
    message = by_name(graded["crashing"])["add two arrays"].message
    assert message.startswith("your code raised ValueError: student bug: shapes do not line up")
    assert 'File "toy.py", line 6, in add' in message
    assert 'File "toy.py", line 2, in _check' in message
    assert "grader" not in message and "site-packages" not in message and "importlib" not in message


def test_not_implemented_is_reported_as_such(graded):
    assert by_name(graded["crashing"])["scale an array"].message.startswith("not implemented yet: scale")


def test_infinite_loop_times_out_and_later_tests_still_run(graded):
    tests = by_name(graded["looping"])
    assert tests["add two arrays"].status == "timeout"
    assert "did not finish within 3 s" in tests["add two arrays"].message
    assert tests["scale an array"].status == "passed"  # a fresh worker after the kill
    assert graded["looping"].total == 9
    assert "timeout" in graded["looping"].sandbox["worker_restarts"]


def test_syntax_error_is_named_with_file_and_line(graded):
    result = graded["syntax"]
    assert result.total == 0
    assert "toy.py has a syntax error at line 1: expected ':'" in result.message
    assert "SyntaxError" in result.tests[0].message and 'File "toy.py", line 1' in result.tests[0].message


def test_missing_student_file_fails_every_test_with_a_clear_message(graded):
    result = graded["missing"]
    assert result.missing_files == ["toy.py"]
    assert result.total == 0
    assert all("your submission is missing toy.py" in test.message for test in result.tests)


def test_wrong_type_and_wrong_shape_are_explained(graded):
    tests = by_name(graded["wrongtype"])
    assert tests["add two arrays"].message == "add(a, b): expected an array of shape (3, 4), got a list of length 3"
    assert tests["scale an array"].message == "scale(x, 3): expected shape (5,), got shape (1, 5)"


def test_partial_credit_awards_a_fraction(tmp_path):
    # Public tests draw the same inputs for everyone: two of the four cases start below -1.
    half_right = CORRECT_TOY.replace("return x * x", "return x * x if x[0] > -1 else -x")
    submissions = make_submissions(tmp_path / "subs", {"half": half_right})
    result = grade_batch(submissions, TOY_ASSIGNMENT, tmp_path / "out", jobs=1).results[0]
    square = by_name(result)["square four inputs (partial credit)"]
    assert 0 < square.points < 4
    assert square.status == "partial"
    assert square.points == pytest.approx(4 * int(square.message.split()[0]) / 4)


def test_results_and_grades_csv_are_written(graded, tmp_path):
    summary = grade_batch(TOY_SUBMISSIONS, TOY_ASSIGNMENT, tmp_path, jobs=1, only=("correct", "wrong"))
    rows = (tmp_path / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("id,score,max,status,tests/test_public.py::test_add,")
    assert rows[1].startswith("correct,13,13,graded,2,1,1,4,1,1,2,1")
    stored = json.loads((tmp_path / "wrong" / "result.json").read_text())
    assert stored["total"] == summary.results[1].total and stored["possible"] == 13


def _spy(label: str) -> str:
    return CORRECT_TOY.replace("def echo(x):\n    return x", f"def echo(x):\n    print('{label}', list(x))\n    return x")


def test_regrade_gives_identical_scores_and_inputs(tmp_path):
    submissions = make_submissions(tmp_path / "subs", {"wrong": None, "spy": _spy("SEEN")})
    first = grade_batch(submissions, TOY_ASSIGNMENT, tmp_path / "a", jobs=2)
    second = grade_batch(submissions, TOY_ASSIGNMENT, tmp_path / "b", jobs=2)
    for one, two in zip(first.results, second.results):
        assert [(t.id, t.points, t.message) for t in one.tests] == [(t.id, t.points, t.message) for t in two.tests]
    assert first.results[0].output.stdout == second.results[0].output.stdout
    assert "SEEN" in first.results[0].output.stdout


def test_two_students_get_different_inputs_in_hidden_tests_and_the_same_in_public_ones(tmp_path):
    """Public tests draw the same inputs for everyone, so ``grader check`` gives the points grading gives."""
    spy = _spy("ECHO").replace("def add(a, b):\n", "def add(a, b):\n    print('ADD', np.shape(b), list(np.ravel(a)[:2]))\n")
    submissions = make_submissions(tmp_path / "subs", {"ann": spy, "ben": spy})
    results = grade_batch(submissions, TOY_ASSIGNMENT, tmp_path / "out", jobs=2).results
    seen = [result.output.stdout.splitlines() for result in results]
    public = [[line for line in lines if line.startswith(("ECHO", "ADD (3, 4)"))] for lines in seen]
    hidden = [[line for line in lines if line.startswith("ADD (4,)")] for lines in seen]
    assert len(public[0]) == 2 and public[0] == public[1]
    assert len(hidden[0]) == 1 and hidden[0] != hidden[1]
    assert all(result.total == 13 for result in results)


def test_rerun_reuses_unchanged_results_and_regrades_changed_ones(tmp_path):
    submissions = make_submissions(tmp_path / "subs", {"correct": None, "wrong": None})
    out = tmp_path / "out"
    grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=2)
    again = grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=2)
    assert sorted(again.reused) == ["correct", "wrong"]
    (submissions / "wrong" / "toy.py").write_text(CORRECT_TOY)
    third = grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=2)
    assert third.reused == ["correct"]
    assert {r.student_id: r.total for r in third.results} == {"correct": 13, "wrong": 13}
    forced = grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=2, regrade=True)
    assert forced.reused == []


def test_rerun_reuses_zips_and_folders_whose_files_sit_in_a_sub_folder(tmp_path):
    """The rerun hashes the workspace the grading built (sub-folder root, files outside it left out); broken ones are regraded."""
    submissions = tmp_path / "subs"
    (submissions / "bob" / "hw1").mkdir(parents=True)
    (submissions / "bob" / "hw1" / "toy.py").write_text(CORRECT_TOY)
    (submissions / "bob" / "notes.txt").write_text("outside the root")
    with zipfile.ZipFile(submissions / "alice.zip", "w") as archive:
        archive.writestr("hw1/toy.py", CORRECT_TOY)
        archive.writestr("README.md", "outside the root")
    (submissions / "carol.zip").write_bytes(b"not a zip at all")
    out = tmp_path / "out"
    first = grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=1)
    assert {r.student_id: r.total for r in first.results} == {"alice": 13, "bob": 13, "carol": 0}
    again = grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=1)
    assert sorted(again.reused) == ["alice", "bob"]  # a broken submission is graded (and recorded) again
    (submissions / "bob" / "notes.txt").write_text("still outside the root: not graded, not hashed")
    (submissions / "carol.zip").unlink()
    with zipfile.ZipFile(submissions / "carol.zip", "w") as archive:
        archive.writestr("toy.py", CORRECT_TOY)
    third = grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=1)
    assert sorted(third.reused) == ["alice", "bob"]
    assert {r.student_id: r.total for r in third.results}["carol"] == 13


def test_interrupted_batch_loses_only_submissions_in_flight_and_resumes(tmp_path):
    slow = CORRECT_TOY.replace("def scale(x, factor):\n", "def scale(x, factor):\n    import time; time.sleep(0.5)\n")
    submissions = make_submissions(tmp_path / "subs", {f"s{i:02d}": slow for i in range(8)})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader.cli", "grade", str(submissions), "-a", str(TOY_ASSIGNMENT), "-o", str(out), "-j", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*/result.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(path.parent.name for path in out.glob("*/result.json"))
    assert 2 <= len(finished) < 8
    assert all(load_result(out / name / "result.json").total == 13 for name in finished)  # complete, never half-written
    resumed = grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=2)
    assert set(finished) <= set(resumed.reused)
    assert len(resumed.results) == 8 and all(result.total == 13 for result in resumed.results)


def test_legacy_mode_runs_the_file_in_the_sandbox_and_marks_results(tmp_path):
    legacy_toy = CORRECT_TOY.replace("from helpers import double\n", "double = lambda x: 2 * x\n")
    broken_counter = legacy_toy.replace("self.value += 1", "self.value += 2")
    submissions = make_submissions(tmp_path / "subs", {"good": legacy_toy, "bad": broken_counter, "missing": None})
    results = {r.student_id: r for r in grade_batch(submissions, LEGACY_ASSIGNMENT, tmp_path / "out", jobs=2).results}
    good = results["good"]
    assert good.total == 5 and good.possible == 5
    assert all(test.computed_in == "sandbox" for test in good.tests)
    assert "verdicts computed inside the sandbox" in good.message
    bad = {test.name: test for test in results["bad"].tests}
    assert bad["counts"].status == "failed" and "assert 2 == 1" in bad["counts"].message
    assert results["bad"].total == 4
    assert results["missing"].total == 0
    assert "could not be loaded" in results["missing"].tests[0].message


def test_legacy_forged_summary_and_exit_code_earn_nothing(tmp_path):
    forger = (
        "import os, sys\n"
        "print('3 passed in 0.01s')\n"
        "sys.stdout.flush()\n"
        "os._exit(0)\n"
    )
    submissions = make_submissions(tmp_path / "subs", {"forger": forger})
    result = grade_batch(submissions, LEGACY_ASSIGNMENT, tmp_path / "out", jobs=1).results[0]
    assert result.total == 0
    assert "3 passed" in result.output.stdout
    assert all(test.status == "failed" for test in result.tests)
