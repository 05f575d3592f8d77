"""What a student installs from a released bundle, and the audit that it recovers no oracle.

A bundle is self-sufficient with a package registry: ``.grader/`` holds the
student-side grader as a wheel (:mod:`grader.student_wheel`) and the recorded
expectations (:mod:`grader.expectations`); ``requirements.txt`` installs the
wheel with numpy (and torch, when the assignment uses it) pinned to the
versions this grading runs with, so the public tests draw the same inputs and
compute the same values. PyTorch comes first, from its CPU index by default:
on Linux the registry's default build is several GB of GPU libraries.
:class:`StudentInstall` gives the commands ``CHECK.md`` and the workflow use.

:func:`audit_generated` checks what the release generated (the wheel, the
expectations, the guides) for anything of ``reference``: a module path, a
bytecode file, a line of its code, a pickle.
"""
from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

from grader.config import Assignment
from grader.errors import InstructorError
from grader.student_wheel import build_student_wheel, roots_of_tests

BUNDLE_DIR = ".grader"
REQUIREMENTS = "requirements.txt"
DEFAULT_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
_MIN_SECRET_LINE = 40
# A generated file that holds this many distinctive lines of reference's code carries a copy of it.
_COPIED_LINES = 3


@dataclass(frozen=True)
class StudentInstall:
    """What the bundle's ``requirements.txt`` pins and how a student installs it."""

    wheel: str                 # the wheel's path in the bundle
    numpy_version: str
    torch_version: str | None  # None: the assignment does not use torch
    torch_index: str           # "" : the registry's default index

    @property
    def torch_command(self) -> str | None:
        """The pip command that installs PyTorch first (None when the assignment does not need it)."""
        if self.torch_version is None:
            return None
        index = f" --index-url {self.torch_index}" if self.torch_index else ""
        return f"python -m pip install torch=={self.torch_version}{index}"

    def requirements_text(self) -> str:
        lines = ["# Written by `grader release`: what `grader check` needs, at the versions the grading runs with.",
                 "# Install from this folder: python -m pip install -r requirements.txt",
                 f"./{self.wheel}", f"numpy=={self.numpy_version}"]
        if self.torch_version is not None:
            lines.append(f"torch=={self.torch_version}")
        return "\n".join(lines) + "\n"


def uses_torch(assignment: Assignment, test_files: Iterable[Path]) -> bool:
    """Whether student code or the released tests may import torch."""
    if assignment.allowed_packages is None or "torch" in assignment.allowed_packages:
        return True
    for path in test_files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] == "torch" for name in names):
                return True
    return False


def installed_version(distribution: str) -> str:
    """The installed release of ``distribution``, without a local label (``2.13.0+cpu`` -> ``2.13.0``)."""
    try:
        return importlib.metadata.version(distribution).split("+", 1)[0]
    except importlib.metadata.PackageNotFoundError:
        raise InstructorError(f"{distribution} is not installed here, so the bundle cannot pin the version the "
                              "grading uses") from None


def write_student_install(staging: Path, assignment: Assignment, torch_index: str = DEFAULT_TORCH_INDEX
                          ) -> StudentInstall:
    """Build the wheel into ``staging/.grader`` and write ``requirements.txt``; the install it describes."""
    if "\n" in torch_index or " " in torch_index.strip():
        raise InstructorError(f"--torch-index: expected one URL such as {DEFAULT_TORCH_INDEX!r}, got {torch_index!r}")
    test_files = sorted(path for path in staging.rglob("*.py") if BUNDLE_DIR not in path.relative_to(staging).parts)
    wheel = build_student_wheel(staging / BUNDLE_DIR, roots_of_tests(test_files))
    install = StudentInstall(wheel=wheel.relative_to(staging).as_posix(), numpy_version=installed_version("numpy"),
                             torch_version=installed_version("torch") if uses_torch(assignment, test_files) else None,
                             torch_index=torch_index.strip())
    (staging / REQUIREMENTS).write_text(install.requirements_text(), encoding="utf-8")
    return install


# -- the audit ------------------------------------------------------------------------------------

def reference_code_lines() -> set[str]:
    """Distinctive lines of code of every module of ``reference``: what no bundle may carry.

    Docstrings, comments, imports and bare string literals (a mistake's id or
    text, which the expectations carry on purpose) are left out, and so is any
    line the grader's own modules hold too (a shared idiom, not an oracle).
    """
    spec = importlib.util.find_spec("reference")
    if spec is None or not spec.submodule_search_locations:
        return set()
    lines: set[str] = set()
    for folder in spec.submodule_search_locations:
        for path in Path(folder).rglob("*.py"):
            lines |= _code_lines(path.read_text(encoding="utf-8"))
    grader_lines: set[str] = set()
    for path in Path(__file__).resolve().parent.rglob("*.py"):
        grader_lines |= {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
    return lines - grader_lines


def _code_lines(source: str) -> set[str]:
    docstrings = _docstring_lines(source)
    found = set()
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if len(stripped) < _MIN_SECRET_LINE or number in docstrings or stripped.startswith(("#", "from ", "import ")):
            continue
        if stripped[0] in "\"'" or stripped[:2] in ('f"', "f'"):  # a string literal on its own line
            continue
        found.add(stripped)
    return found


def _docstring_lines(source: str) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def bundle_texts(bundle: Path, generated: Iterable[str]) -> dict[str, bytes]:
    """``name -> bytes`` of the generated files, and of every member of the archives among them."""
    found: dict[str, bytes] = {}
    for relative in generated:
        path = bundle / relative
        if path.is_dir():
            files = [child for child in path.rglob("*") if child.is_file()]
        else:
            files = [path] if path.is_file() else []
        for file in files:
            name = file.relative_to(bundle).as_posix()
            data = file.read_bytes()
            found[name] = data
            if zipfile.is_zipfile(io.BytesIO(data)):
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for member in archive.namelist():
                        found[f"{name}!{member}"] = archive.read(member)
    return found


def audit_generated(bundle: Path, generated: Iterable[str], secret_lines: set[str] | None = None) -> list[str]:
    """Every way the generated files could recover an oracle: ``reference`` paths, bytecode, pickles, its code."""
    secret_lines = reference_code_lines() if secret_lines is None else secret_lines
    problems = []
    for name, data in bundle_texts(bundle, generated).items():
        member = PurePosixPath(name.split("!")[-1])
        if "reference" in member.parts or member.suffix in (".pyc", ".pyo", ".pkl", ".pickle"):
            problems.append(f"{name} is {'bytecode or a pickle' if member.suffix != '.py' else 'a module of reference'}")
            continue
        if member.suffix == ".npy" and b"pickle" in data[:200].lower():
            problems.append(f"{name} is an object array (a pickle)")
        if data[:2] == b"\x80\x04" or data[:2] == b"\x80\x05":
            problems.append(f"{name} looks like a pickle")
        text = data.decode("utf-8", errors="ignore")
        hits = [line for line in secret_lines if line in text]
        if len(hits) >= _COPIED_LINES:
            problems.append(f"{name} holds {len(hits)} lines of reference's code, e.g. {hits[0][:60]!r}")
    return problems
