"""Hostile submissions: each ends in a recorded result with no unearned points, the grader alive,
and every other submission's result intact.

One batch grades all of them beside two honest students (two jobs, the
machine's strongest backend, the warm worker). Each hostile student replaces
``add`` (4 points over two tests) or the module's import with an attack; the
honest parts of their file may earn the other 9 points, the attack never more.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.sandbox.probe import choose_backend
from grader.sandbox.slots import FIRST_UID, MAX_SLOTS

from ..grader.conftest import CORRECT_TOY, TOY_ASSIGNMENT, make_submissions

pytestmark = [pytest.mark.slow, pytest.mark.skipif(choose_backend("auto") != "bwrap",
                                                   reason="the hostile suite needs the bwrap backend")]

HIDDEN_TEST = TOY_ASSIGNMENT / "tests" / "test_hidden.py"
ADD = "def add(a, b):\n    return np.asarray(a) + np.asarray(b)\n"


BACKGROUND_WRITER = (
    "def add(a, b):\n"
    "    import subprocess, sys\n"
    "    code = (\n"
    "        'import glob, os, time\\n'\n"
    "        'for _ in range(400):\\n'\n"
    "        '    for folder in glob.glob(\"/tmp/*/\") + glob.glob(\"/tmp/nlm-grader-slot-*/*/work/\") + [\"OUT\"]:\\n'\n"
    "        '        try:\\n'\n"
    "        '            open(os.path.join(folder, \"PWNED\"), \"w\").write(\"x\")\\n'\n"
    "        '        except OSError:\\n'\n"
    "        '            pass\\n'\n"
    "        '    time.sleep(0.05)\\n'\n"
    "    )\n"
    "    subprocess.Popen([sys.executable, '-c', code], start_new_session=True,\n"
    "                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "    return a - b\n"
)


def with_add(body: str) -> str:
    """The correct toy with ``add`` replaced by ``body`` (a function definition)."""
    assert ADD in CORRECT_TOY
    return CORRECT_TOY.replace(ADD, body)


def at_import(code: str) -> str:
    return CORRECT_TOY.replace("from helpers import double\n", "from helpers import double\n" + code + "\n")


class LoopbackServer:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


def processes_of(uids: set[int]) -> list[str]:
    """Live (non-zombie) processes running as one of ``uids``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid = entry.stat().st_uid
            except OSError:
                continue
            if uid in uids:
                try:
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                if "State:\tZ" not in status:
                    found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:80]!r}")
    return found


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    out = root / "out"
    server = LoopbackServer()
    attacks = {
        "honest": CORRECT_TOY,
        "infinite_loop": with_add("def add(a, b):\n    while True:\n        pass\n"),
        "memory_bomb": with_add("def add(a, b):\n    hog = []\n    while True:\n        hog.append(np.empty(64 * 1024 * 1024, dtype=np.uint8))\n"),
        "fork_bomb": with_add("def add(a, b):\n    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"),
        "big_file": with_add("def add(a, b):\n    chunk = b'x' * (1 << 20)\n    with open('big.bin', 'wb') as f:\n        for _ in range(1024):\n            f.write(chunk)\n    return a + b\n"),
        "read_hidden": with_add(f"def add(a, b):\n    print(open({str(HIDDEN_TEST)!r}).read())\n    return a + b\n"),
        "network": with_add(f"def add(a, b):\n    import socket\n    s = socket.create_connection(('127.0.0.1', {server.port}), timeout=2)\n    return a + b\n"),
        "kill_parent": with_add("def add(a, b):\n    import os\n    os.kill(os.getppid(), 9)\n    return a + b\n"),
        "kill_group": with_add("def add(a, b):\n    import os\n    os.kill(0, 9)\n"),
        "stdout_flood": with_add("def add(a, b):\n    import sys\n    chunk = 'y' * (1 << 20)\n    for _ in range(1024):\n        sys.stdout.write(chunk)\n    return a - b\n"),
        "exit_early": with_add("def add(a, b):\n    import os\n    os._exit(0)\n"),
        "segfault": with_add("def add(a, b):\n    import ctypes\n    ctypes.string_at(0)\n"),
        "patch_numpy": at_import("np.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)").replace(ADD, "def add(a, b):\n    return a * 0\n"),
        "patch_builtins": at_import("import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.len = lambda x: 0").replace(ADD, "def add(a, b):\n    return a * 0\n"),
        "always_equal": with_add("class Liar:\n    def __eq__(self, other):\n        return True\n    def __array__(self, *args, **kwargs):\n        raise RuntimeError('no')\n\ndef add(a, b):\n    return Liar()\n"),
        "huge_array": with_add("def add(a, b):\n    return np.ones(40_000_000)\n"),
        "background_writer": with_add(BACKGROUND_WRITER.replace("OUT", str(root / "out" / "honest"))),
        "fake_summary": at_import("print('=== 8 passed in 0.01s ===')\nprint('score: 13/13')").replace(ADD, "def add(a, b):\n    return a - b\n"),
    }
    submissions = make_submissions(root / "subs", attacks)
    started = time.monotonic()
    try:
        summary = grade_batch(submissions, TOY_ASSIGNMENT, out, jobs=2)
    finally:
        server.close()
    results = {result.student_id: result for result in summary.results}
    return {"results": results, "out": out, "server": server, "seconds": time.monotonic() - started, "attacks": attacks}


