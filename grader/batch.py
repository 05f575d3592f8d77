"""Grade a folder of submissions in parallel, resumably, writing each result as it lands.

``grade_batch`` is what ``grader grade`` calls. Each submission is graded in a
pool process (which itself starts the sandboxed worker); its result is saved
atomically the moment it finishes. A rerun skips submissions whose stored
result has the same assignment version, assignment fingerprint and
submission content, unless ``regrade`` is set. If a pool process dies (student
code that killed its parent, say), the submissions it held are retried once
alone, then recorded as failures; the rest of the batch goes on.
"""
from __future__ import annotations

import csv
import io
import multiprocessing
import os
import tempfile
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader.config import Assignment, load_assignment
from grader.errors import InstructorError
from grader.ingest import SubmissionSource, discover_submissions, hash_tree, ignored_entries
from grader.manifest import manifest_for, write_manifest
from grader.plan import PlannedTest, collect_plan
from grader.sandbox.probe import choose_backend
from grader.results import GRADER_FAILURE, SubmissionResult, load_result, result_path, save_result

GRADES_CSV = "grades.csv"
ProgressCallback = Callable[[SubmissionResult, bool], None]


@dataclass
class BatchSummary:
    """What a batch did: every result (new or reused), and what it skipped."""

    assignment: Assignment
    out_dir: Path
    plan: list[PlannedTest]
    results: list[SubmissionResult] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)

    @property
    def grades_csv(self) -> Path:
        return self.out_dir / GRADES_CSV


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def grade_batch(submissions_dir: Path, assignment_path: Path, out_dir: Path, jobs: int | None = None,
                regrade: bool = False, only: tuple[str, ...] = (), progress: ProgressCallback | None = None,
                on_start: Callable[[int, int], None] | None = None, sandbox: str = "auto",
                warm: bool = True) -> BatchSummary:
    """Grade every submission in ``submissions_dir``; raises :class:`InstructorError` only for instructor errors.

    ``sandbox`` picks the isolation backend (``auto``: the strongest this machine
    offers); ``warm=False`` starts a fresh interpreter per submission instead of
    forking the warm zygote.
    """
    assignment = load_assignment(assignment_path)
    backend = choose_backend(sandbox)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InstructorError(f"cannot create the output folder {out_dir}: {error}") from None
    with tempfile.TemporaryDirectory(prefix="grader-plan-") as plan_dir:
        plan = collect_plan(assignment, Path(plan_dir))
    sources = discover_submissions(Path(submissions_dir), assignment.student_files)
    summary = BatchSummary(assignment, out_dir, plan, ignored=ignored_entries(Path(submissions_dir), assignment.student_files))
    if only:
        known = {source.student_id for source in sources}
        unknown = sorted(set(only) - known)
        if unknown:
            raise InstructorError(f"--only {unknown[0]!r}: no such submission in {submissions_dir}")
        sources = [source for source in sources if source.student_id in only]

    fingerprint = assignment.fingerprint()
    todo: list[SubmissionSource] = []
    for source in sources:
        previous = None if regrade else up_to_date_result(out_dir, source, assignment, fingerprint)
        if previous is not None:
            summary.results.append(previous)
            summary.reused.append(source.student_id)
        else:
            todo.append(source)
    if on_start:
        on_start(len(todo), len(summary.reused))
    for result in run_pool(assignment, plan, todo, jobs or default_jobs(), fingerprint, out_dir, progress, backend, warm):
        summary.results.append(result)
    summary.results.sort(key=lambda result: result.student_id)
    write_grades_csv(summary.grades_csv, plan, summary.results)
    write_manifest(out_dir, manifest_for(assignment, plan, backend))
    return summary


def up_to_date_result(out_dir: Path, source: SubmissionSource, assignment: Assignment, fingerprint: str) -> SubmissionResult | None:
    previous = load_result(result_path(out_dir, source.student_id))
    if previous is None or previous.status == GRADER_FAILURE:
        return None
    if previous.assignment_version != assignment.version or previous.assignment_fingerprint != fingerprint:
        return None
    return previous if previous.content_hash == source_hash(source) else None


def source_hash(source: SubmissionSource) -> str:
    """The content hash a fresh grading would record (cheap: no extraction for folders)."""
    from grader.ingest import prepare_workspace  # local: only needed for archives

    if source.kind == "folder":
        return hash_tree(source.path)
    with tempfile.TemporaryDirectory(prefix="grader-hash-") as scratch:
        try:
            return prepare_workspace(source, Path(scratch) / "work", ()).content_hash
        except Exception:  # noqa: BLE001 - a broken archive is regraded (and recorded) anyway
            return ""


