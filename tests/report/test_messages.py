"""Test messages as structured data: mismatches from grader.testing, tracebacks, normalised keys."""
from __future__ import annotations

import numpy as np

from grader.report.messages import headline, normalise_message, parse_message
from grader.testing import describe_mismatch

from .conftest import MISMATCH_MESSAGE


def test_a_mismatch_from_describe_mismatch_becomes_its_figures_and_positions():
    expected = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    got = expected.copy()
    got[0, 1], got[1, 0], got[1, 2] = 2.5, np.nan, 6.0001
    message = describe_mismatch(got, expected, rtol=1e-6, atol=1e-9, what="logits")

    [part] = parse_message(message)

    assert part.kind == "mismatch" and part.text == message
    m = part.mismatch
    assert (m.what, m.elements_off, m.elements, m.shape) == ("logits", 3, 6, "(2, 3)")
    # describe_mismatch writes the NaN through: an infinite absolute and a NaN relative error.
    assert (m.max_abs_error, m.max_rel_error, m.rtol, m.atol) == ("inf", "0.25", "1e-06", "1e-09")
    assert m.nan_positions == 1
    assert [(p.index, p.expected, p.got) for p in m.positions] == [
        ("(0, 1)", "2", "2.5"), ("(1, 0)", "4", "nan"), ("(1, 2)", "6", "6.0001")]
    assert m.positions[0].difference == "0.5"
    assert m.positions_not_shown == 0


def test_a_mismatch_without_relative_error_and_with_more_positions_than_shown():
    expected = np.zeros(10)
    message = describe_mismatch(np.ones(10), expected, rtol=1e-5, atol=1e-8, what="grad")

    [part] = parse_message(message)

    assert part.mismatch.max_rel_error is None
    assert len(part.mismatch.positions) == 3 and part.mismatch.positions_not_shown == 7
    assert part.mismatch.positions[0].index == "(0,)"


def test_text_around_a_mismatch_is_kept_in_order_and_no_line_is_lost():
    parts = parse_message(MISMATCH_MESSAGE)

    assert [part.kind for part in parts] == ["text", "mismatch", "text"]
    assert "\n".join(part.text for part in parts) == MISMATCH_MESSAGE
    assert parts[1].mismatch.what == "h_next of LSTMCell (B=4, I=3, H=5)"


def test_a_traceback_is_its_own_part():
    message = ("your code raised ValueError: bad shapes\n  at toy.py, line 3, in add\n"
               "Traceback (your files only):\n  File \"toy.py\", line 3, in add\n    return a @ b\nsee the handout")

    parts = parse_message(message)

    assert [part.kind for part in parts] == ["text", "traceback", "text"]
    assert parts[1].text.startswith("Traceback (your files only):") and parts[1].text.endswith("return a @ b")


def test_an_empty_message_has_no_parts():
    assert parse_message("") == []


def test_normalised_messages_drop_numbers_and_case_counts():
    first = "0 of 2 cases correct\nyour code raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x3 and 5x3)"
    second = "1 of 2 cases correct\nyour code raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x1 and 4x1)"

    assert normalise_message(first) == normalise_message(second) == (
        "your code raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (#x# and #x#)")
    assert normalise_message("max abs error 0.746, rtol=1e-05 at -3.5") == "max abs error #, rtol=# at #"
    assert headline("3 of 4 cases correct") == "3 of 4 cases correct"
    assert len(normalise_message("x" * 500)) == 160
