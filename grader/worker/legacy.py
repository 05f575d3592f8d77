"""Legacy mode: run an existing test file (e.g. a course's ``test_all.py``) inside the sandbox.

Such files import the student's modules directly, so they must run where the
student code runs. Each test's outcome is sent over the worker's channel as it
finishes (``{"event": "test", ...}``); pytest's exit code and printed summary are
ignored, and the grader counts a declared test that reported nothing as
failed. These verdicts are computed inside the sandbox, and every report says so.
"""
from __future__ import annotations

import socket
from pathlib import Path

from grader.protocol import send_frame

MAX_MESSAGE_CHARS = 4000


class _ChannelReporter:
    """A pytest plugin that forwards each test's outcome to the grader."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            message = "" if report.passed else str(report.longreprtext)[-MAX_MESSAGE_CHARS:]
            outcome = report.outcome if report.when == "call" else ("skipped" if report.skipped else "error")
            send_frame(self.sock, {"event": "test", "nodeid": report.nodeid, "outcome": outcome, "message": message})

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            send_frame(self.sock, {"event": "collect_error", "nodeid": report.nodeid,
                                   "message": str(report.longreprtext)[-MAX_MESSAGE_CHARS:]})


def run_legacy_tests(sock: socket.socket, test_file: Path, extra_args: list[str]) -> None:
    import pytest

    args = [str(test_file), "--rootdir", str(Path.cwd()), "-q", "-s", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header", "-o", "addopts=", *extra_args]
    pytest.main(args, plugins=[_ChannelReporter(sock)])
    return None