def add_points(result) -> float:
    return sum(test.points for test in result.tests if "add" in test.name)


def test_every_hostile_submission_has_a_result_and_honest_students_are_intact(hostile):
    results = hostile["results"]
    assert sorted(results) == sorted(hostile["attacks"])
    assert results["honest"].total == 13
    assert all(result.status == "graded" for result in results.values())
    assert not (hostile["out"] / "honest" / "PWNED").exists()


@pytest.mark.parametrize("attack", ["infinite_loop", "memory_bomb", "fork_bomb", "big_file", "read_hidden", "network",
                                    "kill_parent", "kill_group", "stdout_flood", "exit_early", "segfault", "patch_numpy", "patch_builtins",
                                    "always_equal", "huge_array", "background_writer", "fake_summary"])
def test_an_attack_earns_no_points_for_the_attacked_tests(hostile, attack):
    result = hostile["results"][attack]
    assert add_points(result) == 0, [(t.name, t.status, t.message[:200]) for t in result.tests if "add" in t.name]
    assert result.total <= 9


def test_infinite_loop_and_fork_bomb_are_stopped_at_the_test_limit(hostile):
    for attack in ("infinite_loop", "fork_bomb"):
        tests = {test.name: test for test in hostile["results"][attack].tests}
        assert tests["add two arrays"].status in ("timeout", "failed"), tests["add two arrays"].message
        assert tests["scale an array"].status == "passed"


def test_memory_bomb_and_big_file_hit_their_limits(hostile):
    memory = hostile["results"]["memory_bomb"].tests[0].message
    assert "your code raised MemoryError" in memory
    big_file = hostile["results"]["big_file"].tests[0].message
    assert "File too large" in big_file or "OSError" in big_file


def test_hidden_tests_cannot_be_read(hostile):
    result = hostile["results"]["read_hidden"]
    secret_line = "def test_add_broadcast(student, rng):"
    assert secret_line in HIDDEN_TEST.read_text()
    assert secret_line not in result.output.stdout
    assert "No such file or directory" in result.tests[0].message or "Permission denied" in result.tests[0].message


def test_the_loopback_server_sees_no_connection(hostile):
    assert hostile["server"].connections == 0
    message = hostile["results"]["network"].tests[0].message
    assert "Connection refused" in message or "Permission denied" in message or "Network is unreachable" in message


def test_killing_the_parent_or_the_group_only_ends_the_students_own_worker(hostile):
    parent = hostile["results"]["kill_parent"]
    assert "Operation not permitted" in parent.tests[0].message or "ended unexpectedly" in parent.tests[0].message
    group = hostile["results"]["kill_group"].tests[0]
    assert "ended unexpectedly (killed by SIGKILL)" in group.message
    assert parent.total == 9 and hostile["results"]["kill_group"].total == 9


def test_output_flood_is_capped_and_counted(hostile):
    output = hostile["results"]["stdout_flood"].output
    assert len(output.stdout.encode()) <= 1024 * 1024
    assert output.stdout_dropped_bytes > 100 * 1024 * 1024


def test_exit_and_segfault_are_reported_as_crashes(hostile):
    assert "ended unexpectedly (exit code 0)" in hostile["results"]["exit_early"].tests[0].message
    assert "ended unexpectedly (killed by SIGSEGV)" in hostile["results"]["segfault"].tests[0].message


def test_lying_objects_and_patched_libraries_do_not_sway_verdicts(hostile):
    always_equal = hostile["results"]["always_equal"].tests[0].message
    assert "expected an array of shape (3, 4), got an object of type toy.Liar" in always_equal
    patched = {test.name: test for test in hostile["results"]["patch_numpy"].tests}
    assert patched["add two arrays"].status == "failed"
    assert "differs from the expected values" in patched["add two arrays"].message
    assert hostile["results"]["patch_numpy"].total == 9
    assert hostile["results"]["patch_builtins"].total <= 9


def test_an_oversized_reply_is_refused(hostile):
    message = hostile["results"]["huge_array"].tests[0].message
    assert "returned arrays of 320,000,000 bytes; the grader accepts at most" in message


def test_a_fake_summary_is_only_output(hostile):
    result = hostile["results"]["fake_summary"]
    assert "8 passed" in result.output.stdout
    assert add_points(result) == 0


def test_the_background_process_really_ran_and_wrote_only_its_own_folder(hostile):
    result = hostile["results"]["background_writer"]
    assert result.total == 9, [test.message[:200] for test in result.tests]


def test_nothing_a_submission_started_outlives_the_batch(hostile):
    uids = {result.sandbox["limits"]["uid"] for result in hostile["results"].values()}
    assert uids and all(FIRST_UID <= uid < FIRST_UID + MAX_SLOTS for uid in uids)
    time.sleep(0.5)
    assert processes_of(uids) == []
    assert list(hostile["out"].rglob("PWNED")) == []
