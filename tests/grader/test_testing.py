"""The helpers assignment tests import: comparisons with actionable messages and partial credit."""
from __future__ import annotations

import numpy as np
import pytest

from grader.session import StudentFailure, StudentTimeout
from grader.testing import Credit, assert_array_close, assert_type, points


def test_matching_arrays_pass_within_the_tolerance():
    assert_array_close(np.array([1.0, 2.0]) + 1e-7, np.array([1.0, 2.0]), rtol=1e-5, atol=1e-6)


def test_a_mismatch_names_count_errors_and_first_positions():
    with pytest.raises(StudentFailure) as failure:
        assert_array_close(np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]), what="h_next")
    message = str(failure.value)
    assert message.startswith("h_next differs from the expected values: 1 of 4 elements off (shape (2, 2); max abs error 1, max rel error 0.25")
    assert "at index (1, 1): expected 4, got 5" in message


def test_relative_error_is_left_out_where_the_expected_value_is_zero():
    with pytest.raises(StudentFailure) as failure:
        assert_array_close(np.array([0.5, 0.0]), np.array([0.0, 0.0]), what="relu output")
    assert "max rel error" not in str(failure.value)
    assert "max abs error 0.5" in str(failure.value)


def test_wrong_shape_and_wrong_type_are_named():
    with pytest.raises(StudentFailure, match=r"^out: expected shape \(3,\), got shape \(1, 3\)$"):
        assert_array_close(np.zeros((1, 3)), np.zeros(3), what="out")
    with pytest.raises(StudentFailure, match=r"^out: expected an array of shape \(3,\), got a list of length 3$"):
        assert_array_close([0.0, 0.0, 0.0], np.zeros(3), what="out")
    with pytest.raises(StudentFailure, match=r"^state: expected tuple, got an array of shape \(2,\) and dtype float64$"):
        assert_type(np.zeros(2), tuple, what="state")


def test_nan_in_the_students_output_is_pointed_out():
    with pytest.raises(StudentFailure, match="contains NaN at 1 positions"):
        assert_array_close(np.array([1.0, np.nan]), np.array([1.0, 2.0]), what="logits")


def test_points_rejects_negative_or_boolean_values():
    with pytest.raises(ValueError):
        points(-1)
    with pytest.raises(ValueError):
        points(True)


def failing(message: str, error_type=StudentFailure):
    def case():
        raise error_type(message)
    return case


def test_run_cases_credits_the_share_that_passed_and_fails_with_the_first_problem():
    credit = Credit()
    with pytest.raises(StudentFailure, match="^second is wrong$"):
        credit.run_cases([lambda: None, failing("second is wrong"), failing("third is wrong"), lambda: None])
    assert credit.value == 0.5
    assert credit.note == "2 of 4 cases correct"


def test_run_cases_stops_after_a_timeout_and_keeps_its_status():
    credit = Credit()
    ran = []
    with pytest.raises(StudentFailure) as failure:
        credit.run_cases([lambda: ran.append(1), failing("too slow", StudentTimeout), lambda: ran.append(3)], noun="batches")
    assert failure.value.status == "timeout"
    assert ran == [1]
    assert credit.value == pytest.approx(1 / 3)
    assert credit.note == "1 of 3 batches correct"


def test_run_cases_with_every_case_passing_gives_full_credit():
    credit = Credit()
    credit.run_cases([lambda: None, lambda: None])
    assert credit.value == 1.0
