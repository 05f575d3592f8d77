"""The bubblewrap command line: a private view of the filesystem and no network.

Visible inside: the system's ``/usr``, ``/lib*``, ``/bin``, ``/etc`` read-only;
the Python installation and the virtual environment read-only; the worker's
runtime folder read-only; the slot folder (the submission's scratch) writable;
a private ``/tmp``, ``/proc`` and ``/dev``. Not visible: the grader's checkout,
the assignment (hidden tests, solutions), other slots, the rest of ``/root``
and ``/home``, and the toolkit's own install inside the visible folders (the
``reference`` oracles and the ``grader`` package in ``site-packages``, blanked
by :func:`grader.sandbox.private.bwrap_masks`). New PID, network, IPC and UTS namespaces. As root, no user
namespace, so the worker can switch to the slot's own host uid.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from grader.sandbox.private import bwrap_masks

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def python_dirs() -> list[str]:
    """Folders the interpreter and its packages live in (the venv and its base installation)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            str(Path(sys.executable).parent), str(Path(os.path.realpath(sys.executable)).parent.parent)}
    return sorted(path for path in dirs if path and not any(path.startswith(system + "/") or path == system
                                                             for system in ("/usr", "/bin")))


def view_paths(runtime: Path) -> list[str]:
    """Read-only paths a worker needs (also the Landlock read list)."""
    return [*SYSTEM_DIRS, *python_dirs(), str(runtime)]


def bwrap_command(bwrap: str, runtime: Path, writable: Path, inner: list[str], as_root: bool,
                  hidden: tuple[str, ...] = ()) -> list[str]:
    """The command that runs ``inner`` in the view; ``hidden`` paths inside it are blanked."""
    command = [bwrap, "--die-with-parent", "--new-session",
               "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if not as_root:
        command.append("--unshare-user")
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            command += ["--ro-bind", path, path]
    # The private /tmp first: the runtime and the slot folder usually live below /tmp
    # on the host, and a later tmpfs would hide them.
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    created: set[str] = {"/", "/tmp"}
    for path, mode in [*((path, "--ro-bind") for path in python_dirs()), (str(runtime), "--ro-bind"), (str(writable), "--bind")]:
        # bwrap running as root makes missing parents 0700; the worker's uid must traverse them.
        for parent in reversed(Path(path).parents):
            if str(parent) not in created:
                created.add(str(parent))
                command += ["--perms", "0755", "--dir", str(parent)]
        command += [mode, path, path]
    command += bwrap_masks([*SYSTEM_DIRS, *python_dirs()], hidden)
    command += ["--chdir", str(writable), "--"]
    return command + inner
