"""The files a release writes rather than copies: ``assignment.toml``, ``CHECK.md``, the workflow, ``.gitignore``.

:func:`released_config` is the public part of the assignment with every value
written out; ``CHECK.md`` and ``.github/workflows/grader.yml`` are Jinja2
templates (``templates/release/``) filled with the assignment's facts and the
student install's commands (:class:`~grader.student_install.StudentInstall`);
a ``README.md`` is generated only when the assignment has no handout.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from grader.check import DEFAULT_JUNIT, public_part
from grader.config import CONFIG_NAME, Assignment
from grader.errors import InstructorError
from grader.plan import PlannedTest
from grader.resources import templates_dir
from grader.student_install import REQUIREMENTS, StudentInstall

if TYPE_CHECKING:
    from grader.release import ReleaseReport

PYTHON_VERSION = "3.11"
HANDOUT = "README.md"
CHECK_GUIDE = "CHECK.md"
WORKFLOW = ".github/workflows/grader.yml"
GITIGNORE = ".gitignore"
_GITIGNORE_TEXT = "__pycache__/\n*.py[cod]\n.venv/\n.pytest_cache/\ngrader-junit.xml\n"  # the last: grader check --ci
# Minutes for installing Python, torch and the grader, on top of the grading limit.
_INSTALL_MINUTES = 15


def released_config(assignment: Assignment, hidden_points: float | None = None) -> str:
    """The bundle's ``assignment.toml``: the public part of the assignment, every value written out.

    ``hidden_points`` (the points of the tests the self-check cannot run) is
    written as ``assignment.hidden_points``, so ``grader check`` can say what
    the grading adds to the public points.
    """
    public = public_part(assignment)
    lines = [
        "# Released by `grader release` for students: the hidden tests and the solution stay with the course staff.",
        "# `grader check` reads this file to run the public tests.",
        "",
        "[assignment]",
        f"name = {_toml(public.name)}",
        f"title = {_toml(public.title)}",
        f"version = {_toml(public.version)}",
        f"student_files = {_toml(list(public.student_files))}",
    ]
    if public.support_files:
        lines.append(f"support_files = {_toml(list(public.support_files))}")
    if public.allowed_packages is not None:
        lines.append(f"allowed_packages = {_toml(list(public.allowed_packages))}")
    if public.due is not None:
        lines.append(f"due = {public.due.isoformat()}")
    if hidden_points is not None:
        lines.append(f"hidden_points = {_toml(round(float(hidden_points), 6))}")
    lines += ["", "[limits]"] + [f"{key} = {_toml(value)}" for key, value in public.limits.to_dict().items()]
    if public.public_tests:
        lines += ["", "[tests]", f"public = {_toml(list(public.public_tests))}"]
    if public.legacy is not None:
        points = ", ".join(f"{_toml(name)} = {_toml(value)}" for name, value in public.legacy.points.items())
        lines += ["", "[legacy]", f"file = {_toml(public.legacy.file)}", f"points = {{ {points} }}" if points else "points = {}",
                  f"default_points = {_toml(public.legacy.default_points)}", f"visibility = {_toml(public.legacy.visibility)}"]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, str):
        # A JSON string is a TOML basic string, except that TOML also wants DEL escaped.
        # Non-ASCII stays literal: json's surrogate-pair escapes are not valid TOML.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer():
            return str(int(value)) if abs(value) < 2**53 else repr(value)
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "release")),
        autoescape=False,  # Markdown and YAML, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["code"] = lambda text: f"`{text}`"
    return environment


def write_generated(staging: Path, assignment: Assignment, public: Assignment, plan: list[PlannedTest],
                     install: StudentInstall, report: ReleaseReport) -> None:
    released_files = set(public.public_tests) | ({public.legacy.file} if public.legacy else set())
    public_tests = [test for test in plan if test.visibility == "public" and test.id.split("::", 1)[0] in released_files]
    fields = {
        "title": assignment.title,
        "student_files": list(assignment.student_files),
        "support_files": list(assignment.support_files),
        "public_points": f"{sum(test.points for test in public_tests):g}",
        "public_tests": len(public_tests),
        "hidden_points": f"{sum(test.points for test in plan if test not in public_tests):g}"
                         if len(public_tests) < len(plan) else "",
        "torch_command": install.torch_command,
        "torch_version": install.torch_version,
        "requirements": REQUIREMENTS,
        "python_version": PYTHON_VERSION,
        "test_seconds": f"{assignment.limits.test_seconds:g}",
        "submission_seconds": f"{assignment.limits.submission_seconds:g}",
        "timeout_minutes": math.ceil(assignment.limits.submission_seconds / 60) + _INSTALL_MINUTES,
        "workflow": WORKFLOW,
        "junit_file": DEFAULT_JUNIT,
    }
    templates = _templates()
    generated = {
        CONFIG_NAME: (released_config(assignment, sum(test.points for test in plan if test not in public_tests)),
                      "assignment config (public part)"),
        CHECK_GUIDE: (templates.get_template("CHECK.md.j2").render(**fields), "self-check guide"),
        WORKFLOW: (templates.get_template("grader.yml.j2").render(**fields), "CI workflow (runs grader check)"),
        GITIGNORE: (_GITIGNORE_TEXT, "git ignore list"),
    }
    if HANDOUT not in report.files:
        generated[HANDOUT] = (templates.get_template("README.md.j2").render(**fields), "handout (generated: none found)")
        report.notes.append(f"the assignment has no {HANDOUT}: a short one pointing to {CHECK_GUIDE} was written")
    else:
        handout = (assignment.root / HANDOUT).read_text(encoding="utf-8", errors="replace")
        if "grader check" not in handout and CHECK_GUIDE not in handout:
            report.notes.append(f"{HANDOUT} does not mention `grader check`; {CHECK_GUIDE} explains it")
    for relative, (text, what) in generated.items():
        if relative in report.files:
            raise InstructorError(f"{assignment.config_path}: {relative} would be both copied from the assignment "
                                  "and written by the release; rename the assignment's file")
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        report.files[relative] = what
    after_due = [test for test in plan if test.visibility == "after_due_date" and test.id.split("::", 1)[0] in released_files]
    if after_due:
        report.notes.append(f"{len(after_due)} test(s) shown after the due date sit in released files: students see "
                            "their code, and grader check does not run them")
