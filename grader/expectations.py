"""What a released bundle's self-check replays: the public tests' oracle calls, recorded and verified.

:func:`record_expectations` grades, against the public tests only and with a
:class:`~grader.recorded.recorder.Recorder` active, the solution, the starter,
every mutant of ``mutants.toml`` and the example submissions the instructor
names (any layout ``grader grade`` reads). Then it replays the recording
against the staged bundle, for the same submissions, with the real oracles
out of reach, and compares: the same points, statuses, messages and named
mistakes, test by test, or the release is refused. The result says how many
public points a self-check judges offline
(:func:`~grader.recorded.recorder.offline_report`).

Submissions are graded on ``jobs`` processes; each recording comes back as
data and the parent merges them (a call recorded twice is the same call). A
submission whose grading ran into a time limit is not replayed (it would
only spend the limit again; the calls it made before are recorded).
Instructor side only: it imports the catalogue through the recorder.
"""
from __future__ import annotations

import multiprocessing
import os
import tempfile
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

from grader.check import public_part, public_plan
from grader.config import Assignment, load_assignment
from grader.errors import InstructorError
from grader.ingest import SubmissionSource
from grader.plan import PlannedTest
from grader.recorded.recorder import OfflineReport, Recorder, TestCalls, offline_report
from grader.recorded.recording import EXPECTATIONS_DIR, Recording
from grader.recorded.replay import replaying
from grader.results import TIMEOUT, SubmissionResult

SOLUTION_LABEL = "solution"
_IN_PROCESS_UP_TO = 6
Progress = Callable[[str], None]


@dataclass
class Expectations:
    """The recording of one release and what it was made from."""

    recording: Recording
    offline: OfflineReport
    submissions: dict[str, str] = field(default_factory=dict)  # label -> what it is (solution, mutant, example)
    not_replayed: list[str] = field(default_factory=list)      # labels whose grading hit a time limit
    results: dict[str, SubmissionResult] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {**self.offline.to_dict(), "calls": self.recording.count(), "recorded_with": len(self.submissions),
                "not_replayed": self.not_replayed}


def recording_sources(assignment: Assignment, work_dir: Path, examples: Path | None) -> list[tuple[str, str, SubmissionSource]]:
    """``(label, what, source)`` of every submission the public tests are recorded against."""
    from grader.importers.driver import import_submissions
    from grader.mutants import load_mutants, write_mutant

    sources = []
    for label, folder in ((SOLUTION_LABEL, assignment.solution), ("starter", assignment.starter)):
        if folder is not None and (assignment.root / folder).is_dir():
            sources.append((label, label, SubmissionSource(label, assignment.root / folder, "folder")))
    if assignment.solution is not None:
        for mutant in load_mutants(assignment):
            path = write_mutant(assignment, mutant, work_dir / "mutants")
            sources.append((mutant.submission_id, f"mutant ({mutant.mistake.id})",
                            SubmissionSource(mutant.submission_id, path, "folder")))
    if examples is not None:
        imported = import_submissions(Path(examples), assignment.student_files, "auto", None,
                                      work_dir=work_dir / "examples")
        taken = {label for label, _, _ in sources}
        for source in imported.sources:
            label = source.student_id if source.student_id not in taken else f"example-{source.student_id}"
            sources.append((label, "example submission", SubmissionSource(label, source.path, source.kind,
                                                                          source.submitted)))
    return sources


def record_expectations(assignment: Assignment, bundle: Path, examples: Path | None = None,
                        progress: Progress | None = None, jobs: int | None = None) -> Expectations:
    """Record the public tests' oracle calls into ``bundle/.grader/expectations`` and verify their replay.

    ``bundle`` is the staged bundle (its public tests and released
    ``assignment.toml``). Raises :class:`InstructorError` when the replay does
    not give every recorded submission the results the oracles gave it.
    """
    with tempfile.TemporaryDirectory(prefix="grader-record-") as scratch_name:
        scratch = Path(scratch_name)
        plan = public_plan(public_part(assignment), scratch)
        sources = recording_sources(assignment, scratch, examples)
        # Starting a grading process costs seconds (torch, the warm worker): worth it for a dozen submissions.
        jobs = jobs or (min(2, os.cpu_count() or 1) if len(sources) > _IN_PROCESS_UP_TO else 1)
        if not any(label == SOLUTION_LABEL for label, _, _ in sources):
            raise InstructorError(f"{assignment.config_path}: no solution to record the public tests' expected "
                                  "values with (declare assignment.solution)")
        expectations = Expectations(Recording(), OfflineReport({}))
        calls: dict[tuple[str, str], TestCalls] = {}
        differences: list[str] = []
        with _pool(jobs, _init_recording, (str(assignment.root), plan)) as pool:
            for label, recording, logged, result in _each(pool, _record_one, sources, "recording", progress):
                expectations.recording.merge(recording)
                calls.update(logged)
                expectations.results[label] = result
            expectations.submissions = {label: what for label, what, _ in sources}
            expectations.offline = offline_report(calls, {test.id: test.points for test in plan}, SOLUTION_LABEL)
            expectations.recording.save(bundle / EXPECTATIONS_DIR)
            # A submission that ran into a time limit would only spend it again; the calls it made are recorded.
            replayed = [item for item in sources if not _timed_out(expectations.results[item[0]])]
            expectations.not_replayed = [label for label, _, _ in sources if label not in {r[0] for r in replayed}]
            for label, result in _each(pool, partial(_replay_one, str(bundle)), replayed, "replaying", progress):
                differences += compare_results(label, expectations.results[label], result)
    if differences:
        shown = "\n  ".join(differences[:8])
        raise InstructorError(f"refusing to release: the self-check would not reproduce the grading "
                              f"({len(differences)} difference(s)):\n  {shown}")
    return expectations


