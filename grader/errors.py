"""Typed exceptions of the grading engine.

Two families, because they end differently:

- :class:`InstructorError` and its subclasses: the assignment, the command line
  or the grader's own set-up is wrong. The CLI turns them, in one place
  (:func:`grader.cli.main`), into a message and a non-zero exit.
- :class:`SubmissionError` and its subclasses: one student's submission is
  broken (a bad zip, a missing file). They become that submission's recorded
  result; a batch never stops because of one.
"""
from __future__ import annotations


class GraderError(Exception):
    """Base class of every error the grader raises on purpose."""


class InstructorError(GraderError):
    """Something the instructor controls is wrong; grading cannot start."""


class AssignmentConfigError(InstructorError):
    """``assignment.toml`` (or a file it names) is missing or malformed.

    The message names the file, the key and what was expected.
    """

    def __init__(self, path: object, key: str | None, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {problem}")


class SubmissionsFolderError(InstructorError):
    """The folder of submissions does not exist or cannot be read."""


class SubmissionError(GraderError):
    """One submission cannot be graded as it stands (recorded, never raised to the CLI)."""


class UnsafeArchiveError(SubmissionError):
    """An archive tries to escape its folder, holds links, or is too large."""


class BadArchiveError(SubmissionError):
    """An archive cannot be read (not a zip, truncated, encrypted)."""


class ValidationFailed(InstructorError):
    """``grader validate`` ran, and at least one check of the assignment failed."""


class DistributedError(InstructorError):
    """Grading on a cluster cannot start: dask is not installed, or the scheduler cannot be reached."""
