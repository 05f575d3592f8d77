"""The commands of a student's install: ``grader check`` and ``grader doctor``.

A released bundle ships a wheel of the student-side grader (see
:mod:`grader.student_wheel`) whose ``grader`` command is :func:`main` here:
the self-check and the sandbox report, nothing that needs the oracles, the
hidden tests or the solutions. The instructor's ``grader`` (:mod:`grader.cli`)
adds these two commands to its own. Library errors become messages and exit
codes in one place, :class:`GraderGroup`: exit 0 when the command did its
job, 1 for a usable-assignment problem, 2 for a usage error (Click's own).
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from grader import __version__
from grader.errors import GraderError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class GraderGroup(click.Group):
    """Turns :class:`GraderError` into a clean message and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GraderError as error:
            raise click.ClickException(str(error)) from None


@click.command(short_help="Run the public tests on your work: the student's self-check.")
@click.argument("folder", required=False, default=Path("."), type=click.Path(path_type=Path))
@click.option("--assignment", "-a", "assignment_path", default=None, type=click.Path(path_type=Path),
              help="The assignment to check against.  [default: FOLDER, which holds assignment.toml]")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "github"]), default=None,
              help="How to print the results on stdout; github: the table, then GitHub Actions annotations.  "
                   "[default: table; github with --ci]")
@click.option("--ci", is_flag=True,
              help="Run as CI: GitHub annotations on stdout, a JUnit report (see --junit), the job summary appended "
                   "to $GITHUB_STEP_SUMMARY when it is set, and exit 1 while a public test fails.")
@click.option("--junit", "junit", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="Write a JUnit XML report to this file.  [default with --ci: grader-junit.xml]")
def check(folder: Path, assignment_path: Path | None, output_format: str | None, ci: bool, junit: Path | None) -> None:
    """Run the public tests on your work in FOLDER (default: this folder) and show your points.

    Run it in the folder of the assignment you were given: your files sit
    beside assignment.toml and tests/. Only your files are graded, on the
    inputs the grading uses for the public tests, so the public points are
    the ones you will get. Nothing is written but the --junit report and,
    with --ci, the GitHub job summary. Exit 0 when the check ran, whatever
    your score (with --ci: 1 while a public test fails); 1 when there is no
    usable assignment.

    \b
    Example:
        cd rnn && grader check
        grader check my_work --assignment rnn
        grader check --ci --junit grader-junit.xml
    """
    import os

    from grader.warmup import prewarm_for_check

    prewarm_for_check(folder, assignment_path)  # the worker's imports overlap with everything below

    from rich.console import Console

    from grader.check import DEFAULT_JUNIT, check_as_json, github_lines, print_check, run_self_check, write_ci_outputs

    output_format = output_format or ("github" if ci else "table")
    if ci and junit is None:
        junit = Path(DEFAULT_JUNIT)
    status = Console(stderr=True).status("running the public tests...") if output_format == "table" else None
    if status is not None:
        status.start()
    try:
        outcome = run_self_check(folder, assignment_path)
    finally:
        if status is not None:
            status.stop()
    write_ci_outputs(outcome, junit, os.environ if ci else {})
    if output_format == "json":
        click.echo(json.dumps(check_as_json(outcome), indent=2))
    else:
        print_check(outcome)
        if output_format == "github":
            for line in github_lines(outcome):
                click.echo(line)
    if ci and not outcome.ok:
        click.get_current_context().exit(1)


@click.command(short_help="Show which isolation this machine supports for student code.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the report on stdout.")
def doctor(output_format: str) -> None:
    """Report the sandbox layers available here and the backend student code will run on.

    Exits 0 whatever is missing: the grader then falls back to a weaker backend,
    and every result records the backend that ran.

    \b
    Example:
        grader doctor --format json
    """
    from grader.sandbox.probe import choose_backend, doctor_checks

    checks = doctor_checks()
    backend = choose_backend("auto")
    if output_format == "json":
        click.echo(json.dumps({"backend": backend, "checks": [
            {"check": name, "available": available, "detail": detail} for name, available, detail in checks]}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Isolation for student code on this machine")
    table.add_column("layer")
    table.add_column("available")
    table.add_column("detail", overflow="fold")
    for name, available, detail in checks:
        table.add_row(name, "[green]yes[/green]" if available else "[red]no[/red]", detail)
    console = Console()
    console.print(table)
    console.print(f"Student code will run on the [bold]{backend}[/bold] backend here "
                  "(grader grade: override with --sandbox).")


@click.group(name="grader", cls=GraderGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="grader")
def main() -> None:
    """Check your work on a neural-language-model assignment before you submit it.

    Run `grader check` in the folder of the assignment you were given: your
    code runs in a sandbox, the public tests judge it, and you see your points
    and what to fix.

    \b
    Example:
        cd rnn && grader check
    """


main.add_command(check)
main.add_command(doctor)
