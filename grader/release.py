"""Write the student bundle of an assignment: handout, starter, public tests, self-check, CI.

:func:`release_assignment` builds, in a staging folder beside ``OUT``:

- ``README.md`` (the handout) and ``CHECK.md`` (how to run ``grader check``);
- the starter files at the top, where the student edits them;
- the public test files with the ``conftest.py`` and ``__init__.py`` files on
  their way up and the other files of their folders (a helper module a
  conftest loads, test data), the support files, and a public legacy file if
  there is one. Hidden test files, the solution, a legacy file that is not
  public and anything named ``*hidden*`` stay behind;
- a released ``assignment.toml``: the same assignment without the hidden
  tests, the solution, the starter folder, the seed salt and a legacy file
  that is not public (limits kept, ``name`` written out so seeds match,
  ``hidden_points`` added: the points of the tests the self-check cannot run);
- ``.grader/``: the student-side grader as a wheel and the expectations the
  public tests' oracle calls are replayed from (recorded here against the
  solution, the starter, the mutants and the example submissions, then
  replayed against the staged bundle and compared: :mod:`grader.expectations`);
  ``requirements.txt``, which installs that wheel with numpy and torch pinned to
  the versions grading uses (:mod:`grader.student_install`);
- ``.github/workflows/grader.yml``, which installs from the bundle and runs the
  self-check on every push (``grader check --ci``: annotations on the
  student's lines, a job summary, a JUnit report kept as an artifact, and a
  failed job while a public test fails), and a ``.gitignore``.

Every file copied is listed in the report, with what it is. Before the
bundle replaces ``OUT`` it is audited: no file may be a hidden test, a
solution file or a non-public legacy file (by path or by content), a public
test file may hold no test marked ``hidden``, the bundle must load as an
assignment whose tests all collect without the oracles, and nothing it
generated may hold a module, bytecode or line of code of ``reference``.
Invariants 5 and 8: hidden tests, solutions and oracles never reach a student.
"""
from __future__ import annotations

import hashlib
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.check import public_part
from grader.config import Assignment, load_assignment
from grader.errors import InstructorError
from grader.expectations import Expectations, record_expectations
from grader.mutants import MUTANTS_FILE
from grader.plan import PlannedTest, collect_plan
from grader.recorded.recording import EXPECTATIONS_DIR, Recording
from grader.recorded.replay import load_expectations, replaying
from grader.release_files import CHECK_GUIDE, HANDOUT, released_config, write_generated  # noqa: F401 - released_config: the API
from grader.student_install import BUNDLE_DIR, DEFAULT_TORCH_INDEX, REQUIREMENTS, audit_generated, write_student_install

KEPT_IN_OUT = (".git",)  # --force replaces everything else in OUT


@dataclass
class ReleaseReport:
    """What :func:`release_assignment` wrote, and what it left out."""

    assignment: Assignment
    out: Path
    files: dict[str, str] = field(default_factory=dict)   # bundle path -> what it is
    plan: list[PlannedTest] = field(default_factory=list)  # the tests `grader check` runs in the bundle
    left_out: dict[str, str] = field(default_factory=dict)  # assignment path -> why it stayed behind
    notes: list[str] = field(default_factory=list)
    expectations: Expectations | None = None  # what the self-check replays, and how much of it is offline

    @property
    def public_points(self) -> float:
        return round(sum(test.points for test in self.plan), 6)

    def to_dict(self) -> dict[str, Any]:
        return {
            "assignment": {"name": self.assignment.name, "title": self.assignment.title,
                           "version": self.assignment.version, "root": str(self.assignment.root)},
            "out": str(self.out),
            "files": [{"path": path, "what": what} for path, what in sorted(self.files.items())],
            "self_check": {"tests": len(self.plan), "points": self.public_points,
                           **(self.expectations.to_dict() if self.expectations else {})},
            "left_out": [{"path": path, "why": why} for path, why in sorted(self.left_out.items())],
            "notes": self.notes,
        }


