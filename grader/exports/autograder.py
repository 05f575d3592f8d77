"""What a Gradescope autograder zip runs for each submission: ``python -m grader.exports.autograder``.

``run_autograder`` (see :mod:`grader.exports.autograder_zip`) calls it with
``--root`` (``GRADER_GRADESCOPE_ROOT``, default ``/autograder``). It grades
``ROOT/submission`` against ``ROOT/source/assignment`` with the same engine
as ``grader grade`` and writes Gradescope's ``ROOT/results/results.json``
(:mod:`grader.exports.gradescope`). The student id (reports, ``extra_data``)
is the e-mail (else the user id) of the first user in
``ROOT/submission_metadata.json``; the hidden tests' inputs are seeded by
:func:`grader.importers.gradescope.seed_identity` of its ``users`` and
submission ``id``, the value ``grader grade --from gradescope`` computes from
Gradescope's export of the same submission, so both give the same score.

Exit 0 when a result was written, whatever the score. When the grader itself
cannot run (a broken zip, say), it still writes a ``results.json`` that says
so, with score 0, and exits 1.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from grader.results import write_json_atomic

DEFAULT_ROOT = "/autograder"
FALLBACK_ID = "submission"
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._@+-]")


def read_submission_metadata(path: Path) -> dict:
    """Gradescope's ``submission_metadata.json`` as a dict; ``{}`` when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _users(metadata: dict) -> list:
    users = metadata.get("users")
    return users if isinstance(users, list) else []


def student_id_from_metadata(path: Path) -> str:
    """The first user's e-mail (else id) in Gradescope's ``submission_metadata.json``; ``submission`` if none."""
    users = _users(read_submission_metadata(path))
    user = users[0] if users and isinstance(users[0], dict) else {}
    value = str(user.get("email") or user.get("id") or "")
    cleaned = _UNSAFE_ID_CHARS.sub("_", value)[:100].lstrip(".")
    return cleaned or FALLBACK_ID


def seed_id_from_metadata(path: Path) -> str:
    """The identity that seeds the hidden tests, as the export's importer computes it; ``""``: the student id."""
    from grader.importers.gradescope import seed_identity

    metadata = read_submission_metadata(path)
    return seed_identity(_users(metadata), metadata.get("id") or "")


def run_autograder(root: str | Path) -> int:
    """Grade ``root/submission`` and write ``root/results/results.json``; the exit status."""
    from grader.config import load_assignment
    from grader.exports.autograder_zip import ZIP_CONFIG
    from grader.exports.gradescope import results_json
    from grader.importers.record import Submitted
    from grader.ingest import SubmissionSource
    from grader.plan import collect_plan
    from grader.runner import grade_submission
    from grader.sandbox import default_sandbox
    from grader.sandbox.probe import require_file_isolation

    root = Path(root)
    results_path = root / "results" / "results.json"
    started = time.monotonic()
    try:
        settings = json.loads((root / "source" / ZIP_CONFIG).read_text(encoding="utf-8"))
        assignment = load_assignment(root / "source" / settings.get("assignment", "assignment"))
        with tempfile.TemporaryDirectory(prefix="grader-gradescope-plan-") as plan_dir:
            plan = collect_plan(assignment, Path(plan_dir))
        sandbox = default_sandbox()
        # On a Gradescope machine without bwrap or Landlock student code could read the hidden tests shipped here.
        require_file_isolation(sandbox.backend, bool(settings.get("allow_unisolated", False)))
        metadata = root / "submission_metadata.json"
        student_id = student_id_from_metadata(metadata)
        submitted = Submitted(seed_id=seed_id_from_metadata(metadata))
        result = grade_submission(assignment, plan, SubmissionSource(student_id, root / "submission", "folder", submitted),
                                  sandbox)
        data = results_json(result, assignment.title, settings.get("hidden_visibility", "hidden"))
    except Exception as error:  # noqa: BLE001 - Gradescope must get a results.json that says what happened
        write_json_atomic(results_path, failure_results(f"{type(error).__name__}: {error}", time.monotonic() - started))
        print(f"the autograder failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    write_json_atomic(results_path, data)
    print(f"{student_id}: {result.total:g}/{result.possible:g} points, {result.status}; "
          f"backend {result.sandbox.get('backend', '?')}; {result.duration:.1f} s; wrote {results_path}")
    return 0


def failure_results(detail: str, seconds: float) -> dict:
    """A ``results.json`` for when the autograder itself could not grade (not the student's fault)."""
    return {
        "score": 0.0, "execution_time": int(seconds + 0.999), "output_format": "text",
        "output": "The autograder could not grade this submission, not because of your code. "
                  "Your course staff can see why and will grade it again.",
        "visibility": "visible", "stdout_visibility": "hidden", "extra_data": {"error": detail[-4000:]},
        "tests": [], "leaderboard": [],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.exports.autograder",
                                     description="Grade a Gradescope submission (run by run_autograder).")
    parser.add_argument("--root", default=os.environ.get("GRADER_GRADESCOPE_ROOT", DEFAULT_ROOT),
                        help="Gradescope's folder: submission/, source/, results/ (default: /autograder)")
    return run_autograder(parser.parse_args(argv).root)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
