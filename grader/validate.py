"""Check an assignment before students see it: the solution earns everything, the starter nothing.

:func:`validate_assignment` grades the assignment's ``solution`` and ``starter``
folders as two ordinary submissions (same engine, same sandbox, same limits as
a real batch) and turns what it sees into a list of :class:`Check` lines:

- both folders exist and hold every student file;
- the points add up to something (public, hidden and after-the-due-date shares);
- the solution gets full marks, every test ``passed``;
- the starter gets 0, and each test with points fails with the "not implemented
  yet" message of a ``NotImplementedError`` (no crash, timeout or error: those
  mean a test that will confuse students who have not started yet). A 0-point
  test (a rules check, say) may pass on the starter;
- every planned test ran for both, and the solution is well within the time limits;
- ``grader release`` would work: the student bundle holds no hidden test and
  loads, with its public tests, as an assignment of its own;
- with ``mutants=True``, every mutant of ``mutants.toml`` (the solution with one
  classic mistake put in, see :mod:`grader.mutants`) loses points and is named
  by some test's diagnosis.

The CLI (``grader validate``) prints the checks and exits 1 through
:class:`~grader.errors.ValidationFailed` when any of them failed.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.batch import default_jobs, grade_batch
from grader.check import headline
from grader.config import Assignment, load_assignment
from grader.errors import InstructorError
from grader.mutants import MutantOutcome, judge, load_mutants, write_mutant
from grader.plan import PlannedTest, collect_plan
from grader.results import GRADED, PASSED, SubmissionResult, TestResult

ROLES = ("solution", "starter")
NOT_IMPLEMENTED = "not implemented yet"
# What a test reports when it never ran (runner/pytest_plugin); such a test cannot be reached.
_DID_NOT_RUN = ("this test did not run", "this test reported no result", "not graded:")
# The solution should leave room for slower student code: at most this share of each limit.
SAFE_SHARE_OF_LIMIT = 0.5
_LISTED = 3  # kinds of failure named in one detail line
# Lines of a test's message that name the exception behind a failure (grader.session, grader.pytest_plugin).
_CAUSE_PREFIXES = ("your code raised", NOT_IMPLEMENTED, "the test itself raised", "the worker")


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it holds, and the evidence."""

    name: str
    ok: bool
    detail: str


@dataclass
class ValidationReport:
    """Everything :func:`validate_assignment` found."""

    assignment: Assignment
    plan: list[PlannedTest]
    checks: list[Check] = field(default_factory=list)
    solution: SubmissionResult | None = None
    starter: SubmissionResult | None = None
    out_dir: Path | None = None  # where the two results were kept; None: a removed temporary folder
    mutants: list[MutantOutcome] | None = None  # None: not asked for (--mutants)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def points(self) -> dict[str, float]:
        """Points by visibility (every visibility present) and the total."""
        shares: dict[str, float] = {}
        for test in self.plan:
            shares[test.visibility] = shares.get(test.visibility, 0.0) + test.points
        return {**{name: round(value, 6) for name, value in shares.items()}, "total": round(sum(shares.values()), 6)}

    def to_dict(self) -> dict[str, Any]:
        def graded(result: SubmissionResult | None) -> dict[str, Any] | None:
            if result is None:
                return None
            return {"score": result.total, "max": result.possible, "status": result.status, "duration": result.duration,
                    "tests": [{"id": t.id, "name": t.name, "points": t.points, "max_points": t.max_points,
                               "status": t.status, "message": t.message} for t in result.tests]}

        return {
            "assignment": {"name": self.assignment.name, "title": self.assignment.title,
                           "version": self.assignment.version, "root": str(self.assignment.root)},
            "ok": self.ok,
            "checks": [{"check": check.name, "ok": check.ok, "detail": check.detail} for check in self.checks],
            "points": self.points(),
            "tests": len(self.plan),
            "solution": graded(self.solution),
            "starter": graded(self.starter),
            "results": str(self.out_dir) if self.out_dir else None,
            "mutants": None if self.mutants is None else [outcome.to_dict() for outcome in self.mutants],
        }


