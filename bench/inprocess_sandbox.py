"""UNSAFE: student code in the grader's own process, for the benchmark's baseline only.

:class:`InProcessSandbox` has the interface :func:`grader.runner.grade_submission`
uses (``new_scratch``, ``hand_over``, ``launch``, ``backend``), but its
"worker" is a thread of this process serving the same protocol over a socket
pair (:class:`grader.worker.server.WorkerServer`). The trusted tests, the
proxy, the oracles and the request/reply traffic are exactly those of a real
grading; what is missing is the separate process, the sandbox layers, the
limits and the warm zygote. So ``sandboxed time / in-process time`` is the
price of isolation.

Student code shares the grader's memory, files and interpreter here: it could
rewrite its own score. A hang cannot be stopped (a thread cannot be killed)
and ``os._exit`` ends the benchmark. Never grade real submissions with it; it
lives in ``bench/``, not in the ``grader`` package, and no CLI option reaches it.
"""
from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
from pathlib import Path

from grader.capture import CappedReader
from grader.sandbox import WorkerProcess, WorkerSpec
from grader.worker.server import WorkerServer

BACKEND = "in-process (UNSAFE, benchmark only)"


class ThreadWorker(WorkerProcess):
    """A worker that is a thread of the grader; killing it unloads the student's modules."""

    def __init__(self, root: Path, thread: threading.Thread, **kwargs) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.thread = thread

    def kill(self) -> None:
        try:
            self.channel.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.channel.close()
        self.thread.join(timeout=5)
        if self.thread.is_alive():
            raise RuntimeError("student code in the in-process baseline did not return; it cannot be stopped "
                               "(grade only submissions that finish in this mode)")
        _unload_modules_under(self.root)

    def exit_description(self, wait: float = 1.0) -> str:
        return "still running" if self.thread.is_alive() else "exit code 0"


def _unload_modules_under(root: Path) -> None:
    """Forget the student's modules so the next submission imports its own ``lm``."""
    prefix = str(root.resolve())
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(prefix):
            del sys.modules[name]
    while str(root) in sys.path:
        sys.path.remove(str(root))


def _empty_reader() -> CappedReader:
    read_end, write_end = os.pipe()
    os.close(write_end)
    return CappedReader(os.fdopen(read_end, "rb", buffering=0), 0)


class InProcessSandbox:
    """Launches :class:`ThreadWorker` s; see the module docstring for why this is unsafe."""

    backend = BACKEND

    def new_scratch(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix))

    def hand_over(self, folder: Path) -> None:
        """Nothing to hand over: there is no other uid."""

    def launch(self, spec: WorkerSpec) -> WorkerProcess:
        grader_end, student_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        root = spec.root.resolve()
        # No chdir: a thread cannot have its own working directory. The import path is all the tests need.
        sys.path.insert(0, str(root))

        def serve() -> None:
            try:
                WorkerServer(student_end, root).serve()
            finally:
                student_end.close()

        thread = threading.Thread(target=serve, name="in-process-student", daemon=True)
        thread.start()
        return ThreadWorker(root, thread, channel=grader_end, stdout=_empty_reader(), stderr=_empty_reader(),
                            backend=BACKEND, limits_in_force={"backend": BACKEND, "warm": True})

    def close(self) -> None:
        """Nothing to release."""
