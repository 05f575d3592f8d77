"""Session fixtures of the deployment tests: the wheel, a PyTorch template venv, an instructor's venv."""
from __future__ import annotations

import pytest

from ..released import released  # noqa: F401 - a fixture
from .venvs import build_wheel, copy_venv, run, torch_template


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    return torch_template(tmp_path_factory.mktemp("template") / "venv")


@pytest.fixture(scope="session")
def instructor(tmp_path_factory, template, wheel):
    """A fresh venv with PyTorch and the built wheel (with Dask), as an instructor installs the toolkit."""
    path = tmp_path_factory.mktemp("instructor") / "venv"
    python = copy_venv(template, path)
    run([str(python), "-m", "pip", "install", "--quiet", f"{wheel}[dask]"])
    return path
