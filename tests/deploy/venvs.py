"""Fresh virtual environments for the deployment tests: the toolkit as users install it, not this checkout.

PyTorch is the slow part of every install (about a minute and a half), so it
is installed once into a template venv that the tests copy with hard links
(``cp -al``: no file is written twice, and pip only ever replaces files). A
copy is used through its own ``bin/python``: the template's scripts name the
template's interpreter in their first line.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def run(command: list[str] | str, cwd: Path | None = None, env: dict | None = None, timeout: float = 900,
        check: bool = True, shell: bool = False) -> subprocess.CompletedProcess:
    """Run a command; on failure, raise with its output (what a test needs to say why)."""
    environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **(env or {})}
    for name in ("PYTHONPATH", "VIRTUAL_ENV"):  # the test runner's own environment must not leak in
        environment.pop(name, None)
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout,
                          shell=shell, executable="/bin/bash" if shell else None)
    if check and done.returncode != 0:
        raise AssertionError(f"{command!r} exited {done.returncode}\n--- stdout\n{done.stdout[-6000:]}\n"
                             f"--- stderr\n{done.stderr[-6000:]}")
    return done


def new_venv(path: Path) -> Path:
    """A new, empty virtual environment from the interpreter the tests run on; its python."""
    run([BASE_PYTHON, "-m", "venv", str(path)])
    return path / "bin" / "python"


def torch_template(path: Path) -> Path:
    """A venv holding only PyTorch (the CPU build these machines carry)."""
    python = new_venv(path)
    run([str(python), "-m", "pip", "install", "--quiet", TORCH_SPEC])
    return path


def copy_venv(template: Path, path: Path) -> Path:
    """A venv with everything ``template`` holds, by hard links; its python."""
    run(["cp", "-al", str(template), str(path)])
    config = path / "pyvenv.cfg"
    config.write_text(config.read_text().replace(str(template), str(path)))
    return path / "bin" / "python"


def build_wheel(out: Path) -> Path:
    """``pip wheel --no-deps .`` of this checkout: the nlm-grader an instructor installs."""
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)])
    return next(out.glob("nlm_grader-*.whl"))
