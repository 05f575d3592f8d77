"""The ``grader`` command line: a thin Click layer over the library.

Every command parses its options and calls one library function whose keyword
defaults are the single source of truth. Library errors are typed exceptions
(:mod:`grader.errors`) turned into messages and exit codes in one place,
:class:`~grader.cli_student.GraderGroup`:

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
from grader.cli_student import CONTEXT_SETTINGS, GraderGroup, check, doctor
from grader.importers import FORMATS as IMPORT_FORMATS


@click.group(name="grader", cls=GraderGroup, context_settings=CONTEXT_SETTINGS)
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
@click.option("--unsafe-students-can-read-solutions", "allow_unisolated", is_flag=True,
              help="Grade even when the only sandbox available (rlimits) cannot hide files, so student code could "
                   "read the oracles, hidden tests, solutions and other submissions; every report and export says so.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Grade on an existing Dask cluster, one task per submission (e.g. tcp://10.0.0.5:8786; "
                   "needs nlm-grader[dask]; --jobs is then ignored).")
@click.option("--cluster", type=click.Choice(["local"]), default=None,
              help="Grade on an embedded Dask LocalCluster of --jobs worker processes (needs nlm-grader[dask]).")
@click.option("--from", "source_format", type=click.Choice(list(IMPORT_FORMATS)), default="auto", show_default=True,
              help="Layout of SUBMISSIONS: an LMS export, GitHub Classroom clones, or a folder per student "
                   "(auto: detected, and the detection is printed).")
@click.option("--roster", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="CSV naming the students (id, name, email, canvas_id, sis_user_id, sis_login_id, section): "
                   "LMS submissions take its ids; students without a submission get a 'missing' row.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the summary on stdout.")
def grade(submissions: Path, assignment_path: Path, out_dir: Path, jobs: int | None, regrade: bool,
          only: tuple[str, ...], sandbox: str, cold: bool, allow_unisolated: bool, scheduler: str | None,
          cluster: str | None, source_format: str, roster: Path | None, output_format: str) -> None:
    """Grade every submission in SUBMISSIONS: a folder, or a .zip of submissions.

    SUBMISSIONS is a folder per student (or .zip files, or single files), a
    Canvas bulk download, a Gradescope export, a Moodle or Blackboard
    download, or a folder of GitHub Classroom clones (see --from). Notebooks
    handed in for .py files are converted. Each submission runs in its own
    worker process; the tests and the verdicts run in the grader. Results are
    written as each submission finishes, so an interrupted run resumes where
    it stopped.

    \b
    Example:
        grader grade examples/submissions/rnn_lm -a assignments/rnn_lm -o graded/ -j 2
        grader grade submissions.zip -a assignments/rnn_lm --from canvas --roster roster.csv
        grader grade examples/submissions/rnn_lm -a assignments/rnn_lm --scheduler tcp://127.0.0.1:8786
    """
    from grader.batch import grade_batch
    from grader.console import BatchProgress, print_summary, summary_as_json
    from grader.manifest import load_graded_folder
    from grader.report import write_reports
    from grader.roster import load_roster

    from grader.seeding import weak_secret

    if weak_secret():
        click.echo(f"warning: {weak_secret()}", err=True)
    loaded_roster = load_roster(roster) if roster is not None else None
    with BatchProgress(enabled=output_format == "table") as progress:
        summary = grade_batch(submissions, assignment_path, out_dir, jobs=jobs, regrade=regrade, only=only,
                              progress=progress.advance, on_start=progress.start, sandbox=sandbox, warm=not cold,
                              scheduler=scheduler, cluster=cluster, source_format=source_format, roster=loaded_roster,
                              allow_unisolated=allow_unisolated)
    if output_format == "table" and summary.imported is not None:
        for line in summary.imported.lines():
            click.echo(line, err=True)
    for line in summary.retries:  # a lost worker or grading process: never silent
        click.echo(f"warning: {line}", err=True)
    # Every result is saved by now; the reports cover the whole folder, earlier runs' results included.
    reports = write_reports(load_graded_folder(out_dir))
    if output_format == "json":
        imported = summary.imported.to_dict() if summary.imported is not None else None
        click.echo(json.dumps({**summary_as_json(summary), "reports": str(reports.index), "import": imported}, indent=2))
    else:
        print_summary(summary)
        click.echo(f"reports: {reports.index} (class summary); per submission <id>/report.html and <id>/feedback.html")



@main.command(short_help="Check that the solution gets full marks and the starter 0.")
@click.argument("assignment_path", metavar="ASSIGNMENT", type=click.Path(path_type=Path))
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Grade the solution and the starter in parallel on this many processes.  [default: 2]")
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Keep the results here (solution/result.json, starter/result.json).  [default: a temporary folder]")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the checks on stdout.")
@click.option("--mutants", is_flag=True,
              help="Also grade each mutant of mutants.toml (the solution with one classic mistake): each must lose "
                   "points and be named by a test's diagnosis.")
def validate(assignment_path: Path, jobs: int | None, out_dir: Path | None, output_format: str, mutants: bool) -> None:
    """Check an assignment before release: the solution earns full marks, the starter 0.

    Grades the solution and starter folders as two submissions and checks that
    both hold every student file, that the points add up, that the solution
    passes every test, that the starter fails every test with points with the
    "not implemented yet" message (no crash, timeout or error), and that every
    test ran. With --mutants it also grades every mutant of mutants.toml and
    lists the surviving ones (mistakes the tests miss) and the undiagnosed
    ones. Exit 0 when every check holds, 1 when one fails.

    \b
    Example:
        grader validate assignments/rnn --out /tmp/rnn-validation
        grader validate assignments/rnn --mutants
    """
    from grader.console import BatchProgress
    from grader.errors import ValidationFailed
    from grader.validate import print_validation, validate_assignment

    with BatchProgress(enabled=output_format == "table") as progress:
        report = validate_assignment(assignment_path, jobs=jobs, out=out_dir, progress=progress.advance,
                                     on_start=progress.start, mutants=mutants)
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
@click.option("--examples", default=None, type=click.Path(path_type=Path, exists=True),
              help="Submissions (any layout grader grade reads) to record the public tests' expectations with, "
                   "besides the solution, the starter and the mutants.")
@click.option("--torch-index", default=None, metavar="URL",
              help="Where CHECK.md and the workflow install PyTorch from; '' for the package index's default "
                   "build.  [default: the CPU wheels, https://download.pytorch.org/whl/cpu]")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print what was written on stdout.")
def release(assignment_path: Path, out: Path, force: bool, examples: Path | None, torch_index: str | None,
            output_format: str) -> None:
    """Write the student bundle of ASSIGNMENT into OUT: no hidden test, solution or oracle.

    OUT gets the handout, the starter files at the top, the public tests,
    support files, a public-only assignment.toml, CHECK.md (how to set up and
    run grader check from this folder alone), requirements.txt and .grader/
    (the self-check's grader as a wheel, and the values the public tests
    compare with, recorded here from the oracles), and a GitHub Actions
    workflow that runs the self-check on every push. It prints how many
    public points a self-check judges offline. OUT must be new or empty
    unless --force.

    \b
    Example:
        grader release assignments/rnn release/rnn --examples examples/submissions/rnn
    """
    from rich.console import Console

    from grader.release import print_release, release_assignment

    options = {"torch_index": torch_index} if torch_index is not None else {}
    status = Console(stderr=True).status("recording the public tests' expectations...") \
        if output_format == "table" else None
    if status is not None:
        status.start()
    try:
        report = release_assignment(assignment_path, out, force=force, examples=examples,
                                    progress=status.update if status is not None else None, **options)
    finally:
        if status is not None:
            status.stop()
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_release(report)


@main.command(short_help="Rebuild the HTML reports (and exports) of a graded folder.")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print what was written on stdout.")
def report(folder: Path, output_format: str) -> None:
    """Re-render every output of DIR, a folder written by grader grade, from its saved results.

    Nothing is graded again: DIR/batch.json and DIR/<id>/result.json are read,
    and DIR/index.html (the class summary, for instructors), DIR/<id>/report.html
    (everything about one submission) and DIR/<id>/feedback.html (what the
    student may see) are written, with the gradebook exports when available.
    Exit 1 when DIR is not a graded folder.

    \b
    Example:
        grader report graded/rnn
    """
    from grader.report.rebuild import export_lines, rebuild_outputs

    rebuilt = rebuild_outputs(folder)
    if output_format == "json":
        click.echo(json.dumps(rebuilt.to_dict(), indent=2))
        return
    written = rebuilt.reports
    click.echo(f"class summary: {written.index}")
    click.echo(f"{len(written.submissions)} submission(s): <id>/report.html (instructor) and "
               f"<id>/feedback.html (student) in {rebuilt.folder.path}")
    for line in export_lines(rebuilt.exports, rebuilt.folder.path):
        click.echo(f"export: {line}")
    for student_id in written.skipped:
        click.echo(f"skipped {student_id!r}: not a plain folder name in {rebuilt.folder.path}", err=True)
    for path in rebuilt.folder.unreadable:
        click.echo(f"unreadable, left out: {path} (grade this submission again)", err=True)


@main.command(short_help="Write Canvas, Gradescope and JUnit files of a graded folder.")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--roster", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="CSV mapping submission ids to LMS identities (columns such as id, name, email, canvas_id, "
                   "sis_user_id, sis_login_id, section; a Canvas gradebook export works as is).")
@click.option("--canvas-assignment-id", default=None, type=click.IntRange(min=1), metavar="N",
              help="The Canvas assignment's id: the column becomes 'Title (N)', which the import matches.")
@click.option("--out", "-o", "out_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Write the files here.  [default: DIR]")
@click.option("--hidden-visibility", type=click.Choice(["hidden", "after_published"]), default="hidden",
              show_default=True, help="How Gradescope shows hidden tests to students.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print what was written on stdout.")
def export(folder: Path, roster: Path | None, canvas_assignment_id: int | None, out_dir: Path | None,
           hidden_visibility: str, output_format: str) -> None:
    """Write the gradebook files of DIR, a folder written by grader grade.

    DIR/canvas.csv (Canvas gradebook import), DIR/junit.xml (one test suite
    per submission) and DIR/<id>/gradescope.json (Gradescope's results.json
    per submission). Nothing is graded again. With --roster, every student on
    it gets a Canvas row (an empty score without a submission); submissions
    with no roster entry are listed on stderr and exported all the same.
    Exit 1 when DIR is not a graded folder or the roster cannot be read.

    \b
    Example:
        grader export graded/rnn --roster roster.csv --canvas-assignment-id 12345
    """
    from grader.exports import export_folder
    from grader.manifest import load_graded_folder
    from grader.roster import load_roster

    folder_data = load_graded_folder(folder)
    loaded = load_roster(roster) if roster is not None else None
    report = export_folder(folder_data, out_dir, loaded, canvas_assignment_id, hidden_visibility)
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"canvas: {report.canvas_csv}")
    click.echo(f"junit: {report.junit_xml}")
    click.echo(f"gradescope: {len(report.gradescope)} file(s), {report.out_dir}/<id>/gradescope.json")
    for note in report.notes():
        click.echo(f"note: {note}", err=True)


@main.command(short_help="Build a Gradescope autograder zip for an assignment.")
@click.argument("assignment_path", metavar="ASSIGNMENT", type=click.Path(path_type=Path))
@click.argument("out", metavar="OUT.zip", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--torch-spec", default=None, metavar="SPEC",
              help="What setup.sh pip-installs for PyTorch.  [default: torch==2.13.0]")
@click.option("--torch-index", default=None, metavar="URL",
              help="The index PyTorch comes from; '' for PyPI's.  [default: the CPU wheels]")
@click.option("--hidden-visibility", type=click.Choice(["hidden", "after_published"]), default="hidden",
              show_default=True, help="How Gradescope shows hidden tests to students.")
@click.option("--unsafe-students-can-read-solutions", "allow_unisolated", is_flag=True,
              help="Let the autograder grade where Gradescope's machine offers only the rlimits sandbox, which cannot "
                   "hide the hidden tests shipped in the zip from student code.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print what was written on stdout.")
def gradescope(assignment_path: Path, out: Path, torch_spec: str | None, torch_index: str | None,
               hidden_visibility: str, allow_unisolated: bool, output_format: str) -> None:
    """Write OUT.zip, a Gradescope autograder for ASSIGNMENT.

    setup.sh and run_autograder sit at the root: setup.sh installs PyTorch
    and this grader (shipped in the zip); run_autograder grades
    /autograder/submission with ASSIGNMENT's tests, hidden ones included,
    and writes /autograder/results/results.json. The solution is not shipped.

    \b
    Example:
        grader gradescope assignments/rnn rnn-autograder.zip
    """
    from grader.exports.autograder_zip import build_autograder_zip

    options = {key: value for key, value in (("torch_spec", torch_spec), ("torch_index", torch_index))
               if value is not None}
    built = build_autograder_zip(assignment_path, out, hidden_visibility=hidden_visibility,
                                 allow_unisolated=allow_unisolated, **options)
    if output_format == "json":
        click.echo(json.dumps(built.to_dict(), indent=2))
        return
    for path, what in sorted(built.files.items()):
        click.echo(f"{path}: {what}")
    for note in built.notes:
        click.echo(f"note: {note}")
    click.echo(f"wrote {built.out}: {len(built.plan)} tests, {built.possible:g} points. Upload it on Gradescope "
               "under Configure Autograder (zip file upload).")


@main.command(short_help="List the classic mistakes the grader can name in feedback.")
@click.option("--oracle", default=None, metavar="NAME",
              help="Only the mistakes of this oracle (e.g. lstm_cell or reference.rnn.lstm_cell).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the catalogue on stdout.")
def mistakes(oracle: str | None, output_format: str) -> None:
    """List the catalogue of classic mistakes (reference/mistakes).

    A failed check that compares with an oracle is also compared with these
    wrong variants of it on the same inputs; a match names the mistake in the
    feedback. Use the ids in an assignment's mutants.toml (grader validate
    --mutants).

    \b
    Example:
        grader mistakes --oracle lstm_cell
    """
    from grader.console import print_mistakes
    from reference.mistakes import catalogue

    entries = [entry for entry in catalogue().values()
               if oracle is None or entry.shadows == oracle or entry.shadows.endswith("." + oracle)]
    if oracle is not None and not entries:
        raise click.ClickException(f"--oracle {oracle}: no mistake shadows an oracle of that name")
    if output_format == "json":
        click.echo(json.dumps([entry.to_dict() for entry in entries], indent=2))
    else:
        print_mistakes(entries)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


# The student's commands, defined with the self-check's own install (grader.cli_student).
main.add_command(check)
main.add_command(doctor)
