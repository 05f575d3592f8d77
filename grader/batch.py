"""Grade a folder of submissions in parallel, resumably, writing each result as it lands.

``grade_batch`` is what ``grader grade`` calls. Each submission is graded in a
pool process (which itself starts the sandboxed worker); its result is saved
atomically the moment it finishes. A rerun skips submissions whose stored
result has the same assignment version, assignment fingerprint and
submission content, unless ``regrade`` is set. If a pool process dies (student
code that killed its parent, say), the submissions it held are retried once
alone, then recorded as failures; the rest of the batch goes on.

Any :class:`concurrent.futures.Executor` can run the batch instead
(``executor=``, or a Dask cluster through ``scheduler=``/``cluster=``, see
:mod:`grader.distributed`): each submission is then one plain-data task
(:mod:`grader.tasks`); a task that fails (a lost worker, a dead grading
process) is reported in :attr:`BatchSummary.retries` and retried once, then
recorded as a failure. Results are saved here, as they land, either way.
"""
from __future__ import annotations

import csv
import io
import multiprocessing
import os
import tempfile
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from grader.config import Assignment, load_assignment
from grader.distributed import open_executor
from grader.errors import InstructorError
from grader.importers.driver import SOURCES_DIR, ImportReport, import_submissions, write_import_report
from grader.importers.record import Submitted
from grader.ingest import SubmissionSource
from grader.manifest import manifest_for, write_manifest
from grader.plan import PlannedTest, collect_plan
from grader.sandbox.probe import choose_backend, require_file_isolation
from grader.results import GRADER_FAILURE, SubmissionResult, load_result, result_path, save_result
from grader.roster import Roster

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
    retries: list[str] = field(default_factory=list)  # tasks an executor lost, retried or given up on
    imported: ImportReport | None = None  # how the submissions were read (layout, roster, missing students)

    @property
    def grades_csv(self) -> Path:
        return self.out_dir / GRADES_CSV


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def grade_batch(submissions_dir: Path, assignment_path: Path, out_dir: Path, jobs: int | None = None,
                regrade: bool = False, only: tuple[str, ...] = (), progress: ProgressCallback | None = None,
                on_start: Callable[[int, int], None] | None = None, sandbox: str = "auto",
                warm: bool = True, executor: Executor | None = None, scheduler: str | None = None,
                cluster: str | None = None, source_format: str = "auto", roster: Roster | None = None,
                allow_unisolated: bool = False) -> BatchSummary:
    """Grade every submission in ``submissions_dir``; raises :class:`InstructorError` only for instructor errors.

    ``sandbox`` picks the isolation backend (``auto``: the strongest this machine
    offers); ``warm=False`` starts a fresh interpreter per submission instead of
    forking the warm zygote. ``executor``, ``scheduler`` (``tcp://HOST:PORT`` of a
    Dask cluster) or ``cluster="local"`` (an embedded Dask cluster of ``jobs``
    workers) replace the local process pool; see :mod:`grader.distributed`.
    ``submissions_dir`` may be a ``.zip`` of submissions; ``source_format`` is its
    layout (``auto``, ``folder``, ``canvas``, ...; see :mod:`grader.importers`), and
    ``roster`` names the students (ids, missing students; see :mod:`grader.roster`).
    A backend without file isolation (rlimits) is refused unless
    ``allow_unisolated`` (see :func:`grader.sandbox.probe.require_file_isolation`).
    """
    assignment = load_assignment(assignment_path)
    backend = choose_backend(sandbox)
    if executor is None and scheduler is None and cluster is None:  # on a cluster each worker checks its own
        require_file_isolation(backend, allow_unisolated)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InstructorError(f"cannot create the output folder {out_dir}: {error}") from None
    with tempfile.TemporaryDirectory(prefix="grader-plan-") as plan_dir:
        plan = collect_plan(assignment, Path(plan_dir))
    imported = import_submissions(Path(submissions_dir), assignment.student_files, source_format, roster,
                                  work_dir=out_dir / SOURCES_DIR)
    sources = imported.sources
    summary = BatchSummary(assignment, out_dir, plan, ignored=imported.ignored_paths, imported=imported)
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
    with open_executor(executor, scheduler, cluster, jobs or default_jobs()) as chosen:
        if on_start:
            on_start(len(todo), len(summary.reused))
        for result in run_pool(assignment, plan, todo, jobs or default_jobs(), fingerprint, out_dir, progress, backend,
                               warm, executor=chosen, requested_sandbox=sandbox, retries=summary.retries,
                               hidden=(str(Path(submissions_dir).resolve()), str(out_dir.resolve())),
                               allow_unisolated=allow_unisolated):
            summary.results.append(result)
    summary.results.sort(key=lambda result: result.student_id)
    write_grades_csv(summary.grades_csv, plan, summary.results, missing=[student.row_id for student in imported.missing])
    write_import_report(out_dir, imported)
    write_manifest(out_dir, manifest_for(assignment, plan, backend))
    return summary


