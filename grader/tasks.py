"""Grading tasks as plain data, for executors whose workers share no files with the grader.

A task is a JSON-compatible dict that carries everything one grading needs:
the assignment folder (files as base64 text, the solution and starter left
out), the plan of tests, the assignment's fingerprint, the submission as it
was found (a folder's entries, or a zip's or single file's bytes, under its
original name, with what an importer learned about it) and the sandbox settings. Its answer is
:meth:`SubmissionResult.to_dict`. Nothing is pickled on the way in or out but
these dicts, so a worker on another machine needs only the installed toolkit.

:func:`grade_task_here` runs a task in the calling process (it must be the
main thread: pytest-timeout arms SIGALRM); :mod:`grader.taskhost` gives a
thread of a Dask worker such a process.
"""
from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grader.config import Assignment, load_assignment
from grader.errors import InstructorError
from grader.importers.record import Submitted
from grader.ingest import IngestLimits, SubmissionSource
from grader.plan import PlannedTest
from grader.sandbox.probe import require_file_isolation

TASK_VERSION = 2  # 2: the submission's seed identity (Submitted.seed_id) seeds its hidden tests
# What a task may carry for one submission; the workspace's own limits (grader.ingest) apply after unpacking.
MAX_SHIPPED_BYTES = 2 * IngestLimits().max_total_bytes
_SKIPPED_NAMES = {"__pycache__", ".git", ".pytest_cache"}


class TaskError(Exception):
    """A task could not be built or unpacked (the batch retries it once, then records a failure)."""


