"""What a graded folder holds besides the per-submission results: ``batch.json``.

``grader grade`` writes it (atomically) next to the ``<id>/result.json`` files:
the assignment's name, title, version and due date, the test plan (ids, names,
points, visibility), the sandbox backend, and when the batch ran. With it,
reports and exports can be rebuilt from a graded folder alone
(:func:`load_graded_folder`), without the assignment or any regrading.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader import __version__
from grader.config import Assignment
from grader.errors import InstructorError
from grader.plan import PlannedTest
from grader.results import RESULT_FILE, SubmissionResult, load_result, write_json_atomic

MANIFEST_FILE = "batch.json"


@dataclass
class BatchManifest:
    assignment: str
    title: str
    version: str
    plan: list[PlannedTest]
    due: str | None = None
    backend: str = ""
    graded_at: str = ""
    grader_version: str = __version__

    @property
    def possible(self) -> float:
        return round(sum(test.points for test in self.plan), 6)

    def points_by_visibility(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for test in self.plan:
            totals[test.visibility] = round(totals.get(test.visibility, 0.0) + test.points, 6)
        return totals

    def to_dict(self) -> dict:
        data = asdict(self)
        data["possible"] = self.possible
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "BatchManifest":
        data = dict(data)
        data.pop("possible", None)
        plan = [PlannedTest(**test) for test in data.pop("plan", [])]
        known = set(cls.__dataclass_fields__)
        return cls(plan=plan, **{key: value for key, value in data.items() if key in known})


def manifest_for(assignment: Assignment, plan: list[PlannedTest], backend: str) -> BatchManifest:
    return BatchManifest(
        assignment=assignment.name, title=assignment.title, version=assignment.version, plan=list(plan),
        due=assignment.due.isoformat() if assignment.due else None, backend=backend,
        graded_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def write_manifest(out_dir: Path, manifest: BatchManifest) -> Path:
    path = out_dir / MANIFEST_FILE
    write_json_atomic(path, manifest.to_dict())
    return path


@dataclass
class GradedFolder:
    """A graded folder as data: its manifest and every readable result, by student id."""

    path: Path
    manifest: BatchManifest
    results: list[SubmissionResult] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)


def load_graded_folder(path: str | Path) -> GradedFolder:
    """Read ``batch.json`` and every ``<id>/result.json``; an instructor error if it is not a graded folder."""
    path = Path(path)
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InstructorError(f"{path} is not a graded folder: it has no {MANIFEST_FILE} (run grader grade --out {path} first)")
    try:
        manifest = BatchManifest.from_dict(json.loads(manifest_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise InstructorError(f"{manifest_path}: cannot be read: {error}") from None
    folder = GradedFolder(path, manifest)
    for result_path in sorted(path.glob(f"*/{RESULT_FILE}")):
        result = load_result(result_path)
        if result is None:
            folder.unreadable.append(result_path)
        else:
            folder.results.append(result)
    return folder
