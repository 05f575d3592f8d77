"""Confine the worker before any student code runs: rlimits, Landlock, an unprivileged uid.

Called by a cold worker on itself (``python -m grader.worker``) and by each
child the zygote forks. The order matters: rlimits first (``RLIMIT_NPROC``
counts the target uid's processes), then, for a worker that keeps the
grader's uid, giving up every capability, then Landlock (it needs no
privilege once ``no_new_privs`` is set), then the uid change that drops every
capability.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal

from grader.worker import landlock

PR_SET_PDEATHSIG = 1
_RLIMITS = {
    "memory_bytes": resource.RLIMIT_AS,
    "cpu_seconds": resource.RLIMIT_CPU,
    "file_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}


def apply_rlimits(limits: dict) -> dict:
    """Set hard and soft rlimits; returns those in force."""
    applied = {}
    for key, which in _RLIMITS.items():
        value = limits.get(key)
        if not value:
            continue
        _, hard = resource.getrlimit(which)
        value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
        resource.setrlimit(which, (value, value))
        applied[key] = value
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return applied


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """Become ``uid``/``gid`` with no supplementary groups (only when running as root)."""
    if uid is None or os.geteuid() != 0:
        return
    gid = uid if gid is None else gid
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() == 0 or os.getegid() == 0:
        raise PermissionError("could not drop root privileges")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_CAPABILITY_VERSION_3 = 0x20080522
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
# SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP, SECBIT_KEEP_CAPS_LOCKED... and their locks: root never regains a capability.
_SECUREBITS_LOCKED_NOROOT = 0x2F


def drop_capabilities() -> None:
    """Give up every capability while staying uid 0 (where the worker must keep the grader's uid).

    A root worker confined by Landlock alone could still open a raw disk device
    or take a file handle; without capabilities it is an ordinary process
    that happens to own root's files, and Landlock decides what it may read.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap", encoding="ascii").read())
    except (OSError, ValueError):
        last = 40
    for capability in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
    libc.prctl(PR_SET_SECUREBITS, _SECUREBITS_LOCKED_NOROOT, 0, 0, 0)
    header, data = _CapHeader(_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise PermissionError(f"could not drop capabilities: {os.strerror(ctypes.get_errno())}")


def confine(config: dict) -> None:
    """Apply everything ``config`` asks for, or raise: a worker never runs student code half-confined."""
    apply_rlimits(config.get("limits", {}))
    if config.get("uid") is None:  # no uid of its own to switch to: at least no capability
        drop_capabilities()
    view = config.get("landlock")
    if view:
        landlock.restrict(view["read_only"], view["writable"], deny_tcp=True, list_only=view.get("list_only", ()))
    drop_privileges(config.get("uid"), config.get("gid"))
    die_with_parent()
