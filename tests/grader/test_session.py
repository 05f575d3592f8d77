"""The grader's side of the worker: every misbehaviour becomes a StudentFailure, never a crash."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from grader.config import Limits
from grader.sandbox import WorkerSpec, default_sandbox
from grader.proxy import RemoteObject, StudentProxy
from grader.session import StudentCrash, StudentException, StudentFailure, StudentTimeout, WorkerSession

STUDENT = '''
import os, sys
import numpy as np

def add(a, b):
    return a + b

class AlwaysEqual:
    def __eq__(self, other):
        return True

def liar():
    return AlwaysEqual()

def huge():
    return np.zeros(20_000_000)

def large():
    return np.zeros(3_000_000)

def exit_early():
    os._exit(0)

def flood():
    chunk = "x" * 65536
    for _ in range(200):
        sys.stdout.write(chunk)
    return 1

def forbidden():
    import jinja2
    return 1

def sleep_forever():
    import time
    while True:
        time.sleep(1)

class Model:
    def __init__(self):
        self.w = np.ones(2)
    def forward(self, x):
        return self.w * x
'''


def workspace(files: dict[str, str]) -> Path:
    """A student folder inside this process's sandbox slot, owned by the sandbox's uid."""
    sandbox = default_sandbox()
    root = sandbox.new_scratch("session-test-") / "work"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    sandbox.hand_over(root)
    return root


@pytest.fixture
def proxy():
    root = workspace({"student.py": STUDENT})
    limits = Limits(test_seconds=2, submission_seconds=60, output_kib=64)
    session = WorkerSession(WorkerSpec(root, limits, ("numpy",)), max_reply_bytes=16 * 1024 * 1024)
    session.test_deadline = time.monotonic() + 30
    yield StudentProxy(session)
    session.close()


def test_calls_return_plain_numpy_data(proxy):
    got = proxy.module("student").add(np.arange(3.0), 1.0)
    assert isinstance(got, np.ndarray) and got.tolist() == [1.0, 2.0, 3.0]


def test_a_lying_eq_never_reaches_the_grader(proxy):
    value = proxy.module("student").liar()
    assert isinstance(value, RemoteObject)
    assert value != 5 and not (value == np.zeros(2))


def test_objects_stay_remote_and_their_methods_are_callable(proxy):
    model = proxy.module("student").Model()
    assert isinstance(model, RemoteObject) and model.type_name == "student.Model"
    assert model.forward(np.array([2.0, 3.0])).tolist() == [2.0, 3.0]


def test_the_worker_refuses_to_send_arrays_over_the_limit(proxy):
    with pytest.raises(StudentException, match="returned arrays of 160,000,000 bytes; the grader accepts at most 67,108,864"):
        proxy.module("student").huge()


def test_a_reply_over_the_graders_cap_is_refused_and_the_worker_replaced(proxy):
    # 24 MB passes the worker's own check but not this session's 16 MiB cap: the grader enforces it.
    with pytest.raises(StudentCrash, match="returned a value too large"):
        proxy.module("student").large()
    assert proxy.module("student").add(1, 2) == 3


def test_os_exit_in_a_call_is_a_crash_with_its_exit_code(proxy):
    with pytest.raises(StudentCrash, match=r"ended unexpectedly \(exit code 0\)"):
        proxy.module("student").exit_early()


def test_a_hang_is_killed_at_the_test_deadline(proxy):
    proxy._session.test_deadline = time.monotonic() + 1.0
    started = time.monotonic()
    with pytest.raises(StudentTimeout, match="did not finish within 2 s"):
        proxy.module("student").sleep_forever()
    assert time.monotonic() - started < 5


def test_an_output_flood_is_capped_and_counted(proxy):
    assert proxy.module("student").flood() == 1
    session = proxy._session
    session.close()
    output = session.output(64 * 1024)
    assert len(output.stdout) == 64 * 1024
    assert output.stdout_dropped_bytes == 200 * 65536 - 64 * 1024


def test_imports_outside_the_allowed_packages_are_refused_with_a_clear_message(proxy):
    with pytest.raises(StudentException, match="importing 'jinja2' is not allowed in this assignment"):
        proxy.module("student").forbidden()


def test_handles_from_a_killed_worker_are_reported_as_lost(proxy):
    model = proxy.module("student").Model()
    with pytest.raises(StudentCrash):
        proxy.module("student").exit_early()
    with pytest.raises(StudentFailure, match="was lost when the process running your code was restarted"):
        model.forward(np.ones(2))


def test_put_keeps_a_leaf_tensor_whose_gradient_can_be_read():
    root = workspace({"student.py": "import torch\n\ndef square_sum(x):\n    return (x * x).sum()\n"})
    session = WorkerSession(WorkerSpec(root, Limits(test_seconds=30, submission_seconds=60), ("torch",)))
    session.test_deadline = time.monotonic() + 30
    proxy = StudentProxy(session)
    try:
        x = proxy.put(proxy.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True))
        loss = proxy.keep(proxy.module("student").square_sum)(x)
        proxy.backward(loss)
        assert proxy.grads(x).tolist() == [2.0, -4.0, 6.0]
    finally:
        session.close()


def test_indexing_a_kept_tuple_returns_its_elements(proxy):
    pair = proxy.put((np.arange(2.0), "second"))
    assert pair[0].tolist() == [0.0, 1.0]
    assert pair[1] == "second"
