"""JUnit XML: ``testsuites/testsuite/testcase``, one suite per submission.

Each test becomes a ``testcase`` (``classname`` the test file as a dotted
module path, ``name`` the name students see, ``time`` its duration) holding:

- nothing more when it passed, and ``skipped`` when it was skipped;
- ``failure`` (``type`` ``failed``, ``partial`` or ``timeout``) when the
  student's code earned less than full marks;
- ``error`` when the test itself broke (status ``error``) or the grader
  failed on the whole submission;
- ``system-out`` with the points and visibility.

A suite carries the submission's status and score as ``properties`` and what
the student's code printed as ``system-out`` and ``system-err``. Characters
XML 1.0 forbids (student output may hold any byte) are written as ``\\xNN``.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from typing import Iterable

from grader.exports.atomic import write_bytes_atomic
from grader.results import DEFERRED, ERROR, GRADER_FAILURE, PASSED, SKIPPED, SubmissionResult, TestResult

FILE_NAME = "junit.xml"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_tree(results: Iterable[SubmissionResult], name: str = "grader") -> ET.Element:
    """The ``testsuites`` element for ``results``, one ``testsuite`` each."""
    root = ET.Element("testsuites", name=_text(name))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    time = 0.0
    for result in results:
        suite = _suite(result)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        time += result.duration
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{time:.3f}")
    return root


def junit_bytes(results: Iterable[SubmissionResult], name: str = "grader") -> bytes:
    tree = junit_tree(results, name)
    ET.indent(tree)
    return ET.tostring(tree, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, results: Iterable[SubmissionResult], name: str = "grader") -> Path:
    """Write the JUnit report of ``results`` to ``path`` (atomically)."""
    return write_bytes_atomic(Path(path), junit_bytes(results, name))


def _suite(result: SubmissionResult) -> ET.Element:
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    suite = ET.Element("testsuite", name=_text(result.student_id), tests=str(len(result.tests)))
    if result.started_at:
        suite.set("timestamp", result.started_at[:19])  # the schema's xs:dateTime without a zone; ours is UTC
    suite.set("time", f"{result.duration:.3f}")
    properties = ET.SubElement(suite, "properties")
    for key, value in (("assignment", result.assignment), ("version", result.assignment_version),
                       ("status", result.status), ("score", f"{result.total:g}"), ("possible", f"{result.possible:g}"),
                       ("backend", result.sandbox.get("backend", "")), ("message", result.message)):
        ET.SubElement(properties, "property", name=key, value=_text(str(value)))
    for caveat in result.caveats:
        ET.SubElement(properties, "property", name="caveat", value=_text(caveat))
    for test in result.tests:
        case = _case(test, result)
        suite.append(case)
        for kind, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            counts[key] += case.find(kind) is not None
    for key, value in counts.items():
        suite.set(key, str(value))
    if result.output.stdout:
        ET.SubElement(suite, "system-out").text = _text(result.output.stdout)
    if result.output.stderr:
        ET.SubElement(suite, "system-err").text = _text(result.output.stderr)
    return suite


def _case(test: TestResult, result: SubmissionResult) -> ET.Element:
    module = PurePosixPath(test.id.split("::", 1)[0]).with_suffix("").as_posix().replace("/", ".")
    case = ET.Element("testcase", classname=_text(module), name=_text(test.name), time=f"{test.duration:.3f}")
    message = _text(test.feedback())
    headline = message.splitlines()[0] if message else test.status
    if result.status == GRADER_FAILURE or test.status == ERROR:
        ET.SubElement(case, "error", message=headline, type=test.status).text = message
    elif test.status in (SKIPPED, DEFERRED):
        ET.SubElement(case, "skipped", message=headline)
    elif test.status != PASSED:
        ET.SubElement(case, "failure", message=headline, type=test.status).text = message
    where = " (computed in the sandbox)" if test.computed_in == "sandbox" else ""
    ET.SubElement(case, "system-out").text = (f"points: {test.points:g}/{test.max_points:g}; "
                                              f"visibility: {test.visibility}; id: {_text(test.id)}{where}")
    return case


def _text(value: str) -> str:
    """``value`` with the characters XML 1.0 cannot hold written as ``\\xNN``."""
    return _NOT_XML.sub(lambda match: f"\\x{ord(match.group()):02x}", value)
