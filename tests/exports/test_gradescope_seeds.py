"""Gradescope and its export seed a submission alike: the same hidden inputs and the same score both ways.

The same two submissions are graded twice: by ``run_autograder`` on a fake
``/autograder`` tree (Gradescope's ``submission_metadata.json``), and by
``grade_batch(..., source_format="gradescope")`` on a fake export
(``submission_metadata.yml``, the importers' fixture: Jane and Zoe as a group,
John alone). The JSON lists the group's members in the other order, and one
e-mail in other case. A hidden test added to the toy assignment reports the
seed it drew from and earns points that depend on its draw, so other inputs
would show in the score too.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from grader.batch import grade_batch
from grader.config import load_assignment
from grader.exports.autograder_zip import build_autograder_zip
from grader.results import SubmissionResult
from grader.seeding import derive_seed

from ..grader.test_validate import SEED_SALT, make_toy_assignment
from ..importers.conftest import CORRECT, WRONG, build_gradescope
from .test_autograder_zip import fake_autograder, run_autograder

SEED_TEST = '''

@points(3, name="draws from its seed")
def test_draws_from_its_seed(seed, rng, credit):
    draw = int(rng.integers(0, 4))
    credit.fraction(draw, 3, note=f"seed {seed}, draw {draw}")
'''
SEED_TEST_ID = "tests/test_hidden.py::test_draws_from_its_seed"
JANE = {"email": "jane@uni.example", "id": 11, "name": "Jane Smith", "sid": "S1"}
ZOE = {"email": "zoe@uni.example", "id": 13, "name": "Zoe Zed", "sid": "S3"}
JOHN = {"email": "john@uni.example", "id": 12, "name": "John Doe", "sid": "S2"}
# Per export folder: the code handed in, the autograder's metadata, and who seeds it.
SUBMISSIONS = {
    "S1": (CORRECT, {"id": 900, "users": [ZOE, {**JANE, "email": " Jane@Uni.Example"}]}, "jane@uni.example"),
    "S2": (WRONG, {"id": 901, "users": [JOHN]}, "john@uni.example"),
}


@pytest.fixture
def toy(tmp_path) -> Path:
    """The toy assignment, with a hidden test whose message and points say what it drew."""
    root = make_toy_assignment(tmp_path / "toy")
    hidden = root / "tests" / "test_hidden.py"
    hidden.write_text(hidden.read_text() + SEED_TEST)
    return root


def seed_said(result_tests: list[tuple[str, float, str]]) -> tuple[int, int]:
    """``(seed, draw)`` that the seed test reported."""
    (message,) = [output for name, _, output in result_tests if name == "draws from its seed"]
    found = re.fullmatch(r"seed (\d+), draw (\d)", message)
    assert found, message
    return int(found[1]), int(found[2])


def draw_of(seed: int) -> int:
    return int(np.random.default_rng(seed).integers(0, 4))


def gradescope_run(toy: Path, tmp_path: Path, student: str, code: str, metadata: dict) -> dict:
    """``results.json`` of Gradescope's run of the autograder zip on one submission."""
    zip_path = tmp_path / "autograder.zip"
    if not zip_path.exists():
        build_autograder_zip(toy, zip_path)
    root = fake_autograder(zip_path, tmp_path / f"autograder-{student}", {"toy.py": code}, metadata)
    run = run_autograder(root)
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text())


def outcomes_of(result: SubmissionResult) -> list[tuple[str, float, str]]:
    return [(test.name, test.points, test.feedback()) for test in result.tests]


@pytest.mark.slow
def test_gradescope_and_its_export_draw_the_same_inputs_and_give_the_same_score(toy, tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_SEED_SECRET", raising=False)  # run_autograder runs without it too
    export = build_gradescope(tmp_path / "export")
    regraded = {result.student_id: result for result in
                grade_batch(export, toy, tmp_path / "graded", jobs=1, source_format="gradescope").results}
    assert sorted(regraded) == sorted(SUBMISSIONS)
    name = load_assignment(toy).name

    for student, (code, metadata, seeded_by) in SUBMISSIONS.items():
        on_gradescope = gradescope_run(toy, tmp_path, student, code, metadata)
        again = regraded[student]
        gradescope_tests = [(test["name"], test["score"], test["output"]) for test in on_gradescope["tests"]]

        expected = derive_seed(name, SEED_TEST_ID, seeded_by, SEED_SALT)
        assert seed_said(gradescope_tests) == seed_said(outcomes_of(again)) == (expected, draw_of(expected)), student
        by_sid = derive_seed(name, SEED_TEST_ID, student, SEED_SALT)  # the export's seed before the seed identity
        assert draw_of(by_sid) != draw_of(expected), "this test sees the old mismatch in the score"
        assert again.submitted["seed_id"] == seeded_by
        assert gradescope_tests == outcomes_of(again), f"{student}: every test, hidden inputs included"
        assert on_gradescope["score"] == again.total, student
    assert regraded["S1"].total > regraded["S2"].total, "the wrong code lost points"


@pytest.mark.slow
def test_a_result_seeded_by_another_identity_is_graded_again(toy, tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_SEED_SECRET", raising=False)
    export = build_gradescope(tmp_path / "export")
    out = tmp_path / "graded"
    grade_batch(export, toy, out, jobs=1, source_format="gradescope", only=("S2",))
    assert grade_batch(export, toy, out, jobs=1, source_format="gradescope", only=("S2",)).reused == ["S2"]

    stored = out / "S2" / "result.json"
    data = json.loads(stored.read_text())
    del data["submitted"]["seed_id"]  # as graded before the seed identity: seeded by the sid
    stored.write_text(json.dumps(data))

    rerun = grade_batch(export, toy, out, jobs=1, source_format="gradescope", only=("S2",))
    assert rerun.reused == [] and rerun.results[0].submitted["seed_id"] == "john@uni.example"
