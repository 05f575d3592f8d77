"""The student-side grader as a wheel: ``grader check`` without the oracles (invariant 8).

``grader release`` writes ``nlm_grader_check-<version>-py3-none-any.whl``
into the bundle. It holds the modules that the student's ``grader`` command
(:mod:`grader.cli_student`) and the released tests import, found by reading
their imports (:func:`student_modules`), and nothing else: not ``reference``
(the oracles and the catalogue of mistakes), not the recorder, the release,
validation, the mutants or the batch grader, and no bundled assignment. Its
dependencies are the toolkit's own, as far as these modules need them; torch
is the bundle's requirement, not the wheel's (numpy assignments need none).

A wheel is a zip with a fixed layout (PEP 427): the package files, then
``<name>.dist-info/`` with ``METADATA``, ``WHEEL``, ``entry_points.txt`` and
``RECORD`` (each file's sha256). It is written here, byte for byte the same for
the same modules, so a release needs no build tool and no network, and works
from an installed grader as well as from a checkout.
"""
from __future__ import annotations

import ast
import base64
import hashlib
import importlib.metadata
import re
import zipfile
from pathlib import Path
from typing import Iterable

import grader
from grader.errors import InstructorError

DISTRIBUTION = "nlm-grader-check"
ENTRY_POINT = "grader.cli_student:main"
ROOTS = ("grader.cli_student",)
# Modules a student's install must never hold: they need the oracles or they are the instructor's tools.
FORBIDDEN = ("reference", "grader.recorded.recorder", "grader.release", "grader.validate", "grader.mutants",
             "grader.batch", "grader.cli", "grader.expectations", "grader.student_wheel", "grader.distributed",
             "grader.taskhost", "grader.tasks", "grader.exports.autograder", "grader.exports.autograder_zip",
             "grader.release_files", "grader.student_install")
# The toolkit's dependencies that the student-side modules use (pytest-timeout: loaded with -p timeout).
STUDENT_DEPENDENCIES = ("numpy", "pytest", "pytest-timeout", "click", "rich", "edugrad", "nbformat", "tomli")
_PACKAGE = Path(grader.__file__).resolve().parent
_DATE = (2026, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same modules give the same wheel


def module_file(name: str) -> Path | None:
    """The source file of the grader module ``name`` (a package's ``__init__.py``), or None."""
    parts = name.split(".")
    if parts[0] != "grader":
        return None
    base = _PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """The modules a Python file imports (anywhere in it), as dotted names, including ``from a import b`` as ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def student_modules(roots: Iterable[str] = ROOTS) -> list[str]:
    """Every grader module ``roots`` reach through their imports, parents included.

    Raises :class:`InstructorError` when one of them is :data:`FORBIDDEN` (a
    released test that imports ``reference.*`` is fine: the self-check replays
    it; one that imports an instructor tool is not).
    """
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        if any(name == forbidden or name.startswith(forbidden + ".") for forbidden in FORBIDDEN):
            raise InstructorError(f"the student-side grader would need {name}, which stays with the instructor")
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:index]) for index in range(1, len(parts))]
        todo += [module for module in imported_modules(module_file(name)) if module.split(".")[0] == "grader"]
    return sorted(seen)


def roots_of_tests(test_files: Iterable[Path]) -> list[str]:
    """The grader modules released test files import (``grader.testing``, ``grader.diagnosis``, ...)."""
    found = set()
    for path in test_files:
        try:
            found.update(module for module in imported_modules(path) if module.split(".")[0] == "grader")
        except SyntaxError:
            continue  # the bundle's own collection reports it
    return sorted(found)


def requirements() -> list[str]:
    """The wheel's ``Requires-Dist``: the toolkit's own requirement for each student-side dependency."""
    try:
        declared = importlib.metadata.requires("nlm-grader") or []
    except importlib.metadata.PackageNotFoundError:  # a plain checkout on sys.path: no versions to copy
        declared = []
    kept = {}
    for requirement in declared:
        name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name in STUDENT_DEPENDENCIES and "extra ==" not in requirement:
            kept[name] = requirement
    # tomli is needed below Python 3.11 only, which the declared requirement says with its marker.
    return [kept.get(name, name) for name in STUDENT_DEPENDENCIES if name in kept or name != "tomli"]


def wheel_name(version: str = grader.__version__) -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{version}-py3-none-any.whl"


def build_student_wheel(out_dir: Path, extra_roots: Iterable[str] = ()) -> Path:
    """Write the student-side wheel into ``out_dir`` and return its path."""
    modules = student_modules([*ROOTS, *extra_roots])
    version = grader.__version__
    dist_info = f"{DISTRIBUTION.replace('-', '_')}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for module in modules:
        path = module_file(module)
        files[path.relative_to(_PACKAGE.parent).as_posix()] = path.read_bytes()
    metadata = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {version}",
                "Summary: The self-check of an nlm-grader assignment: grader check, with the outcomes its release "
                "recorded instead of the oracles.",
                "Requires-Python: >=3.10", *[f"Requires-Dist: {requirement}" for requirement in requirements()], ""]
    files[f"{dist_info}/METADATA"] = "\n".join(metadata).encode()
    files[f"{dist_info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: nlm-grader release\nRoot-Is-Purelib: true\n"
                                   b"Tag: py3-none-any\n")
    files[f"{dist_info}/entry_points.txt"] = f"[console_scripts]\ngrader = {ENTRY_POINT}\n".encode()
    record = [f"{name},sha256={_urlsafe_digest(data)},{len(data)}" for name, data in sorted(files.items())]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheel_name(version)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return target


def _urlsafe_digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
