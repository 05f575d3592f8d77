"""The test plan of an assignment: every test, its points, name and visibility.

Collected once, in the grader, before any submission runs: a test file that
does not import, a test without ``@points``, or an unknown visibility is an
instructor error reported before grading starts. Legacy files are read with
``ast`` (they import student modules, so the grader must not import them).
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import os
import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from _pytest._code import code as _pytest_code
from _pytest.assertion import rewrite as _assertion_rewrite

from grader.config import VISIBILITIES, Assignment
from grader.errors import AssignmentConfigError
from grader.results import Diagnosis, TestResult


@dataclass(frozen=True)
class PlannedTest:
    id: str            # pytest node id relative to the assignment folder
    name: str          # shown to students
    points: float
    visibility: str
    computed_in: str = "grader"

    def result(self, status: str, earned: float, message: str = "", duration: float = 0.0,
               diagnosis: Diagnosis | None = None) -> TestResult:
        """This test's outcome for one submission, as a :class:`~grader.results.TestResult`."""
        return TestResult(id=self.id, name=self.name, points=round(earned, 6), max_points=self.points, status=status,
                          visibility=self.visibility, message=message, duration=round(duration, 4),
                          computed_in=self.computed_in, diagnosis=diagnosis)


def pytest_base_args(assignment: Assignment, ini_path: Path) -> list[str]:
    """Arguments shared by every in-process pytest run over an assignment's tests."""
    return [
        "-c", str(ini_path),
        "--rootdir", str(assignment.root),
        # conftest.py files above the assignment (a repository's own) must not join the grading.
        "--confcutdir", str(assignment.root),
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "-p", "no:randomly",
        "-p", "no:warnings",
        # Plugins a grading run never needs; unraisableexception alone costs two full gc passes per run.
        "-p", "no:unraisableexception", "-p", "no:threadexception", "-p", "no:doctest",
        "-p", "no:junitxml", "-p", "no:pastebin", "-p", "no:stepwise", "-p", "no:faulthandler",
        "-q", "--no-header", "-rN",
    ]


def write_pytest_ini(directory: Path) -> Path:
    """An empty pytest config, so the grader's own repository settings never apply."""
    path = directory / "grader-pytest.ini"
    path.write_text("[pytest]\nmarkers =\n    points(value, name, visibility): points of a graded test\n", encoding="utf-8")
    return path


# Assertion-rewritten code of test files and conftest.py files, kept for the life of the grading process.
# Every submission's pytest run imports the test modules afresh (new module objects, new fixtures), but
# parsing, rewriting and compiling the same source again gives the same code object, so that is done once.
_REWRITTEN: dict[tuple[str, bytes, bool], tuple[bytes, types.CodeType]] = {}
_REWRITTEN_MAX = 256
_NO_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


def _rewrite_once(original):
    def rewrite_test(fn: Path, config) -> tuple[bytes, types.CodeType]:
        source = fn.read_bytes()
        # The rewriter reads one setting from the config (enable_assertion_pass_hook); it is part of the key.
        pass_hook = bool(config.getini("enable_assertion_pass_hook")) if config is not None else False
        key = (os.fspath(fn), hashlib.sha256(source).digest(), pass_hook)
        cached = _REWRITTEN.get(key)
        if cached is None:
            cached = original(fn, config)
            if isinstance(cached[0], os.stat_result):  # older pytest returns the file's stat: never reuse one
                return cached
            if len(_REWRITTEN) >= _REWRITTEN_MAX:
                _REWRITTEN.clear()
            _REWRITTEN[key] = cached
        return cached

    rewrite_test.original = original
    return rewrite_test


# The syntax trees pytest parses to show the statement of each traceback entry of a failed test. pytest
# caches them for one failure only (by file path), so a submission whose tests fail parsed the test files,
# conftest.py and the grader's modules again for every failed test: most of the grading time of a broken
# submission. Kept here by the source text itself, the tree is reused only for exactly the same source.
_STATEMENT_TREES: dict[str, ast.AST] = {}
_STATEMENT_TREES_MAX = 64


def _statement_trees_once(original):
    def getstatementrange_ast(lineno, source, assertion=False, astnode=None):
        if astnode is None:
            content = str(source)
            astnode = _STATEMENT_TREES.get(content)
            if astnode is None:
                # What pytest does (see #4260 there: no duplicate warnings while parsing).
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    astnode = ast.parse(content, "source", "exec")
                if len(_STATEMENT_TREES) >= _STATEMENT_TREES_MAX:
                    _STATEMENT_TREES.clear()
                _STATEMENT_TREES[content] = astnode
        return original(lineno, source, assertion, astnode)

    getstatementrange_ast.original = original
    return getstatementrange_ast


@contextlib.contextmanager
def _patched(module, name: str, make) -> Iterator[None]:
    """``module.name`` replaced by ``make(original)`` within the block; left alone where pytest's internals
    do not look as expected (another pytest version) or the block is nested."""
    original = getattr(module, name, None)
    if original is None or hasattr(original, "original"):
        yield
        return
    setattr(module, name, make(original))
    try:
        yield
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def rewritten_code_cache() -> Iterator[None]:
    """Within the block, pytest reuses what it made for unchanged source in an earlier run of this process:
    the assertion-rewritten code of test modules and conftest.py files, and the syntax trees it reads to
    report a failure. Results are unchanged: the same source gives the same code and the same trees.

    And no plugin that happens to be installed loads itself (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``): a grading
    run names the plugins it uses (``-p timeout``), and hypothesis's, say, cost a self-check two seconds.
    """
    previous = os.environ.get(_NO_AUTOLOAD)
    os.environ[_NO_AUTOLOAD] = "1"
    try:
        with _patched(_assertion_rewrite, "_rewrite_test", _rewrite_once), \
                _patched(_pytest_code, "getstatementrange_ast", _statement_trees_once):
            yield
    finally:
        if previous is None:
            os.environ.pop(_NO_AUTOLOAD, None)
        else:
            os.environ[_NO_AUTOLOAD] = previous


