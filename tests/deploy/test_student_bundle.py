"""A student's side: only the folder ``grader release`` writes and a package registry, as CHECK.md says.

The bundle is set up by the commands of its CHECK.md, word for word, in a
shell; ``grader check`` there (a fresh venv: no ``reference``, no catalogue,
no instructor command) gives the public points, statuses and named mistakes
that ``grader grade`` gives the same files, for example submissions and mutants
the release recorded and for submissions it never saw.
"""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.check import public_part, public_plan
from grader.config import load_assignment
from grader.ingest import SubmissionSource
from grader.resources import assignments_dir
from grader.runner import grade_submission

from ..sandbox.oracle_thieves import leaked, secret_lines, write_thieves
from ..sandbox.test_oracle_access import REFERENCE
from .venvs import copy_venv, run

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "submissions"

# Submissions no release saw: the solution with a change that neither a mutant nor an example makes.
UNSEEN = {
    "autograd": {
        "exp_one_percent_high": ("y = np.exp(x)", "y = np.exp(x) * 1.01"),
        "tanh_backward_halved": ("return [grad_output * (1.0 - y * y)]", "return [0.5 * grad_output * (1.0 - y * y)]"),
        "divide_backward_sign": ("-np.sum(grad_output * a, axis=1) / (b * b)", "np.sum(grad_output * a, axis=1) / (b * b)"),
    },
}


def setup_commands(guide: str) -> list[str]:
    """The commands of CHECK.md's "Run the self-check" block, as a student types them."""
    section = guide.split("## Run the self-check", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"((?:\n    \S.*)+)", section).group(1)
    return [line[4:] for line in block.strip("\n").splitlines()]


def student_copy(bundle: Path, where: Path) -> Path:
    """The bundle as a student gets it (a clone of the assignment repository)."""
    shutil.copytree(bundle, where)
    return where


def set_up(folder: Path) -> str:
    """Follow CHECK.md in ``folder``: its commands, in order, in one shell; what they printed."""
    commands = setup_commands((folder / "CHECK.md").read_text(encoding="utf-8"))
    assert commands[0].startswith("python3 -m venv .venv") and commands[-1] == "grader check"
    return run("set -e\n" + "\n".join(commands), cwd=folder, shell=True, timeout=1200).stdout


def check(folder: Path, files: dict[str, bytes]) -> dict:
    """``grader check --format json`` in the student's folder with ``files`` as their work."""
    for name, data in files.items():
        (folder / name).write_bytes(data)
    done = run([str(folder / ".venv" / "bin" / "grader"), "check", "--format", "json"], cwd=folder)
    return json.loads(done.stdout)


def graded_public(name: str, files: dict[str, bytes], scratch: Path):
    """What ``grader grade`` gives ``files`` on the public tests, with the real oracles."""
    assignment = public_part(load_assignment(assignments_dir() / name))
    folder = scratch / "submission"
    folder.mkdir(parents=True)
    for file, data in files.items():
        (folder / file).write_bytes(data)
    return grade_submission(assignment, public_plan(assignment, scratch), SubmissionSource("s", folder, "folder"))


def outcome(tests) -> dict:
    view = {}
    for test in tests:
        test = test if isinstance(test, dict) else test.__dict__
        diagnosis = test.get("diagnosis")
        if diagnosis is not None and not isinstance(diagnosis, dict):
            diagnosis = {"matched": [{"id": match.id} for match in diagnosis.matched]}
        view[test["id"]] = (test["status"], round(test["points"], 6),
                            sorted(match["id"] for match in (diagnosis or {}).get("matched", [])))
    return view


def files_of(folder: Path, student_files) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in student_files if (folder / name).is_file()}


@pytest.fixture(scope="module")
def autograd_student(released, tmp_path_factory):
    """The autograd bundle set up by a student, word for word, in a fresh venv (numpy only: no PyTorch)."""
    report, bundle = released("autograd")
    folder = student_copy(bundle, tmp_path_factory.mktemp("student") / "autograd")
    printed = set_up(folder)
    return report, folder, printed


def test_check_md_sets_up_a_working_self_check_from_the_folder_alone(autograd_student):
    report, folder, printed = autograd_student
    assert "Self-check: Automatic differentiation" in printed and "Total: 0/60" in printed
    python = str(folder / ".venv" / "bin" / "python")
    modules = run([python, "-c", "import importlib.util as u; print([m for m in ('reference', 'torch', 'grader.release', "
                   "'grader.recorded.recorder', 'grader.mutants') if u.find_spec(m)])"], cwd=folder).stdout.strip()
    assert modules == "[]", "the student's install holds no oracle, no instructor tool, and (numpy assignment) no torch"
    commands = run([str(folder / ".venv" / "bin" / "grader"), "--help"], cwd=folder).stdout
    assert "check" in commands and "grade" not in commands.split("Commands:")[1] and "release" not in commands