# -- the pool --------------------------------------------------------------------
_WORKER_STATE: dict = {}


def _init_pool_process(assignment_root: str, plan: list[PlannedTest], fingerprint: str, out_dir: str,
                       backend: str, warm: bool) -> None:
    from grader.sandbox import configure_default_sandbox

    _WORKER_STATE.update(assignment=load_assignment(assignment_root), plan=plan, fingerprint=fingerprint, out_dir=Path(out_dir))
    configure_default_sandbox(backend, warm)


IN_FLIGHT_MARKER = ".grading"


def _grade_in_pool(source: SubmissionSource) -> SubmissionResult:
    from grader.runner import grade_submission

    marker = _WORKER_STATE["out_dir"] / source.student_id / IN_FLIGHT_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    result = grade_submission(_WORKER_STATE["assignment"], _WORKER_STATE["plan"], source)
    result.assignment_fingerprint = _WORKER_STATE["fingerprint"]
    save_result(_WORKER_STATE["out_dir"], result)
    marker.unlink(missing_ok=True)
    return result


def run_pool(assignment: Assignment, plan: list[PlannedTest], sources: list[SubmissionSource], jobs: int,
             fingerprint: str, out_dir: Path, progress: ProgressCallback | None, backend: str = "auto",
             warm: bool = True) -> list[SubmissionResult]:
    """Grade ``sources`` on ``jobs`` processes; survive the death of any of them.

    When a pool process dies, every unfinished future fails. Submissions that
    had started (their in-flight marker exists) are suspects: each is retried
    alone, and recorded as a failure if it kills its process again. The others
    are simply queued again.
    """
    results: list[SubmissionResult] = []
    context = multiprocessing.get_context("spawn")  # no inherited state, no fork after torch
    queue: list[tuple[SubmissionSource, bool]] = [(source, False) for source in sources]
    while queue:
        suspects = [source for source, suspect in queue if suspect]
        if suspects:  # one suspect at a time, alone in its pool
            batch = [suspects[0]]
            queue = [(source, suspect) for source, suspect in queue if source is not suspects[0]]
        else:
            batch = [source for source, _ in queue]
            queue = []
        workers = max(1, min(jobs, len(batch)))
        broken: list[SubmissionSource] = []
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_pool_process,
                                 initargs=(str(assignment.root), plan, fingerprint, str(out_dir), backend, warm)) as pool:
            futures: dict[Future, SubmissionSource] = {pool.submit(_grade_in_pool, source): source for source in batch}
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    source = futures.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken.append(source)
                        continue
                    except Exception as error:  # noqa: BLE001 - e.g. an unpicklable result; recorded
                        result = failure_result(assignment, plan, source, fingerprint, f"{type(error).__name__}: {error}")
                        save_result(out_dir, result)
                    results.append(result)
                    if progress:
                        progress(result, False)
        for source in broken:
            marker = out_dir / source.student_id / IN_FLIGHT_MARKER
            was_running = marker.exists()
            marker.unlink(missing_ok=True)
            if was_running and len(batch) == 1:
                result = failure_result(assignment, plan, source, fingerprint,
                                        "the process grading this submission died twice while running it; "
                                        "its code may have killed the grader's process")
                save_result(out_dir, result)
                results.append(result)
                if progress:
                    progress(result, False)
            else:
                queue.append((source, was_running))
    return results


def failure_result(assignment: Assignment, plan: list[PlannedTest], source: SubmissionSource, fingerprint: str, message: str) -> SubmissionResult:
    tests = [test.result("failed", 0.0, "not graded: " + message) for test in plan]
    return SubmissionResult(student_id=source.student_id, assignment=assignment.name, assignment_version=assignment.version,
                            status=GRADER_FAILURE, tests=tests, message=message, assignment_fingerprint=fingerprint)


def write_grades_csv(path: Path, plan: list[PlannedTest], results: list[SubmissionResult]) -> None:
    """``id, score, max, status, <one column per test>`` (points earned), written atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "score", "max", "status", *[test.id for test in plan]])
    for result in results:
        earned = {test.id: test.points for test in result.tests}
        writer.writerow([result.student_id, _number(result.total), _number(result.possible), result.status,
                         *[_number(earned.get(test.id, 0.0)) for test in plan]])
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(temp, path)


def _number(value: float) -> str:
    return f"{value:g}"