def validate_assignment(path: str | Path, jobs: int | None = None, out: str | Path | None = None,
                        progress: Callable[[SubmissionResult, bool], None] | None = None,
                        on_start: Callable[[int, int], None] | None = None, mutants: bool = False) -> ValidationReport:
    """Grade the solution and the starter of the assignment at ``path`` and check what they get.

    With ``mutants``, the mutants of the assignment's ``mutants.toml`` are graded
    in the same batch and checked (killed, diagnosed).

    Results go to ``out`` (``out/solution/result.json``, ``out/starter/result.json``)
    or to a temporary folder that is removed. Raises
    :class:`~grader.errors.InstructorError` only when grading cannot start (a
    malformed ``assignment.toml``, test files that do not collect); a failed
    check is a line of the report, not an exception.
    """
    assignment = load_assignment(path)
    declared = load_mutants(assignment) if mutants else []
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as scratch_name:
        scratch = Path(scratch_name)
        submissions = scratch / "submissions"
        submissions.mkdir()
        checks = [_folder_check(assignment, role, submissions) for role in ROLES]
        if (submissions / "solution").is_dir():
            for mutant in declared:
                write_mutant(assignment, mutant, submissions)
        out_dir = Path(out) if out is not None else scratch / "graded"
        results: dict[str, SubmissionResult] = {}
        if any(submissions.iterdir()):
            wanted_jobs = jobs or min(len(ROLES) + len(declared), default_jobs())
            summary = grade_batch(submissions, assignment.root, out_dir, jobs=wanted_jobs,
                                  regrade=True, progress=progress, on_start=on_start)
            plan = summary.plan
            results = {result.student_id: result for result in summary.results}
        else:
            plan_dir = scratch / "plan"
            plan_dir.mkdir()
            plan = collect_plan(assignment, plan_dir)
    report = ValidationReport(assignment, plan, solution=results.get("solution"), starter=results.get("starter"),
                              out_dir=out_dir if out is not None else None)
    report.checks = checks + [_points_check(report)]
    if report.solution is not None:
        report.checks += [_solution_check(report.solution), _time_check(assignment, report.solution)]
    if report.starter is not None:
        report.checks += [_starter_score_check(report.starter), _starter_messages_check(report.starter)]
    if results:
        roles = {role: result for role, result in results.items() if role in ROLES}
        report.checks.append(_reachability_check(roles))
    report.checks.append(_release_check(assignment))
    if mutants:
        report.mutants = [judge(mutant, results.get(mutant.submission_id)) for mutant in declared]
        report.checks += _mutant_checks(assignment, report.mutants)
    return report


# -- the checks ----------------------------------------------------------------------------

