"""Peak memory of the grader's processes, sampled from ``/proc`` while a batch runs.

A background thread walks the descendants of this process every few
milliseconds and keeps, per role, the largest peak resident set size
(``VmHWM``, which the kernel keeps for the process's whole life, so a sample
just before a process ends still sees its peak) and the largest proportional
set size (``Pss``, which divides pages shared with the zygote among the
processes sharing them):

``grading process``  a pool process: runs pytest, the oracles and the proxy
``warm zygote``      the preloaded interpreter that forks workers
``worker``           one student's worker (forked, or a fresh interpreter)

The coordinating process (this one) is read with ``getrusage`` at the end.
Linux only; on another system the numbers stay empty.
"""
from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

ROLES = ("grading process", "warm zygote", "worker")


def _status_kib(pid: int, field: str, name: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return parents


def classify(pid: int, parents: dict[int, int], cmdlines: dict[int, list[str]]) -> str | None:
    """The role of a descendant, or None (bwrap, a shell...)."""
    command = cmdlines.get(pid) or []
    if not command or "python" not in Path(command[0]).name:
        return None
    text = " ".join(command)
    parent_text = " ".join(cmdlines.get(parents.get(pid, 0)) or [])
    parent_is_python = "python" in Path((cmdlines.get(parents.get(pid, 0)) or [""])[0]).name
    if "grader.worker.zygote" in text:
        # Forked workers keep the zygote's command line; their parent is the zygote itself.
        return "worker" if parent_is_python and "grader.worker.zygote" in parent_text else "warm zygote"
    if "grader.worker.__main__" in text:
        return "worker"
    if "multiprocessing" in text or "grader.taskhost" in text:
        return "grading process"
    return None


class MemorySampler:
    """Samples the descendants of this process until stopped; ``peak_rss``/``peak_pss`` hold KiB per role."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_rss: dict[str, int] = dict.fromkeys(ROLES, 0)
        self.peak_pss: dict[str, int] = dict.fromkeys(ROLES, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "MemorySampler":
        if Path("/proc/self/status").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        root = os.getpid()
        while not self._stop.wait(self.interval):
            parents = _parents()
            children: dict[int, list[int]] = {}
            for pid, parent in parents.items():
                children.setdefault(parent, []).append(pid)
            descendants, todo = [], list(children.get(root, []))
            while todo:
                pid = todo.pop()
                descendants.append(pid)
                todo.extend(children.get(pid, []))
            # Read every time: a process just forked still shows its parent's command line.
            cmdlines = {pid: _cmdline(pid) for pid in descendants}
            for pid in descendants:
                role = classify(pid, parents, cmdlines)
                if role is None:
                    continue
                self.peak_rss[role] = max(self.peak_rss[role], _status_kib(pid, "VmHWM"))
                if role == "worker":  # Pss costs a page-table walk: only for the small processes
                    self.peak_pss[role] = max(self.peak_pss[role], _status_kib(pid, "Pss", "smaps_rollup"))


def own_peak_rss_kib() -> int:
    """This process's peak RSS so far (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
