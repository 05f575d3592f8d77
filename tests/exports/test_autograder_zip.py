"""Tests of ``grader gradescope``: the autograder zip, and its run_autograder on a fake /autograder tree.

Gradescope unpacks the zip into /autograder/source, copies run_autograder to
/autograder/run_autograder, puts the submission in /autograder/submission and
reads /autograder/results/results.json. The tests build that tree in a
temporary folder (GRADER_GRADESCOPE_ROOT) and run the script with this
environment's Python (GRADER_GRADESCOPE_PYTHON) instead of setup.sh's venv.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader.batch import grade_batch
from grader.cli import main
from grader.errors import InstructorError
from grader.exports.autograder import seed_id_from_metadata, student_id_from_metadata
from grader.exports.autograder_zip import build_autograder_zip
from grader.importers.gradescope import seed_identity

from ..grader.conftest import CORRECT_TOY
from ..grader.test_validate import SEED_SALT, make_toy_assignment
from .gradescope_schema import validate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PARTLY_WRONG = CORRECT_TOY.replace("return x * factor", "return x + factor")


def run_cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader")


@pytest.fixture
def toy(tmp_path) -> Path:
    return make_toy_assignment(tmp_path / "toy")


@pytest.fixture
def autograder_zip(toy, tmp_path) -> Path:
    out = tmp_path / "autograder.zip"
    build_autograder_zip(toy, out)
    return out


def fake_autograder(zip_path: Path, root: Path, files: dict[str, str], metadata: dict | None = None) -> Path:
    """The /autograder tree Gradescope makes: source/ (the zip), run_autograder, submission/, metadata."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return root


def run_autograder(root: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "GRADER_SEED_SECRET")}
    env.update(GRADER_GRADESCOPE_ROOT=str(root), GRADER_GRADESCOPE_PYTHON=sys.executable)
    return subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300,
                          cwd=root.parent)


# -- the zip -----------------------------------------------------------------------------------

def test_zip_holds_the_scripts_at_the_root_the_tests_hidden_ones_included_and_no_solution(toy, autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = archive.namelist()
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}
        config = archive.read("assignment/assignment.toml").decode()
        settings = json.loads(archive.read("grader-gradescope.json"))

    assert {"setup.sh", "run_autograder"} <= set(names)
    assert (modes["setup.sh"], modes["run_autograder"], modes["assignment/tests/test_hidden.py"]) == (0o755, 0o755, 0o644)
    assert {"assignment/tests/test_public.py", "assignment/tests/test_hidden.py", "assignment/helpers.py",
            "nlm-grader/pyproject.toml", "nlm-grader/grader/runner.py", "nlm-grader/grader/exports/autograder.py",
            "nlm-grader/reference/rnn.py"} <= set(names)
    assert not [name for name in names if "solution" in name or "starter" in name or "__pycache__" in name]
    assert 'name = "toy"' in config and f'seed_salt = "{SEED_SALT}"' in config, "seeds as in the instructor's grading"
    assert {"solution", "starter"}.isdisjoint(tomllib.loads(config)["assignment"])
    assert settings == {"assignment": "assignment", "hidden_visibility": "hidden", "grader_version": settings["grader_version"],
                        "assignment_version": "1", "allow_unisolated": False}


def test_scripts_are_valid_bash_and_install_the_torch_asked_for(toy, tmp_path):
    out = tmp_path / "custom.zip"
    build_autograder_zip(toy, out, torch_spec="torch==2.5.1", torch_index="", hidden_visibility="after_published")

    with zipfile.ZipFile(out) as archive:
        archive.extractall(tmp_path / "unzipped")
    setup = (tmp_path / "unzipped" / "setup.sh").read_text()
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(tmp_path / "unzipped" / script)]).returncode == 0
    assert '"$ROOT/venv/bin/python" -m pip install torch==2.5.1\n' in setup, "an empty index: PyPI's"
    assert 'pip install "$ROOT/source/nlm-grader"' in setup
    assert 'ROOT="${GRADER_GRADESCOPE_ROOT:-/autograder}"' in (tmp_path / "unzipped" / "run_autograder").read_text()
    default = tmp_path / "default.zip"
    build_autograder_zip(toy, default)
    with zipfile.ZipFile(default) as archive:
        assert ("torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu\n"
                in archive.read("setup.sh").decode())


def test_the_same_assignment_gives_the_same_zip(toy, tmp_path):
    build_autograder_zip(toy, tmp_path / "one.zip")
    build_autograder_zip(toy, tmp_path / "two.zip")

    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_refusals(toy, tmp_path):
    with pytest.raises(InstructorError, match="is a folder; give the path of the zip to write"):
        build_autograder_zip(toy, tmp_path)
    with pytest.raises(InstructorError, match="--torch-spec: expected one line"):
        build_autograder_zip(toy, tmp_path / "a.zip", torch_spec="torch\nrm -rf /")
    assert not (tmp_path / "a.zip").exists()


