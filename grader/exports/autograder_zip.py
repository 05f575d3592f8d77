"""Build a Gradescope autograder zip for an assignment.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once
to build its image, and then ``run_autograder`` for every submission (files in
``/autograder/submission``), which must write ``/autograder/results/results.json``.
The zip holds, at its root:

- ``setup.sh``: installs Python, PyTorch (``torch_spec``, from ``torch_index``)
  and the grader shipped in the zip into ``/autograder/venv``;
- ``run_autograder``: runs :mod:`grader.exports.autograder` with the shipped
  grader first on ``PYTHONPATH``;
- ``assignment/``: what grading needs and nothing more: ``assignment.toml``
  (the seed salt and the name kept, so seeds match the instructor's own
  grading; ``solution`` and ``starter`` dropped), every test file, hidden ones
  included, with the other files of their folders, support files, a legacy
  file. Gradescope's autograder is trusted; the solution is not needed there,
  so it is left out;
- ``nlm-grader/``: this grader's source (``grader``, ``reference``,
  ``templates``) with a ``pyproject.toml``;
- ``grader-gradescope.json``: the settings ``run_autograder`` reads.

Before the zip is written, the staged assignment is loaded and its tests are
collected: they must be the assignment's, with the same points and
visibility.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from grader import __version__
from grader.config import CONFIG_NAME, Assignment, load_assignment
from grader.errors import InstructorError
from grader.exports.atomic import write_bytes_atomic
from grader.exports.gradescope import HIDDEN_CHOICES
from grader.plan import PlannedTest, collect_plan
from grader.resources import templates_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ZIP_CONFIG = "grader-gradescope.json"
ASSIGNMENT_DIR = "assignment"
PACKAGE_DIR = "nlm-grader"
DEFAULT_TORCH_SPEC = "torch==2.13.0"
DEFAULT_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
_EXECUTABLE = ("setup.sh", "run_autograder")
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed, so the same inputs give the same zip
_FALLBACK_DEPENDENCIES = ["numpy>=1.24", "torch>=2.1", "pytest>=7.4", "pytest-timeout>=2.2", "click>=8.1",
                          "jinja2>=3.1", "rich>=13", "edugrad==0.1.0", "tomli>=2.0; python_version < '3.11'"]


@dataclass
class AutograderZip:
    """What :func:`build_autograder_zip` wrote."""

    assignment: Assignment
    out: Path
    files: dict[str, str] = field(default_factory=dict)  # zip path -> what it is (grader source summarised)
    plan: list[PlannedTest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def possible(self) -> float:
        return round(sum(test.points for test in self.plan), 6)

    def to_dict(self) -> dict[str, Any]:
        by_visibility: dict[str, int] = {}
        for test in self.plan:
            by_visibility[test.visibility] = by_visibility.get(test.visibility, 0) + 1
        return {"assignment": {"name": self.assignment.name, "title": self.assignment.title,
                               "version": self.assignment.version},
                "out": str(self.out), "tests": len(self.plan), "points": self.possible, "by_visibility": by_visibility,
                "files": [{"path": path, "what": what} for path, what in sorted(self.files.items())],
                "notes": self.notes}


def build_autograder_zip(assignment_path: str | Path, out: str | Path, torch_spec: str = DEFAULT_TORCH_SPEC,
                         torch_index: str = DEFAULT_TORCH_INDEX, hidden_visibility: str = "hidden",
                         allow_unisolated: bool = False) -> AutograderZip:
    """Write the Gradescope autograder zip of the assignment at ``assignment_path`` to ``out``.

    ``torch_spec`` and ``torch_index`` are what ``setup.sh`` installs PyTorch
    with (an empty index: PyPI's default); ``hidden_visibility`` is how hidden
    tests show on Gradescope (``hidden`` or ``after_published``);
    ``allow_unisolated`` lets the autograder grade where only the rlimits
    sandbox runs (:func:`grader.sandbox.probe.require_file_isolation`). Raises
    :class:`~grader.errors.InstructorError` when the assignment cannot be
    shipped; ``out`` is then untouched.
    """
    assignment = load_assignment(assignment_path)
    out = Path(out)
    for name, value in (("--torch-spec", torch_spec), ("--torch-index", torch_index)):
        if "\n" in value or (name == "--torch-spec" and not value.strip()):
            raise InstructorError(f"{name}: expected one line such as {DEFAULT_TORCH_SPEC!r}, got {value!r}")
    if hidden_visibility not in HIDDEN_CHOICES:
        raise InstructorError(f"hidden visibility: expected one of {', '.join(HIDDEN_CHOICES)}, got {hidden_visibility!r}")
    if out.is_dir():
        raise InstructorError(f"{out} is a folder; give the path of the zip to write, e.g. {out / 'autograder.zip'}")
    report = AutograderZip(assignment, out)
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as scratch_name:
        scratch = Path(scratch_name)
        original = collect_plan(assignment, scratch)
        staging = scratch / "zip"
        _stage_assignment(assignment, staging / ASSIGNMENT_DIR, report)
        report.plan = _check_staged_plan(staging / ASSIGNMENT_DIR, original, scratch)
        _stage_package(staging / PACKAGE_DIR, report)
        _stage_scripts(staging, assignment, torch_spec.strip(), torch_index.strip(), hidden_visibility, report,
                       allow_unisolated)
        write_bytes_atomic(out, _zip_bytes(staging))
    if os.environ.get("GRADER_SEED_SECRET"):
        report.notes.append("GRADER_SEED_SECRET is set here but is not put in the zip: hidden tests on Gradescope "
                            "draw other inputs than your local grading (public tests draw the same)")
    report.notes.append("hidden tests' inputs depend on the student: on Gradescope on the smallest e-mail of the "
                        "submission's users, as when you grade its export with --from gradescope")
    return report


# -- the assignment --------------------------------------------------------------------------

def grading_files(assignment: Assignment) -> dict[str, Path]:
    """``zip path -> file`` of what grading needs: tests and their folders, support files, a legacy file."""
    root = assignment.root
    left_out = [root / name for name in (assignment.solution, assignment.starter) if name]
    files: dict[str, Path] = {}

    def add(path: Path) -> None:
        if any(path.is_relative_to(other) for other in left_out):
            return
        files[path.relative_to(root).as_posix()] = path

    for relative in (*assignment.public_tests, *assignment.hidden_tests):
        test = root / relative
        add(test)
        if test.parent != root:  # a test folder of its own: helpers and data beside the tests travel too
            for path in _files_under(test.parent):
                add(path)
        folder = PurePosixPath(relative).parent
        while True:  # conftest.py and __init__.py on the way up
            for name in ("conftest.py", "__init__.py"):
                if (root / folder / name).is_file():
                    add(root / folder / name)
            if folder == PurePosixPath("."):
                break
            folder = folder.parent
    for relative in assignment.support_files:
        for path in _files_under(root / relative):
            add(path)
    if assignment.legacy is not None:
        add(root / assignment.legacy.file)
    return files


def grading_config(assignment: Assignment) -> str:
    """The shipped ``assignment.toml``: the original, less ``solution`` and ``starter``, with ``name`` written out."""
    with assignment.config_path.open("rb") as stream:
        data = tomllib.load(stream)
    section = data["assignment"]
    section.pop("solution", None)
    section.pop("starter", None)
    data["assignment"] = {"name": assignment.name, **{key: value for key, value in section.items() if key != "name"}}
    lines = ["# Shipped by `grader gradescope`: the assignment as graded, without its solution and starter.", ""]
    for table, values in data.items():
        lines.append(f"[{table}]")
        lines += [f"{_toml_key(key)} = {_toml(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def _stage_assignment(assignment: Assignment, target: Path, report: AutograderZip) -> None:
    for relative, source in sorted(grading_files(assignment).items()):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        hidden = relative in assignment.hidden_tests
        report.files[f"{ASSIGNMENT_DIR}/{relative}"] = "hidden tests" if hidden else "tests and what they need"
    (target / CONFIG_NAME).write_text(grading_config(assignment), encoding="utf-8")
    report.files[f"{ASSIGNMENT_DIR}/{CONFIG_NAME}"] = "assignment config (no solution, no starter)"


def _check_staged_plan(staged: Path, original: list[PlannedTest], scratch: Path) -> list[PlannedTest]:
    try:
        plan = collect_plan(load_assignment(staged), scratch)
    except InstructorError as error:
        raise InstructorError(f"the assignment would not work on Gradescope: {error}") from None
    if plan != original:
        missing = sorted({test.id for test in original} ^ {test.id for test in plan}) or ["points or visibility"]
        raise InstructorError(f"the assignment would not work on Gradescope: its tests differ ({', '.join(missing)}); "
                              "a test may read a file outside its folder that is not a support file")
    return plan


# -- the grader --------------------------------------------------------------------------------

def _stage_package(target: Path, report: AutograderZip) -> None:
    import grader
    import reference

    sources = {"grader": Path(grader.__file__).parent, "reference": Path(reference.__file__).parent,
               "templates": templates_dir()}
    for name, source in sources.items():
        for path in _files_under(source):
            relative = path.relative_to(source)
            if name == "grader" and relative.parts[0] == "_data":
                continue
            destination = target / name / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        report.files[f"{PACKAGE_DIR}/{name}/"] = f"the grader's source ({name})"
    (target / "pyproject.toml").write_text(_pyproject(), encoding="utf-8")
    (target / "README.md").write_text(f"nlm-grader {__version__}, shipped in a Gradescope autograder zip.\n",
                                      encoding="utf-8")
    report.files[f"{PACKAGE_DIR}/pyproject.toml"] = "how setup.sh installs the grader"


def _pyproject() -> str:
    try:
        requirements = importlib.metadata.requires("nlm-grader") or _FALLBACK_DEPENDENCIES
    except importlib.metadata.PackageNotFoundError:
        requirements = _FALLBACK_DEPENDENCIES
    dependencies = [requirement for requirement in requirements if "extra ==" not in requirement]
    return "\n".join([
        "[build-system]", 'requires = ["hatchling>=1.21"]', 'build-backend = "hatchling.build"', "",
        "[project]", 'name = "nlm-grader"', f"version = {_toml(__version__)}", 'requires-python = ">=3.10"',
        f"dependencies = {_toml(dependencies)}", "",
        "[project.scripts]", 'grader = "grader.cli:main"', "",
        "[tool.hatch.build.targets.wheel]", 'packages = ["grader", "reference"]', "",
        "[tool.hatch.build.targets.wheel.force-include]", '"templates" = "grader/_data/templates"', "",
    ])


# -- scripts and the zip ---------------------------------------------------------------------

def _stage_scripts(staging: Path, assignment: Assignment, torch_spec: str, torch_index: str,
                   hidden_visibility: str, report: AutograderZip, allow_unisolated: bool = False) -> None:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "gradescope")),
                                     autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    fields = {"title": assignment.title.replace("\n", " "), "grader_version": __version__, "torch_spec": torch_spec,
              "torch_spec_shell": " ".join(shlex.quote(part) for part in shlex.split(torch_spec)),
              "torch_index": torch_index, "torch_index_shell": shlex.quote(torch_index), "package_dir": PACKAGE_DIR}
    for name, what in (("setup.sh", "installs Python, PyTorch and the grader (run once)"),
                       ("run_autograder", "grades /autograder/submission into /autograder/results/results.json")):
        (staging / name).write_text(environment.get_template(f"{name}.j2").render(**fields), encoding="utf-8")
        report.files[name] = what
    config = {"assignment": ASSIGNMENT_DIR, "hidden_visibility": hidden_visibility, "grader_version": __version__,
              "assignment_version": assignment.version, "allow_unisolated": bool(allow_unisolated)}
    (staging / ZIP_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    report.files[ZIP_CONFIG] = "settings run_autograder reads"


def _zip_bytes(staging: Path) -> bytes:
    handle, temp_name = tempfile.mkstemp(suffix=".zip")
    os.close(handle)
    try:
        with zipfile.ZipFile(temp_name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(_files_under(staging)):
                name = path.relative_to(staging).as_posix()
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = ((0o755 if name in _EXECUTABLE else 0o644) | 0o100000) << 16
                archive.writestr(info, path.read_bytes())
        return Path(temp_name).read_bytes()
    finally:
        os.unlink(temp_name)


def _files_under(path: Path) -> list[Path]:
    """Regular files at or below ``path``, links not followed, without caches."""
    if path.is_file() and not path.is_symlink():
        return [path]
    if not path.is_dir():
        return []
    return [child for child in sorted(path.rglob("*"))
            if child.is_file() and not child.is_symlink() and "__pycache__" not in child.parts
            and child.suffix != ".pyc" and child.name != ".DS_Store"]


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def _toml(value: Any) -> str:
    """A TOML value for what ``tomllib`` reads from an ``assignment.toml``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")  # a TOML basic string, DEL aside
    if isinstance(value, (int, float)):
        return repr(value)
    if hasattr(value, "isoformat"):  # datetime, date, time: TOML's own literals
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(str(key))} = {_toml(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
