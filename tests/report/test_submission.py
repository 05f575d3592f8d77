"""A submission's report data: what the instructor sees, and what visibility lets a student see."""
from __future__ import annotations

import datetime as dt

import pytest

from grader.report.model import INSTRUCTOR, STUDENT
from grader.report.submission import build_submission_report, format_bytes, parse_due, sandbox_info
from grader.results import Output

from .conftest import AFTER_DUE, BEFORE_DUE, DUE, HIDDEN_MESSAGE, LATE_MESSAGE, PLAN, manifest, result


def names(report) -> list[str]:
    return [test.name for test in report.tests]


def test_the_instructor_sees_every_test_with_its_id_message_and_duration():
    report = build_submission_report(result(late=0.0), manifest(), INSTRUCTOR, now=BEFORE_DUE)

    assert names(report) == [test.name for test in PLAN]
    hidden = report.tests[2]
    assert (hidden.id, hidden.message, hidden.duration, hidden.details_withheld) == (
        PLAN[2].id, HIDDEN_MESSAGE, 0.5, False)
    assert report.tests[3].message == LATE_MESSAGE
    assert (report.score, report.possible) == (2.0, 15.0)
    assert report.message == "1 of 4 tests passed"
    assert report.outputs and not report.output_withheld and report.withheld is None
    assert (report.started_at, report.duration, report.content_hash) == ("2026-11-19T10:00:05+00:00", 1.5, "c0ffee")


def test_a_student_sees_a_hidden_test_only_as_name_points_and_pass_or_fail():
    report = build_submission_report(result(hidden=0.0), manifest(), STUDENT, now=AFTER_DUE)

    hidden = report.tests[2]
    assert (hidden.name, hidden.points, hidden.max_points, hidden.status) == ("long sequences", 0.0, 4.0, "failed")
    assert hidden.details_withheld
    assert (hidden.message, hidden.parts, hidden.id, hidden.duration) == ("", [], "", None)
    assert all(test.id == "" and test.duration is None for test in report.tests)


@pytest.mark.parametrize(("status", "points", "shown"), [
    ("passed", 4.0, "passed"), ("partial", 2.0, "partial"), ("timeout", 0.0, "failed"), ("error", 0.0, "failed")])
def test_a_hidden_test_status_is_reduced_to_passed_partial_or_failed(status, points, shown):
    graded = result()
    graded.tests[2].status, graded.tests[2].points = status, points

    report = build_submission_report(graded, manifest(), STUDENT, now=AFTER_DUE)

    assert report.tests[2].status == shown


def test_before_the_due_date_a_student_does_not_see_after_due_date_tests():
    report = build_submission_report(result(late=0.0), manifest(), STUDENT, now=BEFORE_DUE)

    assert "after the due date" not in names(report)
    assert report.withheld is not None and (report.withheld.tests, report.withheld.points) == (1, 1.0)
    assert report.withheld.due == DUE
    # The score a student sees counts only the tests shown.
    assert (report.score, report.possible) == (2.0, 14.0)
    # "1 of 4 tests passed" would count the withheld test.
    assert report.message == ""


def test_from_the_due_date_on_a_student_sees_after_due_date_tests_in_full():
    due = parse_due(DUE)
    for now in (due, AFTER_DUE):
        report = build_submission_report(result(late=0.0), manifest(), STUDENT, now=now)

        late = report.tests[3]
        assert (late.name, late.message, late.details_withheld) == ("after the due date", LATE_MESSAGE, False)
        assert report.withheld is None
    just_before = build_submission_report(result(), manifest(), STUDENT, now=due - dt.timedelta(seconds=1))
    assert "after the due date" not in names(just_before)


def test_without_a_due_date_after_due_date_tests_stay_withheld():
    report = build_submission_report(result(), manifest(due=None), STUDENT, now=AFTER_DUE)

    assert "after the due date" not in names(report)
    assert report.withheld.due is None


def test_a_student_sees_no_output_when_hidden_tests_ran_beside_it():
    graded = result(stdout="printed during a hidden test: [3, 1, 4]")

    student = build_submission_report(graded, manifest(), STUDENT, now=AFTER_DUE)
    instructor = build_submission_report(graded, manifest(), INSTRUCTOR, now=AFTER_DUE)

    assert student.output_withheld and student.outputs == []
    assert instructor.outputs[0].text == "printed during a hidden test: [3, 1, 4]"


def test_with_only_public_tests_a_student_sees_the_output():
    public_only = [test for test in PLAN if test.visibility == "public"]
    graded = result(stdout="hello")
    graded.tests = graded.tests[:2]

    report = build_submission_report(graded, manifest(plan=public_only), STUDENT, now=BEFORE_DUE)

    assert not report.output_withheld
    assert [(o.stream, o.text) for o in report.outputs] == [("stdout", "hello"), ("stderr", "")]


def test_output_excerpts_count_what_they_leave_out():
    graded = result()
    graded.output = Output(stdout="x" * 9000, stderr="", stdout_dropped_bytes=2048)

    stdout, stderr = build_submission_report(graded, manifest(), INSTRUCTOR).outputs

    assert len(stdout.text) == 8000 and stdout.chars_not_shown == 1000 and stdout.dropped_bytes == 2048
    assert stderr.empty and not stdout.empty


def test_legacy_results_are_marked_computed_inside_the_sandbox_in_both_flavours():
    graded = result()
    for test in graded.tests:
        test.computed_in = "sandbox"

    for flavour in (INSTRUCTOR, STUDENT):
        report = build_submission_report(graded, manifest(), flavour, now=AFTER_DUE)
        assert report.computed_in_sandbox
        assert all(test.computed_in_sandbox for test in report.tests)


def test_sandbox_settings_are_readable_rows():
    info = sandbox_info(result().sandbox | {"worker_restarts": ["timeout"]})

    assert info.backend == "bwrap"
    assert dict(info.settings) == {
        "worker": "warm (forked from a preloaded zygote)", "user id": "61001", "Landlock": "on",
        "memory (address space)": "4 GiB", "CPU time": "185 s", "largest file written": "64 MiB",
        "open files": "256", "processes": "64"}
    assert info.restarts == ["timeout"]
    assert sandbox_info({}).backend == "not recorded"
    assert dict(sandbox_info({"limits": {"new_knob": 3}}).settings) == {"new knob": "3"}


def test_format_bytes():
    assert [format_bytes(n) for n in (0, 1023, 1536, 67108864, 4294967296, 3 * 2**40)] == [
        "0 bytes", "1023 bytes", "1.5 KiB", "64 MiB", "4 GiB", "3072 GiB"]


def test_parse_due_reads_zones_and_rejects_junk():
    assert parse_due("2026-12-01T23:59:00Z") == dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone.utc)
    assert parse_due("2026-12-01T23:59:00").tzinfo == dt.timezone.utc
    assert parse_due("next week") is None and parse_due(None) is None


def test_an_unknown_flavour_is_refused():
    with pytest.raises(ValueError, match="flavour"):
        build_submission_report(result(), manifest(), "teacher")
