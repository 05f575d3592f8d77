"""Test messages as structured data: array mismatches, tracebacks and plain text.

A test's message is plain text, written for a terminal as much as for a page;
:func:`grader.testing.describe_mismatch` writes array mismatches in a fixed
shape::

    h_next differs from the expected values: 20 of 20 elements off (shape (4, 5); max abs error 0.746, max rel error 70.2; tolerance rtol=0.0001, atol=1e-05)
    your h_next contains NaN at 3 positions
      at index (0, 0): expected 0.029682, got 0.0209187

:func:`parse_message` splits a message into parts a report can lay out (a
mismatch becomes a table of its figures and positions) without changing the
text the grader stored: every part keeps its original lines, so nothing is
lost when a line does not match the expected shape. :func:`normalise_message`
gives the key under which the class summary groups similar failures.
"""
from __future__ import annotations

import re

from grader.report.model import MessagePart, Mismatch, MismatchPosition

_MISMATCH = re.compile(
    r"^(?P<what>.+) differs from the expected values: (?P<off>\d+) of (?P<size>\d+) elements off "
    r"\(shape (?P<shape>\(.*?\)); max abs error (?P<abs>[^;,]+)(?:, max rel error (?P<rel>[^;]+))?; "
    r"tolerance rtol=(?P<rtol>[^,]+), atol=(?P<atol>[^)]+)\)$"
)
_NAN = re.compile(r"^your (?P<what>.+) contains NaN at (?P<count>\d+) positions$")
_POSITION = re.compile(r"^  at index (?P<index>.+): expected (?P<expected>\S+), got (?P<got>\S+)$")
_TRACEBACK = re.compile(r"^Traceback\b.*:$")
# A number, but not the digits of a name (``mat1``, ``float32``), except a size like ``4x3``.
_NUMBER = re.compile(r"(?:(?<![A-Za-z_\d.])|(?<=\dx))[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_CREDIT_LINE = re.compile(r"^\s*\d+(?:\.\d+)? of \d+ \w+ correct\s*$")


def parse_message(message: str) -> list[MessagePart]:
    """Split ``message`` into text, mismatch and traceback parts, in order, keeping every line."""
    parts: list[MessagePart] = []
    text: list[str] = []

    def flush_text() -> None:
        if text:
            parts.append(MessagePart("text", "\n".join(text)))
            text.clear()

    lines = message.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        header = _MISMATCH.match(line)
        if header:
            flush_text()
            end = index + 1
            if end < len(lines) and _NAN.match(lines[end]):
                end += 1
            while end < len(lines) and _POSITION.match(lines[end]):
                end += 1
            parts.append(MessagePart("mismatch", "\n".join(lines[index:end]), _mismatch(header, lines[index + 1:end])))
            index = end
        elif _TRACEBACK.match(line):
            flush_text()
            # A traceback runs on while lines are indented (frames and their source lines).
            end = index + 1
            while end < len(lines) and lines[end].startswith(" "):
                end += 1
            parts.append(MessagePart("traceback", "\n".join(lines[index:end])))
            index = end
        else:
            text.append(line)
            index += 1
    flush_text()
    return parts


def _mismatch(header: re.Match, detail_lines: list[str]) -> Mismatch:
    nan_count = None
    positions = []
    for line in detail_lines:
        nan = _NAN.match(line)
        if nan:
            nan_count = int(nan["count"])
            continue
        position = _POSITION.match(line)
        if position:
            positions.append(MismatchPosition(position["index"], position["expected"], position["got"],
                                              _difference(position["expected"], position["got"])))
    elements_off = int(header["off"])
    return Mismatch(
        what=header["what"], elements_off=elements_off, elements=int(header["size"]), shape=header["shape"],
        max_abs_error=header["abs"], max_rel_error=header["rel"], rtol=header["rtol"], atol=header["atol"],
        nan_positions=nan_count, positions=positions, positions_not_shown=max(elements_off - len(positions), 0),
    )


def _difference(expected: str, got: str) -> str:
    try:
        return f"{abs(float(got) - float(expected)):.3g}"
    except ValueError:
        return ""


def headline(message: str) -> str:
    """The first line of ``message`` that says what went wrong.

    Lines that only count cases (``3 of 4 cases correct``) say nothing about
    what went wrong and are skipped.
    """
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    telling = [line for line in lines if not _CREDIT_LINE.match(line)]
    return (telling or lines or [""])[0]


def normalise_message(message: str, max_length: int = 160) -> str:
    """The :func:`headline` of ``message`` with every number replaced by ``#``.

    Two students who got the same thing wrong with different inputs, shapes or
    line numbers share one key.
    """
    key = " ".join(_NUMBER.sub("#", headline(message)).split())
    return key if len(key) <= max_length else key[: max_length - 1] + "…"
