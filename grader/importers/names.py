"""File and id names: LMS-renamed files mapped back to the names the assignment expects.

Canvas renames a file handed in again (``rnn.py`` becomes ``rnn-1.py``),
browsers add `` (1)``, and students change the case. :func:`expected_name`
undoes that, but only when the result is a file the assignment asks for, so
``model_2.py`` stays ``model_2.py``.
"""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from grader.importers.record import Submitted

_COPY_SUFFIX = re.compile(r"^(?P<stem>.+?)(?:-\d+| ?\(\d+\))(?P<ext>\.[A-Za-z0-9]+)$")
NOTEBOOK = ".ipynb"


def accepted_names(student_files: Sequence[str]) -> dict[str, str]:
    """``base name -> workspace path`` for each student file, with ``x.ipynb`` for each ``x.py``."""
    names: dict[str, str] = {}
    for wanted in student_files:
        path = PurePosixPath(wanted)
        names[path.name] = path.as_posix()
        if path.suffix == ".py":
            names[path.with_suffix(NOTEBOOK).name] = path.with_suffix(NOTEBOOK).as_posix()
    return names


def expected_name(name: str, student_files: Sequence[str]) -> tuple[str, str | None]:
    """``(workspace name, note)``: the student file ``name`` stands for, else ``name`` itself.

    The note says why a name changed (``None`` when it did not).
    """
    accepted = accepted_names(student_files)
    if name in accepted:
        target = accepted[name]
        return target, None if target == name else f"placed {name} at {target}"
    match = _COPY_SUFFIX.match(name)
    if match and match["stem"] + match["ext"] in accepted:
        target = accepted[match["stem"] + match["ext"]]
        return target, f"{name} is {target} renamed by the LMS (a file handed in again); graded as {target}"
    by_lower = {base.lower(): path for base, path in accepted.items()}
    if name.lower() in by_lower:
        target = by_lower[name.lower()]
        return target, f"{name} differs from {target} only in case; graded as {target}"
    return name, None


def common_prefix(names: Sequence[str], separator: str) -> str:
    """The longest prefix ending in ``separator`` shared by every name ('' for fewer than two)."""
    if len(names) < 2:
        return ""
    shortest, longest = min(names), max(names)
    size = 0
    while size < len(shortest) and shortest[size] == longest[size]:
        size += 1
    prefix = shortest[:size]
    cut = prefix.rfind(separator)
    prefix = prefix[: cut + 1] if cut >= 0 else ""
    return prefix if all(len(name) > len(prefix) for name in names) else ""


def files_by_expected_name(uploads: Iterable[tuple[Path, str]], student_files: Sequence[str], submitted: Submitted,
                           winner: str = "") -> tuple[tuple[tuple[str, str], ...], Submitted]:
    """``((path, student file), ...)`` sorted by student file, for uploads given as ``(path, original name)``.

    Each upload is graded as the student file its original name stands for
    (:func:`expected_name`, its note kept); of two uploads claiming one name
    the later wins, with a warning that says ``graded <winner><name>``.
    """
    chosen: dict[str, Path] = {}
    for path, original in uploads:
        target, note = expected_name(original, student_files)
        if note:
            submitted = submitted.noted(note)
        if target in chosen:
            submitted = submitted.warned(f"two files claim {target}: {chosen[target].name} and {path.name}; "
                                         f"graded {winner}{path.name}")
        chosen[target] = path
    return tuple((str(path), target) for target, path in sorted(chosen.items())), submitted
