"""Result types of a graded submission, and their atomic storage.

A :class:`SubmissionResult` is written to ``OUT/<student id>/result.json`` the
moment its grading ends (temp file, fsync, rename), so a killed run loses at
most the submissions in flight and a rerun can resume.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"
SCHEMA_VERSION = 1

# Test statuses. "error" means the test itself broke (an instructor's bug), not the student's code.
PASSED, PARTIAL, FAILED, ERROR, TIMEOUT, SKIPPED = "passed", "partial", "failed", "error", "timeout", "skipped"

# Submission statuses.
GRADED = "graded"          # tests ran; the score stands, whatever it is
BROKEN = "broken"          # the submission could not be graded as handed in (bad zip, ...)
GRADER_FAILURE = "grader_failure"  # the grader failed on this submission; regrade it


@dataclass
class TestResult:
    """One test's outcome for one submission."""

    id: str
    name: str
    points: float
    max_points: float
    status: str
    visibility: str = "public"
    message: str = ""
    duration: float = 0.0
    computed_in: str = "grader"  # "grader" (trusted) or "sandbox" (legacy mode)

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class Output:
    """What student code printed, kept up to a cap."""

    stdout: str = ""
    stderr: str = ""
    stdout_dropped_bytes: int = 0
    stderr_dropped_bytes: int = 0


@dataclass
class SubmissionResult:
    """Everything recorded about one graded submission."""

    student_id: str
    assignment: str
    assignment_version: str
    status: str
    tests: list[TestResult] = field(default_factory=list)
    message: str = ""
    content_hash: str = ""
    assignment_fingerprint: str = ""
    notes: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    output: Output = field(default_factory=Output)
    sandbox: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    duration: float = 0.0
    grader_version: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def total(self) -> float:
        return round(sum(test.points for test in self.tests), 6)

    @property
    def possible(self) -> float:
        return round(sum(test.max_points for test in self.tests), 6)

    @property
    def computed_in_sandbox(self) -> bool:
        return any(test.computed_in == "sandbox" for test in self.tests)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["total"] = self.total
        data["possible"] = self.possible
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SubmissionResult":
        data = dict(data)
        data.pop("total", None)
        data.pop("possible", None)
        tests = [TestResult(**test) for test in data.pop("tests", [])]
        output = Output(**data.pop("output", {}))
        known = set(cls.__dataclass_fields__)
        return cls(tests=tests, output=output, **{k: v for k, v in data.items() if k in known})


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, ensure_ascii=False, allow_nan=False, default=str)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def result_path(out_dir: Path, student_id: str) -> Path:
    return out_dir / student_id / RESULT_FILE


def save_result(out_dir: Path, result: SubmissionResult) -> Path:
    path = result_path(out_dir, result.student_id)
    write_json_atomic(path, result.to_dict())
    return path


def load_result(path: Path) -> SubmissionResult | None:
    """The stored result, or None when absent or unreadable (a rerun then regrades it)."""
    try:
        return SubmissionResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None
