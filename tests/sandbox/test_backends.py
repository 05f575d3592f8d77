"""Every backend this machine offers, warm and cold: workers answer, and confinement holds where promised."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from grader.config import Limits
from grader.proxy import StudentProxy
from grader.sandbox import Sandbox, WorkerSpec
from grader.sandbox.probe import capabilities, choose_backend, doctor_checks
from grader.session import StudentException, WorkerSession

pytestmark = pytest.mark.slow

SECRET = Path(__file__).resolve().parents[1] / "fixtures" / "assignments" / "toy" / "tests" / "test_hidden.py"
STUDENT = f'''
import os, socket

def add(a, b):
    return a + b

def read_secret():
    return open({str(SECRET)!r}).read()

def connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    return "connected"

def whoami():
    return os.getuid()
'''


def available_backends() -> list[str]:
    caps = capabilities()
    backends = ["rlimits"]
    if caps.landlock_abi >= 1:
        backends.append("landlock")
    if caps.bwrap_works:
        backends.append("bwrap")
    return backends


def file_isolating_backends() -> list[str]:
    return [backend for backend in available_backends() if backend != "rlimits"]


def network_isolating_backends() -> list[str]:
    return [backend for backend in file_isolating_backends()
            if backend == "bwrap" or capabilities().landlock_abi >= 4]


def configurations(backends: list[str]) -> list:
    return [pytest.param((backend, warm), id=f"{backend}-{'warm' if warm else 'cold'}")
            for backend in backends for warm in (False, True)]


@pytest.fixture
def student(request):
    backend, warm = request.param
    sandbox = Sandbox(backend=backend, warm=warm)
    root = sandbox.new_scratch("backend-test-") / "work"
    root.mkdir()
    (root / "student.py").write_text(STUDENT)
    sandbox.hand_over(root)
    session = WorkerSession(WorkerSpec(root, Limits(test_seconds=20, submission_seconds=60), ("numpy",)),
                            launcher=sandbox.launch)
    session.test_deadline = time.monotonic() + 20
    yield backend, StudentProxy(session).module("student"), session
    session.close()
    sandbox.close()


@pytest.mark.parametrize("student", configurations(available_backends()), indirect=True)
def test_a_worker_answers_and_records_its_backend(student):
    backend, module, session = student
    assert module.add(2, 3) == 5
    assert session.backend == backend
    assert session.limits_in_force["backend"] == backend


@pytest.mark.parametrize("student", configurations(file_isolating_backends()), indirect=True)
def test_hidden_files_are_unreadable_where_the_backend_isolates_files(student):
    backend, module, _ = student
    with pytest.raises(StudentException, match="(No such file or directory|Permission denied)"):
        module.read_secret()


@pytest.mark.parametrize("student", configurations(network_isolating_backends()), indirect=True)
def test_loopback_connections_fail_where_the_backend_isolates_the_network(student):
    backend, module, _ = student
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    try:
        with pytest.raises(StudentException, match="(Connection refused|Permission denied)"):
            module.connect(server.getsockname()[1])
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


def test_auto_picks_the_strongest_backend_and_doctor_lists_it():
    best = available_backends()[-1]
    assert choose_backend("auto") == best
    names = [name for name, _, _ in doctor_checks()]
    assert any("bubblewrap" in name for name in names) and any("Landlock" in name for name in names)
