"""What isolation this machine offers: bubblewrap, Landlock, root, user namespaces.

:func:`capabilities` probes once per process (a ``bwrap ... true`` run takes
about 10 ms) and :func:`choose_backend` turns a request (``auto`` or a name)
into the backend that will run. ``grader doctor`` prints :func:`doctor_checks`.
"""
from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass

from grader.errors import InstructorError
from grader.worker import landlock

BACKENDS = ("bwrap", "landlock", "rlimits")


@dataclass(frozen=True)
class Capabilities:
    is_root: bool
    bwrap_path: str | None
    bwrap_error: str
    landlock_abi: int
    userns_clone: str

    @property
    def bwrap_works(self) -> bool:
        return self.bwrap_path is not None and not self.bwrap_error


def _probe_bwrap(path: str | None) -> str:
    if path is None:
        return "bwrap is not installed (Debian package: bubblewrap)"
    namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    if os.geteuid() != 0:
        namespaces.append("--unshare-user")
    command = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", *namespaces,
               "--die-with-parent", "--new-session", "true"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start: {error}"
    if done.returncode != 0:
        return "bwrap cannot create namespaces here: " + done.stderr.decode(errors="replace").strip()[:300]
    return ""


def python_readable_by_others() -> bool:
    """Whether another uid can traverse to and read the Python installation and the venv.

    Without namespaces the worker sees the host's real paths; a pyenv under a
    0700 ``/root`` keeps a dedicated uid from importing the standard library.
    """
    for root in {sys.base_prefix, sys.prefix}:
        path = os.path.realpath(root)
        while True:
            try:
                mode = os.stat(path).st_mode
            except OSError:
                return False
            if not mode & stat.S_IXOTH:
                return False
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
    return True


@functools.lru_cache(maxsize=1)
def capabilities() -> Capabilities:
    path = shutil.which("bwrap")
    try:
        with open("/proc/sys/kernel/unprivileged_userns_clone", encoding="ascii") as stream:
            userns = stream.read().strip()
    except OSError:
        userns = "not restricted by sysctl"
    return Capabilities(
        is_root=os.geteuid() == 0,
        bwrap_path=path,
        bwrap_error=_probe_bwrap(path) if sys.platform == "linux" else "not Linux",
        landlock_abi=landlock.abi_version(),
        userns_clone=userns,
    )


def choose_backend(requested: str = "auto") -> str:
    """The backend to use: the strongest available for ``auto``, else the one asked for (or an error)."""
    caps = capabilities()
    if requested == "auto":
        if caps.bwrap_works:
            return "bwrap"
        return "landlock" if caps.landlock_abi >= 1 else "rlimits"
    if requested == "bwrap" and not caps.bwrap_works:
        raise InstructorError(f"the bwrap sandbox is not available: {caps.bwrap_error}")
    if requested == "landlock" and caps.landlock_abi < 1:
        raise InstructorError("the landlock sandbox is not available: this kernel has no Landlock")
    if requested not in BACKENDS:
        raise InstructorError(f"unknown sandbox backend {requested!r}; expected auto or one of {', '.join(BACKENDS)}")
    return requested


# The flag that lets a batch grade without file isolation: it names what the instructor accepts.
UNISOLATED_FLAG = "--unsafe-students-can-read-solutions"
ISOLATING_BACKENDS = ("bwrap", "landlock")


def require_file_isolation(backend: str, allow_unisolated: bool = False) -> None:
    """Refuse to grade on a backend that cannot hide files, unless the instructor accepts the risk by name.

    The rlimits backend limits resources but shows student code every file the
    grader's user can read: the reference oracles (the solutions in another
    form), the hidden tests, the other submissions.
    """
    if backend in ISOLATING_BACKENDS or allow_unisolated:
        return
    caps = capabilities()
    raise InstructorError(
        f"refusing to grade with the {backend} sandbox: it cannot hide files, so student code could read the "
        "reference oracles, hidden tests, solutions and other students' submissions. Install bubblewrap "
        f"({caps.bwrap_error or 'available'}) or use a kernel with Landlock (ABI {caps.landlock_abi} here); "
        f"`grader doctor` says what this machine offers. To grade anyway, pass {UNISOLATED_FLAG}: every report "
        "and export of the batch will say it was graded without file isolation.")


def doctor_checks() -> list[tuple[str, bool, str]]:
    """``(what, available, detail)`` for each isolation layer."""
    caps = capabilities()
    checks = [
        ("bubblewrap namespaces (mount, PID, network, IPC)", caps.bwrap_works,
         caps.bwrap_path if caps.bwrap_works else caps.bwrap_error),
        ("Landlock file access control", caps.landlock_abi >= 1,
         f"ABI {caps.landlock_abi}" if caps.landlock_abi else "not offered by this kernel"),
        ("Landlock TCP connect/bind denial", caps.landlock_abi >= 4,
         "ABI >= 4" if caps.landlock_abi >= 4 else "needs Landlock ABI 4 (Linux 6.7)"),
        ("a dedicated unprivileged uid per sandbox", caps.is_root,
         "the grader runs as root and switches each worker to its own uid" if caps.is_root
         else "the grader is not root: student code runs as the grader's user (RLIMIT_NPROC not applied)"),
        ("the Python installation readable by that uid without namespaces", python_readable_by_others(),
         "yes" if python_readable_by_others() else
         f"{sys.base_prefix} is not reachable by other users: without bwrap, workers keep the grader's uid"),
        ("rlimits, new session, wall-clock kill, capped output", True, "always"),
    ]
    return checks
