"""The distribution: one wheel with grader, reference and the bundled data, never a solution or hidden test."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import grader
from grader.config import load_assignment
from grader.resources import assignments_dir, templates_dir

ROOT = Path(__file__).resolve().parents[2]


def test_data_folders_resolve_to_the_checkout():
    assert assignments_dir() == ROOT / "assignments"
    assert templates_dir() == ROOT / "templates"


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = out.glob("nlm_grader-*.whl")
    return zipfile.ZipFile(wheel).namelist()


@pytest.mark.slow
def test_wheel_carries_both_packages_the_data_and_the_console_script(wheel_names, tmp_path):
    names = wheel_names
    assert f"nlm_grader-{grader.__version__}.dist-info/entry_points.txt" in names
    for module in ("grader/cli.py", "grader/worker/server.py", "reference/rnn.py", "reference/ops.py"):
        assert module in names
    assert "grader/_data/assignments/rnn/assignment.toml" in names
    assert "grader/_data/assignments/rnn/tests/test_public.py" in names
    assert "grader/_data/assignments/rnn/starter/rnn.py" in names
    assert not any("__pycache__" in name for name in names)


@pytest.mark.slow
def test_wheel_holds_no_solution_and_no_hidden_test_of_any_bundled_assignment(wheel_names):
    names = set(wheel_names)
    for config in sorted(assignments_dir().glob("*/assignment.toml")):
        assignment = load_assignment(config.parent)
        secret = [*assignment.hidden_tests]
        if assignment.solution:
            solution = assignment.root / assignment.solution
            secret += [path.relative_to(assignment.root).as_posix() for path in solution.rglob("*") if path.is_file()]
        if (assignment.root / "mutants.toml").is_file():  # quotes the solution
            secret.append("mutants.toml")
        for relative in secret:
            assert f"grader/_data/assignments/{config.parent.name}/{relative}" not in names, (
                f"{config.parent.name}/{relative} would ship in the wheel: name hidden tests tests/test_hidden*.py, "
                "keep solutions in solution/ and mutants in mutants.toml"
            )
