"""Start an assignment's warm worker early: what it should preload, and starting it before anything else.

The warm worker's imports (numpy, torch, and for assignments that use
optimizers torch.optim with the torch._dynamo it pulls in) take seconds; the
grading process has its own start-up to do meanwhile. :func:`prewarm` starts
the worker for an assignment; ``grader check`` calls it before it imports
the test machinery, so the two overlap.
"""
from __future__ import annotations

import functools
from pathlib import Path

from grader.config import Assignment


@functools.lru_cache(maxsize=32)
def _mentions_optimizers(root: Path, folders: tuple[str, ...]) -> bool:
    for relative in folders:
        path = root / relative
        for file in ([path] if path.is_file() else sorted(path.rglob("*.py")) if path.is_dir() else []):
            if "optim" in file.read_text(encoding="utf-8", errors="replace"):
                return True
    return False


def uses_optimizers(assignment: Assignment) -> bool:
    """Whether the worker should preload torch's optimizers: the tests, the starter or the solution mention them."""
    if assignment.allowed_packages is not None and "torch" not in assignment.allowed_packages:
        return False
    folders = {str(Path(path).parent) for path, _ in assignment.test_files()}
    folders |= {name for name in (assignment.starter, assignment.solution) if name}
    return _mentions_optimizers(assignment.root, tuple(sorted(folders)))


def prewarm(sandbox, assignment: Assignment) -> None:
    """Start ``sandbox``'s warm worker for ``assignment`` now; an optimisation only, so it never raises."""
    try:
        sandbox.prewarm(assignment.allowed_packages, uses_optimizers(assignment))
    except Exception:  # noqa: BLE001 - the grading starts its own worker on first use anyway
        pass


def prewarm_for_check(folder: Path, assignment: Path | None = None) -> None:
    """``grader check``'s first step: the worker of the assignment in ``folder`` (or ``assignment``) starts
    importing before the self-check imports pytest and the rest. Errors are the self-check's to report."""
    from grader.config import CONFIG_NAME, load_assignment
    from grader.errors import GraderError
    from grader.sandbox import default_sandbox

    target = assignment if assignment is not None else folder
    if assignment is None and not (Path(folder) / CONFIG_NAME).is_file():
        return
    try:
        prewarm(default_sandbox(), load_assignment(target))
    except GraderError:
        return