def test_student_id_comes_from_the_submission_metadata(tmp_path):
    path = tmp_path / "submission_metadata.json"
    assert student_id_from_metadata(path) == "submission"
    path.write_text(json.dumps({"users": [{"email": "ann lee@x.edu", "id": 5}, {"email": "ben@x.edu"}]}))
    assert student_id_from_metadata(path) == "ann_lee@x.edu"
    path.write_text(json.dumps({"users": [{"id": 1234}]}))
    assert student_id_from_metadata(path) == "1234"
    path.write_text("[not json")
    assert student_id_from_metadata(path) == "submission"


def test_seed_identity_comes_from_the_metadata_as_the_export_importer_reads_it(tmp_path):
    path = tmp_path / "submission_metadata.json"
    assert seed_id_from_metadata(path) == "", "no metadata: seeded by the student id, as before"
    users = [{"email": "ben@x.edu", "id": 5, "sid": "S2"}, {"email": "Ann@X.edu", "id": 6, "sid": "S1"}]
    path.write_text(json.dumps({"id": 4321, "users": users}))
    assert (student_id_from_metadata(path), seed_id_from_metadata(path)) == ("ben@x.edu", "ann@x.edu")
    assert seed_id_from_metadata(path) == seed_identity(list(reversed(users)), "4321")
    path.write_text(json.dumps({"id": 4321, "users": [{"id": 5}]}))
    assert (student_id_from_metadata(path), seed_id_from_metadata(path)) == ("5", "4321"), "the account id is not in the export"


def test_cli_lists_the_files_and_json_says_the_points(toy, tmp_path):
    result = run_cli("gradescope", toy, tmp_path / "ag.zip")
    assert result.exit_code == 0, result.output
    assert "setup.sh: installs Python, PyTorch and the grader (run once)" in result.stdout
    assert result.stdout.rstrip().endswith(f"wrote {tmp_path / 'ag.zip'}: 8 tests, 13 points. Upload it on "
                                           "Gradescope under Configure Autograder (zip file upload).")

    result = run_cli("gradescope", toy, tmp_path / "ag.zip", "--format", "json")
    data = json.loads(result.stdout)
    assert (data["tests"], data["points"], data["by_visibility"]) == (8, 13.0, {"public": 6, "hidden": 1, "after_due_date": 1})


# -- running it --------------------------------------------------------------------------------

@pytest.mark.slow
def test_run_autograder_grades_like_grader_grade_and_writes_a_valid_results_json(toy, autograder_zip, tmp_path):
    root = fake_autograder(autograder_zip, tmp_path / "autograder", {"toy.py": PARTLY_WRONG},
                           {"users": [{"email": "alice@x.edu", "id": 1, "name": "Alice"}]})
    shipped = root / "source" / "nlm-grader" / "grader" / "__init__.py"
    shipped.write_text(shipped.read_text().replace('__version__ = "', '__version__ = "shipped-'))

    run = run_autograder(root)

    assert run.returncode == 0, run.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    validate(data)
    assert data["extra_data"]["grader_version"].startswith("shipped-"), "the grader in the zip ran, not this checkout"
    assert (data["score"], data["extra_data"]["student_id"]) == (12.0, "alice@x.edu")
    assert [test["visibility"] for test in data["tests"]] == ["visible"] * 6 + ["hidden", "after_due_date"]
    assert "alice@x.edu: 12/13 points, graded" in run.stdout

    submissions = tmp_path / "submissions"
    (submissions / "alice@x.edu").mkdir(parents=True)
    (submissions / "alice@x.edu" / "toy.py").write_text(PARTLY_WRONG)
    local = grade_batch(submissions, toy, tmp_path / "graded", jobs=1).results[0]
    assert [(test["name"], test["score"], test["output"]) for test in data["tests"]] == [
        (test.name, test.points, test.message) for test in local.tests], "the same grading, hidden inputs included"


@pytest.mark.slow
def test_missing_file_is_the_students_result_and_a_broken_zip_still_writes_results(autograder_zip, tmp_path):
    root = fake_autograder(autograder_zip, tmp_path / "autograder", {"notes.txt": "no code"})
    run = run_autograder(root)
    assert run.returncode == 0, run.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    validate(data)
    assert data["score"] == 0.0 and "Missing file(s): toy.py." in data["output"]

    broken = fake_autograder(autograder_zip, tmp_path / "broken", {"toy.py": CORRECT_TOY})
    shutil.rmtree(broken / "source" / "assignment")
    run = run_autograder(broken)
    assert run.returncode == 1 and "the autograder failed: AssignmentConfigError" in run.stderr
    data = json.loads((broken / "results" / "results.json").read_text())
    validate(data)
    assert data["output"].startswith("The autograder could not grade this submission, not because of your code.")
    assert "no such assignment folder" in data["extra_data"]["error"]