class _Collector:
    def __init__(self, assignment: Assignment) -> None:
        self.assignment = assignment
        self.items: list[pytest.Item] = []
        self.errors: list[str] = []

    def pytest_collection_modifyitems(self, items) -> None:
        self.items = list(items)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid or 'collection'}:\n{report.longreprtext[-2000:]}")


def planned_test(item: pytest.Item, assignment: Assignment, default_visibility: str) -> PlannedTest:
    """Read the ``points`` marker of one collected item."""
    marker = item.get_closest_marker("points")
    file_rel = Path(str(item.path)).resolve().relative_to(assignment.root).as_posix()
    if marker is None or not marker.args:
        raise AssignmentConfigError(
            assignment.root / file_rel, item.name, "test has no points: decorate it with @points(N) from grader.testing"
        )
    visibility = marker.kwargs.get("visibility") or default_visibility
    if visibility not in VISIBILITIES:
        raise AssignmentConfigError(assignment.root / file_rel, item.name, f"visibility must be one of {', '.join(VISIBILITIES)}, got {visibility!r}")
    name = marker.kwargs.get("name") or _first_doc_line(item) or item.name.removeprefix("test_").replace("_", " ")
    if "[" in item.name and marker.kwargs.get("name"):
        name = f"{name} [{item.name.split('[', 1)[1]}"
    return PlannedTest(id=f"{file_rel}::{item.nodeid.split('::', 1)[1]}", name=name, points=float(marker.args[0]), visibility=visibility)


def _first_doc_line(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def collect_plan(assignment: Assignment, work_dir: Path) -> list[PlannedTest]:
    """Collect the trusted tests (in this process) and the legacy tests (by parsing)."""
    plan: list[PlannedTest] = []
    default_visibility = {path: visibility for path, visibility in assignment.test_files()}
    if default_visibility:
        collector = _Collector(assignment)
        args = pytest_base_args(assignment, write_pytest_ini(work_dir)) + ["--collect-only"]
        args += [str(assignment.root / path) for path in default_visibility]
        with contextlib.redirect_stdout(io.StringIO()) as captured, rewritten_code_cache():
            exit_code = pytest.main(args, plugins=[collector])
        forget_modules_under(assignment.root)
        if collector.errors or exit_code not in (0, 5):
            detail = "\n".join(collector.errors) or captured.getvalue()[-2000:]
            raise AssignmentConfigError(assignment.root, "tests", f"the test files could not be collected:\n{detail}")
        for item in collector.items:
            relative = Path(str(item.path)).resolve().relative_to(assignment.root).as_posix()
            plan.append(planned_test(item, assignment, default_visibility.get(relative, "public")))
    if assignment.legacy is not None:
        plan.extend(legacy_plan(assignment))
    if not plan:
        raise AssignmentConfigError(assignment.config_path, "tests", "the test files hold no tests")
    ids = [test.id for test in plan]
    duplicates = sorted({test_id for test_id in ids if ids.count(test_id) > 1})
    if duplicates:
        raise AssignmentConfigError(assignment.config_path, "tests", f"duplicate test ids: {', '.join(duplicates)}")
    return plan


def legacy_plan(assignment: Assignment) -> list[PlannedTest]:
    """The tests of a legacy file: its ``test_*`` functions and ``Test*`` class methods."""
    suite = assignment.legacy
    assert suite is not None
    path = assignment.root / suite.file
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as error:
        raise AssignmentConfigError(path, None, f"not valid Python: line {error.lineno}: {error.msg}") from None
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.extend(f"{node.name}::{child.name}" for child in node.body
                         if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name.startswith("test"))
    unknown = sorted(set(suite.points) - set(names) - {name.split("::")[-1] for name in names})
    if unknown:
        raise AssignmentConfigError(assignment.config_path, f"legacy.points.{unknown[0]}", f"no such test in {suite.file}")
    return [
        PlannedTest(
            id=f"{suite.file}::{name}",
            name=name.split("::")[-1].removeprefix("test_").replace("_", " "),
            points=suite.points.get(name, suite.points.get(name.split("::")[-1], suite.default_points)),
            visibility=suite.visibility,
            computed_in="sandbox",
        )
        for name in names
    ]


def forget_modules_under(root: Path) -> None:
    """Drop test modules imported from ``root`` so the next run imports them afresh.

    Not the installed packages: a student's venv usually sits inside the assignment folder, and numpy (any C
    extension) cannot be imported twice in one process.
    """
    prefix = str(root).rstrip(os.sep) + os.sep
    installed = tuple(str(Path(path).resolve()) + os.sep for path in {sys.prefix, sys.base_prefix, sys.exec_prefix})
    for name, module in list(sys.modules.items()):
        file = str(getattr(module, "__file__", "") or "")
        if file.startswith(prefix) and not file.startswith(installed) and "site-packages" not in Path(file).parts:
            del sys.modules[name]
