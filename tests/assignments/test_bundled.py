"""Every bundled assignment validates, and its example students score as their names say.

``grader validate --mutants`` grades the solution (full marks), the starter (0
with "not implemented" messages) and every mutant of ``mutants.toml`` (each
loses points and is named by a diagnosis); the examples batch checks that the correct
student earns everything, every other student less, and that each gets a
result with a message, and that the example students with a classic mistake
(``examples/diagnoses/<assignment>.toml``) have it named. Both are slow: they start workers that import torch.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.config import read_toml
from grader.resources import assignments_dir
from grader.validate import validate_assignment

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted(path.parent.name for path in assignments_dir().glob("*/assignment.toml"))

pytestmark = pytest.mark.slow


def test_the_four_course_assignments_are_bundled():
    assert set(BUNDLED) >= {"autograd", "rnn", "rnn_lm", "seq2seq"}


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_assignment_validates_and_kills_every_mutant(name, tmp_path):
    """``grader validate --mutants``: the usual checks, and every classic mistake loses points and is named."""
    report = validate_assignment(assignments_dir() / name, jobs=2, out=tmp_path, mutants=True)
    failed = [(check.name, check.detail) for check in report.checks if not check.ok]
    assert failed == []
    assert report.mutants, f"{name} has no mutants.toml"


@pytest.mark.parametrize("name", BUNDLED)
def test_example_students_score_as_their_names_say(name, tmp_path):
    examples = ROOT / "examples" / "submissions" / name
    assert len([entry for entry in examples.iterdir() if not entry.name.startswith(".")]) >= 8
    summary = grade_batch(examples, assignments_dir() / name, tmp_path, jobs=2)
    results = {result.student_id: result for result in summary.results}
    correct = [student for student in results if student.endswith("_correct")]
    assert correct, "every example set has a *_correct student"
    for student, result in results.items():
        assert result.status == "graded", (student, result.message)
        if student in correct:
            assert result.total == result.possible, [(t.name, t.message[:200]) for t in result.tests if t.status != "passed"]
        else:
            assert result.total < result.possible, f"{student} scores full marks: the tests miss its mistake"
            assert all(test.message for test in result.tests if test.status != "passed")
    expected = expected_diagnoses(name)
    assert expected, f"examples/diagnoses/{name}.toml names no example student's classic mistake"
    for student, mistakes in expected.items():
        named = {entry.id for test in results[student].tests if test.diagnosis for entry in test.diagnosis.matched}
        assert set(mistakes) <= named, f"{student}: expected the diagnosis to name {mistakes}, it named {sorted(named)}"


def expected_diagnoses(name: str) -> dict[str, list[str]]:
    """``examples/diagnoses/<assignment>.toml``: the mistakes each example student's feedback must name."""
    path = ROOT / "examples" / "diagnoses" / f"{name}.toml"
    return read_toml(path).get("students", {}) if path.is_file() else {}
