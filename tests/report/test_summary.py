"""The class summary's data: histogram bins, pass rates, common failures, incidents, slowest."""
from __future__ import annotations

import pytest

from grader.report.summary import build_class_summary, score_histogram, submission_links

from .conftest import AFTER_DUE, make_folder, result


def counts(histogram) -> list[int]:
    return [b.count for b in histogram.bins]


def test_ten_equal_bins_with_full_marks_in_the_last():
    histogram = score_histogram([0, 9.99, 10, 55, 90, 99.9, 100], 100)

    assert [(b.low, b.high) for b in histogram.bins][:2] == [(0, 10), (10, 20)]
    assert counts(histogram) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 3]
    assert [b.label for b in histogram.bins][-1] == "90–100"
    assert histogram.edges == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert (histogram.max_count, histogram.total) == (3, 7)


def test_one_bin_per_point_for_small_whole_totals():
    histogram = score_histogram([0, 3, 3.5, 12.9, 13], 13)

    assert len(histogram.bins) == 13
    assert counts(histogram)[0] == 1 and counts(histogram)[3] == 2 and counts(histogram)[12] == 2
    assert histogram.bins[3].label == "3"


def test_fractional_totals_get_ten_bins_and_out_of_range_scores_land_at_the_ends():
    histogram = score_histogram([-1, 7.5, 8, float("nan")], 7.5)

    assert len(histogram.bins) == 10
    assert counts(histogram)[0] == 2 and counts(histogram)[-1] == 2
    assert histogram.bins[0].label == "0–0.75"


def test_edge_cases_of_the_histogram():
    assert counts(score_histogram([], 10)) == [0] * 10
    assert score_histogram([], 10).max_count == 0
    assert counts(score_histogram([0, 0], 0)) == [2]
    assert counts(score_histogram([1, 2], 4, bins=2)) == [1, 1]
    with pytest.raises(ValueError):
        score_histogram([1], 4, bins=0)


def test_the_summary_counts_pass_rates_per_test(graded):
    summary = build_class_summary(graded, now=AFTER_DUE)

    add, lstm, hidden, late = summary.tests
    assert (add.attempted, add.passed, add.failed, add.pass_rate) == (3, 2, 1, pytest.approx(200 / 3))
    assert (lstm.passed, lstm.failed, lstm.mean_points) == (1, 2, pytest.approx(8 / 3))
    assert (hidden.visibility, hidden.passed) == ("hidden", 1)
    assert (late.passed, late.failed) == (2, 1)
    assert [row.student_id for row in summary.submissions] == ["alice", "bob", "carol"]
    assert (summary.possible, summary.scores) == (15.0, [3.0, 15.0, 0.0])
    assert summary.mean == pytest.approx(6.0) and summary.median == 3.0
    assert (summary.due, summary.backend, summary.graded_at) == (
        "2026-12-01T23:59:00+00:00", "bwrap", "2026-11-19T10:00:00+00:00")


def test_common_failures_group_messages_that_differ_only_in_numbers(tmp_path):
    first, second, third = result("a"), result("b"), result("c", lstm="passed")
    second.tests[1].message = second.tests[1].message.replace("20 of 20", "19 of 20").replace("0.746", "0.5")
    folder = make_folder(tmp_path / "g", [first, second, third])

    failures = build_class_summary(folder).common_failures

    # Ranked by how many submissions share a failure: the hidden test failed for all three.
    assert failures[0].key == "HIDDEN-ORACLE-SAYS: expected # for the secret sequence [#, #, #]"
    assert failures[0].students == ["a", "b", "c"]
    mismatch = failures[1]
    assert mismatch.key.startswith("h_next of LSTMCell (B=#, I=#, H=#) differs from the expected values: # of # elements")
    assert (mismatch.occurrences, mismatch.students, mismatch.tests) == (2, ["a", "b"], ["LSTMCell: one step"])


def test_incidents_list_broken_submissions_timeouts_and_test_errors(tmp_path):
    slow = result("slow", duration=9.0)
    slow.tests[0].status, slow.tests[0].message = "timeout", "0 of 2 cases correct\nyour code did not finish within 3 s"
    slow.tests[1].status, slow.tests[1].message = "error", "the test itself failed: KeyError 'x'"
    folder = make_folder(tmp_path / "g", [slow, result("broken", status="broken", message="not a zip file")])

    summary = build_class_summary(folder)

    assert [(i.student_id, i.kind, i.test, i.message) for i in summary.incidents] == [
        ("broken", "broken", "", "not a zip file"),
        ("slow", "timeout", "add two arrays", "your code did not finish within 3 s"),
        ("slow", "error", "LSTMCell: one step", "the test itself failed: KeyError 'x'")]
    assert [row.student_id for row in summary.slowest] == ["slow", "broken"]


def test_unreadable_results_are_listed_relative_to_the_folder(tmp_path):
    folder_path = tmp_path / "g"
    make_folder(folder_path, [result("ok")])
    (folder_path / "torn").mkdir()
    (folder_path / "torn" / "result.json").write_text("{not json")
    from grader.manifest import load_graded_folder

    summary = build_class_summary(load_graded_folder(folder_path))

    assert summary.unreadable == ["torn/result.json"]
    assert [row.student_id for row in summary.submissions] == ["ok"]


def test_links_to_submission_pages_are_relative_and_quoted():
    assert submission_links("alice") == ("./alice/report.html", "./alice/feedback.html")
    report, _ = submission_links("javascript:alert(1) <b>")
    assert report == "./javascript%3Aalert%281%29%20%3Cb%3E/report.html"
