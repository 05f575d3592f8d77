"""Terminal output for the CLI: a progress bar while grading, a summary table after.

Progress goes to stderr and the table to stdout, so ``--format json`` output
and redirected tables stay clean. Built on ``rich``.
"""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from grader.results import SubmissionResult


class BatchProgress:
    """A progress bar over the submissions of one batch (a no-op when disabled)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> "BatchProgress":
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start(self, todo: int, reused: int) -> None:
        """Called once the batch is validated, so instructor errors print without a bar."""
        if not self.enabled:
            return
        self._progress = Progress(
            TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=False,
        )
        self._progress.__enter__()
        if reused:
            self._progress.console.print(f"{reused} submission(s) already graded and unchanged: kept (use --regrade to grade again)")
        self._task = self._progress.add_task("grading", total=todo, last="")

    def advance(self, result: SubmissionResult, reused: bool) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, last=f"{result.student_id}: {result.total:g}/{result.possible:g}")


def print_summary(summary: Any, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"{summary.assignment.title} ({summary.assignment.name} v{summary.assignment.version})")
    table.add_column("submission")
    table.add_column("score", justify="right")
    table.add_column("status")
    table.add_column("tests passed", justify="right")
    table.add_column("time", justify="right")
    table.add_column("note", overflow="fold", max_width=60)
    for result in summary.results:
        passed = sum(test.status == "passed" for test in result.tests)
        reused = " (kept)" if result.student_id in summary.reused else ""
        note = result.message.split("\n")[0] if result.status != "graded" else "; ".join(
            part for part in result.message.split("; ") if not part.endswith("tests passed"))
        mistakes = named_mistakes(result)
        if mistakes:
            note = "; ".join(part for part in (note, f"likely mistake: {', '.join(mistakes)}") if part)
        table.add_row(result.student_id, f"{result.total:g}/{result.possible:g}", result.status + reused,
                      f"{passed}/{len(result.tests)}", f"{result.duration:.1f}s", note)
    console.print(table)
    scores = [result.total for result in summary.results]
    if scores:
        mean = sum(scores) / len(scores)
        console.print(f"{len(scores)} submission(s), mean score {mean:.2f} of {summary.results[0].possible:g}")
    for path in summary.ignored:
        console.print(f"[yellow]ignored[/yellow] {path.name}: not a folder, a .zip or a file named like a student file")
    console.print(f"results: {summary.out_dir}/<id>/result.json; gradebook: {summary.grades_csv}")


def named_mistakes(result: SubmissionResult) -> list[str]:
    """The ids of the classic mistakes the diagnosis named in any of the submission's tests, in test order."""
    return list(dict.fromkeys(entry.id for test in result.tests if test.diagnosis for entry in test.diagnosis.matched))


def summary_as_json(summary: Any) -> dict:
    return {
        "assignment": {"name": summary.assignment.name, "title": summary.assignment.title, "version": summary.assignment.version},
        "out_dir": str(summary.out_dir),
        "grades_csv": str(summary.grades_csv),
        "reused": summary.reused,
        "ignored": [str(path) for path in summary.ignored],
        "submissions": [
            {"id": r.student_id, "score": r.total, "max": r.possible, "status": r.status, "message": r.message,
             "mistakes": named_mistakes(r), "result": str(summary.out_dir / r.student_id / "result.json")}
            for r in summary.results
        ],
    }


def print_mistakes(entries: list[Any], console: Console | None = None) -> None:
    """The catalogue of classic mistakes as a table: id, the oracle it shadows, what the student did."""
    console = console or Console()
    table = Table(title=f"Classic mistakes the grader can name ({len(entries)})", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("shadows", no_wrap=True)
    table.add_column("what the student did", overflow="fold")
    for entry in entries:
        table.add_row(entry.id, entry.shadows.removeprefix("reference."), entry.title)
    console.print(table)