def up_to_date_result(out_dir: Path, source: SubmissionSource, assignment: Assignment, fingerprint: str) -> SubmissionResult | None:
    previous = load_result(result_path(out_dir, source.student_id))
    if previous is None or previous.status == GRADER_FAILURE:
        return None
    if previous.assignment_version != assignment.version or previous.assignment_fingerprint != fingerprint:
        return None
    if Submitted.from_dict(previous.submitted).seed_id != source.submitted.seed_id:  # other hidden inputs
        return None
    current = source_hash(source, assignment.student_files)
    return previous if current and previous.content_hash == current else None  # "": broken, always regraded


def source_hash(source: SubmissionSource, student_files: Sequence[str]) -> str:
    """The content hash a fresh grading would record: the same workspace, built and hashed the same way.

    The workspace decides what is hashed (a sub-folder chosen as the root, a
    folder's ``.git`` and junk left out), so a rerun compares like with like for
    folders, zips and single files; a broken submission hashes as ``""`` and is
    graded (and recorded) again.
    """
    from grader.ingest import prepare_workspace

    with tempfile.TemporaryDirectory(prefix="grader-hash-") as scratch:
        try:
            return prepare_workspace(source, Path(scratch) / "work", student_files).content_hash
        except Exception:  # noqa: BLE001 - a broken submission is regraded (and recorded) anyway
            return ""


# -- the pool --------------------------------------------------------------------
_WORKER_STATE: dict = {}


def _init_pool_process(assignment_root: str, plan: list[PlannedTest], fingerprint: str, out_dir: str,
                       backend: str, warm: bool, hidden: tuple[str, ...] = ()) -> None:
    from grader.sandbox import configure_default_sandbox
    from grader.warmup import prewarm

    assignment = load_assignment(assignment_root)
    _WORKER_STATE.update(assignment=assignment, plan=plan, fingerprint=fingerprint, out_dir=Path(out_dir))
    # The warm worker starts importing torch now, while this process imports what the trusted tests
    # cross-check with: start-up costs land here, once, not in the first submission's time.
    prewarm(configure_default_sandbox(backend, warm, hidden=(str(assignment.root), *hidden)), assignment)
    preload_test_libraries(assignment)


def preload_test_libraries(assignment: Assignment) -> None:
    """Import what the warm worker preloads, as far as the assignment allows it: the tests compare with the same."""
    import importlib

    from grader.sandbox import PRELOAD_EXTRAS, PRELOADABLE

    for name in PRELOADABLE:
        if assignment.allowed_packages is None or name in assignment.allowed_packages:
            for module in (name, *PRELOAD_EXTRAS.get(name, ())):
                try:
                    importlib.import_module(module)
                except ImportError:  # the tests will say so, in each submission's result
                    break


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
             warm: bool = True, executor: Executor | None = None, requested_sandbox: str | None = None,
             retries: list[str] | None = None, hidden: tuple[str, ...] = (),
             allow_unisolated: bool = False) -> list[SubmissionResult]:
    """Grade ``sources`` on ``jobs`` processes; survive the death of any of them.

    When a pool process dies, every unfinished future fails. Submissions that
    had started (their in-flight marker exists) are suspects: each is retried
    alone, and recorded as a failure if it kills its process again. The others
    are simply queued again. With an ``executor``, :func:`run_tasks` grades
    instead (``requested_sandbox``, e.g. ``auto``, is then chosen on each worker).
    ``hidden`` folders are kept from every worker, as the assignment is.
    """
    if executor is not None:
        return run_tasks(executor, assignment, plan, sources, fingerprint, out_dir, progress,
                         requested_sandbox or backend, warm, retries, allow_unisolated=allow_unisolated)
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
                                 initargs=(str(assignment.root), plan, fingerprint, str(out_dir), backend, warm,
                                           hidden)) as pool:
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


