"""The distribution: one wheel with grader, reference and the bundled data."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import grader
from grader.resources import assignments_dir, templates_dir

ROOT = Path(__file__).resolve().parents[2]


def test_data_folders_resolve_to_the_checkout():
    assert assignments_dir() == ROOT / "assignments"
    assert templates_dir() == ROOT / "templates"


@pytest.mark.slow
def test_wheel_carries_both_packages_the_data_and_the_console_script(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("nlm_grader-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert f"nlm_grader-{grader.__version__}.dist-info/entry_points.txt" in names
    entry_points = zipfile.ZipFile(wheel).read(f"nlm_grader-{grader.__version__}.dist-info/entry_points.txt").decode()
    assert "grader = grader.cli:main" in entry_points
    for module in ("grader/cli.py", "grader/worker/server.py", "reference/rnn.py", "reference/ops.py"):
        assert module in names
    bundled = [name for name in names if name.startswith("grader/_data/assignments/")]
    assert any(name.endswith("/assignment.toml") for name in bundled)
    assert not any("/tests/" in name and name.startswith("grader/_data/") and "__pycache__" in name for name in names)
    assert any(name.startswith("grader/_data/templates/") for name in names)
