"""Run student code in a sandbox: the one place that starts a worker.

A :class:`Sandbox` belongs to one grading process and serves its submissions
one after another. It claims a slot (a private folder and, when the grader is
root, a uid of its own), stages the worker's code, and starts workers with the
strongest backend the machine offers (:mod:`grader.sandbox.probe`):

``bwrap``
    bubblewrap namespaces: a private filesystem view, no network, its own PID
    namespace; plus everything below.
``landlock``
    the worker confines itself with Landlock: reads only below the system and
    Python folders and its own workspace, writes only in its workspace, no TCP;
    plus everything below.
``rlimits``
    a separate process in its own session with rlimits, a dedicated uid when
    the grader is root, a wall-clock kill and capped output. No file or
    network isolation: :func:`grader.sandbox.probe.doctor_checks` says so.

With ``warm=True`` a zygote that has imported numpy and torch forks each worker
(tens of milliseconds instead of about two seconds); ``warm=False`` starts a
fresh interpreter per submission. Every result records the backend, whether
the worker was warm, and the limits in force.
"""
from __future__ import annotations

import abc
import atexit
import json
import multiprocessing.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from grader.capture import CappedReader
from grader.config import Limits
from grader.sandbox import bwrap as bwrap_module
from grader.sandbox.private import landlock_rules, private_paths
from grader.sandbox.probe import capabilities, choose_backend, python_readable_by_others
from grader.sandbox.runtime import COLD_BOOTSTRAP, ZYGOTE_BOOTSTRAP, stage_runtime
from grader.sandbox.slots import Slot, claim_slot, hand_over, kill_all_processes_of

# Enough address space for numpy + torch with glibc arenas capped (design notes).
MIN_MEMORY_MB = 1024
PRELOADABLE = ("numpy", "torch", "edugrad")
# What a worker confined by Landlock may read of /proc: its own folder and machine-wide facts, no other process;
# of /dev the character devices programs read (never a disk: a root worker could read it raw); of /sys what
# numpy and torch ask about the CPUs and the cgroup's limits.
PROC_READABLE = ("/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/loadavg", "/proc/uptime",
                 "/proc/version", "/proc/sys", "/proc/filesystems")
DEV_READABLE = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
SYS_READABLE = ("/sys/devices/system/cpu", "/sys/devices/system/node", "/sys/fs/cgroup")
# Imported by the zygote after the package itself when the assignment uses optimizers (WorkerSpec.optimizers):
# the first torch.optim optimizer pulls in torch._dynamo lazily, 2-5 s that would otherwise land in one
# student's test. Where no optimizer is used they are not worth the second and a half they cost every start.
PRELOAD_EXTRAS = {"torch": ("torch.optim", "torch._dynamo")}


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs: the student's folder, the allowed imports and the limits."""

    root: Path
    limits: Limits
    allowed_packages: tuple[str, ...] | None = None
    optimizers: bool = True  # preload what the first torch.optim optimizer imports (PRELOAD_EXTRAS)