def run_tasks(executor: Executor, assignment: Assignment, plan: list[PlannedTest], sources: list[SubmissionSource],
              fingerprint: str, out_dir: Path, progress: ProgressCallback | None, sandbox: str = "auto",
              warm: bool = True, retries: list[str] | None = None, max_in_flight: int = 64,
              allow_unisolated: bool = False) -> list[SubmissionResult]:
    """Grade ``sources`` on any executor, one plain-data task (:mod:`grader.tasks`) per submission.

    A submission's in-flight marker exists from its submission to its saved
    result. A task that raises (a worker lost mid-task, a grading process that
    died) is noted in ``retries`` and submitted once more; a second failure is
    recorded as that submission's ``grader_failure`` result, never dropped.
    At most ``max_in_flight`` tasks (each holding its submission's files) are
    out at once.
    """
    from grader.taskhost import grade_task
    from grader.tasks import TaskError, make_task, pack_assignment, pack_plan

    retries = retries if retries is not None else []
    packed_assignment, packed_plan = pack_assignment(assignment), pack_plan(plan)
    pending = list(reversed(sources))
    failures: dict[str, int] = {}
    futures: dict[Future, SubmissionSource] = {}
    results: list[SubmissionResult] = []

    def record(source: SubmissionSource, result: SubmissionResult) -> None:
        save_result(out_dir, result)
        (out_dir / source.student_id / IN_FLIGHT_MARKER).unlink(missing_ok=True)
        results.append(result)
        if progress:
            progress(result, False)

    while pending or futures:
        while pending and len(futures) < max_in_flight:
            source = pending.pop()
            marker = out_dir / source.student_id / IN_FLIGHT_MARKER
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
            try:
                task = make_task(packed_assignment, packed_plan, fingerprint, source, sandbox, warm, allow_unisolated)
            except (TaskError, OSError) as error:
                record(source, failure_result(assignment, plan, source, fingerprint, f"cannot ship this submission: {error}"))
                continue
            futures[executor.submit(grade_task, task)] = source
        if not futures:
            continue
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        for future in done:
            source = futures.pop(future)
            try:
                result = SubmissionResult.from_dict(future.result())
                if result.student_id != source.student_id:
                    raise TaskError(f"the worker answered for {result.student_id!r}")
            except Exception as error:  # noqa: BLE001 - a lost worker, a dead host: retried once, then recorded
                failures[source.student_id] = failures.get(source.student_id, 0) + 1
                what = f"{source.student_id}: {type(error).__name__}: {str(error)[:500]}"
                if failures[source.student_id] == 1:
                    retries.append(f"retried {what}")
                    pending.append(source)
                    continue
                retries.append(f"gave up on {what}")
                result = failure_result(assignment, plan, source, fingerprint,
                                        f"grading failed twice on the executor's workers; last error: {what}")
            record(source, result)
    return results


def failure_result(assignment: Assignment, plan: list[PlannedTest], source: SubmissionSource, fingerprint: str, message: str) -> SubmissionResult:
    tests = [test.result("failed", 0.0, "not graded: " + message) for test in plan]
    return SubmissionResult(student_id=source.student_id, assignment=assignment.name, assignment_version=assignment.version,
                            status=GRADER_FAILURE, tests=tests, message=message, assignment_fingerprint=fingerprint,
                            submitted=source.submitted.to_dict())


def write_grades_csv(path: Path, plan: list[PlannedTest], results: list[SubmissionResult],
                     missing: Sequence[str] = ()) -> None:
    """``id, score, max, status, <one column per test>, caveats`` (points earned), written atomically.

    Each of ``missing`` (roster students without a submission) gets a row of its
    own: status ``missing``, score and tests empty. ``caveats`` says what weakens
    trust in a row's score (legacy verdicts, no file isolation), "; "-separated.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "score", "max", "status", *[test.id for test in plan], "caveats"])
    for result in results:
        earned = {test.id: test.points for test in result.tests}
        writer.writerow([result.student_id, _number(result.total), _number(result.possible), result.status,
                         *[_number(earned.get(test.id, 0.0)) for test in plan], "; ".join(result.caveats)])
    possible = round(sum(test.points for test in plan), 6)
    for student in missing:
        writer.writerow([student, "", _number(possible), "missing", *["" for _ in plan], ""])
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(temp, path)


def _number(value: float) -> str:
    return f"{value:g}"