def compare_results(label: str, graded: SubmissionResult, replayed: SubmissionResult) -> list[str]:
    """How the replayed result of one submission differs from the graded one, test by test."""
    found = []
    replayed_tests = {test.id: test for test in replayed.tests}
    for test in graded.tests:
        other = replayed_tests.get(test.id)
        if other is None:
            found.append(f"{label}: {test.id} did not run in the bundle")
            continue
        graded_view, replayed_view = _view(test), _view(other)
        if graded_view != replayed_view:
            what = [name for name, a, b in zip(("status", "points", "mistakes named", "message"), graded_view,
                                               replayed_view) if a != b]
            found.append(f"{label}: {test.id}: {', '.join(what)} differ ({graded_view[:3]} graded, "
                         f"{replayed_view[:3]} in the bundle)")
    return found


def _timed_out(result: SubmissionResult) -> bool:
    return any(test.status == TIMEOUT for test in result.tests)


def _view(test) -> tuple:
    matched = tuple(sorted(entry.id for entry in test.diagnosis.matched)) if test.diagnosis else ()
    return test.status, round(test.points, 6), matched, test.message


# -- the processes ----------------------------------------------------------------------------

@contextmanager
def _pool(jobs: int, initializer: Callable[..., None], initargs: tuple) -> Iterator[Executor | None]:
    """``jobs`` grading processes (spawned: no inherited state), or None to grade in this process."""
    if jobs <= 1:
        initializer(*initargs)
        yield None
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=initializer, initargs=initargs) as pool:
        yield pool


def _each(pool: Executor | None, task: Callable, sources: list, verb: str, progress: Progress | None) -> Iterator:
    """``task(label, source)`` for every source, in this process or the pool, in order."""
    if pool is None:
        for label, _, source in sources:
            if progress:
                progress(f"{verb} {label}")
            yield task(label, source)
        return
    futures = [(label, pool.submit(task, label, source)) for label, _, source in sources]
    for label, future in futures:
        if progress:
            progress(f"{verb} {label}")
        yield future.result()


_STATE: dict[str, Any] = {}


def _init_recording(assignment_root: str, plan: list[PlannedTest]) -> None:
    from grader.sandbox import default_sandbox
    from grader.warmup import prewarm

    assignment = load_assignment(assignment_root)
    _STATE.update(public=public_part(assignment), plan=plan, root=assignment.root)
    prewarm(default_sandbox(), assignment)


def _record_one(label: str, source: SubmissionSource) -> tuple[str, Recording, dict, SubmissionResult]:
    """Grade one submission against the public tests, recording every oracle call they make."""
    from grader.runner import grade_submission
    from grader.sandbox import default_sandbox

    recorder = Recorder(_STATE["root"])
    recorder.submission = label
    with recorder.patched():
        result = grade_submission(_STATE["public"], _STATE["plan"], source, default_sandbox(), plugins=[recorder])
    return label, recorder.recording, recorder.calls, result


def _replayed_bundle(bundle: str) -> tuple[Assignment, Recording, list[PlannedTest]]:
    """The staged bundle, its recording and its plan (collected without the oracles), once per process."""
    if _STATE.get("bundle") != bundle:
        released = load_assignment(bundle)
        recording = Recording.load(released.root / EXPECTATIONS_DIR)
        with tempfile.TemporaryDirectory(prefix="grader-replay-") as scratch, replaying(recording, released.root):
            plan = public_plan(released, Path(scratch))
        _STATE.update(bundle=bundle, replayed=(released, recording, plan))
    return _STATE["replayed"]


def _replay_one(bundle: str, label: str, source: SubmissionSource) -> tuple[str, SubmissionResult]:
    """Grade one submission in the bundle, the recording standing in for the oracles."""
    from grader.runner import grade_submission
    from grader.sandbox import default_sandbox

    released, recording, plan = _replayed_bundle(bundle)
    with replaying(recording, released.root):
        return label, grade_submission(released, plan, source, default_sandbox())
