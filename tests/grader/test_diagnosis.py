"""Diagnosis: a failed check is compared with the known mistakes of its oracle, and the match is named.

Unit tests of :mod:`grader.diagnosis` and the result types, then the whole path:
a graded submission whose code makes a catalogue mistake gets that mistake on
its test result, and the points are what they would be without a diagnosis.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from grader import diagnosis
from grader.batch import grade_batch
from grader.diagnosis import compare_with_oracle, diagnose, explain_mismatch
from grader.results import Diagnosis, MatchedMistake, SubmissionResult, TestResult
from grader.testing import StudentFailure, assert_array_close
from reference.mistakes import get
from reference.rnn import rnn_cell

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "assignments" / "diagnosed"


@pytest.fixture
def cell_inputs():
    rng = np.random.default_rng(7)
    return tuple(rng.normal(size=shape) for shape in ((3, 4), (3, 4), (4, 4), (4, 4), (4,), (4,)))


def test_the_variant_that_matches_is_named(cell_inputs):
    got = get("rnn_missing_hidden_bias").evaluate(*cell_inputs)
    found = diagnose(got, rnn_cell, cell_inputs)
    assert [entry.id for entry in found.matched] == ["rnn_missing_hidden_bias"]
    assert "rnn_sigmoid_instead_of_tanh" in found.checked and len(found.checked) >= 5


def test_an_output_no_variant_gives_is_stated_as_unexplained(cell_inputs):
    found = diagnose(rnn_cell(*cell_inputs) * 2.0, rnn_cell, cell_inputs)
    assert found.matched == []
    assert found.text() == f"No known mistake explains this output ({len(found.checked)} classic mistakes checked)."


def test_a_variant_that_cannot_run_on_the_inputs_is_not_counted_as_checked():
    rng = np.random.default_rng(3)
    x, h = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))  # I = 3 != H = 5: transposed W_ih cannot multiply
    weights = (rng.normal(size=(5, 3)), rng.normal(size=(5, 5)), rng.normal(size=5), rng.normal(size=5))
    found = diagnose(rnn_cell(x, h, *weights) + 1.0, rnn_cell, (x, h, *weights))
    assert "rnn_input_weights_transposed" not in found.checked
    assert "rnn_missing_hidden_bias" in found.checked


def test_nothing_is_recorded_when_no_variant_could_run():
    rng = np.random.default_rng(4)
    x, h = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    weights = (rng.normal(size=(5, 3)), rng.normal(size=(5, 5)))
    diagnosis.start_test()
    found = explain_mismatch(rnn_cell(x, h, *weights) + 1.0, rnn_cell, x, h, *weights,
                             mistakes=["rnn_input_weights_transposed"])
    assert found.checked == [] and diagnosis.finish_test() is None


def test_compare_with_oracle_matches_variants_with_the_callers_rule(cell_inputs):
    wrong = get("rnn_sigmoid_instead_of_tanh").evaluate(*cell_inputs)
    diagnosis.start_test()
    with pytest.raises(StudentFailure):
        compare_with_oracle(wrong, rnn_cell, *cell_inputs, same=lambda got, candidate: False)
    assert diagnosis.finish_test().matched == []
    diagnosis.start_test()
    with pytest.raises(StudentFailure):
        compare_with_oracle(wrong, rnn_cell, *cell_inputs, same=lambda got, candidate: np.allclose(got, candidate))
    assert [entry.id for entry in diagnosis.finish_test().matched] == ["rnn_sigmoid_instead_of_tanh"]


def test_an_oracle_without_variants_is_an_instructor_error():
    with pytest.raises(ValueError, match="no mistake in reference/mistakes shadows numpy.add"):
        diagnose(1.0, np.add, (1.0, 2.0))


def test_compare_with_oracle_passes_silently_and_fails_like_assert_array_close(cell_inputs):
    diagnosis.start_test()
    compare_with_oracle(rnn_cell(*cell_inputs), rnn_cell, *cell_inputs, what="h_next")
    assert diagnosis.finish_test() is None  # nothing to explain
    wrong = get("rnn_sigmoid_instead_of_tanh").evaluate(*cell_inputs)
    with pytest.raises(StudentFailure) as plain:
        assert_array_close(wrong, rnn_cell(*cell_inputs), what="h_next")
    diagnosis.start_test()
    with pytest.raises(StudentFailure) as diagnosed:
        compare_with_oracle(wrong, rnn_cell, *cell_inputs, what="h_next")
    assert str(diagnosed.value) == str(plain.value)
    assert [entry.id for entry in diagnosis.finish_test().matched] == ["rnn_sigmoid_instead_of_tanh"]


def test_diagnoses_of_one_test_are_merged_and_outside_a_test_nothing_is_kept(cell_inputs):
    sigmoid = get("rnn_sigmoid_instead_of_tanh").evaluate(*cell_inputs)
    no_bias = get("rnn_missing_hidden_bias").evaluate(*cell_inputs)
    explain_mismatch(sigmoid, rnn_cell, *cell_inputs)  # no test running: not recorded
    diagnosis.start_test()
    for got in (sigmoid, no_bias, sigmoid):
        explain_mismatch(got, rnn_cell, *cell_inputs)
    merged = diagnosis.finish_test()
    assert [entry.id for entry in merged.matched] == ["rnn_sigmoid_instead_of_tanh", "rnn_missing_hidden_bias"]
    assert len(merged.checked) == len(set(merged.checked))
    assert diagnosis.finish_test() is None


def test_a_custom_comparison_decides_what_matches(cell_inputs):
    got = get("rnn_missing_hidden_bias").evaluate(*cell_inputs)
    never = diagnose(got, rnn_cell, cell_inputs, same=lambda student, candidate: False)
    assert never.matched == []


def test_results_keep_the_diagnosis_and_old_results_still_load():
    matched = MatchedMistake("rnn_missing_hidden_bias", "Elman RNN cell ignores the hidden bias bias_hh", "Add b_hh.")
    test = TestResult("t::a", "a", 0.0, 2.0, "failed", message="h_next differs",
                      diagnosis=Diagnosis([matched], ["rnn_missing_hidden_bias", "rnn_weights_swapped"]))
    result = SubmissionResult("alice", "rnn", "1", "graded", tests=[test])
    loaded = SubmissionResult.from_dict(result.to_dict())
    assert loaded.tests[0].diagnosis == test.diagnosis
    assert loaded.tests[0].feedback() == ("h_next differs\nLikely mistake: Elman RNN cell ignores the hidden bias "
                                          "bias_hh. Add b_hh.")
    old = result.to_dict()
    del old["tests"][0]["diagnosis"]
    assert SubmissionResult.from_dict(old).tests[0].diagnosis is None
    assert SubmissionResult.from_dict(old).tests[0].feedback() == "h_next differs"


SIGMOID = "import numpy as np\n\ndef rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):\n    return 1 / (1 + np.exp(-(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)))\n"
DOUBLED = "import numpy as np\n\ndef rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):\n    return 2 * np.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)\n"
ZERO_STATE = "\n\ndef zero_state(batch, hidden):\n    return np.zeros((batch, hidden))\n"


@pytest.mark.slow
def test_a_graded_submission_names_the_mistake_and_keeps_its_points(tmp_path):
    submissions = tmp_path / "submissions"
    for student, source in {"sigmoid": SIGMOID, "doubled": DOUBLED}.items():
        (submissions / student).mkdir(parents=True)
        (submissions / student / "cell.py").write_text(source + ZERO_STATE)
    shutil.copytree(FIXTURE / "solution", submissions / "correct")
    summary = grade_batch(submissions, FIXTURE, tmp_path / "out", jobs=1)
    results = {result.student_id: {test.name: test for test in result.tests} for result in summary.results}
    step = "rnn_cell: one step"
    sigmoid, doubled, correct = results["sigmoid"][step], results["doubled"][step], results["correct"][step]
    assert [entry.id for entry in sigmoid.diagnosis.matched] == ["rnn_sigmoid_instead_of_tanh"]
    assert "Likely mistake: Elman RNN cell squashes with sigmoid where tanh belongs." in sigmoid.feedback()
    assert doubled.diagnosis.matched == [] and "No known mistake explains this output" in doubled.feedback()
    assert correct.diagnosis is None and results["correct"]["zero_state"].diagnosis is None
    assert sigmoid.points == doubled.points == 0.0  # a diagnosis explains; it never changes the points
    saved = SubmissionResult.from_dict(__import__("json").loads((tmp_path / "out" / "sigmoid" / "result.json").read_text()))
    assert saved.tests[0].diagnosis == sigmoid.diagnosis
