"""The grader's side of one submission's worker: requests with deadlines, crash recovery.

A :class:`WorkerSession` starts the worker lazily, sends each request with the
time left to the current test, and turns every way the worker can misbehave
into a :class:`StudentFailure` (a failed test, never a crashed grader):
an exception in student code, a timeout (the worker is killed), a crash or
early exit, an oversized or malformed reply. After a kill, the next request
starts a fresh worker; objects from the old one are gone.

The session also keeps the clock: ``student_seconds`` is the wall time spent
waiting for the worker's replies (student code running, plus the transfer of
its arguments and results), ``worker_start_seconds`` the time spent starting
workers. Grading time minus ``student_seconds`` is the grader's own overhead,
which ``bench/grading_throughput.py`` reports.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from grader.sandbox import WorkerProcess, WorkerSpec, default_sandbox
from grader.protocol import ConnectionClosed, Encoded, FrameTooLarge, ProtocolError, recv_frame, send_frame
from grader.results import Output

DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024


class StudentFailure(AssertionError):
    """Student code did not produce a value: the test fails with this message."""

    status = "failed"


class StudentException(StudentFailure):
    """Student code raised an exception."""

    def __init__(self, type_name: str, message: str, frames: list[dict]) -> None:
        self.type_name = type_name
        self.message = message
        self.frames = frames
        super().__init__(format_student_exception(type_name, message, frames))


class StudentTimeout(StudentFailure):
    status = "timeout"


class StudentCrash(StudentFailure):
    """The worker died (os._exit, a segfault, the memory limit) or broke the channel."""


class GraderProtocolError(Exception):
    """A test asked the worker for something impossible (a bug in the test, not the student's)."""


def format_student_exception(type_name: str, message: str, frames: list[dict]) -> str:
    if type_name == "NotImplementedError":
        head = f"not implemented yet: {message}" if message else "not implemented yet (NotImplementedError)"
    else:
        head = f"{type_name}: {message}" if message else type_name
    opening = head if type_name == "NotImplementedError" else f"your code raised {head}"
    if not frames:
        return opening
    last = frames[-1]
    lines = [opening, f"  at {last['file']}, line {last['line']}, in {last['function']}", "Traceback (your files only):"]
    for frame in frames:
        lines.append(f"  File \"{frame['file']}\", line {frame['line']}, in {frame['function']}")
        if frame.get("code"):
            lines.append(f"    {frame['code'].strip()}")
    return "\n".join(lines)


@dataclass
class WorkerSession:
    """One submission's channel to student code, across worker restarts."""

    spec: WorkerSpec
    launcher: Callable[[WorkerSpec], WorkerProcess] | None = None  # default: this process's sandbox
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    submission_deadline: float = float("inf")
    test_deadline: float = float("inf")
    worker: WorkerProcess | None = None
    generation: int = 0
    restarts: list[str] = field(default_factory=list)
    _stdout: list[str] = field(default_factory=list)
    _stderr: list[str] = field(default_factory=list)
    _dropped: list[int] = field(default_factory=lambda: [0, 0])
    backend: str = ""
    limits_in_force: dict = field(default_factory=dict)
    student_seconds: float = 0.0
    worker_start_seconds: float = 0.0
    requests: int = 0
    _sent_at: float | None = None

    # -- lifecycle ------------------------------------------------------------
    def ensure_worker(self) -> WorkerProcess:
        if self.worker is None:
            launcher = self.launcher or default_sandbox().launch
            started = time.monotonic()
            try:
                self.worker = launcher(self.spec)
            finally:
                spent = time.monotonic() - started
                self.worker_start_seconds += spent
                # Starting a worker (waiting for the warm one to finish importing torch) is not the student's time.
                self.test_deadline += spent
                self.submission_deadline += spent
            self.generation += 1
            self.backend = self.worker.backend
            self.limits_in_force = self.worker.limits_in_force
        return self.worker

    def kill_worker(self, reason: str) -> str:
        """Kill the current worker, keep its output, and say how it ended."""
        self._clock()  # the student's time ends where the kill begins
        worker = self.worker
        if worker is None:
            return ""
        self.worker = None
        worker.kill()
        ending = worker.exit_description(wait=0.1)
        self._collect_output(worker)
        self.restarts.append(reason)
        return ending

    def close(self) -> None:
        worker = self.worker
        if worker is not None:
            self.worker = None
            worker.kill()
            self._collect_output(worker)

    def _collect_output(self, worker: WorkerProcess) -> None:
        out, out_dropped = worker.stdout.result()
        err, err_dropped = worker.stderr.result()
        self._stdout.append(out)
        self._stderr.append(err)
        self._dropped[0] += out_dropped
        self._dropped[1] += err_dropped

    def timing(self) -> dict[str, float | int]:
        """The session's clock as plain data (recorded in ``result.sandbox["timing"]``)."""
        return {"student_seconds": round(self.student_seconds, 4),
                "worker_start_seconds": round(self.worker_start_seconds, 4), "requests": self.requests}

    def output(self, cap_bytes: int) -> Output:
        """All output of every worker of this session, within one cap per stream."""
        stdout, stdout_extra = _cap("".join(self._stdout), cap_bytes)
        stderr, stderr_extra = _cap("".join(self._stderr), cap_bytes)
        return Output(stdout, stderr, self._dropped[0] + stdout_extra, self._dropped[1] + stderr_extra)

    # -- requests ---------------------------------------------------------------
    def remaining(self) -> float:
        return min(self.test_deadline, self.submission_deadline) - time.monotonic()

    def _socket_timeout(self) -> float | None:
        remaining = self.remaining()
        return None if remaining == float("inf") else max(remaining, 0.001)

    def request(self, header: dict, encoded: Encoded | None = None) -> tuple[Any, list[bytes]]:
        """Send one request; return the reply's value tree and blobs, or raise a StudentFailure."""
        try:
            worker = self._send(header, encoded)
            reply, blobs = self._receive(worker)
        finally:
            self._clock()
        if reply.get("event"):
            raise self._broken(worker, "sent an unexpected message on the grader's channel")
        return self._unwrap(reply), blobs

    def request_events(self, header: dict) -> Iterator[dict]:
        """Send a request whose reply is preceded by events (legacy mode); yield the events."""
        try:
            worker = self._send(header, None)
            while True:
                reply, _ = self._receive(worker)
                if reply.get("event"):
                    # What the caller does with an event is the grader's time, not the student's.
                    self._clock()
                    yield reply
                    self._sent_at = time.monotonic()
                    continue
                self._unwrap(reply)
                return
        finally:
            self._clock()

    def _clock(self) -> None:
        """Add the time since the request went out (if it did) to ``student_seconds``."""
        if self._sent_at is not None:
            self.student_seconds += time.monotonic() - self._sent_at
            self._sent_at = None
            self.requests += 1

    def _send(self, header: dict, encoded: Encoded | None) -> WorkerProcess:
        if self.remaining() <= 0:
            raise self._timeout(None)
        worker = self.ensure_worker()
        self._sent_at = time.monotonic()  # worker start-up above is the sandbox's time, not the student's
        try:
            worker.channel.settimeout(self._socket_timeout())
            send_frame(worker.channel, header, encoded.blobs if encoded else [])
        except socket.timeout:
            raise self._timeout(worker) from None
        except OSError:
            raise self._crashed(worker) from None
        return worker

    def _receive(self, worker: WorkerProcess) -> tuple[dict, list[bytes]]:
        try:
            worker.channel.settimeout(self._socket_timeout())
            return recv_frame(worker.channel, self.max_reply_bytes)
        except socket.timeout:
            raise self._timeout(worker) from None
        except FrameTooLarge as error:
            raise self._broken(worker, f"returned a value too large to accept ({error})") from None
        except ConnectionClosed:
            raise self._crashed(worker) from None
        except (ProtocolError, OSError) as error:
            raise self._broken(worker, f"broke the grader's channel ({error})") from None

    def _unwrap(self, reply: dict) -> Any:
        if reply.get("ok"):
            return reply.get("value")
        error = reply.get("error") or {}
        if error.get("kind") == "protocol":
            raise GraderProtocolError(str(error.get("message")))
        raise StudentException(str(error.get("type", "Exception")), str(error.get("message", "")), list(error.get("traceback", [])))

    def _timeout(self, worker: WorkerProcess | None) -> StudentTimeout:
        submission_expired = self.submission_deadline <= self.test_deadline
        limit = self.spec.limits.submission_seconds if submission_expired else self.spec.limits.test_seconds
        scope = "the time limit for the whole submission" if submission_expired else "the time limit for one test"
        if worker is not None:
            self.kill_worker("timeout")
        return StudentTimeout(f"your code did not finish within {limit:g} s ({scope}); it was stopped")

    def _crashed(self, worker: WorkerProcess) -> StudentCrash:
        ending = self.kill_worker("crash")
        tail = "".join(self._stderr[-1:]).strip().splitlines()[-5:]
        detail = ("; its last error output:\n" + "\n".join(tail)) if tail else ""
        return StudentCrash(f"the process running your code ended unexpectedly ({ending}) before returning a result{detail}")

    def _broken(self, worker: WorkerProcess, what: str) -> StudentCrash:
        self.kill_worker("protocol")
        return StudentCrash(f"your code {what}; the process running it was stopped")


def _cap(text: str, cap_bytes: int) -> tuple[str, int]:
    data = text.encode("utf-8", errors="replace")
    if len(data) <= cap_bytes:
        return text, 0
    return data[:cap_bytes].decode("utf-8", errors="ignore"), len(data) - cap_bytes
