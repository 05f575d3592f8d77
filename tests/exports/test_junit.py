"""Tests of the JUnit XML export, read back with xml.etree."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.exports.junit import junit_bytes, write_junit
from grader.results import Output

from .conftest import make_result, standard_results


def parse(results) -> ET.Element:
    return ET.fromstring(junit_bytes(results, name="toy 1"))


def cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in suite.findall("testcase")}


def test_one_suite_per_submission_with_counts_that_add_up():
    root = parse(standard_results())

    assert root.tag == "testsuites" and root.get("name") == "toy 1"
    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["alice", "bob", "carol", "dave", "erin"]
    assert [(suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) for suite in suites] == [
        ("5", "2", "0", "0"), ("5", "0", "0", "0"), ("5", "1", "1", "0"), ("5", "5", "0", "0"), ("5", "0", "5", "0")]
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("25", "8", "6", "0")
    assert suites[0].get("timestamp") == "2026-11-01T10:00:00" and suites[0].get("time") == "1.500"


def test_testcases_hold_failure_error_and_system_out():
    alice, _, carol, _, erin = parse(standard_results()).findall("testsuite")

    square = cases(alice)["square four inputs"]
    assert square.get("classname") == "tests.test_public" and square.get("time") == "0.250"
    assert (square.find("failure").get("type"), square.find("failure").get("message")) == ("partial", "2 of 4 cases correct")
    assert square.find("system-out").text == "points: 2/4; visibility: public; id: tests/test_public.py::test_square"
    broadcast = cases(alice)["add broadcasts a row"].find("failure")
    assert broadcast.get("message") == "your code raised ValueError: bad shape, 50% off: (3, 4)"
    assert 'File "rnn.py", line 42, in forward' in broadcast.text
    assert cases(alice)["add two arrays"].find("failure") is None
    assert cases(carol)["finishes in time"].find("failure").get("type") == "timeout"
    assert cases(carol)["after the due date"].find("error").get("type") == "error"
    assert all(case.find("error") is not None for case in erin.findall("testcase")), "a grader failure is an error"
    properties = {item.get("name"): item.get("value") for item in alice.find("properties")}
    assert (properties["status"], properties["score"], properties["possible"]) == ("graded", "6", "10")


def test_skipped_tests_and_student_output_with_bytes_xml_cannot_hold():
    result = make_result("zoe", {"test_late": ("skipped", 0.0, "needs a GPU")},
                         output=Output(stdout="tab\there \x00 nul \x1b[31m \ud800 end", stderr="warn\x07"))

    (suite,) = parse([result]).findall("testsuite")

    assert suite.get("skipped") == "1" and cases(suite)["after the due date"].find("skipped").get("message") == "needs a GPU"
    assert suite.find("system-out").text == "tab\there \\x00 nul \\x1b[31m \\xd800 end"
    assert suite.find("system-err").text == "warn\\x07"


def test_written_atomically_as_utf8_xml(tmp_path):
    path = write_junit(tmp_path / "junit.xml", [make_result("ünï")])

    data = path.read_bytes()
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert ET.fromstring(data).find("testsuite").get("name") == "ünï"
    assert [item.name for item in tmp_path.iterdir()] == ["junit.xml"]
