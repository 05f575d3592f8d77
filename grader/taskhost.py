"""Grading processes for executor threads: what a Dask worker runs a task in.

A Dask worker runs tasks in threads, but grading must run in a main thread
(pytest-timeout arms SIGALRM) and one process grades one submission at a
time (pytest and the sandbox are per process). Dask worker processes are
daemons, which may not start :mod:`multiprocessing` children. So
:func:`grade_task`, the function an executor runs, hands the task to a
*task host*: a child interpreter (``python -m grader.taskhost``) started with
:mod:`subprocess`, kept warm between tasks (its sandbox's zygote keeps torch
imported) and talking over a socket pair with :mod:`grader.protocol` frames
of plain data. One host per concurrent thread; a host that dies takes only
its task with it (:class:`TaskHostDied`, which the batch retries once).
"""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
from typing import Any

from grader.protocol import ConnectionClosed, ProtocolError, recv_frame, send_frame

MAX_TASK_BYTES = 1024 * 1024 * 1024


class TaskHostDied(RuntimeError):
    """The grading process ended (or broke the channel) before answering."""


class TaskHost:
    """One child grading process and the grader's end of its channel."""

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "grader.taskhost", str(child_end.fileno())],
                pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            child_end.close()
        self.channel = parent_end

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        """Grade ``task`` in the host; its result dict, or :class:`TaskHostDied`."""
        try:
            send_frame(self.channel, {"task": task})
            reply, _ = recv_frame(self.channel, MAX_TASK_BYTES)
        except (OSError, ConnectionClosed, ProtocolError) as error:
            code = self.close()
            raise TaskHostDied(f"the grading process on this worker died ({code}): {error}") from None
        if "error" in reply:
            raise RuntimeError(str(reply["error"]))
        return reply["result"]

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> str:
        """End the host; say how it ended."""
        try:
            self.channel.close()
        except OSError:
            pass
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return f"exit code {code}" if code >= 0 else f"killed by signal {-code}"


_IDLE: list[TaskHost] = []
_LOCK = threading.Lock()


def grade_task(task: dict[str, Any]) -> dict[str, Any]:
    """Grade one plain-data task (see :mod:`grader.tasks`) in an idle task host of this process."""
    with _LOCK:
        host = None
        while _IDLE and host is None:
            candidate = _IDLE.pop()
            host = candidate if candidate.alive() else None
    host = host or TaskHost()
    result = host.run(task)  # a dead host raises here and is not put back
    with _LOCK:
        _IDLE.append(host)
    return result


def close_hosts() -> None:
    """End this process's idle task hosts (they also end on their own when this process exits)."""
    with _LOCK:
        hosts, _IDLE[:] = list(_IDLE), []
    for host in hosts:
        host.close()


def serve(channel: socket.socket) -> None:
    """The host's loop: one task in, one result out, until the channel closes."""
    from grader.tasks import forget_unpacked, grade_task_here

    try:
        while True:
            try:
                request, _ = recv_frame(channel, MAX_TASK_BYTES)
            except (ConnectionClosed, OSError):
                return
            try:
                reply = {"result": grade_task_here(request["task"])}
            except Exception as error:  # noqa: BLE001 - reported to the grader, which retries or records it
                reply = {"error": f"{type(error).__name__}: {error}"}
            send_frame(channel, reply)
    finally:
        forget_unpacked()


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