# -- packing (in the grader) -------------------------------------------------------
def pack_assignment(assignment: Assignment) -> dict[str, Any]:
    """The assignment folder as plain data; the solution's and starter's folders travel empty."""
    root = assignment.root
    left_out = {folder for folder in (assignment.solution, assignment.starter) if folder}
    files: dict[str, str] = {}
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _SKIPPED_NAMES for part in relative.parts) or path.suffix == ".pyc":
            continue
        if relative.parts[0] in left_out or path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        files[relative.as_posix()] = base64.b64encode(data).decode("ascii")
        digest.update(relative.as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
    return {"folder": root.resolve().name, "digest": digest.hexdigest(), "files": files, "empty_folders": sorted(left_out)}


def pack_plan(plan: list[PlannedTest]) -> list[dict[str, Any]]:
    return [asdict(test) for test in plan]


def pack_submission(source: SubmissionSource) -> dict[str, Any]:
    """The submission entry as found: a folder's entries (links kept as links), or a file's bytes."""
    shipped = {"student_id": source.student_id, "kind": source.kind, "name": source.path.name,
               "submitted": source.submitted.to_dict()}
    if source.path.is_symlink():  # ingest refuses it; ship the refusal, not the target
        return {**shipped, "entries": [{"path": "", "type": "link", "target": os.readlink(source.path)}]}
    if source.kind != "folder":
        return {**shipped, "entries": [{"path": "", "type": "file", "data": _read_capped(source.path, 0)[0]}]}
    entries: list[dict[str, str]] = []
    total = 0
    for path in sorted(source.path.rglob("*")):
        relative = path.relative_to(source.path).as_posix()
        if relative == ".git" or relative.startswith(".git/"):  # ingest leaves a top-level .git out anyway
            continue
        if path.is_symlink():
            entries.append({"path": relative, "type": "link", "target": os.readlink(path)})
        elif path.is_dir():
            entries.append({"path": relative, "type": "folder"})
        elif path.is_file():
            data, total = _read_capped(path, total)
            entries.append({"path": relative, "type": "file", "data": data})
    return {**shipped, "entries": entries}


def _read_capped(path: Path, total: int) -> tuple[str, int]:
    total += path.stat().st_size
    if total > MAX_SHIPPED_BYTES:
        raise TaskError(f"{path}: the submission holds more than {MAX_SHIPPED_BYTES // 2**20} MiB, "
                        "too much to ship to a worker")
    return base64.b64encode(path.read_bytes()).decode("ascii"), total


def make_task(assignment: dict[str, Any], plan: list[dict[str, Any]], fingerprint: str, source: SubmissionSource,
              sandbox: str = "auto", warm: bool = True, allow_unisolated: bool = False) -> dict[str, Any]:
    """One submission's task; ``assignment`` and ``plan`` come packed once per batch.

    ``allow_unisolated``: the instructor accepted grading without file isolation
    (:func:`grader.sandbox.probe.require_file_isolation`), checked on the worker.
    """
    return {"version": TASK_VERSION, "assignment": assignment, "plan": plan, "fingerprint": fingerprint,
            "submission": pack_submission(source), "sandbox": sandbox, "warm": warm,
            "allow_unisolated": bool(allow_unisolated)}


# -- running (in a worker's grading process) ----------------------------------------
_ASSIGNMENTS: dict[str, Assignment] = {}
_SCRATCH: list[tempfile.TemporaryDirectory] = []
_SANDBOX_SETTINGS: list[tuple[str, bool]] = []


def grade_task_here(task: dict[str, Any]) -> dict[str, Any]:
    """Grade one task in this process (its main thread) and return the result as a dict."""
    from grader.results import SubmissionResult
    from grader.runner import grade_submission

    if task.get("version") != TASK_VERSION:
        raise TaskError(f"task version {task.get('version')!r}; this worker's grader reads version {TASK_VERSION} "
                        "(install the same nlm-grader on the workers as on the grader)")
    assignment = _unpacked_assignment(task["assignment"])
    plan = [PlannedTest(**test) for test in task["plan"]]
    sandbox = _ensure_sandbox(str(task.get("sandbox", "auto")), bool(task.get("warm", True)), assignment)
    try:
        require_file_isolation(sandbox.backend, bool(task.get("allow_unisolated", False)))
    except InstructorError as error:
        raise TaskError(f"this worker cannot isolate student code: {error}") from None
    with tempfile.TemporaryDirectory(prefix="grader-task-") as scratch:
        source = _unpack_submission(task["submission"], Path(scratch))
        result: SubmissionResult = grade_submission(assignment, plan, source, sandbox=sandbox)
    result.assignment_fingerprint = str(task["fingerprint"])
    return result.to_dict()


def _unpacked_assignment(packed: dict[str, Any]) -> Assignment:
    """The assignment folder of ``packed``, written once per process and content digest."""
    digest = str(packed["digest"])
    if digest not in _ASSIGNMENTS:
        holder = tempfile.TemporaryDirectory(prefix="grader-assignment-")
        _SCRATCH.append(holder)
        # The folder keeps its name (the assignment's default name): grading sees what it sees locally.
        root = Path(holder.name) / _plain_name(str(packed["folder"]))
        for relative, data in packed["files"].items():
            target = _inside(root, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(data))
        for folder in packed.get("empty_folders", []):
            _inside(root, folder).mkdir(parents=True, exist_ok=True)
        _ASSIGNMENTS[digest] = load_assignment(root)
    return _ASSIGNMENTS[digest]


def _unpack_submission(packed: dict[str, Any], scratch: Path) -> SubmissionSource:
    """Recreate the submission entry under ``scratch`` with its original name; ingest then treats it as usual."""
    entry = _inside(scratch, _plain_name(str(packed["name"])))
    for item in packed["entries"]:
        target = _inside(entry, item["path"]) if item["path"] else entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if item["type"] == "folder":
            target.mkdir(parents=True, exist_ok=True)
        elif item["type"] == "link":  # never followed: ingest refuses or skips links
            target.symlink_to(str(item["target"]))
        else:
            target.write_bytes(base64.b64decode(item["data"]))
    if packed["kind"] == "folder":
        entry.mkdir(exist_ok=True)
    return SubmissionSource(student_id=str(packed["student_id"]), path=entry, kind=str(packed["kind"]),
                            submitted=Submitted.from_dict(packed.get("submitted", {})))


def _plain_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise TaskError(f"bad name in task: {name!r}")
    return name


def _inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing absolute paths and ``..`` (a task is data, not a path to trust)."""
    parts = Path(relative).parts
    if Path(relative).is_absolute() or any(part in ("..", "") for part in parts):
        raise TaskError(f"bad path in task: {relative!r}")
    return root.joinpath(*parts)


def _ensure_sandbox(backend: str, warm: bool, assignment: Assignment):
    """This process's sandbox with the task's settings, started (and its warm worker preloading) once."""
    from grader.sandbox import configure_default_sandbox, default_sandbox

    if _SANDBOX_SETTINGS != [(backend, warm)]:
        sandbox = configure_default_sandbox(backend, warm)
        from grader.warmup import prewarm

        prewarm(sandbox, assignment)
        _SANDBOX_SETTINGS[:] = [(backend, warm)]
    return default_sandbox()


def forget_unpacked() -> None:
    """Remove the assignments this process unpacked (a task host calls it on the way out)."""
    _ASSIGNMENTS.clear()
    while _SCRATCH:
        _SCRATCH.pop().cleanup()