def worker_environment(root: Path) -> dict[str, str]:
    """A minimal environment: no grader secrets, one thread per math library."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(root),
        "TMPDIR": str(root),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        # RLIMIT_NPROC counts threads, and torch aborts when it cannot start them.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        # glibc arenas per thread reserve address space that RLIMIT_AS counts.
        "MALLOC_ARENA_MAX": "2",
    }


def rlimits_for(limits: Limits, dedicated_uid: bool) -> dict[str, int]:
    """The rlimits the worker applies to itself before running student code."""
    applied = {
        "memory_bytes": max(limits.memory_mb, MIN_MEMORY_MB) * 1024 * 1024,
        # CPU time backs up the wall clock; the grader's wall clock kills first.
        "cpu_seconds": int(limits.submission_seconds) + 5,
        "file_bytes": limits.file_mb * 1024 * 1024,
        "open_files": limits.open_files,
    }
    if dedicated_uid:  # per-uid: only meaningful when the uid is the sandbox's own
        applied["processes"] = limits.processes
    return applied


class WorkerProcess(abc.ABC):
    """A running worker: its channel, capped output readers, and how to end it."""

    def __init__(self, channel: socket.socket, stdout: CappedReader, stderr: CappedReader,
                 backend: str, limits_in_force: dict) -> None:
        self.channel = channel
        self.stdout = stdout
        self.stderr = stderr
        self.backend = backend
        self.limits_in_force = limits_in_force

    @abc.abstractmethod
    def kill(self) -> None:
        """End the worker and everything it started; close its channel."""

    @abc.abstractmethod
    def exit_description(self, wait: float = 1.0) -> str:
        """How the worker ended ("exit code 0", "killed by SIGSEGV"), or "still running"."""


class ColdWorker(WorkerProcess):
    """A worker started as a fresh interpreter (optionally inside bubblewrap)."""

    def __init__(self, process: subprocess.Popen, uid: int | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.process = process
        self.uid = uid

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:  # reap first: a zombie still counts for the uid sweep's kill(-1)
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.uid is not None:
            kill_all_processes_of(self.uid)
        _close(self.channel)

    def exit_description(self, wait: float = 1.0) -> str:
        try:
            code = self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return "still running"
        return _describe_returncode(code)


class ZygoteWorker(WorkerProcess):
    """A worker forked by the zygote."""

    def __init__(self, zygote: "ZygoteClient", pid: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.zygote = zygote
        self.pid = pid
        self.final_status = ""

    def kill(self) -> None:
        if not self.final_status:
            self.final_status = self.zygote.request({"op": "kill", "pid": self.pid}).get("status", "")
        _close(self.channel)

    def exit_description(self, wait: float = 1.0) -> str:
        if self.final_status and self.final_status != "still running":
            return self.final_status
        status = self.zygote.request({"op": "status", "pid": self.pid, "wait": wait}).get("status", "unknown")
        if status not in ("still running", "unknown"):
            self.final_status = status
        return status


def _describe_returncode(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


class ZygoteClient:
    """The grader's end of the zygote's control socket."""

    def __init__(self, process: subprocess.Popen, control: socket.socket) -> None:
        self.process = process
        self.control = control
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.process.poll() is None

    def request(self, message: dict, fds: list[int] = ()) -> dict:
        with self.lock:
            try:
                socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))
                reply = self.control.recv(1 << 20)
            except OSError:
                return {"error": "the zygote is gone"}
        if not reply:
            return {"error": "the zygote is gone"}
        return json.loads(reply)

    def close(self) -> None:
        _close(self.control)
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass


@dataclass
class Sandbox:
    """Starts sandboxed workers for one grading process (see the module docstring)."""

    backend: str = "auto"
    warm: bool = True
    # Folders of the caller's that no worker may read (the assignment, the batch's output), on top of the
    # toolkit's own install (grader.sandbox.private).
    hidden: tuple[str, ...] = ()
    slot: Slot | None = None
    runtime: Path | None = None
    _landlock_view: dict | None = field(default=None, repr=False)
    _zygote: ZygoteClient | None = None
    _zygote_preload: tuple[str, ...] = ()
    _runtime_tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.backend = choose_backend(self.backend)
        self.hidden = private_paths(self.hidden, roots=[*bwrap_module.SYSTEM_DIRS, *bwrap_module.python_dirs()])
        self.slot = claim_slot()
        self._runtime_tmp = tempfile.TemporaryDirectory(prefix="nlm-grader-runtime-")
        os.chmod(self._runtime_tmp.name, 0o755)
        self.runtime = stage_runtime(Path(self._runtime_tmp.name))
        atexit.register(self.close)
        # Pool processes leave through os._exit, which skips atexit but runs multiprocessing's finalizers.
        multiprocessing.util.Finalize(self, Sandbox.close, args=(self,), exitpriority=100)

    @property
    def uid(self) -> int | None:
        """The uid workers run as: the slot's own when the grader is root and the worker can still import Python."""
        if self.slot is None or self.slot.uid is None:
            return None
        if self.backend != "bwrap" and not python_readable_by_others():
            return None
        return self.slot.uid

    # -- workspaces -----------------------------------------------------------------
    def new_scratch(self, prefix: str) -> Path:
        """A fresh folder in this sandbox's slot for one submission."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.slot.folder))

    def hand_over(self, folder: Path) -> None:
        """Make ``folder`` the worker's: owned by the slot's uid, reachable through its parents."""
        folder.parent.chmod(0o711)
        hand_over(folder, self.uid)

    # -- workers --------------------------------------------------------------------
    def worker_config(self, spec: WorkerSpec) -> dict:
        limits = rlimits_for(spec.limits, dedicated_uid=self.uid is not None)
        config = {
            "root": str(spec.root),
            "limits": limits,
            "allowed_packages": list(spec.allowed_packages) if spec.allowed_packages is not None else None,
            "uid": self.uid,
            "gid": self.uid,
        }
        if self.backend in ("landlock", "bwrap") and capabilities().landlock_abi >= 1:
            writable = [str(spec.root), "/dev/null"] + (["/tmp"] if self.backend == "bwrap" else [])
            config["landlock"] = {**self.landlock_view(), "writable": writable}
        return config

    def landlock_view(self) -> dict[str, list[str]]:
        """What Landlock lets a worker read: the view's folders without the hidden paths (worked out once).

        Of ``/proc`` only the worker's own folder (``/proc/self``, resolved by the
        worker when it confines itself) and the machine-wide files libraries read:
        without a PID namespace, another process's ``environ`` (the grader's, with
        its secrets) is readable by the same uid, and Landlock does not stop it.
        """
        if self._landlock_view is None:
            readable, listable = landlock_rules(bwrap_module.view_paths(self.runtime), self.hidden)
            self._landlock_view = {"read_only": [*readable, *PROC_READABLE, *DEV_READABLE, *SYS_READABLE],
                                   "list_only": [*listable, "/proc"]}
        return self._landlock_view

    def describe(self, config: dict) -> dict:
        return {"backend": self.backend, "warm": self.warm, "uid": self.uid,
                "landlock": bool(config.get("landlock")), **config["limits"]}

    def launch(self, spec: WorkerSpec) -> WorkerProcess:
        """Start a worker for ``spec``; the caller owns it and must :meth:`~WorkerProcess.kill` it."""
        config = self.worker_config(spec)
        if self.warm:
            worker = self._launch_warm(spec, config)
            if worker is not None:
                return worker
        return self._launch_cold(spec, config)

    def _wrap(self, inner: list[str]) -> list[str]:
        if self.backend != "bwrap":
            return inner
        return bwrap_module.bwrap_command(capabilities().bwrap_path, self.runtime, self.slot.folder, inner,
                                          as_root=capabilities().is_root, hidden=self.hidden)

    def _launch_cold(self, spec: WorkerSpec, config: dict) -> WorkerProcess:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = {**config, "fd": child_end.fileno()}  # pass_fds keeps the number
        inner = [sys.executable, "-I", "-u", "-c", COLD_BOOTSTRAP.format(runtime=str(self.runtime)), json.dumps(config)]
        try:
            process = subprocess.Popen(
                self._wrap(inner), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=spec.root, env=worker_environment(spec.root), start_new_session=True,
                pass_fds=(child_end.fileno(),), close_fds=True,
            )
        finally:
            child_end.close()
        cap = spec.limits.output_kib * 1024
        return ColdWorker(process, self.uid, channel=parent_end, stdout=CappedReader(process.stdout, cap),
                          stderr=CappedReader(process.stderr, cap), backend=self.backend,
                          limits_in_force={**self.describe(config), "warm": False})

    def prewarm(self, allowed_packages: tuple[str, ...] | None, optimizers: bool = True) -> None:
        """Start the warm worker now (it imports numpy/torch in the background); a no-op when cold."""
        if self.warm:
            self._ensure_zygote(WorkerSpec(root=self.slot.folder, limits=Limits(), allowed_packages=allowed_packages,
                                           optimizers=optimizers))

    def _ensure_zygote(self, spec: WorkerSpec) -> ZygoteClient | None:
        names = [name for name in PRELOADABLE if spec.allowed_packages is None or name in spec.allowed_packages]
        wanted = tuple(module for name in names
                       for module in (name, *(PRELOAD_EXTRAS.get(name, ()) if spec.optimizers else ())))
        if self._zygote is not None and self._zygote.alive() and set(wanted) <= set(self._zygote_preload):
            return self._zygote
        if self._zygote is not None:
            self._zygote.close()
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        preload = list(wanted)
        config = {"control_fd": child_end.fileno(), "preload": preload}
        inner = [sys.executable, "-I", "-u", "-c", ZYGOTE_BOOTSTRAP.format(runtime=str(self.runtime)), json.dumps(config)]
        try:
            process = subprocess.Popen(
                self._wrap(inner), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=self.slot.folder, env=worker_environment(self.slot.folder), start_new_session=True,
                pass_fds=(child_end.fileno(),), close_fds=True,
            )
        except OSError:
            return None
        finally:
            child_end.close()
        self._zygote = ZygoteClient(process, parent_end)
        self._zygote_preload = wanted
        return self._zygote

    def _launch_warm(self, spec: WorkerSpec, config: dict) -> WorkerProcess | None:
        zygote = self._ensure_zygote(spec)
        if zygote is None:
            return None
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            reply = zygote.request({"op": "spawn", "config": config}, [child_end.fileno(), out_write, err_write])
        finally:
            child_end.close()
            os.close(out_write)
            os.close(err_write)
        if "pid" not in reply:  # the zygote died: fall back to a cold start for this worker
            for fd in (out_read, err_read):
                os.close(fd)
            _close(parent_end)
            self._zygote = None
            return None
        cap = spec.limits.output_kib * 1024
        return ZygoteWorker(zygote, int(reply["pid"]), channel=parent_end,
                            stdout=CappedReader(os.fdopen(out_read, "rb", buffering=0), cap),
                            stderr=CappedReader(os.fdopen(err_read, "rb", buffering=0), cap),
                            backend=self.backend, limits_in_force={**self.describe(config), "warm": True})

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        if self.slot is not None:
            if self.uid is not None:
                kill_all_processes_of(self.uid)
            self.slot.release()
            self.slot = None
        if self._runtime_tmp is not None:
            self._runtime_tmp.cleanup()
            self._runtime_tmp = None


_DEFAULT: Sandbox | None = None


def default_sandbox() -> Sandbox:
    """The sandbox of this process, created on first use with the strongest backend and a warm worker."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Sandbox(backend=os.environ.get("GRADER_SANDBOX", "auto"), warm=os.environ.get("GRADER_WARM", "1") != "0")
    return _DEFAULT


def configure_default_sandbox(backend: str = "auto", warm: bool = True, hidden: tuple[str, ...] = ()) -> Sandbox:
    """Replace this process's sandbox (the pool initializer calls it with the batch's settings);
    ``hidden`` folders (the assignment, the batch's output) are kept from its workers."""
    global _DEFAULT
    if _DEFAULT is not None:
        _DEFAULT.close()
    _DEFAULT = Sandbox(backend=backend, warm=warm, hidden=tuple(hidden))
    return _DEFAULT
