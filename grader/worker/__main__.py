"""Entry point of the worker process: ``python -I -u -m grader.worker CONFIG_JSON``.

The grader starts it through :mod:`grader.launch`; the config names the
channel's file descriptor, the student's folder, the allowed packages and the
resource limits. Limits are applied here, before any student code is imported.
"""
from __future__ import annotations

import json
import os
import resource
import socket
import sys
from pathlib import Path


def apply_limits(limits: dict) -> None:
    """Set the process's rlimits (memory, CPU seconds, file size, open files, core dumps)."""
    pairs = {
        "memory_bytes": resource.RLIMIT_AS,
        "cpu_seconds": resource.RLIMIT_CPU,
        "file_bytes": resource.RLIMIT_FSIZE,
        "open_files": resource.RLIMIT_NOFILE,
        "processes": resource.RLIMIT_NPROC,
    }
    for key, which in pairs.items():
        value = limits.get(key)
        if value:
            soft, hard = resource.getrlimit(which)
            value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
            resource.setrlimit(which, (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    config = json.loads(sys.argv[1])
    root = Path(config["root"])
    apply_limits(config.get("limits", {}))
    sock = socket.socket(fileno=int(config["fd"]))
    os.chdir(root)
    sys.path.insert(0, str(root))
    sys.argv = [str(root / "student")]

    from grader.worker.server import WorkerServer, install_import_guard

    if config.get("allowed_packages") is not None:
        install_import_guard(root, set(config["allowed_packages"]))
    WorkerServer(sock, root).serve()


if __name__ == "__main__":
    main()
