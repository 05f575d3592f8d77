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
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the summary on stdout.")
def grade(submissions: Path, assignment_path: Path, out_dir: Path, jobs: int | None, regrade: bool,
          only: tuple[str, ...], output_format: str) -> None:
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
                              progress=progress.advance, on_start=progress.start)
    if output_format == "json":
        click.echo(json.dumps(summary_as_json(summary), indent=2))
    else:
        print_summary(summary)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
