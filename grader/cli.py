"""The ``grader`` command line: a thin Click layer over the library.

Every command parses its options and calls one library function whose keyword
defaults are the single source of truth. Library errors are typed exceptions
(:mod:`grader.errors`) turned into messages and exit codes in one place,
:class:`GraderGroup`:

- exit 0: the command did its job (for ``grade``: the batch completed,
  whatever the students scored)
- exit 1: an instructor error (bad assignment, unreadable folder, ...)
- exit 2: a usage error (Click's own)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from grader import __version__
from grader.errors import GraderError


class GraderGroup(click.Group):
    """Turns :class:`GraderError` into a clean message and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GraderError as error:
            raise click.ClickException(str(error)) from None


@click.group(name="grader", cls=GraderGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="grader")
def main() -> None:
    """Grade neural-language-model assignments: sandboxed student code, trusted verdicts.

    \b
    Example:
        grader grade submissions/ --assignment assignments/rnn_lm --out graded/
    """


@main.command()
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option("--assignment", "-a", "assignment_path", required=True, type=click.Path(path_type=Path),
              help="Assignment folder (holding assignment.toml).")
@click.option("--out", "-o", "out_dir", default=Path("graded"), show_default=True, type=click.Path(path_type=Path),
              help="Folder for results: <id>/result.json per submission and grades.csv.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Submissions graded in parallel.  [default: number of cores]")
@click.option("--regrade", is_flag=True, help="Grade again even where an up-to-date result exists.")
@click.option("--only", multiple=True, metavar="ID", help="Grade only this submission id (repeatable).")
@click.option("--sandbox", "sandbox", type=click.Choice(["auto", "bwrap", "landlock", "rlimits"]), default="auto",
              show_default=True, help="Isolation backend for student code (auto: the strongest available; see grader doctor).")
@click.option("--cold", is_flag=True, help="Start a fresh interpreter per submission instead of forking the warm worker.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the summary on stdout.")
def grade(submissions: Path, assignment_path: Path, out_dir: Path, jobs: int | None, regrade: bool,
          only: tuple[str, ...], sandbox: str, cold: bool, output_format: str) -> None:
    """Grade every submission in SUBMISSIONS (folders, .zip files or single files).

    Each submission runs in its own worker process; the tests and the verdicts
    run in the grader. Results are written as each submission finishes, so an
    interrupted run resumes where it stopped.

    \b
    Example:
        grader grade examples/submissions/rnn_lm -a assignments/rnn_lm -o graded/ -j 2
    """
    from grader.batch import grade_batch
    from grader.console import BatchProgress, print_summary, summary_as_json

    with BatchProgress(enabled=output_format == "table") as progress:
        summary = grade_batch(submissions, assignment_path, out_dir, jobs=jobs, regrade=regrade, only=only,
                              progress=progress.advance, on_start=progress.start, sandbox=sandbox, warm=not cold)
    if output_format == "json":
        click.echo(json.dumps(summary_as_json(summary), indent=2))
    else:
        print_summary(summary)



@main.command(short_help="Check that the solution gets full marks and the starter 0.")
@click.argument("assignment_path", metavar="ASSIGNMENT", type=click.Path(path_type=Path))
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Grade the solution and the starter in parallel on this many processes.  [default: 2]")
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Keep the results here (solution/result.json, starter/result.json).  [default: a temporary folder]")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the checks on stdout.")
def validate(assignment_path: Path, jobs: int | None, out_dir: Path | None, output_format: str) -> None:
    """Check an assignment before release: the solution earns full marks, the starter 0.

    Grades the solution and starter folders as two submissions and checks that
    both hold every student file, that the points add up, that the solution
    passes every test, that the starter fails every test with points with the
    "not implemented yet" message (no crash, timeout or error), and that every
    test ran. Exit 0 when every check holds, 1 when one fails.

    \b
    Example:
        grader validate assignments/rnn --out /tmp/rnn-validation
    """
    from grader.console import BatchProgress
    from grader.errors import ValidationFailed
    from grader.validate import print_validation, validate_assignment

    with BatchProgress(enabled=output_format == "table") as progress:
        report = validate_assignment(assignment_path, jobs=jobs, out=out_dir, progress=progress.advance,
                                     on_start=progress.start)
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_validation(report)
    if not report.ok:
        failed = ", ".join(check.name for check in report.failures)
        raise ValidationFailed(f"{report.assignment.name}: {len(report.failures)} of {len(report.checks)} "
                               f"checks failed: {failed}")


@main.command(short_help="Write the student bundle (no hidden tests, no solution).")
@click.argument("assignment_path", metavar="ASSIGNMENT", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty OUT (a .git folder is kept).")
@click.option("--grader-spec", default=None, metavar="SPEC",
              help="What the CI workflow and CHECK.md pip-install to get the grader.  [default: nlm-grader]")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print what was written on stdout.")
def release(assignment_path: Path, out: Path, force: bool, grader_spec: str | None, output_format: str) -> None:
    """Write the student bundle of ASSIGNMENT into OUT: never a hidden test or a solution.

    OUT gets the handout, the starter files at the top, the public tests,
    support files, a public-only assignment.toml, CHECK.md (how to run
    grader check) and a GitHub Actions workflow that runs the self-check on
    every push. OUT must be new or empty unless --force.

    \b
    Example:
        grader release assignments/rnn release/rnn --grader-spec "nlm-grader==0.1.0"
    """
    from grader.release import print_release, release_assignment

    options = {"grader_spec": grader_spec} if grader_spec is not None else {}
    report = release_assignment(assignment_path, out, force=force, **options)
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_release(report)


@main.command(short_help="Run the public tests on your work: the student's self-check.")
@click.argument("folder", required=False, default=Path("."), type=click.Path(path_type=Path))
@click.option("--assignment", "-a", "assignment_path", default=None, type=click.Path(path_type=Path),
              help="The assignment to check against.  [default: FOLDER, which holds assignment.toml]")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the results on stdout.")
def check(folder: Path, assignment_path: Path | None, output_format: str) -> None:
    """Run the public tests on your work in FOLDER (default: this folder) and show your points.

    Run it in the folder of the assignment you were given: your files sit
    beside assignment.toml and tests/. Only your files are graded; nothing is
    written. Exit 0 when the check ran, whatever your score; 1 when there is
    no usable assignment.

    \b
    Example:
        cd rnn && grader check
        grader check my_work --assignment rnn
    """
    from rich.console import Console

    from grader.check import check_as_json, check_submission, print_check, resolve_assignment
    from grader.config import load_assignment

    assignment = load_assignment(resolve_assignment(folder, assignment_path))
    status = Console(stderr=True).status("running the public tests...") if output_format == "table" else None
    if status is not None:
        status.start()
    try:
        result = check_submission(folder, assignment=assignment.root)
    finally:
        if status is not None:
            status.stop()
    if output_format == "json":
        click.echo(json.dumps(check_as_json(result, assignment, folder), indent=2))
    else:
        print_check(result, assignment)

@main.command(short_help="Show which isolation this machine supports for student code.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the report on stdout.")
def doctor(output_format: str) -> None:
    """Report the sandbox layers available here and the backend ``grader grade`` will use.

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
    console.print(f"grader grade will use the [bold]{backend}[/bold] backend (override with --sandbox).")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
