"""Tests of Gradescope's results.json export, validated against the autograder specification's schema."""
from __future__ import annotations

import json

import pytest

from grader.exports.gradescope import results_json, write_gradescope_files

from .conftest import standard_results
from .gradescope_schema import RESULTS, SchemaError, hand_validate, validate


def by_id():
    return {result.student_id: result for result in standard_results()}


@pytest.mark.parametrize("student_id", ["alice", "bob", "carol", "dave", "erin"])
def test_every_kind_of_result_follows_the_schema(student_id):
    validate(results_json(by_id()[student_id], "Toy"))


def test_scores_statuses_numbers_and_visibility_map_from_ours():
    data = results_json(by_id()["alice"], "Toy")

    assert data["score"] == 6.0 and data["execution_time"] == 2
    assert [(test["name"], test["score"], test["max_score"], test["status"], test["number"]) for test in data["tests"]] == [
        ("add two arrays", 2.0, 2.0, "passed", "1"), ("square four inputs", 2.0, 4.0, "failed", "2"),
        ("finishes in time", 1.0, 1.0, "passed", "3"), ("add broadcasts a row", 0.0, 2.0, "failed", "4"),
        ("after the due date", 1.0, 1.0, "passed", "5")]
    assert [test["visibility"] for test in data["tests"]] == ["visible", "visible", "visible", "hidden", "after_due_date"]
    assert data["tests"][1]["tags"] == ["partial"] and data["tests"][0]["tags"] == []
    assert data["tests"][1]["output"] == "2 of 4 cases correct"
    assert data["output"] == "Toy: 6/10 points (3 of 5 tests passed)."
    assert (data["visibility"], data["stdout_visibility"], data["leaderboard"]) == ("visible", "hidden", [])


def test_hidden_tests_may_show_after_publishing_instead():
    data = results_json(by_id()["alice"], hidden_visibility="after_published")

    assert [test["visibility"] for test in data["tests"]][3:] == ["after_published", "after_due_date"]
    with pytest.raises(ValueError, match="hidden_visibility must be one of hidden, after_published"):
        results_json(by_id()["alice"], hidden_visibility="visible")


def test_grader_failure_shows_students_no_traceback_but_keeps_it_for_staff():
    data = results_json(by_id()["erin"])

    assert "Traceback" not in data["output"] and "disk full" not in data["output"]
    assert "The grader failed on this submission, not because of your code" in data["output"]
    assert "disk full" in data["extra_data"]["message"] and data["extra_data"]["status"] == "grader_failure"


def test_broken_submission_says_why():
    data = results_json(by_id()["dave"])

    assert data["score"] == 0.0
    assert "Your submission could not be graded as handed in: bad zip: not a zip file" in data["output"]


def test_timeout_and_test_error_are_failed_with_a_tag():
    tests = {test["name"]: test for test in results_json(by_id()["carol"])["tests"]}

    assert (tests["finishes in time"]["status"], tests["finishes in time"]["tags"]) == ("failed", ["timeout"])
    assert (tests["after the due date"]["status"], tests["after the due date"]["tags"]) == ("failed", ["error"])


def test_one_file_per_readable_submission(graded, tmp_path):
    written = write_gradescope_files(graded, tmp_path / "out")

    assert sorted(path.relative_to(tmp_path / "out").as_posix() for path in written) == [
        f"{name}/gradescope.json" for name in ("alice", "bob", "carol", "dave", "erin")]
    for path in written:
        validate(json.loads(path.read_text()))
    assert json.loads((tmp_path / "out" / "bob" / "gradescope.json").read_text())["output"].startswith(
        'Toy, "quoted" & <tagged>: 10/10 points')


@pytest.mark.parametrize("broken, problem", [
    (lambda data: data.pop("leaderboard"), "$: missing 'leaderboard'"),
    (lambda data: data["tests"][0].update(status="partial"), "$.tests[0].status: 'partial' is not one of"),
    (lambda data: data["tests"][0].update(visibility="public"), "$.tests[0].visibility: 'public' is not one of"),
    (lambda data: data.update(execution_time=1.5), "$.execution_time: expected integer"),
    (lambda data: data["tests"][0].update(number=1), "$.tests[0].number: expected string"),
    (lambda data: data.update(surprise=True), "$: unexpected 'surprise'"),
])
def test_the_schema_check_catches_what_gradescope_would_refuse(broken, problem):
    """The validator used above is not vacuous: with jsonschema and by hand, each broken document fails."""
    data = results_json(by_id()["alice"])
    broken(data)

    with pytest.raises(SchemaError):
        validate(data)
    found = list(hand_validate(data, RESULTS))
    assert len(found) == 1 and found[0].startswith(problem), found
