"""Grading on any executor and on a Dask cluster: plain-data tasks, retries, results equal to local ones."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from concurrent.futures import Executor, Future
from pathlib import Path

import pytest
from click.testing import CliRunner

import grader.distributed as distributed_module
from grader.batch import grade_batch
from grader.cli import main
from grader.config import load_assignment
from grader.distributed import open_executor
from grader.errors import DistributedError
from grader.importers.record import Submitted
from grader.ingest import SubmissionSource, hash_tree
from grader.results import GRADER_FAILURE, SubmissionResult, load_result
from grader.tasks import TASK_VERSION, TaskError, _unpack_submission, make_task, pack_assignment, pack_submission
from grader.taskhost import TaskHost, TaskHostDied, grade_task

from .conftest import TOY_ASSIGNMENT, TOY_SUBMISSIONS

ROOT = Path(__file__).resolve().parents[2]
RNN_LM = ROOT / "assignments" / "rnn_lm"
RNN_LM_SUBMISSIONS = ROOT / "examples" / "submissions" / "rnn_lm"
RNN_LM_SUBSET = ("alice_correct", "bob_padding_in_loss", "judy_syntax_error", "leo_missing_file")


def comparable(result: SubmissionResult) -> dict:
    """A result without what differs between two gradings of the same work: timings and the slot's uid."""
    data = result.to_dict()
    for key in ("duration", "started_at"):
        data.pop(key)
    for test in data["tests"]:
        test.pop("duration")
    data["sandbox"].pop("timing", None)
    data["sandbox"].get("limits", {}).pop("uid", None)
    return data


def results_of(folder: Path) -> dict[str, dict]:
    return {path.parent.name: comparable(load_result(path)) for path in sorted(folder.glob("*/result.json"))}


# -- tasks are plain data ---------------------------------------------------------------
def test_a_task_is_json_and_unpacks_to_the_same_submission(tmp_path):
    folder = tmp_path / "alice"
    (folder / "sub").mkdir(parents=True)
    (folder / "toy.py").write_text("x = 1\n")
    (folder / "sub" / "notes.txt").write_bytes(b"\x00\xffbinary")
    (folder / "empty").mkdir()
    plan = [{"id": "t", "name": "t", "points": 1.0, "visibility": "public", "computed_in": "grader"}]
    submitted = Submitted(source_format="canvas", entries=("alice",), name="Alice A.", late=True, seed_id="a@x.edu")
    task = make_task(pack_assignment(load_assignment(TOY_ASSIGNMENT)), plan, "f" * 64,
                     SubmissionSource("alice", folder, "folder", submitted))
    assert json.loads(json.dumps(task)) == task
    assert "solution" not in {path.split("/")[0] for path in task["assignment"]["files"]}
    source = _unpack_submission(task["submission"], tmp_path / "unpacked")
    assert (source.student_id, source.kind, source.path.name) == ("alice", "folder", "alice")
    assert hash_tree(source.path) == hash_tree(folder) and (source.path / "empty").is_dir()
    assert source.submitted == submitted and source.seed_identity == "a@x.edu", "the worker seeds as the grader would"


def test_a_zip_travels_as_its_bytes_under_its_name(tmp_path):
    archive = tmp_path / "bob.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hw/toy.py", "x = 2\n")
    packed = pack_submission(SubmissionSource("bob", archive, "zip"))
    source = _unpack_submission(json.loads(json.dumps(packed)), tmp_path / "unpacked")
    assert source.path.name == "bob.zip" and source.path.read_bytes() == archive.read_bytes()


@pytest.mark.parametrize("bad", ["../escape.py", "/etc/passwd", "a/../../b"])
def test_a_task_cannot_write_outside_its_folder(tmp_path, bad):
    packed = {"student_id": "x", "kind": "folder", "name": "x", "entries": [{"path": bad, "type": "file", "data": ""}]}
    with pytest.raises(TaskError, match="bad path in task"):
        _unpack_submission(packed, tmp_path)


# -- choosing an executor ---------------------------------------------------------------------
def test_scheduler_and_cluster_together_are_refused():
    with pytest.raises(DistributedError, match="choose one of --scheduler and --cluster"):
        with open_executor(scheduler="tcp://127.0.0.1:1", cluster="local"):
            pass


def test_a_scheduler_address_without_a_protocol_is_refused():
    with pytest.raises(DistributedError, match=r"expected an address such as tcp://HOST:PORT"):
        with open_executor(scheduler="localhost:8786"):
            pass


