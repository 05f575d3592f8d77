"""What the HTML reports show, as plain data: built from results first, rendered after.

Two kinds of page read these types:

- :class:`SubmissionReport`: one submission, in the instructor's flavour
  (everything recorded) or the student's (only what the tests' visibility
  allows; see :mod:`grader.report.submission`);
- :class:`ClassSummary`: the whole batch (see :mod:`grader.report.summary`).

Every value here is ready to print: the templates format and lay out, they
never decide what a student may see.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from grader.results import Diagnosis

INSTRUCTOR = "instructor"
STUDENT = "student"


# -- messages ------------------------------------------------------------------------------

@dataclass(frozen=True)
class MismatchPosition:
    """One element where an array differs: its index, both values, and how far apart they are."""

    index: str
    expected: str
    got: str
    difference: str


@dataclass(frozen=True)
class Mismatch:
    """The figures of one array mismatch written by :func:`grader.testing.describe_mismatch`."""

    what: str
    elements_off: int
    elements: int
    shape: str
    max_abs_error: str
    max_rel_error: str | None
    rtol: str
    atol: str
    nan_positions: int | None = None
    positions: list[MismatchPosition] = field(default_factory=list)
    positions_not_shown: int = 0


@dataclass(frozen=True)
class MessagePart:
    """A run of message lines: ``text``, ``traceback`` or ``mismatch`` (then ``mismatch`` holds its figures).

    ``text`` always holds the original lines, whatever the kind.
    """

    kind: str
    text: str
    mismatch: Mismatch | None = None


# -- one submission ------------------------------------------------------------------------

@dataclass
class TestRow:
    """One test as a report shows it."""

    name: str
    visibility: str
    points: float
    max_points: float
    status: str
    id: str = ""                      # empty in the student flavour
    duration: float | None = None     # None in the student flavour
    computed_in_sandbox: bool = False
    message: str = ""
    parts: list[MessagePart] = field(default_factory=list)
    details_withheld: bool = False    # a hidden test in the student flavour: no message, no status detail
    diagnosis: Diagnosis | None = None  # the known mistakes tried on a failed check, and those that match


@dataclass
class OutputExcerpt:
    """The start of what student code wrote to one stream, and how much of it is not here."""

    stream: str
    text: str
    chars_not_shown: int = 0
    dropped_bytes: int = 0            # dropped while grading (over the output cap), not kept anywhere

    @property
    def empty(self) -> bool:
        return not self.text and not self.dropped_bytes


@dataclass
class SandboxInfo:
    """The isolation backend that ran the student's code and the limits it enforced, as (label, value) rows."""

    backend: str
    settings: list[tuple[str, str]] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)


@dataclass
class Withheld:
    """Tests a student does not see yet (``after_due_date`` before the due date)."""

    tests: int
    points: float
    due: str | None


@dataclass
class SubmissionReport:
    """One submission's page: the instructor's or the student's flavour."""

    flavour: str
    student_id: str
    assignment: str
    title: str
    version: str
    status: str
    message: str
    score: float
    possible: float
    tests: list[TestRow]
    sandbox: SandboxInfo
    generated_at: str
    notes: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    outputs: list[OutputExcerpt] = field(default_factory=list)
    output_withheld: bool = False
    withheld: Withheld | None = None
    computed_in_sandbox: bool = False
    file_isolated: bool = True   # False: graded on the rlimits backend, student code could read any file
    due: str | None = None
    started_at: str = ""
    duration: float | None = None
    grader_version: str = ""
    content_hash: str = ""
    # How it arrived (grader.importers.record.Submitted.describe): (label, value) rows, and what to check.
    submitted: list[tuple[str, str]] = field(default_factory=list)
    import_warnings: list[str] = field(default_factory=list)   # instructor flavour only

    @property
    def instructor(self) -> bool:
        return self.flavour == INSTRUCTOR

    @property
    def percent(self) -> float | None:
        return 100.0 * self.score / self.possible if self.possible else None

    @property
    def passed(self) -> int:
        return sum(test.status == "passed" for test in self.tests)