def _folder_check(assignment: Assignment, role: str, submissions: Path) -> Check:
    """The folder exists and holds every student file; if so it is copied in to be graded."""
    name = f"{role} folder"
    relative = getattr(assignment, role)
    if relative is None:
        return Check(name, False, f'not declared: add {role} = "{role}" to [assignment] in assignment.toml')
    folder = assignment.root / relative
    if not folder.is_dir():
        return Check(name, False, f"{relative} is not a folder")
    missing = [file for file in assignment.student_files if not (folder / file).is_file()]
    if missing:
        return Check(name, False, f"{relative}/ lacks {', '.join(missing)}")
    shutil.copytree(folder, submissions / role, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return Check(name, True, f"{relative}/ holds {', '.join(assignment.student_files)}")


def _points_check(report: ValidationReport) -> Check:
    points = report.points()
    shares = [f"{visibility} {points[visibility]:g}" for visibility in ("public", "hidden", "after_due_date")
              if visibility in points]
    tests = f"{len(report.plan)} test{'s' * (len(report.plan) != 1)}"
    detail = f"{' + '.join(shares)} = {points['total']:g} points in {tests}"
    if points["total"] <= 0:
        return Check("points", False, f"{detail}: every test is worth 0 points")
    declared = report.assignment.total_points
    if declared is not None and abs(points["total"] - declared) > 1e-9:
        return Check("points", False, f"{detail}, but assignment.total_points declares {declared:g}")
    if declared is not None:
        detail += ", as assignment.total_points declares"
    return Check("points", True, detail)


def _solution_check(result: SubmissionResult) -> Check:
    name = "solution: full marks"
    score = f"{result.total:g}/{result.possible:g}"
    if result.status != GRADED:
        return Check(name, False, f"{score}; the submission was not graded ({result.status}): {headline(result.message)}")
    wrong = [test for test in result.tests if test.status != PASSED]
    if wrong or result.total != result.possible:
        return Check(name, False, f"{score}; {len(wrong)} test(s) did not pass: {_describe(wrong)}")
    return Check(name, True, f"{score}, all {len(result.tests)} tests passed in {result.duration:.1f} s")


def _time_check(assignment: Assignment, result: SubmissionResult) -> Check:
    limits = assignment.limits
    slowest = max(result.tests, key=lambda test: test.duration, default=None)
    slowest_seconds = slowest.duration if slowest else 0.0
    detail = (f"solution: {result.duration:.1f} s of {limits.submission_seconds:g} s per submission, "
              f"slowest test {slowest_seconds:.1f} s of {limits.test_seconds:g} s")
    too_slow = (result.duration > SAFE_SHARE_OF_LIMIT * limits.submission_seconds
                or slowest_seconds > SAFE_SHARE_OF_LIMIT * limits.test_seconds)
    if too_slow:
        detail += f"; keep the solution under {SAFE_SHARE_OF_LIMIT:.0%} of each limit, student code is often slower"
    return Check("solution: time", not too_slow, detail)


def _starter_score_check(result: SubmissionResult) -> Check:
    name = "starter: 0 points"
    score = f"{result.total:g}/{result.possible:g}"
    earning = [test for test in result.tests if test.points > 0]
    if earning:
        return Check(name, False, f"{score}; points for: {_describe(earning, show_points=True)}")
    return Check(name, True, score)


def says_not_implemented(message: str) -> bool:
    """Whether a test's message reports a ``NotImplementedError`` (trusted tests or legacy pytest output)."""
    return any(line.strip().startswith(NOT_IMPLEMENTED) or "NotImplementedError" in line for line in message.splitlines())


def _starter_messages_check(result: SubmissionResult) -> Check:
    name = "starter: not implemented yet"
    if result.status != GRADED:
        return Check(name, False, f"the starter was not graded ({result.status}): {headline(result.message)}")
    unclean = []
    for test in result.tests:
        if test.max_points == 0 and test.status == PASSED:
            continue  # a 0-point gate (a rules check) may pass on untouched code
        if test.status != "failed" or not says_not_implemented(test.message):
            unclean.append(test)
    if unclean:
        return Check(name, False, f"{len(unclean)} test(s) fail otherwise: {_describe(unclean)}")
    counted = sum(test.max_points > 0 for test in result.tests)
    return Check(name, True, f"all {counted} tests with points fail with '{NOT_IMPLEMENTED}'")


def _reachability_check(results: dict[str, SubmissionResult]) -> Check:
    unreached = {}
    for role, result in sorted(results.items()):
        for test in result.tests:
            if test.message.startswith(_DID_NOT_RUN):
                unreached.setdefault(test.id, (role, test))
    if unreached:
        shown = "; ".join(f"{test.name} ({role}): {headline(test.message)}" for role, test in list(unreached.values())[:_LISTED])
        more = f"; and {len(unreached) - _LISTED} more" if len(unreached) > _LISTED else ""
        return Check("every test ran", False, f"{len(unreached)} test(s) did not run: {shown}{more}")
    counts = ", ".join(f"{role} {len(result.tests)}" for role, result in sorted(results.items()))
    return Check("every test ran", True, f"tests run: {counts}")


def _release_check(assignment: Assignment) -> Check:
    """``grader release`` would work: no hidden test in a released file, and the bundle loads and collects."""
    from grader.release import release_assignment  # local: jinja2 and templates only when validating

    with tempfile.TemporaryDirectory(prefix="grader-validate-release-") as scratch:
        try:
            release = release_assignment(assignment.root, Path(scratch) / assignment.name, record=False)
        except InstructorError as error:
            return Check("student bundle", False, str(error))
    left_out = ", ".join(sorted(release.left_out)) or "nothing"
    return Check("student bundle", True, f"{len(release.files)} files, self-check of {len(release.plan)} public tests "
                                         f"({release.public_points:g} points); left out: {left_out}")


def _mutant_checks(assignment: Assignment, outcomes: list[MutantOutcome]) -> list[Check]:
    """Every mutant loses points (the suite catches its mistake) and some test's diagnosis names it."""
    if not outcomes:
        return [Check("mutants", False, "no mutants.toml: declare the classic mistakes that apply to this "
                                        "assignment (see grader/mutants.py)")]
    total = len(outcomes)
    survivors = [outcome.mutant.name for outcome in outcomes if not outcome.killed]
    undiagnosed = [outcome.mutant.name for outcome in outcomes if not outcome.diagnosed]
    killed = Check("mutants: killed", not survivors,
                   f"{total - len(survivors)}/{total} lose points"
                   + (f"; surviving (the tests miss them): {', '.join(survivors)}" if survivors else ""))
    diagnosed = Check("mutants: diagnosed", not undiagnosed,
                      f"{total - len(undiagnosed)}/{total} named by a test's diagnosis"
                      + (f"; not named: {', '.join(undiagnosed)}" if undiagnosed else ""))
    return [killed, diagnosed]


def _describe(tests: list[TestResult], show_points: bool = False) -> str:
    """The offending tests grouped by what went wrong: ``cause [status] in name, name and 3 more``."""
    groups: dict[tuple[str, str], list[TestResult]] = {}
    for test in tests:
        groups.setdefault((test.status, cause(test.message)), []).append(test)
    parts = []
    for (status, reason), members in list(groups.items())[:_LISTED]:
        names = [f"{test.name} ({test.points:g}/{test.max_points:g})" if show_points else test.name
                 for test in members[:2]]
        more = f" and {len(members) - 2} more" if len(members) > 2 else ""
        parts.append(f"[{status}]{' ' + reason if reason else ''} in {', '.join(names)}{more}")
    if len(groups) > _LISTED:
        parts.append(f"and {len(groups) - _LISTED} other kinds of failure")
    return "; ".join(parts)


def cause(message: str) -> str:
    """The line of a message that says what broke (the exception, when there is one), for instructors."""
    for line in message.splitlines():
        line = line.strip()
        if line.startswith(_CAUSE_PREFIXES):
            return line if len(line) <= 160 else line[:157] + "..."
    return headline(message)


# -- output ---------------------------------------------------------------------------------

def print_validation(report: ValidationReport, console: Console | None = None) -> None:
    """One row per check, then a one-line verdict (and where the results were kept)."""
    console = console or Console()
    assignment = report.assignment
    table = Table(title=Text(f"Validating {assignment.title} ({assignment.name} v{assignment.version})"),
                  title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        table.add_row(Text(check.name), Text("ok", style="green") if check.ok else Text("FAIL", style="bold red"),
                      Text(check.detail))
    console.print(table)
    if report.mutants:
        console.print(mutant_table(report.mutants))
    if report.out_dir is not None:
        console.print(Text(f"results: {report.out_dir}/solution/result.json, {report.out_dir}/starter/result.json"))
    if report.ok:
        console.print(Text(f"{assignment.name}: all {len(report.checks)} checks passed", style="bold green"))


def mutant_table(outcomes: list[MutantOutcome]) -> Table:
    """One row per mutant: its mistake, the score it got, and the tests whose diagnosis named it."""
    table = Table(title=Text("Mutants: the solution with one classic mistake each"), title_justify="left")
    table.add_column("mutant", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("killed", no_wrap=True)
    table.add_column("diagnosed by", overflow="fold")
    for outcome in outcomes:
        result = outcome.result
        score = f"{result.total:g}/{result.possible:g}" if result else "not graded"
        killed = Text("yes", style="green") if outcome.killed else Text("SURVIVED", style="bold red")
        named = ", ".join(outcome.diagnosed_in[:3]) + (f" and {len(outcome.diagnosed_in) - 3} more" if len(outcome.diagnosed_in) > 3 else "")
        table.add_row(Text(outcome.mutant.name), Text(score), killed,
                      Text(named) if named else Text("not named", style="bold red"))
    return table