def test_missing_dask_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(DistributedError, match=r"pip install 'nlm-grader\[dask\]'"):
        with open_executor(cluster="local"):
            pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_scheduler_is_tried_twice_then_a_clear_error_and_exit_1(monkeypatch, tmp_path):
    pytest.importorskip("distributed")
    monkeypatch.setattr(distributed_module, "CONNECT_TIMEOUT_SECONDS", 1.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    outcome = CliRunner().invoke(main, ["grade", str(TOY_SUBMISSIONS), "-a", str(TOY_ASSIGNMENT),
                                       "-o", str(tmp_path / "out"), "--scheduler", address])
    assert outcome.exit_code == 1, outcome.output
    assert f"Error: cannot reach the Dask scheduler at {address} (tried 2 times, 1 s each)" in outcome.output
    assert time.monotonic() - started >= 1.0  # the second attempt came after a pause
    assert not list((tmp_path / "out").glob("*/result.json"))


# -- any executor: a lost task is retried once, then recorded ----------------------------------
class FlakyExecutor(Executor):
    """Runs tasks in the calling thread (through a task host); the first ``failures`` submissions fail."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.submitted: list[str] = []

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        self.submitted.append(args[0]["submission"]["student_id"])
        if len(self.submitted) <= self.failures:
            future.set_exception(ConnectionResetError("worker tcp://10.0.0.9:4242 lost"))
        else:
            future.set_result(fn(*args, **kwargs))
        return future


def test_a_task_that_fails_twice_is_recorded_as_a_grader_failure(tmp_path):
    executor = FlakyExecutor(failures=2)
    summary = grade_batch(TOY_SUBMISSIONS, TOY_ASSIGNMENT, tmp_path, only=("correct",), executor=executor)
    assert executor.submitted == ["correct", "correct"]
    (result,) = summary.results
    assert result.status == GRADER_FAILURE and result.total == 0
    assert "grading failed twice on the executor's workers" in result.message
    assert "ConnectionResetError: worker tcp://10.0.0.9:4242 lost" in result.message
    assert summary.retries == ["retried correct: ConnectionResetError: worker tcp://10.0.0.9:4242 lost",
                               "gave up on correct: ConnectionResetError: worker tcp://10.0.0.9:4242 lost"]
    assert load_result(tmp_path / "correct" / "result.json").status == GRADER_FAILURE
    assert not (tmp_path / "correct" / ".grading").exists()


@pytest.mark.slow
def test_a_task_lost_once_is_retried_and_equals_a_local_grading(tmp_path):
    executor = FlakyExecutor(failures=1)
    remote = grade_batch(TOY_SUBMISSIONS, TOY_ASSIGNMENT, tmp_path / "remote", only=("correct", "wrong"),
                         executor=executor)
    local = grade_batch(TOY_SUBMISSIONS, TOY_ASSIGNMENT, tmp_path / "local", only=("correct", "wrong"), jobs=1)
    assert sorted(executor.submitted) == ["correct", "correct", "wrong"]
    assert len(remote.retries) == 1 and remote.retries[0].startswith("retried correct: ConnectionResetError")
    assert [comparable(result) for result in remote.results] == [comparable(result) for result in local.results]
    assert remote.results[0].sandbox["timing"]["requests"] > 0


@pytest.mark.slow
def test_a_task_for_another_grader_version_is_refused_with_a_clear_error():
    task = make_task(pack_assignment(load_assignment(TOY_ASSIGNMENT)), [], "f" * 64,
                     SubmissionSource("correct", TOY_SUBMISSIONS / "correct", "folder"))
    task["version"] = 999
    with pytest.raises(RuntimeError, match=f"task version 999; this worker's grader reads version {TASK_VERSION}"):
        grade_task(task)


def test_a_grading_process_that_dies_is_reported_not_waited_for():
    host = TaskHost()
    host.process.kill()
    host.process.wait(timeout=10)
    with pytest.raises(TaskHostDied, match=r"the grading process on this worker died \(killed by signal 9\)"):
        host.run({"version": TASK_VERSION})


# -- a real cluster: a scheduler and two workers on 127.0.0.1 ------------------------------------
@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    base = [sys.executable, "-m", "dask"]
    processes = [subprocess.Popen(base + ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                          "--scheduler-file", str(scheduler_file)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(scheduler_file.read_text())["address"]
    for name in ("w1", "w2"):
        processes.append(subprocess.Popen(
            base + ["worker", address, "--nthreads", "1", "--no-dashboard", "--name", name, "--host", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=ROOT))
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
    yield address, processes
    for process in reversed(processes):
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.slow
def test_grading_through_a_scheduler_equals_a_local_run(dask_cluster, tmp_path):
    address, _ = dask_cluster
    cases = [(TOY_SUBMISSIONS, TOY_ASSIGNMENT, ()), (RNN_LM_SUBMISSIONS, RNN_LM, RNN_LM_SUBSET)]
    for index, (submissions, assignment, only) in enumerate(cases):
        remote, local = tmp_path / f"remote{index}", tmp_path / f"local{index}"
        only_args = [arg for student in only for arg in ("--only", student)]
        outcome = CliRunner().invoke(main, ["grade", str(submissions), "-a", str(assignment), "-o", str(remote),
                                            "--scheduler", address, "--format", "json", *only_args])
        assert outcome.exit_code == 0, outcome.output
        grade_batch(submissions, assignment, local, jobs=2, only=only)
        assert results_of(remote) == results_of(local)
        assert len(results_of(remote)) == (len(only) or 7)
        assert not list(remote.glob("*/.grading"))
    totals = {name: data["total"] for name, data in results_of(tmp_path / "remote1").items()}
    assert totals["alice_correct"] == 100 and totals["judy_syntax_error"] == 0 and 0 < totals["bob_padding_in_loss"] < 100


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_no_submission(dask_cluster, tmp_path):
    """The scheduler moves the dead worker's task; every submission still gets its result."""
    address, processes = dask_cluster
    killed: list[int] = []

    def kill_one_worker(result: SubmissionResult, reused: bool) -> None:
        if not killed:  # the first result: the other submissions are queued or running
            killed.append(processes[1].pid)
            os.killpg(processes[1].pid, signal.SIGKILL)

    summary = grade_batch(TOY_SUBMISSIONS, TOY_ASSIGNMENT, tmp_path / "remote", scheduler=address,
                          progress=kill_one_worker)
    assert killed and processes[1].wait(timeout=10) is not None
    assert sorted(result.student_id for result in summary.results) == sorted(results_of(tmp_path / "remote"))
    assert len(summary.results) == 7 and all(result.status != GRADER_FAILURE for result in summary.results)
    local = grade_batch(TOY_SUBMISSIONS, TOY_ASSIGNMENT, tmp_path / "local", jobs=2)
    assert results_of(tmp_path / "remote") == results_of(tmp_path / "local") and len(local.results) == 7