# -- the class ------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistogramBin:
    low: float
    high: float
    count: int
    label: str


@dataclass
class Histogram:
    """Counts of scores in equal bins over ``[0, possible]``; the last bin includes full marks."""

    possible: float
    bins: list[HistogramBin]

    @property
    def max_count(self) -> int:
        return max((b.count for b in self.bins), default=0)

    @property
    def edges(self) -> list[float]:
        """The bins' boundaries, from 0 to ``possible``: where the axis is labelled."""
        return [b.low for b in self.bins] + [self.bins[-1].high] if self.bins else []

    @property
    def total(self) -> int:
        return sum(b.count for b in self.bins)


@dataclass
class TestStats:
    """How the class did on one test."""

    id: str
    name: str
    visibility: str
    points: float
    attempted: int = 0
    passed: int = 0
    partial: int = 0
    failed: int = 0
    timeouts: int = 0
    errors: int = 0
    points_earned: float = 0.0
    computed_in_sandbox: bool = False

    @property
    def pass_rate(self) -> float | None:
        return 100.0 * self.passed / self.attempted if self.attempted else None

    @property
    def mean_points(self) -> float | None:
        return self.points_earned / self.attempted if self.attempted else None


@dataclass
class CommonFailure:
    """Failure messages that read the same once numbers are stripped."""

    key: str
    occurrences: int
    students: list[str]
    tests: list[str]


@dataclass
class CommonMistake:
    """A classic mistake named by the diagnosis, and the submissions whose feedback names it."""

    id: str
    title: str
    students: list[str]
    tests: list[str]


@dataclass
class Incident:
    """Something that went wrong beyond a wrong answer: a timeout, a test error, a broken submission."""

    student_id: str
    kind: str
    test: str
    message: str


@dataclass
class SubmissionRow:
    """One line of the class summary's list of submissions."""

    student_id: str
    score: float
    possible: float
    status: str
    passed: int
    tests: int
    duration: float
    report_href: str
    feedback_href: str
    computed_in_sandbox: bool = False
    name: str = ""                    # from the LMS export or the roster
    late: bool = False
    import_warnings: int = 0          # warnings of the import (see the submission's report)

    @property
    def percent(self) -> float | None:
        return 100.0 * self.score / self.possible if self.possible else None


@dataclass(frozen=True)
class MissingRow:
    """A roster student with no submission."""

    label: str
    id: str = ""
    section: str = ""


@dataclass
class ImportInfo:
    """How the batch's submissions were read (``import.json``): layout, roster, missing and unmatched."""

    label: str
    how: str
    roster: str | None = None
    notes: list[str] = field(default_factory=list)
    missing: list[MissingRow] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


@dataclass
class ClassSummary:
    """The class summary page (``index.html``)."""

    assignment: str
    title: str
    version: str
    possible: float
    generated_at: str
    submissions: list[SubmissionRow]
    histogram: Histogram
    tests: list[TestStats]
    common_failures: list[CommonFailure] = field(default_factory=list)
    common_mistakes: list[CommonMistake] = field(default_factory=list)
    undiagnosed_failures: int = 0  # failed tests whose diagnosis matched no known mistake
    incidents: list[Incident] = field(default_factory=list)
    incidents_not_shown: int = 0
    slowest: list[SubmissionRow] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    due: str | None = None
    backend: str = ""
    graded_at: str = ""
    grader_version: str = ""
    computed_in_sandbox: bool = False
    file_isolated: bool = True   # False: graded on the rlimits backend, student code could read any file
    imported: ImportInfo | None = None  # None for folders graded before import.json existed

    @property
    def scores(self) -> list[float]:
        return [row.score for row in self.submissions]

    @property
    def mean(self) -> float | None:
        scores = self.scores
        return sum(scores) / len(scores) if scores else None

    @property
    def median(self) -> float | None:
        scores = sorted(self.scores)
        if not scores:
            return None
        middle = len(scores) // 2
        return scores[middle] if len(scores) % 2 else (scores[middle - 1] + scores[middle]) / 2
