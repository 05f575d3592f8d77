"""Load and validate ``assignments/<name>/assignment.toml``.

Example::

    [assignment]
    name = "rnn_lm"                      # defaults to the folder's name
    title = "An LSTM language model"
    version = "2026.1"
    student_files = ["lm.py"]            # what a submission must provide
    support_files = ["vocab.py"]         # placed beside the student's files
    allowed_packages = ["numpy", "torch"]
    solution = "solution"                # folder holding the reference solution
    starter = "starter"                  # folder holding the starter code
    due = 2026-12-01T23:59:00Z           # optional
    hidden_points = 40                   # optional; written by `grader release`: points the self-check cannot run
    total_points = 100                   # optional; `grader validate` checks the tests add up to it

    [limits]
    test_seconds = 10                    # wall clock for one test's calls into student code
    submission_seconds = 300             # wall clock for the whole submission
    memory_mb = 4096
    output_kib = 1024                    # stdout and stderr kept per submission

    [tests]
    public = ["tests/test_public.py"]    # trusted pytest files, run in the grader
    hidden = ["tests/test_hidden.py"]

    [legacy]                             # optional: an existing test file run in the sandbox
    file = "test_all.py"
    points = { test_pad = 2 }
    default_points = 1
    visibility = "public"

Every problem is reported as :class:`AssignmentConfigError` naming the file,
the key and what was expected.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from grader.errors import AssignmentConfigError

CONFIG_NAME = "assignment.toml"
VISIBILITIES = ("public", "hidden", "after_due_date")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Every key a table may hold, checked before any key is read: a typo such as
# ``studnet_files`` is reported as an unknown key, not as a missing ``student_files``.
_TOP_KEYS = ("assignment", "limits", "tests", "legacy")
_ASSIGNMENT_KEYS = ("name", "title", "version", "student_files", "support_files", "allowed_packages",
                    "solution", "starter", "due", "seed_salt", "hidden_points", "total_points")
_LEGACY_KEYS = ("file", "points", "default_points", "visibility")


@dataclass(frozen=True)
class Limits:
    """Resource limits for student code."""

    test_seconds: float = 10.0
    submission_seconds: float = 300.0
    memory_mb: int = 4096
    output_kib: int = 1024
    file_mb: int = 64
    processes: int = 64
    open_files: int = 256

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class LegacySuite:
    """An existing test file that imports student modules and so runs inside the sandbox."""

    file: str
    points: dict[str, float]
    default_points: float = 1.0
    visibility: str = "public"


@dataclass(frozen=True)
class Assignment:
    """A validated assignment: everything the engine needs, with absolute paths."""

    root: Path
    name: str
    title: str
    version: str
    student_files: tuple[str, ...]
    support_files: tuple[str, ...] = ()
    allowed_packages: tuple[str, ...] | None = None
    public_tests: tuple[str, ...] = ()
    hidden_tests: tuple[str, ...] = ()
    legacy: LegacySuite | None = None
    limits: Limits = field(default_factory=Limits)
    solution: str | None = None
    starter: str | None = None
    due: dt.datetime | None = None
    seed_salt: str = ""
    hidden_points: float | None = None  # in a released bundle: the points of the tests left out
    total_points: float | None = None  # declared total; grader validate checks the tests add up to it

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    def test_files(self) -> list[tuple[str, str]]:
        """``(relative path, default visibility)`` of every trusted test file."""
        return [(path, "public") for path in self.public_tests] + [(path, "hidden") for path in self.hidden_tests]

    def fingerprint(self) -> str:
        """A hash of the config and every test and support file: changes when grading would."""
        digest = hashlib.sha256()
        # Whole test folders: a conftest.py or a data file beside the tests changes grading too.
        test_folders = sorted({str(PurePosixPath(path).parent) for path in (*self.public_tests, *self.hidden_tests)})
        paths = [CONFIG_NAME, *test_folders, *self.support_files]
        if self.legacy:
            paths.append(self.legacy.file)
        seen: set[Path] = set()
        for relative in paths:
            for path in sorted(set(_expand(self.root / relative)) - seen):
                seen.add(path)
                digest.update(path.relative_to(self.root).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
        return digest.hexdigest()


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        return [child for child in path.rglob("*") if child.is_file() and "__pycache__" not in child.parts]
    return [path]


class _Reader:
    """Typed access to one TOML table, with errors that name the key."""

    def __init__(self, path: Path, table: dict, prefix: str, known: tuple[str, ...] = ()) -> None:
        self.path = path
        self.table = table
        self.prefix = prefix
        self.used: set[str] = set(known)
        if known:
            self.reject_unknown()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str | None, problem: str) -> AssignmentConfigError:
        return AssignmentConfigError(self.path, self.key(name) if name else self.prefix or None, problem)

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., what: str = "") -> Any:
        self.used.add(name)
        if name not in self.table:
            if default is ...:
                raise self.fail(name, f"missing; expected {what or _kind_name(kind)}")
            return default
        value = self.table[name]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(name, f"expected {what or _kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(name, f"expected {what or _kind_name(kind)}, got {type(value).__name__} {value!r}")
        return value

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        value = self.get(name, (int, float), default, "a number")
        if not math.isfinite(value):
            raise self.fail(name, f"expected a finite number, got {value!r}")
        if value <= minimum:
            raise self.fail(name, f"expected a number greater than {minimum:g}, got {value!r}")
        return value

    def strings(self, name: str, default: Any = ..., non_empty: bool = False) -> tuple[str, ...]:
        value = self.get(name, list, default, "a list of strings")
        if value is None:
            return None  # type: ignore[return-value]
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.fail(f"{name}[{index}]", f"expected a non-empty string, got {item!r}")
        if non_empty and not value:
            raise self.fail(name, "expected at least one entry, got an empty list")
        return tuple(value)

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown key; expected one of {', '.join(sorted(self.used))}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def read_toml(config_path: Path) -> dict[str, Any]:
    """Parse a TOML file of an assignment; :class:`AssignmentConfigError` says where it is broken."""
    try:
        return tomllib.loads(config_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise AssignmentConfigError(config_path, None, f"not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise AssignmentConfigError(config_path, None, f"cannot be read: {error}") from None


def load_assignment(path: str | Path) -> Assignment:
    """Read and validate an assignment folder (or its ``assignment.toml``)."""
    path = Path(path)
    root = path.parent if path.name == CONFIG_NAME else path
    config_path = root / CONFIG_NAME
    if not root.exists():
        raise AssignmentConfigError(root, None, "no such assignment folder")
    if not config_path.is_file():
        raise AssignmentConfigError(config_path, None, f"missing: an assignment folder must hold {CONFIG_NAME}")
    data = read_toml(config_path)

    top = _Reader(config_path, data, "", _TOP_KEYS)
    section = _Reader(config_path, top.get("assignment", dict, what="an [assignment] table"), "assignment", _ASSIGNMENT_KEYS)
    limits_table = _Reader(config_path, top.get("limits", dict, {}, "a [limits] table"), "limits")
    tests_table = _Reader(config_path, top.get("tests", dict, {}, "a [tests] table"), "tests")
    legacy_table = top.get("legacy", dict, None, "a [legacy] table")
    top.reject_unknown()

    name = section.get("name", str, root.resolve().name)
    if not _NAME_RE.match(name):
        raise section.fail("name", f"expected letters, digits, '_', '-' or '.', got {name!r}")
    student_files = section.strings("student_files", non_empty=True)
    for index, relative in enumerate(student_files):
        _check_relative(section, f"student_files[{index}]", relative)
    support_files = section.strings("support_files", ())
    for index, relative in enumerate(support_files):
        _check_exists(section, f"support_files[{index}]", root, relative)
    allowed = section.strings("allowed_packages", None)
    solution = _optional_folder(section, "solution", root)
    starter = _optional_folder(section, "starter", root)
    due = _due_date(section)
    assignment = Assignment(
        root=root.resolve(),
        name=name,
        title=section.get("title", str, what="a title shown to students"),
        version=str(section.get("version", (str, int, float), what='a version string such as "2026.1"')),
        student_files=student_files,
        support_files=support_files,
        allowed_packages=allowed,
        public_tests=_test_files(tests_table, "public", root),
        hidden_tests=_test_files(tests_table, "hidden", root),
        legacy=_legacy(config_path, legacy_table, root),
        limits=_limits(limits_table),
        solution=solution,
        starter=starter,
        due=due,
        seed_salt=section.get("seed_salt", str, ""),
        hidden_points=_points_key(section, "hidden_points"),
        total_points=_points_key(section, "total_points"),
    )
    section.reject_unknown()
    tests_table.reject_unknown()
    if not assignment.public_tests and not assignment.hidden_tests and assignment.legacy is None:
        raise AssignmentConfigError(config_path, "tests", "no tests: declare tests.public, tests.hidden or a [legacy] file")
    return assignment


def _check_relative(reader: _Reader, key: str, relative: str) -> None:
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise reader.fail(key, f"expected a path inside the assignment folder, got {relative!r}")


def _check_exists(reader: _Reader, key: str, root: Path, relative: str) -> None:
    _check_relative(reader, key, relative)
    if not (root / relative).exists():
        raise reader.fail(key, f"{relative!r} does not exist in {root}")


def _optional_folder(reader: _Reader, name: str, root: Path) -> str | None:
    value = reader.get(name, str, None)
    if value is not None:
        _check_exists(reader, name, root, value)
    return value


def _due_date(reader: _Reader) -> dt.datetime | None:
    value = reader.get("due", (dt.datetime, dt.date, str), None, "a TOML date-time such as 2026-12-01T23:59:00Z")
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise reader.fail("due", f"expected a date-time such as 2026-12-01T23:59:00Z, got {value!r}") from None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, 23, 59, 59)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _points_key(reader: _Reader, key: str) -> float | None:
    value = reader.get(key, (int, float), None, "a number of points >= 0")
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        raise reader.fail(key, f"expected a number of points >= 0, got {value!r}")
    return float(value)


def _test_files(reader: _Reader, name: str, root: Path) -> tuple[str, ...]:
    files = reader.strings(name, ())
    for index, relative in enumerate(files):
        _check_exists(reader, f"{name}[{index}]", root, relative)
        if not relative.endswith(".py"):
            raise reader.fail(f"{name}[{index}]", f"expected a pytest file ending in .py, got {relative!r}")
    return files


def _limits(reader: _Reader) -> Limits:
    defaults = Limits()
    limits = Limits(
        test_seconds=float(reader.number("test_seconds", defaults.test_seconds)),
        submission_seconds=float(reader.number("submission_seconds", defaults.submission_seconds)),
        memory_mb=int(reader.number("memory_mb", defaults.memory_mb, minimum=255)),
        output_kib=int(reader.number("output_kib", defaults.output_kib)),
        file_mb=int(reader.number("file_mb", defaults.file_mb)),
        processes=int(reader.number("processes", defaults.processes)),
        open_files=int(reader.number("open_files", defaults.open_files, minimum=15)),
    )
    reader.reject_unknown()
    if limits.test_seconds > limits.submission_seconds:
        raise reader.fail("test_seconds", f"{limits.test_seconds:g} s is longer than submission_seconds ({limits.submission_seconds:g} s)")
    return limits


def _legacy(path: Path, table: dict | None, root: Path) -> LegacySuite | None:
    if table is None:
        return None
    reader = _Reader(path, table, "legacy", _LEGACY_KEYS)
    file = reader.get("file", str, what="the path of the test file, e.g. \"test_all.py\"")
    _check_exists(reader, "file", root, file)
    points = reader.get("points", dict, {}, "a table of test name = points")
    for test_name, value in points.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise reader.fail(f"points.{test_name}", f"expected a number of points >= 0, got {value!r}")
    visibility = reader.get("visibility", str, "public")
    if visibility not in VISIBILITIES:
        raise reader.fail("visibility", f"expected one of {', '.join(VISIBILITIES)}, got {visibility!r}")
    suite = LegacySuite(
        file=file,
        points={str(k): float(v) for k, v in points.items()},
        default_points=float(reader.get("default_points", (int, float), 1.0)),
        visibility=visibility,
    )
    reader.reject_unknown()
    return suite
