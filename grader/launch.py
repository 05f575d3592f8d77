"""Start the worker process that runs student code: the one place that does it.

Today's backend, ``process``: a fresh interpreter (``python -I``) in its own
session and process group, a scrubbed environment, rlimits applied by the
worker before it imports anything of the student's, the student's folder as
its working directory, stdout and stderr read with a cap, and a socket as the
only channel back. The sandbox work wraps :func:`launch_worker` with stronger
backends; callers never build a worker command line themselves.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.capture import CappedReader
from grader.config import Limits

# Enough address space for numpy + torch with glibc arenas capped (design notes).
MIN_MEMORY_MB = 1024


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs: the student's folder, the allowed imports and the limits."""

    root: Path
    limits: Limits
    allowed_packages: tuple[str, ...] | None = None


@dataclass
class WorkerProcess:
    """A running worker: its process, channel and capped output readers."""

    process: subprocess.Popen
    channel: socket.socket
    stdout: CappedReader
    stderr: CappedReader
    backend: str = "process"
    limits_in_force: dict = field(default_factory=dict)

    def kill(self) -> None:
        """Kill the worker's whole process group, then reap the worker."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.channel.close()
        except OSError:
            pass

    def exit_description(self, wait: float = 1.0) -> str:
        """How the worker ended: an exit code or the signal that killed it."""
        try:
            code = self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}"
        return f"exit code {code}"


def worker_environment(root: Path) -> dict[str, str]:
    """A minimal environment: no grader secrets, one thread per math library."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "TMPDIR": str(root),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        # RLIMIT_NPROC counts threads, and torch aborts when it cannot start them.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        # glibc arenas per thread reserve address space that RLIMIT_AS counts.
        "MALLOC_ARENA_MAX": "2",
        "TORCH_SHOW_CPP_STACKTRACES": "0",
    }


def rlimits_for(limits: Limits) -> dict[str, int]:
    """The rlimits the worker applies to itself before running student code."""
    return {
        "memory_bytes": max(limits.memory_mb, MIN_MEMORY_MB) * 1024 * 1024,
        # CPU time backs up the wall clock; the grader's wall clock kills first.
        "cpu_seconds": int(limits.submission_seconds) + 5,
        "file_bytes": limits.file_mb * 1024 * 1024,
        "open_files": limits.open_files,
    }


def launch_worker(spec: WorkerSpec) -> WorkerProcess:
    """Start a worker for ``spec``; the caller owns it and must :meth:`~WorkerProcess.kill` it."""
    parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    rlimits = rlimits_for(spec.limits)
    config = {
        "fd": child_end.fileno(),  # pass_fds keeps the number, so the worker finds it there
        "root": str(spec.root),
        "limits": rlimits,
        "allowed_packages": list(spec.allowed_packages) if spec.allowed_packages is not None else None,
    }
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-u", "-m", "grader.worker", json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=spec.root,
            env=worker_environment(spec.root),
            start_new_session=True,  # its own process group: killpg reaches its children
            pass_fds=(child_end.fileno(),),
            close_fds=True,
        )
    finally:
        child_end.close()
    cap = spec.limits.output_kib * 1024
    return WorkerProcess(
        process=process,
        channel=parent_end,
        stdout=CappedReader(process.stdout, cap),
        stderr=CappedReader(process.stderr, cap),
        backend="process",
        limits_in_force={**spec.limits.to_dict(), **rlimits},
    )