def test_the_self_check_gives_the_recorded_examples_and_mutants_what_grading_gives(autograd_student, tmp_path):
    report, folder, _ = autograd_student
    student_files = report.assignment.student_files
    labels = ["alice_correct", *sorted(label for label in report.expectations.submissions
                                       if label.startswith("mutant-"))[:3], "bob_sigmoid_input"]
    for label in labels:
        source = (EXAMPLES / "autograd" / label) if (EXAMPLES / "autograd" / label).is_dir() else None
        if source is None:
            from grader.mutants import load_mutants, write_mutant

            mutant = next(m for m in load_mutants(report.assignment) if m.submission_id == label)
            source = write_mutant(report.assignment, mutant, tmp_path / "mutants")
        checked = check(folder, files_of(source, student_files))
        graded = report.expectations.results[label]
        assert outcome(checked["tests"]) == outcome(graded.tests), label
        assert [test["message"] for test in checked["tests"]] == [test.message for test in graded.tests], label


@pytest.mark.parametrize("variant", sorted(UNSEEN["autograd"]))
def test_the_self_check_judges_submissions_the_release_never_saw(autograd_student, tmp_path, variant):
    report, folder, _ = autograd_student
    find, replace = UNSEEN["autograd"][variant]
    solution = (report.assignment.root / "solution" / "ops.py").read_text()
    assert solution.count(find) == 1
    files = {"ops.py": solution.replace(find, replace).encode()}
    checked = check(folder, files)
    graded = graded_public("autograd", files, tmp_path)
    assert not [test for test in graded.tests if test.status == "error"], [test.message for test in graded.tests][:2]
    assert graded.total < graded.possible, "the variant must be wrong, or the comparison proves little"
    assert not [test for test in checked["tests"] if test["status"] == "deferred"]
    assert outcome(checked["tests"]) == outcome(graded.tests)


def test_a_thief_in_the_student_install_finds_no_oracle(autograd_student, tmp_path):
    report, folder, _ = autograd_student
    thieves = write_thieves(tmp_path / "thieves", [str(REFERENCE / "ops.py")])
    secrets = secret_lines(list(REFERENCE.rglob("*.py")), [report.assignment.root / "starter" / "ops.py"])
    for thief in thieves:
        checked = check(folder, {"ops.py": (tmp_path / "thieves" / thief / "ops.py").read_bytes()})
        text = json.dumps(checked)
        assert checked["total"] == 0 and "ROUTE OPEN" not in text and leaked(text, secrets) == [], thief


def test_a_torch_bundle_set_up_word_for_word_checks_the_solution_full_marks(released, template, tmp_path):
    """The rnn bundle: CHECK.md installs PyTorch first (its .venv pre-seeded with the same release: already
    satisfied, no download), then the requirements; the solution passes every public test."""
    report, bundle = released("rnn")
    folder = student_copy(bundle, tmp_path / "rnn")
    copy_venv(template, folder / ".venv")
    printed = set_up(folder)
    assert "Total: 0/60" in printed
    checked = check(folder, files_of(report.assignment.root / "solution", report.assignment.student_files))
    assert checked["total"] == checked["possible"] == 60, checked["score_line"]


def test_nothing_in_a_bundle_recovers_an_oracle(released):
    """Unzip the bundle's wheel and read its expectations: no module, bytecode, pickle or code line of reference."""
    report, bundle = released("autograd")
    wheels = list(bundle.glob(".grader/*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as archive:
        members = archive.namelist()
        texts = {member: archive.read(member).decode("utf-8", "replace") for member in members}
    assert not [m for m in members if m.startswith("reference/") or m.endswith((".pyc", ".pkl"))]
    assert not [m for m in members if m.split("/")[-1] in ("recorder.py", "release.py", "mutants.py", "validate.py")]
    assert "grader/_data/" not in "".join(members)
    with np.load(bundle / ".grader" / "expectations" / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)
    texts["calls.json"] = (bundle / ".grader" / "expectations" / "calls.json").read_text()
    for path in bundle.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".md", ".toml", ".yml", ".txt"):
            texts[path.relative_to(bundle).as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    public = {line.strip() for path in report.assignment.root.rglob("*") if path.is_file() and path.suffix in (".py", ".md")
              and "solution" not in path.parts and "hidden" not in path.name for line in path.read_text().splitlines()}
    # The package __init__ modules hold the catalogue's registry, whose API (get, shadowing, Mistake.evaluate) the
    # replay offers under the same names by design; the oracles and the mistakes' code are in the other modules.
    for module in (path for path in REFERENCE.rglob("*.py") if path.name != "__init__.py"):
        code = [line.strip() for line in module.read_text().splitlines()
                if len(line.strip()) >= 50 and line.strip().startswith(("def ", "return ", "for ", "if ", "y = "))
                and line.strip() not in public]
        for name, text in texts.items():
            copied = [line for line in code if line in text]
            assert len(copied) < 2, f"{name} holds code of {module.name}: {copied[:2]}"
