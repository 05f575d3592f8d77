"""GitHub Actions output for a self-check: workflow-command annotations and the job summary.

Annotations are lines on stdout such as
``::error file=rnn.py,line=42,title=LSTMCell (0/4 points, failed)::message``.
In the message ``%``, ``\\r`` and ``\\n`` are escaped (``%25``, ``%0D``,
``%0A``); in the properties ``:`` and ``,`` too (``%3A``, ``%2C``). A failed
test points at the student's line when its traceback ends in a student file
(the last ``File "rnn.py", line 42, in forward`` frame of one of the
assignment's student files); otherwise it carries no file. GitHub shows at
most 10 error annotations per step, so past 9 the rest are folded into one.

The job summary is Markdown appended to the file ``$GITHUB_STEP_SUMMARY``
names; GitHub refuses more than 1 MiB, so the text is cut, politely, well
below that.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from grader.results import DEFERRED, PASSED, SKIPPED, SubmissionResult, TestResult

STEP_SUMMARY_LIMIT = 1024 * 1024
SUMMARY_BUDGET = 1000 * 1024        # what one summary may take, leaving room for others in the same step
MAX_ERROR_ANNOTATIONS = 10
_FRAME = re.compile(r'^\s*File "(?P<file>[^"\n]+)", line (?P<line>\d+)', re.MULTILINE)
_SYNTAX_NOTE = re.compile(r"^(?P<file>.+?) has a syntax error at line (?P<line>\d+): (?P<problem>.*)$")
_STATUS_MARKS = {"passed": "✅", "partial": "🟡", "skipped": "⏭️", "deferred": "⏳"}
_CUT_NOTE = ("\n_This summary was cut to stay under GitHub's 1 MiB limit: the job log and the JUnit report "
             "hold every test and message._\n")


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, ``\\r`` and ``\\n`` escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as :func:`escape_data`, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Annotation:
    """One ``::error``/``::warning``/``::notice`` line."""

    kind: str
    message: str
    title: str = ""
    file: str | None = None
    line: int | None = None

    def command(self) -> str:
        properties = [(key, value) for key, value in (("file", self.file), ("line", self.line), ("title", self.title))
                      if value not in (None, "")]
        listed = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties)
        return f"::{self.kind}{' ' + listed if listed else ''}::{escape_data(self.message)}"


def student_location(message: str, student_files: Iterable[str]) -> tuple[str, int] | None:
    """``(file, line)`` of the last traceback frame in a student file, or None."""
    files = set(student_files)
    found = None
    for match in _FRAME.finditer(message):
        if match.group("file") in files:
            found = (match.group("file"), int(match.group("line")))
    return found


def failed(test: TestResult) -> bool:
    return test.status not in (PASSED, SKIPPED, DEFERRED)


def annotations(result: SubmissionResult, student_files: Iterable[str], path_prefix: str = "") -> list[Annotation]:
    """The error annotations of a self-check: missing files, syntax errors, then each failed test."""
    student_files = tuple(student_files)
    prefix = path_prefix.strip("/") + "/" if path_prefix.strip("/") else ""
    found: list[Annotation] = []
    for missing in result.missing_files:
        found.append(Annotation("error", f"{missing} is missing: put it in the folder, named exactly so.",
                                title="Missing file"))
    for note in result.notes:
        syntax = _SYNTAX_NOTE.match(note)
        if syntax and syntax.group("file") in student_files:
            found.append(Annotation("error", note, "Syntax error", prefix + syntax.group("file"), int(syntax.group("line"))))
    for test in result.tests:
        if not failed(test):
            continue
        where = student_location(test.message, student_files)
        title = f"{test.name} ({test.points:g}/{test.max_points:g} points, {test.status})"
        found.append(Annotation("error", test.feedback() or test.status, title,
                                prefix + where[0] if where else None, where[1] if where else None))
    if len(found) > MAX_ERROR_ANNOTATIONS:
        rest = found[MAX_ERROR_ANNOTATIONS - 1:]
        names = ", ".join(item.title for item in rest)
        found = found[:MAX_ERROR_ANNOTATIONS - 1] + [Annotation(
            "error", f"{len(rest)} more problems: {names}. The job summary lists every test.",
            title=f"{len(rest)} more failed tests")]
    return found


# -- the job summary ----------------------------------------------------------------------------

def step_summary(result: SubmissionResult, title: str, score_line: str, max_bytes: int = SUMMARY_BUDGET) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: the score line, a table of tests, then each failure's message."""
    head = [f"## Self-check: {_inline(title)}\n", f"**{_inline(score_line)}**\n"]
    if result.missing_files:
        head.append(f"Missing: {_inline(', '.join(result.missing_files))}\n")
    head += [_inline(note) + "\n" for note in result.notes]
    head += ["| | test | points | status | hint |", "|---|---|---:|---|---|"]
    rows = [f"| {_STATUS_MARKS.get(test.status, '❌')} | {_cell(test.name)} | {test.points:g}/{test.max_points:g} "
            f"| {test.status} | {_cell(_first_line(test.message))} |" for test in result.tests]
    details = [_details(test) for test in result.tests if failed(test) and test.message]
    return _fit(head, rows, details, max_bytes)


def append_step_summary(path: str | Path, result: SubmissionResult, title: str, score_line: str) -> int:
    """Append :func:`step_summary` to ``path`` within what the file has left of GitHub's limit; the bytes written."""
    path = Path(path)
    used = path.stat().st_size if path.exists() else 0
    budget = min(SUMMARY_BUDGET, STEP_SUMMARY_LIMIT - used - 1024)
    if budget < 1024:  # earlier output of this step took the room
        return 0
    text = step_summary(result, title, score_line, budget)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(text)
    return len(text.encode("utf-8"))


def _fit(head: list[str], rows: list[str], details: list[str], max_bytes: int) -> str:
    """Head, rows and details joined, dropping details and then rows from the end while over ``max_bytes``."""
    reserve = len(_CUT_NOTE.encode("utf-8"))
    parts, size, cut = [], 0, False
    for section, blank_before in ((head, False), (rows, False), (details, True)):
        for index, part in enumerate(section):
            piece = ("\n" if blank_before and index == 0 else "") + part + "\n"
            length = len(piece.encode("utf-8"))
            if size + length + reserve > max_bytes:
                cut = True
                break
            parts.append(piece)
            size += length
        if cut:
            break
    return "".join(parts) + (_CUT_NOTE if cut else "")


def _details(test: TestResult) -> str:
    text = test.feedback()
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return (f"<details><summary>{html.escape(test.name)}: {test.points:g}/{test.max_points:g} points, "
            f"{test.status}</summary>\n\n{fence}text\n{text}\n{fence}\n\n</details>\n")


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    shown = lines[0] if lines else ""
    return shown if len(shown) <= 200 else shown[:197] + "..."


def _inline(text: str) -> str:
    """Text safe to put in Markdown prose: no HTML, one line."""
    return html.escape(" ".join(text.split()), quote=False)


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: as :func:`_inline`, with ``\\`` and ``|`` escaped."""
    return _inline(text).replace("\\", "\\\\").replace("|", "\\|")
