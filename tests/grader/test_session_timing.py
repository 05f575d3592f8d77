"""The session's clock: time waiting on student calls is told apart from the grader's own time."""
from __future__ import annotations

import time

import pytest

from grader.config import Limits
from grader.proxy import StudentProxy
from grader.sandbox import WorkerSpec
from grader.session import StudentTimeout, WorkerSession

from .test_session import workspace

STUDENT = '''
import time

def nap(seconds):
    time.sleep(seconds)
    return seconds

def hang():
    while True:
        pass
'''


@pytest.fixture
def session():
    root = workspace({"student.py": STUDENT})
    session = WorkerSession(WorkerSpec(root, Limits(test_seconds=1, submission_seconds=60), ()))
    session.test_deadline = time.monotonic() + 30
    yield session
    session.close()


def test_time_inside_student_calls_is_counted_and_the_grader_time_is_not(session):
    student = StudentProxy(session).module("student")
    assert session.requests == 1 and session.worker_start_seconds > 0
    before = session.student_seconds
    assert student.nap(0.3) == 0.3  # getattr, then call: two requests
    assert session.requests == 3
    assert 0.3 <= session.student_seconds - before < 2.0
    counted = session.student_seconds
    time.sleep(0.2)  # the grader's own time: not the student's
    assert session.student_seconds == counted
    assert session.timing() == {"student_seconds": round(counted, 4),
                                "worker_start_seconds": round(session.worker_start_seconds, 4), "requests": 3}


def test_a_timeout_counts_up_to_the_deadline_and_not_the_kill(session):
    student = StudentProxy(session).module("student")
    hang = student.hang
    before = session.student_seconds
    session.test_deadline = time.monotonic() + 0.5
    started = time.monotonic()
    with pytest.raises(StudentTimeout):
        hang()
    waited = session.student_seconds - before
    assert 0.45 <= waited <= time.monotonic() - started
    assert session.restarts == ["timeout"]
