"""The worker's own code, staged into a folder of its own that the sandbox can see.

Only ``grader/__init__.py``, ``grader/protocol.py`` and ``grader/worker/`` are
copied: the sandboxed process can import what it needs to serve the grader and
nothing else of the grader (no tests, no solutions, no results code).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import grader

_PACKAGE = Path(grader.__file__).resolve().parent
_FILES = ("__init__.py", "protocol.py")

COLD_BOOTSTRAP = "import sys; sys.path.insert(0, {runtime!r}); from grader.worker.__main__ import main; main(sys.argv)"
ZYGOTE_BOOTSTRAP = "import sys; sys.path.insert(0, {runtime!r}); from grader.worker.zygote import main; main(sys.argv)"


def stage_runtime(dest: Path) -> Path:
    """Copy the worker's code into ``dest/grader`` (world-readable) and return ``dest``."""
    package = dest / "grader"
    (package / "worker").mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        shutil.copy2(_PACKAGE / name, package / name)
    for source in (_PACKAGE / "worker").glob("*.py"):
        shutil.copy2(source, package / "worker" / source.name)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest
