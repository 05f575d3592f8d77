"""Test the tests: the solution with one classic mistake put in must lose points, and be diagnosed.

An assignment lists in ``mutants.toml`` (next to ``assignment.toml``) the
mistakes of :mod:`reference.mistakes` that apply to it, each with the edit that
puts it into the solution::

    [[mutant]]
    mistake = "lstm_gates_ifog"        # a catalogue id
    file = "rnn.py"                    # a student file of the solution
    find = "i, f, g, o = gates.chunk(4, dim=1)"   # occurs exactly once
    replace = "i, f, o, g = gates.chunk(4, dim=1)"

A mutant that needs several edits lists them as ``[[mutant.edits]]`` tables
with the same three keys; ``name`` (default: the mistake id) tells two mutants
of one mistake apart. ``grader validate --mutants`` grades every mutant like a
submission (:mod:`grader.validate`) and checks two things: it is *killed*
(scores less than full marks) and *diagnosed* (some test's feedback names its
mistake). A surviving mutant is a mistake the tests miss.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.config import Assignment, read_toml
from grader.errors import AssignmentConfigError
from grader.results import GRADED, SubmissionResult
from reference.mistakes import Mistake, UnknownMistake, get

MUTANTS_FILE = "mutants.toml"
PREFIX = "mutant-"
_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class Edit:
    """Replace the single occurrence of ``find`` in ``file`` with ``replace``."""

    file: str
    find: str
    replace: str


@dataclass(frozen=True)
class Mutant:
    """The solution with one classic mistake put in."""

    name: str
    mistake: Mistake
    edits: tuple[Edit, ...]

    @property
    def submission_id(self) -> str:
        return PREFIX + self.name


@dataclass
class MutantOutcome:
    """How the test suite did against one mutant."""

    mutant: Mutant
    result: SubmissionResult | None
    diagnosed_in: list[str] = field(default_factory=list)  # names of the tests whose diagnosis names the mistake

    @property
    def killed(self) -> bool:
        return self.result is not None and self.result.status == GRADED and self.result.total < self.result.possible

    @property
    def diagnosed(self) -> bool:
        return bool(self.diagnosed_in)

    def to_dict(self) -> dict[str, Any]:
        result = self.result
        return {"name": self.mutant.name, "mistake": self.mutant.mistake.id, "title": self.mutant.mistake.title,
                "score": result.total if result else None, "possible": result.possible if result else None,
                "status": result.status if result else "not graded", "killed": self.killed,
                "diagnosed": self.diagnosed, "diagnosed_in": self.diagnosed_in}


def load_mutants(assignment: Assignment) -> list[Mutant]:
    """The mutants declared in the assignment's ``mutants.toml`` ([] when it has none).

    Raises :class:`~grader.errors.AssignmentConfigError` naming the file and the
    entry for an unknown mistake id, a file that is not a student file, or a
    ``find`` text that does not occur exactly once in the solution.
    """
    path = assignment.root / MUTANTS_FILE
    if not path.is_file():
        return []
    data = read_toml(path)
    entries = data.get("mutant", [])
    unknown = sorted(set(data) - {"mutant"})
    if unknown:
        raise AssignmentConfigError(path, unknown[0], "unknown key; the file holds only [[mutant]] tables")
    if not isinstance(entries, list) or not entries:
        raise AssignmentConfigError(path, "mutant", "expected one or more [[mutant]] tables")
    mutants: list[Mutant] = []
    for index, entry in enumerate(entries):
        mutants.append(_mutant(assignment, path, f"mutant[{index}]", entry))
    names = [mutant.name for mutant in mutants]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise AssignmentConfigError(path, "mutant", f"two mutants are named {twice[0]!r}; give one a different `name`")
    return mutants


def _mutant(assignment: Assignment, path: Path, where: str, entry: Any) -> Mutant:
    if not isinstance(entry, dict):
        raise AssignmentConfigError(path, where, "expected a table")
    allowed = {"mistake", "name", "file", "find", "replace", "edits"}
    extra = sorted(set(entry) - allowed)
    if extra:
        raise AssignmentConfigError(path, f"{where}.{extra[0]}", f"unknown key; expected {', '.join(sorted(allowed))}")
    mistake_id = entry.get("mistake")
    if not isinstance(mistake_id, str):
        raise AssignmentConfigError(path, f"{where}.mistake", "expected the id of a mistake in reference/mistakes")
    try:
        mistake = get(mistake_id)
    except UnknownMistake as error:
        raise AssignmentConfigError(path, f"{where}.mistake", str(error)) from None
    name = entry.get("name", mistake_id)
    if not isinstance(name, str) or not _NAME.match(name):
        raise AssignmentConfigError(path, f"{where}.name", f"expected lower_snake_case, got {name!r}")
    inline = {key: entry[key] for key in ("file", "find", "replace") if key in entry}
    raw_edits = ([inline] if inline else []) + list(entry.get("edits", []))
    if not raw_edits:
        raise AssignmentConfigError(path, where, "no edit: give file, find and replace (or [[mutant.edits]] tables)")
    edits = tuple(_edit(assignment, path, f"{where}.edits[{n}]" if "edits" in entry else where, raw)
                  for n, raw in enumerate(raw_edits))
    return Mutant(name, mistake, edits)


def _edit(assignment: Assignment, path: Path, where: str, raw: Any) -> Edit:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(key), str) for key in ("file", "find", "replace")):
        raise AssignmentConfigError(path, where, "an edit needs three strings: file, find and replace")
    edit = Edit(raw["file"], raw["find"], raw["replace"])
    if edit.file not in assignment.student_files:
        raise AssignmentConfigError(path, f"{where}.file", f"{edit.file!r} is not one of the student files "
                                                           f"({', '.join(assignment.student_files)})")
    if edit.find == edit.replace:
        raise AssignmentConfigError(path, f"{where}.replace", "is the same as find: the mutant would be the solution")
    source = _solution_dir(assignment, path) / edit.file
    count = source.read_text(encoding="utf-8").count(edit.find) if source.is_file() else 0
    if count != 1:
        raise AssignmentConfigError(path, f"{where}.find", f"occurs {count} times in the solution's {edit.file}; "
                                                           "it must occur exactly once")
    return edit


def _solution_dir(assignment: Assignment, path: Path) -> Path:
    if assignment.solution is None:
        raise AssignmentConfigError(path, None, "mutants are made from the solution, but the assignment declares none")
    return assignment.root / assignment.solution


def write_mutant(assignment: Assignment, mutant: Mutant, submissions: Path) -> Path:
    """Copy the solution into ``submissions/<mutant id>`` and apply the mutant's edits there."""
    dest = submissions / mutant.submission_id
    shutil.copytree(_solution_dir(assignment, assignment.root / MUTANTS_FILE), dest, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for edit in mutant.edits:
        target = dest / edit.file
        target.write_text(target.read_text(encoding="utf-8").replace(edit.find, edit.replace, 1), encoding="utf-8")
    return dest


def judge(mutant: Mutant, result: SubmissionResult | None) -> MutantOutcome:
    """Whether the suite killed the mutant, and which tests named its mistake."""
    named = []
    if result is not None:
        named = [test.name for test in result.tests if test.diagnosis is not None
                 and any(entry.id == mutant.mistake.id for entry in test.diagnosis.matched)]
    return MutantOutcome(mutant, result, list(dict.fromkeys(named)))
