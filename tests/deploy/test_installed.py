"""The oracles stay with the instructor wherever the toolkit is installed (invariant 8).

An instructor's install is a wheel in a fresh venv (``pip wheel --no-deps .``),
not this checkout: ``reference`` and ``grader`` sit in the venv's
site-packages, which the sandbox shows to student code. Thieves
(:mod:`tests.sandbox.oracle_thieves`) graded from there, on every backend that
claims file isolation, through a Dask worker's own install (``--cluster
local``) and in a simulated Gradescope ``/autograder``, get no points and
print no oracle source; an honest student beside them gets full marks.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ..sandbox.oracle_thieves import leaked, secret_lines, write_thieves
from ..sandbox.test_oracle_access import AUTOGRAD, SEED_SECRET, isolating_backends, known_paths
from .venvs import copy_venv, run

pytestmark = pytest.mark.slow


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def installed_secrets(venv: Path) -> tuple[list[str], set[str]]:
    """Where an installed copy keeps the oracles, and their distinctive lines (with the solution's and hidden tests')."""
    site = site_packages(venv)
    files = [*(site / "reference").rglob("*.py"), AUTOGRAD / "solution" / "ops.py", AUTOGRAD / "tests" / "test_hidden.py"]
    public = [AUTOGRAD / "starter" / "ops.py", AUTOGRAD / "tests" / "test_public.py", AUTOGRAD / "README.md"]
    paths = [*known_paths(), str(site / "reference" / "ops.py"), str(site / "reference" / "mistakes" / "ops.py"),
             str(site / "grader" / "_data" / "assignments" / "autograd" / "tests" / "test_public.py")]
    return paths, secret_lines(files, public)


def submissions(folder: Path, paths: list[str]) -> list[str]:
    thieves = write_thieves(folder, paths)
    (folder / "honest").mkdir()
    shutil.copy(AUTOGRAD / "solution" / "ops.py", folder / "honest" / "ops.py")
    return thieves


def shown(result: dict) -> str:
    output = result.get("output", {})
    return "\n".join([output.get("stdout", ""), output.get("stderr", ""), result.get("message", ""),
                      *(test.get("message", "") for test in result.get("tests", []))])


def assert_thieves_got_nothing(out: Path, thieves: list[str], secrets: set[str], where: str) -> None:
    honest = json.loads((out / "honest" / "result.json").read_text())
    assert honest["total"] == honest["possible"] == 100, f"{where}: the honest student: {honest['message']}"
    for thief in thieves:
        result = json.loads((out / thief / "result.json").read_text())
        text = shown(result)
        assert result["total"] == 0, f"{where}: {thief} scored {result['total']}"
        assert "ROUTE OPEN" not in text and SEED_SECRET not in text, f"{where}: {thief}"
        assert leaked(text, secrets) == [], f"{where}: {thief} got oracle source"


def test_the_installed_toolkit_lives_in_site_packages_not_in_this_checkout(instructor):
    done = run([str(instructor / "bin" / "python"), "-c", "import grader, reference; print(grader.__file__); "
                "print(reference.__file__)"], cwd=instructor.parent)
    assert all(str(site_packages(instructor)) in line for line in done.stdout.split())


@pytest.mark.parametrize("backend", isolating_backends())
def test_thieves_graded_by_an_installed_grader_get_nothing(instructor, tmp_path, backend):
    paths, secrets = installed_secrets(instructor)
    thieves = submissions(tmp_path / "subs", paths)
    run([str(instructor / "bin" / "grader"), "grade", str(tmp_path / "subs"), "-a", str(AUTOGRAD), "-o",
         str(tmp_path / "out"), "--sandbox", backend, "-j", "2", "--format", "json"], cwd=tmp_path,
        env={"GRADER_SEED_SECRET": SEED_SECRET})
    assert_thieves_got_nothing(tmp_path / "out", thieves, secrets, f"installed, {backend}")


def test_thieves_graded_on_a_dask_workers_own_install_get_nothing(instructor, tmp_path):
    paths, secrets = installed_secrets(instructor)
    thieves = submissions(tmp_path / "subs", paths)
    run([str(instructor / "bin" / "grader"), "grade", str(tmp_path / "subs"), "-a", str(AUTOGRAD), "-o",
         str(tmp_path / "out"), "--cluster", "local", "-j", "2", "--format", "json"], cwd=tmp_path,
        env={"GRADER_SEED_SECRET": SEED_SECRET})
    assert_thieves_got_nothing(tmp_path / "out", thieves, secrets, "--cluster local")


def test_the_rlimits_backend_is_refused_by_an_installed_grader(instructor, tmp_path):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    done = run([str(instructor / "bin" / "grader"), "grade", str(tmp_path / "subs"), "-a", str(AUTOGRAD), "-o",
                str(tmp_path / "out"), "--sandbox", "rlimits"], cwd=tmp_path, check=False)
    assert done.returncode == 1 and "--unsafe-students-can-read-solutions" in done.stderr


def test_thieves_on_the_gradescope_autograder_get_nothing(instructor, template, tmp_path):
    """The zip, unpacked into a simulated /autograder, set up by its own setup.sh, run by run_autograder."""
    zip_path = tmp_path / "autograder.zip"
    run([str(instructor / "bin" / "grader"), "gradescope", str(AUTOGRAD), str(zip_path)], cwd=tmp_path)
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    shutil.unpack_archive(zip_path, root / "source")
    # Gradescope's image: apt-get works there (a stand-in here); PyTorch comes from the template (same version).
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "apt-get").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "apt-get").chmod(0o755)
    copy_venv(template, root / "venv")
    env = {"GRADER_GRADESCOPE_ROOT": str(root), "PATH": f"{fake_bin}:{Path(run(['which', 'python3']).stdout.strip()).parent}"
           ":/usr/local/bin:/usr/bin:/bin"}
    run(["bash", str(root / "source" / "setup.sh")], cwd=root / "source", env=env)
    paths, secrets = installed_secrets(root / "venv")
    secrets |= secret_lines([root / "source" / "assignment" / "tests" / "test_hidden.py"],
                            [AUTOGRAD / "tests" / "test_public.py"])
    paths += [str(root / "source" / "assignment" / "tests" / "test_hidden.py")]
    students = tmp_path / "subs"
    thieves = submissions(students, paths)
    for student in [*thieves, "honest"]:
        shutil.rmtree(root / "submission", ignore_errors=True)
        shutil.copytree(students / student, root / "submission")
        (root / "submission_metadata.json").write_text(json.dumps(
            {"id": 1, "users": [{"email": f"{student}@example.org", "name": student, "sid": student}]}))
        shutil.rmtree(root / "results", ignore_errors=True)
        run(["bash", str(root / "source" / "run_autograder")], cwd=root, env={**env, "GRADER_SEED_SECRET": SEED_SECRET})
        results = json.loads((root / "results" / "results.json").read_text())
        text = json.dumps(results)
        if student == "honest":
            assert results["score"] == 100, text[:2000]
            continue
        assert results["score"] == 0, f"{student} scored {results['score']} on Gradescope"
        assert leaked(text, secrets) == [] and "ROUTE OPEN" not in text, f"{student} got oracle source on Gradescope"
