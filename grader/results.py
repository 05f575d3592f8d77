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
# Only in a self-check: the test needs an oracle outcome the release did not record (grader.recorded.replay).
DEFERRED = "deferred"

# Submission statuses.
GRADED = "graded"          # tests ran; the score stands, whatever it is
BROKEN = "broken"          # the submission could not be graded as handed in (bad zip, ...)
GRADER_FAILURE = "grader_failure"  # the grader failed on this submission; regrade it


@dataclass
class MatchedMistake:
    """A classic mistake (from ``reference.mistakes``) whose output equals the student's."""

    id: str
    title: str
    explanation: str


@dataclass
class Diagnosis:
    """Which known mistakes were tried on a failed check, and which of them match the student's output.

    A diagnosis explains; it never changes points. ``matched`` empty with
    ``checked`` non-empty means none of the known mistakes explains the output.
    """

    matched: list[MatchedMistake] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Diagnosis":
        return cls(matched=[MatchedMistake(**item) for item in data.get("matched", [])], checked=list(data.get("checked", [])))

    def text(self) -> str:
        """The student-facing sentence(s): the named mistakes, or that none of the known ones matched."""
        if self.matched:
            return "\n".join(f"Likely mistake: {entry.title}. {entry.explanation}" for entry in self.matched)
        count = len(self.checked)
        return f"No known mistake explains this output ({count} classic mistake{'s' if count != 1 else ''} checked)."


LEGACY_CAVEAT = "legacy mode: verdicts computed inside the sandbox, where student code could influence them"
UNISOLATED_CAVEAT = ("graded without file isolation (the rlimits sandbox): student code could read the oracles, "
                     "hidden tests, solutions and other submissions")


@dataclass
class TestResult:
    """One test's outcome for one submission."""

    __test__ = False  # a result type, not a pytest test class

    id: str
    name: str
    points: float
    max_points: float
    status: str
    visibility: str = "public"
    message: str = ""
    duration: float = 0.0
    computed_in: str = "grader"  # "grader" (trusted) or "sandbox" (legacy mode)
    diagnosis: Diagnosis | None = None  # set when a failed check was compared with known mistakes

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def feedback(self) -> str:
        """The message followed by the diagnosis: the text every plain-text export shows."""
        if self.diagnosis is None:
            return self.message
        return "\n".join(part for part in (self.message, self.diagnosis.text()) if part)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TestResult":
        data = dict(data)
        diagnosis = data.pop("diagnosis", None)
        known = set(cls.__dataclass_fields__)
        return cls(diagnosis=Diagnosis.from_dict(diagnosis) if diagnosis else None,
                   **{key: value for key, value in data.items() if key in known})


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
    # Who handed it in and how it arrived (name, LMS ids, late, attempt, commit, import
    # notes and warnings): grader.importers.record.Submitted.to_dict(); {} in older files.
    submitted: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return round(sum(test.points for test in self.tests), 6)

    @property
    def possible(self) -> float:
        return round(sum(test.max_points for test in self.tests), 6)

    @property
    def computed_in_sandbox(self) -> bool:
        return any(test.computed_in == "sandbox" for test in self.tests)

    @property
    def file_isolated(self) -> bool:
        """False when student code ran where it could read every file the grader can (the rlimits backend)."""
        if not self.sandbox:  # never ran (broken, missing): nothing was exposed
            return True
        return bool(self.sandbox.get("file_isolation", self.sandbox.get("backend") != "rlimits"))

    @property
    def caveats(self) -> list[str]:
        """What weakens trust in this result, for every report and export to say."""
        found = []
        if self.computed_in_sandbox:
            found.append(LEGACY_CAVEAT)
        if not self.file_isolated:
            found.append(UNISOLATED_CAVEAT)
        return found

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
        tests = [TestResult.from_dict(test) for test in data.pop("tests", [])]
        output = Output(**data.pop("output", {}))
        if not isinstance(data.get("submitted", {}), dict):
            data.pop("submitted")
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
