"""Tests of the GitHub Actions output: workflow-command escaping, annotation placement, the job summary."""
from __future__ import annotations

from grader.exports.github import (MAX_ERROR_ANNOTATIONS, Annotation, annotations, append_step_summary, escape_data,
                                   escape_property, step_summary, student_location)
from grader import results as result_types

from .conftest import TRACEBACK, make_result


def test_messages_escape_percent_and_newlines_and_properties_also_colon_and_comma():
    assert escape_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert escape_property("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext%3A a%2Cb"
    line = Annotation("error", "got 3,\nwanted 4: 100%", title="LSTM: step, 1", file="src/rnn.py", line=42).command()
    assert line == "::error file=src/rnn.py,line=42,title=LSTM%3A step%2C 1::got 3,%0Awanted 4: 100%25"
    assert Annotation("notice", "plain").command() == "::notice::plain"


def test_the_last_frame_in_a_student_file_is_the_location():
    assert student_location(TRACEBACK, ["rnn.py"]) == ("rnn.py", 42)  # helpers.py (support file) comes last but is not theirs
    assert student_location(TRACEBACK, ["rnn.py", "helpers.py"]) == ("helpers.py", 3)
    assert student_location("assert 3 == 4", ["rnn.py"]) is None


def test_each_failed_test_is_an_error_on_the_students_line_or_without_a_file():
    result = make_result("x", {"test_square": ("partial", 2.0, "2 of 4 cases correct"),
                               "test_broadcast": ("failed", 0.0, TRACEBACK)})
    result.notes = ["rnn.py has a syntax error at line 7: invalid syntax"]
    result.missing_files = ["lm.py"]

    found = annotations(result, ["rnn.py", "lm.py"], path_prefix="hw2/")

    assert [(item.title, item.file, item.line) for item in found] == [
        ("Missing file", None, None),
        ("Syntax error", "hw2/rnn.py", 7),
        ("square four inputs (2/4 points, partial)", None, None),
        ("add broadcasts a row (0/2 points, failed)", "hw2/rnn.py", 42),
    ]
    assert found[3].message == TRACEBACK
    assert found[3].command().startswith(
        "::error file=hw2/rnn.py,line=42,title=add broadcasts a row (0/2 points%2C failed)::your code raised "
        "ValueError: bad shape, 50%25 off: (3, 4)%0A")


def test_past_ten_errors_the_rest_are_folded_into_one():
    result = make_result("x")
    result.tests = [result_types.TestResult(f"t::{index}", f"test {index}", 0.0, 1.0, "failed", message="wrong")
                    for index in range(14)]

    found = annotations(result, ["rnn.py"])

    assert len(found) == MAX_ERROR_ANNOTATIONS
    assert found[-1].title == "5 more failed tests"
    assert found[-1].message.startswith("5 more problems: test 9 (0/1 points, failed), test 10")


def test_step_summary_is_a_table_with_details_and_no_html_from_messages():
    result = make_result("x", {"test_square": ("partial", 2.0, "2 of 4 | cases <b>correct</b>\nsecond line"),
                               "test_broadcast": ("failed", 0.0, "x = ```\n</details><script>alert(1)</script>")})

    text = step_summary(result, "RNN <cells>", "public: 6/10; hidden tests worth 3 points run at grading time")

    assert text.startswith("## Self-check: RNN &lt;cells&gt;\n\n**public: 6/10; hidden tests worth 3 points run at "
                           "grading time**\n")
    assert "| 🟡 | square four inputs | 2/4 | partial | 2 of 4 \\| cases &lt;b&gt;correct&lt;/b&gt; |" in text
    assert "| ✅ | add two arrays | 2/2 | passed |  |" in text
    assert "<script>" not in text.split("````text", 1)[0], "HTML in a message only appears inside a code block"
    assert "````text\nx = ```\n</details><script>alert(1)</script>\n````" in text, "the fence outlasts the backticks"


def test_step_summary_stays_under_its_budget_and_says_it_was_cut(tmp_path):
    result = make_result("x")
    result.tests = [result_types.TestResult(f"t::{index}", f"test {index}", 0.0, 1.0, "failed", message="x" * 3000)
                    for index in range(600)]

    text = step_summary(result, "Big", "public: 0/600", max_bytes=200_000)

    assert len(text.encode()) <= 200_000
    assert text.count("| ❌ | test") == 600, "every row fits; details are dropped first"
    assert text.rstrip().endswith("the job log and the JUnit report hold every test and message._")

    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step output\n" + "y" * 900_000)
    written = append_step_summary(summary, result, "Big", "public: 0/600")
    assert 0 < written and summary.stat().st_size < 1024 * 1024
    assert summary.read_text().startswith("# earlier step output\n")