def release_assignment(path: str | Path, out: str | Path, force: bool = False, examples: str | Path | None = None,
                       torch_index: str = DEFAULT_TORCH_INDEX, progress: Callable[[str], None] | None = None,
                       record: bool = True) -> ReleaseReport:
    """Write the student bundle of the assignment at ``path`` into ``out``.

    ``out`` must be new or empty unless ``force``, which replaces its contents
    (a ``.git`` folder is kept, so ``out`` may be an assignment repository's
    working copy). ``examples`` (a folder of submissions, any layout ``grader
    grade`` reads) join the solution, the starter and the mutants in recording
    the public tests' expectations. ``torch_index`` is where ``CHECK.md`` and
    the workflow install PyTorch from (``""``: the registry's default).
    ``record=False`` writes an empty recording (``grader validate`` checks the
    bundle's make-up without grading anything twice).
    Raises :class:`~grader.errors.InstructorError` when the assignment cannot
    be released as it stands; ``out`` is then untouched.
    """
    assignment = load_assignment(path)
    out = Path(out)
    _check_target(out, assignment, force)
    with tempfile.TemporaryDirectory(prefix="grader-release-plan-") as plan_dir:
        plan = collect_plan(assignment, Path(plan_dir))
    report = ReleaseReport(assignment, out)
    _refuse_hidden_tests_in_released_files(assignment, plan)
    public = public_part(assignment)
    if not public.public_tests and public.legacy is None:
        raise InstructorError(f"{assignment.config_path}: no public tests to release: a bundle without tests "
                              "has no self-check (declare tests.public)")
    sources = released_sources(assignment, report)
    secrets = secret_files(assignment, report)
    if assignment.seed_salt:
        report.left_out["assignment.toml: seed_salt"] = "seeds of the real grading"

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.release-", dir=out.parent))
    try:
        for relative, source in sources.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        for generated in (REQUIREMENTS, BUNDLE_DIR):
            if any(relative == generated or relative.startswith(generated + "/") for relative in sources):
                raise InstructorError(f"{assignment.config_path}: {generated} would be both copied from the assignment "
                                      "and written by the release; rename the assignment's file")
        install = write_student_install(staging, assignment, torch_index)
        report.files[install.wheel] = "the self-check's grader (a wheel: no oracles, no solutions)"
        report.files[REQUIREMENTS] = "what the self-check installs (the wheel, numpy and torch pinned)"
        write_generated(staging, assignment, public, plan, install, report)
        leaks = find_leaks(staging, assignment, secrets)
        if leaks:
            raise InstructorError("refusing to release: " + "; ".join(leaks))
        report.expectations = _record(assignment, staging, examples, report, progress) if record else \
            _record_nothing(staging, report, "not recorded (grader validate)")
        problems = audit_generated(staging, [BUNDLE_DIR, *(name for name, what in report.files.items()
                                                           if name not in sources)])
        if problems:
            raise InstructorError("refusing to release: " + "; ".join(problems[:5]))
        report.plan = _bundle_plan(staging, plan)
        _install(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


# -- what goes in, what stays out --------------------------------------------------------------

def released_sources(assignment: Assignment, report: ReleaseReport) -> dict[str, Path]:
    """``bundle path -> source file`` of every file copied into the bundle (generated files aside)."""
    root = assignment.root
    sources: dict[str, Path] = {}

    def add(relative: str, source: Path, what: str) -> None:
        if relative in sources and sources[relative] != source:
            raise InstructorError(f"{assignment.config_path}: {relative} would be released twice "
                                  f"({sources[relative].relative_to(root)} and {source.relative_to(root)})")
        sources[relative] = source
        report.files[relative] = what

    if (root / HANDOUT).is_file():
        add(HANDOUT, root / HANDOUT, "handout")
    if assignment.starter is not None:
        starter = root / assignment.starter
        for file in _files_under(starter):
            relative = file.relative_to(starter).as_posix()
            add(relative, file, "student file (starter)" if relative in assignment.student_files else "starter material")
        missing = [name for name in assignment.student_files if not (starter / name).is_file()]
        if missing:
            report.notes.append(f"the starter folder lacks {', '.join(missing)}: students start without it")
    else:
        report.notes.append("no starter folder declared: the bundle holds no student files to start from")
    secret = {path.resolve() for path in secret_files(assignment)}
    for relative in assignment.public_tests:
        add(relative, root / relative, "public tests")
        for helper in _test_helpers(root, relative):
            add(helper, root / helper, "test helpers")
        for file in _test_folder_files(assignment, relative):
            helper = file.relative_to(root).as_posix()
            if file.resolve() in secret or helper in sources:
                continue
            if _named_hidden(helper):
                report.left_out[helper] = "named hidden"
                continue
            add(helper, file, "test helpers and data")
    for entry in assignment.support_files:
        for file in _files_under(root / entry):
            add(file.relative_to(root).as_posix(), file, "support file")
    if assignment.legacy is not None and assignment.legacy.visibility == "public":
        add(assignment.legacy.file, root / assignment.legacy.file, "public legacy tests")
    return sources


def secret_files(assignment: Assignment, report: ReleaseReport | None = None) -> list[Path]:
    """Files that must never reach a student: hidden tests, the solution, a legacy file that is not public."""
    root = assignment.root
    secrets = [root / relative for relative in assignment.hidden_tests]
    left_out = {relative: "hidden tests" for relative in assignment.hidden_tests}
    if assignment.solution is not None:
        files = _files_under(root / assignment.solution)
        secrets += files
        left_out[f"{assignment.solution}/"] = f"the solution ({len(files)} file{'s' * (len(files) != 1)})"
    if (root / MUTANTS_FILE).is_file():  # quotes the solution: grader validate --mutants only
        secrets.append(root / MUTANTS_FILE)
        left_out[MUTANTS_FILE] = "the solution's mutants (grader validate --mutants)"
    if assignment.legacy is not None and assignment.legacy.visibility != "public":
        secrets.append(root / assignment.legacy.file)
        left_out[assignment.legacy.file] = f"legacy tests shown {assignment.legacy.visibility.replace('_', ' ')}"
    if report is not None:
        report.left_out.update(left_out)
    return secrets


def find_leaks(bundle: Path, assignment: Assignment, secrets: list[Path]) -> list[str]:
    """Every bundle file that is a secret file, by its path or by its content.

    A solution file identical to its starter counterpart (a file handed out
    complete) is not a secret: the starter is public.
    """
    root = assignment.root
    starter = root / assignment.starter if assignment.starter else None
    solution = root / assignment.solution if assignment.solution else None
    secret_paths = {path.relative_to(root).as_posix(): path for path in secrets if path.is_file()}
    secret_digests = {}
    for relative, path in secret_paths.items():
        if starter and solution and path.is_relative_to(solution):
            handed_out = starter / path.relative_to(solution)
            if handed_out.is_file() and _digest(handed_out) == _digest(path):
                continue
        secret_digests[_digest(path)] = relative
    leaks = []
    for file in sorted(_files_under(bundle, keep_hidden=True)):
        relative = file.relative_to(bundle).as_posix()
        if relative in secret_paths:
            leaks.append(f"{relative} is a hidden or solution file's path")
        elif _digest(file) in secret_digests:
            leaks.append(f"{relative} has the content of {secret_digests[_digest(file)]}")
    return leaks


def _refuse_hidden_tests_in_released_files(assignment: Assignment, plan: list[PlannedTest]) -> None:
    """A test marked ``hidden`` inside a file that is released would show its code to students."""
    released = set(assignment.public_tests)
    if assignment.legacy is not None and assignment.legacy.visibility == "public":
        released.add(assignment.legacy.file)
    exposed = [test for test in plan if test.visibility == "hidden" and test.id.split("::", 1)[0] in released]
    if exposed:
        names = ", ".join(test.id for test in exposed[:5])
        raise InstructorError(f"refusing to release: {names} {'is' if len(exposed) == 1 else 'are'} marked hidden "
                              "but sit in a public test file that students receive; move them to a hidden test file")


def _test_helpers(root: Path, test_file: str) -> list[str]:
    """``conftest.py`` and ``__init__.py`` files from the test file's folder up to the assignment root."""
    helpers = []
    folder = PurePosixPath(test_file).parent
    while True:
        for name in ("conftest.py", "__init__.py"):
            relative = (folder / name).as_posix()
            if (root / relative).is_file():
                helpers.append(relative.removeprefix("./"))
        if folder == PurePosixPath("."):
            return helpers
        folder = folder.parent


def _test_folder_files(assignment: Assignment, test_file: str) -> list[Path]:
    """The other files of a public test's folder (a sibling module a conftest loads, data), if it has its own folder.

    A test file at the top of the assignment shares its folder with everything
    else, so then only the test and its ``conftest.py`` are taken.
    """
    folder = (assignment.root / test_file).parent
    if folder == assignment.root:
        return []
    others = [assignment.root / name for name in (assignment.solution, assignment.starter) if name]
    return [file for file in _files_under(folder)
            if not any(file.is_relative_to(other) for other in others)]


def _named_hidden(relative: str) -> bool:
    """A file named as hidden material (``test_hidden_rnn.py``, ``hidden/cases.json``): never released."""
    return any("hidden" in part.lower() for part in PurePosixPath(relative).parts)


def _files_under(path: Path, keep_hidden: bool = False) -> list[Path]:
    """Regular files at or below ``path`` (links not followed), without caches and editor junk."""
    if path.is_file() and not path.is_symlink():
        return [path]
    if not path.is_dir():
        return []
    files = []
    for child in sorted(path.rglob("*")):
        parts = child.relative_to(path).parts
        if child.is_symlink() or not child.is_file() or "__pycache__" in parts or child.suffix == ".pyc":
            continue
        if child.name == ".DS_Store" or (not keep_hidden and any(part.startswith(".") for part in parts)):
            continue
        files.append(child)
    return files


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- installing the bundle ------------------------------------------------------------------

def _check_target(out: Path, assignment: Assignment, force: bool) -> None:
    resolved = out.resolve()
    root = assignment.root
    if resolved == root or root.is_relative_to(resolved) or resolved.is_relative_to(root):
        raise InstructorError(f"{out}: the bundle must go outside the assignment folder {root}")
    if resolved in (Path.home().resolve(), Path(resolved.anchor)):
        raise InstructorError(f"{out}: refusing to release into the home or root folder; choose a new folder")
    if out.exists() and not out.is_dir():
        raise InstructorError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InstructorError(f"{out} is not empty; choose a new or empty folder, or pass --force to replace "
                              "its contents (a .git folder is kept)")


def _record(assignment: Assignment, staging: Path, examples: str | Path | None, report: ReleaseReport,
            progress: Callable[[str], None] | None) -> Expectations | None:
    """Record the expectations the self-check replays (none without a solution: say so)."""
    if assignment.solution is None:
        report.notes.append("no solution declared: no oracle outcome was recorded, so a public test that calls an "
                            "oracle is checked when graded")
        return _record_nothing(staging, report, "nothing: no solution to record with")
    expectations = record_expectations(assignment, staging, Path(examples) if examples else None, progress)
    for path in sorted((staging / EXPECTATIONS_DIR).iterdir()):
        report.files[path.relative_to(staging).as_posix()] = (
            f"what the public tests' oracle calls return ({expectations.recording.count()} calls, recorded with "
            f"{len(expectations.submissions)} submissions)")
    offline = expectations.offline
    if offline.unchecked:
        report.notes.append(f"{offline.total_points - offline.checkable_points:g} public points are checked only when "
                            "graded: " + "; ".join(f"{test} ({why})" for test, why in sorted(offline.unchecked.items())[:3]))
    return expectations


def _record_nothing(staging: Path, report: ReleaseReport, why: str) -> None:
    from grader.recorded.recorder import surface_only

    for path in surface_only().save(staging / EXPECTATIONS_DIR):
        report.files[path.relative_to(staging).as_posix()] = f"what the public tests' oracle calls return ({why})"


def _bundle_plan(staging: Path, original: list[PlannedTest]) -> list[PlannedTest]:
    """Load the staged bundle as an assignment and collect its tests without the oracles (the recording stands
    in for them, as in a student's self-check): they must be the released public ones."""
    try:
        bundle = load_assignment(staging)
        recording = load_expectations(staging) or Recording()
        with tempfile.TemporaryDirectory(prefix="grader-release-check-") as plan_dir, replaying(recording, staging):
            plan = collect_plan(bundle, Path(plan_dir))
    except InstructorError as error:
        raise InstructorError(f"the released bundle would not work: {error}") from None
    hidden = [test.id for test in plan if test.visibility == "hidden"]
    unknown = sorted({test.id for test in plan} - {test.id for test in original})
    if hidden or unknown:
        raise InstructorError(f"the released bundle would not work: unexpected tests {', '.join(hidden + unknown)}")
    return [test for test in plan if test.visibility == "public"]


def _install(staging: Path, out: Path) -> None:
    """Replace the contents of ``out`` (but a ``.git`` folder) with the staged bundle."""
    out.mkdir(parents=True, exist_ok=True)
    for child in out.iterdir():
        if child.name in KEPT_IN_OUT:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in staging.iterdir():
        shutil.move(str(child), str(out / child.name))


# -- output ---------------------------------------------------------------------------------

def print_release(report: ReleaseReport, console: Console | None = None) -> None:
    """The files written, what stayed behind, and how to try the bundle."""
    console = console or Console()
    table = Table(title=Text(f"Released {report.assignment.title} to {report.out}"), title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("what")
    for path, what in sorted(report.files.items()):
        table.add_row(Text(path), Text(what))
    console.print(table)
    for path, why in sorted(report.left_out.items()):
        console.print(Text(f"left out: {path} ({why})"))
    for note in report.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    offline = report.expectations.offline if report.expectations else None
    checkable = (f"; {offline.checkable_points:g} of {offline.total_points:g} points checkable offline"
                 if offline is not None else "")
    console.print(Text(f"self-check: {len(report.plan)} public tests, {report.public_points:g} points{checkable}. "
                       f"Try it: cd {shlex.quote(str(report.out))}, then follow {CHECK_GUIDE}"))
