"""No oracle, solution or hidden test is readable or importable by student code (invariant 8).

Thieves (:mod:`tests.sandbox.oracle_thieves`) grade beside an honest student on
every backend that claims file isolation; here the toolkit is this checkout's
editable install. ``tests/grader/test_installed.py`` runs the same thieves
against a wheel installed in a fresh venv, and the Gradescope tests against
the autograder zip. The rlimits backend, which cannot hide files, is refused.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import reference
from grader.batch import grade_batch
from grader.errors import InstructorError
from grader.results import load_result, result_path
from grader.sandbox.private import landlock_rules, private_paths
from grader.sandbox.probe import capabilities

from .oracle_thieves import leaked, secret_lines, write_thieves

ROOT = Path(__file__).resolve().parents[2]
AUTOGRAD = ROOT / "assignments" / "autograd"
REFERENCE = Path(reference.__file__).resolve().parent
SEED_SECRET = "s3cret-" + "7f1d9c2a"  # never written out whole in a file the thieves could read


def everything_shown(result) -> str:
    """What a submission's result carries that student code wrote: its output, every test message."""
    return "\n".join([result.output.stdout, result.output.stderr, result.message, *(test.message for test in result.tests)])


def oracle_secrets() -> set[str]:
    """Lines of the oracles, the catalogue, the solution and the hidden tests that nothing public holds."""
    files = [*REFERENCE.rglob("*.py"), AUTOGRAD / "solution" / "ops.py", AUTOGRAD / "tests" / "test_hidden.py"]
    public = [AUTOGRAD / "starter" / "ops.py", AUTOGRAD / "tests" / "test_public.py", AUTOGRAD / "README.md"]
    return secret_lines(files, public)


def known_paths() -> list[str]:
    """Where the secrets lie on this machine: a thief is told, as a student could guess them."""
    return [str(REFERENCE / "ops.py"), str(REFERENCE / "mistakes" / "ops.py"), str(AUTOGRAD / "solution" / "ops.py"),
            str(AUTOGRAD / "tests" / "test_hidden.py"), str(ROOT / "assignments" / "autograd" / "mutants.toml")]


def isolating_backends() -> list[str]:
    caps = capabilities()
    return [name for name, works in (("bwrap", caps.bwrap_works), ("landlock", caps.landlock_abi >= 1)) if works]


@pytest.mark.slow
@pytest.mark.parametrize("backend", isolating_backends())
def test_thieves_get_nothing_and_an_honest_student_full_marks(tmp_path, monkeypatch, backend):
    # The grader's own environment holds the seed secret: no route through /proc may show it.
    monkeypatch.setenv("GRADER_SEED_SECRET", SEED_SECRET)
    submissions = tmp_path / "subs"
    thieves = write_thieves(submissions, known_paths())
    (submissions / "honest").mkdir()
    shutil.copy(AUTOGRAD / "solution" / "ops.py", submissions / "honest" / "ops.py")
    out = tmp_path / "out"
    grade_batch(submissions, AUTOGRAD, out, jobs=2, sandbox=backend)
    honest = load_result(result_path(out, "honest"))
    assert honest.total == honest.possible == 100, honest.message  # the sandbox still runs real work
    secrets = oracle_secrets()
    for thief in thieves:
        result = load_result(result_path(out, thief))
        output = everything_shown(result)
        assert result.sandbox["backend"] == backend
        assert "ROUTE OPEN" not in output, output[-3000:]
        assert "MEM READABLE" not in output and "DEV READABLE" not in output
        assert SEED_SECRET not in output, f"{thief} read the grader's environment on {backend}"
        assert result.total == 0, f"{thief} scored {result.total} on {backend}"
        assert leaked(output, secrets) == [], f"{thief} printed oracle source on {backend}"
        assert "closed: import" in output or thief != "thief_imports"  # the route was really tried
        if thief == "thief_proc" and result.sandbox["limits"].get("uid") is None:
            assert "'CapEff:\\t0000000000000000'" in output, "a worker that keeps root keeps no capability"


def test_the_toolkit_install_and_an_editable_checkout_are_private():
    hidden = private_paths()
    assert str(REFERENCE) in hidden
    assert str(ROOT / "grader") in hidden
    assert str(ROOT) in hidden  # the editable checkout: assignments, solutions, hidden tests


def test_landlock_rules_leave_out_hidden_folders_but_keep_their_siblings(tmp_path):
    site = tmp_path / "site-packages"
    for name in ("numpy", "reference", "grader", "edugrad"):
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text("")
    (site / "six.py").write_text("")
    (site / "_nlm_grader.pth").write_text("/x\n")
    readable, listable = landlock_rules([str(tmp_path)], [str(site / "reference"), str(site / "grader"),
                                                          str(site / "_nlm_grader.pth")])
    assert sorted(readable) == sorted(str(site / name) for name in ("edugrad", "numpy", "six.py"))
    assert listable == [str(tmp_path), str(site)]


@pytest.mark.skipif(not capabilities().bwrap_works, reason="needs bubblewrap")
def test_a_system_wide_install_under_a_system_folder_is_blanked_in_the_view(tmp_path):
    """As after `pip install` into /usr/local: the oracles sit inside a folder the view shows whole."""
    import subprocess

    from grader.sandbox.private import bwrap_masks

    system = tmp_path / "usr"
    site = system / "local" / "lib" / "python3.11" / "site-packages"
    (site / "reference").mkdir(parents=True)
    (site / "reference" / "ops.py").write_text("SECRET = 1\n")
    (site / "numpy_stand_in.py").write_text("OK = 1\n")
    (site / "nlm_grader.pth").write_text("/somewhere\n")
    masks = bwrap_masks([str(system)], [str(site / "reference"), str(site / "nlm_grader.pth")])
    command = [capabilities().bwrap_path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--ro-bind", str(system), str(system), *masks, "sh", "-c",
               f"cat {site}/numpy_stand_in.py; ls -A {site}/reference; cat {site}/reference/ops.py {site}/nlm_grader.pth"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.stdout == "OK = 1\n"  # the neighbours stay, the hidden folder is empty, the .pth unreadable
    assert "SECRET" not in done.stdout + done.stderr


def test_a_link_to_a_folder_holding_hidden_paths_is_split_like_that_folder(tmp_path):
    """A venv's lib64 -> lib: a rule on the link would grant all of lib, the oracles included."""
    import os

    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for name in ("numpy", "reference"):
        (site / name).mkdir(parents=True)
    (tmp_path / "venv" / "lib64").symlink_to("lib")
    (tmp_path / "venv" / "bin").mkdir()
    readable, listable = landlock_rules([str(tmp_path / "venv")], [str(site / "reference")])
    assert str(site / "numpy") in readable and str(tmp_path / "venv" / "bin") in readable
    hidden = os.path.realpath(site / "reference")
    assert not [path for path in readable if hidden == os.path.realpath(path)
                or hidden.startswith(os.path.realpath(path) + os.sep)]


def test_a_hidden_folder_that_holds_a_read_root_keeps_the_root_readable(tmp_path):
    venv = tmp_path / "checkout" / ".venv"
    venv.mkdir(parents=True)
    readable, listable = landlock_rules([str(venv)], [str(tmp_path / "checkout")])
    assert readable == [str(venv)] and listable == []


@pytest.mark.skipif(not isolating_backends(), reason="needs a backend with file isolation to compare")
def test_the_rlimits_backend_is_refused_without_the_flag_that_names_the_risk(tmp_path):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    with pytest.raises(InstructorError, match="--unsafe-students-can-read-solutions"):
        grade_batch(tmp_path / "subs", AUTOGRAD, tmp_path / "out", sandbox="rlimits")
    assert not (tmp_path / "out" / "alice").exists()


@pytest.mark.slow
def test_with_the_flag_every_report_and_export_says_files_were_not_isolated(tmp_path):
    from grader.exports.canvas import canvas_export
    from grader.exports.gradescope import results_json
    from grader.exports.junit import junit_bytes
    from grader.manifest import load_graded_folder
    from grader.report import write_reports

    (tmp_path / "subs" / "alice").mkdir(parents=True)
    shutil.copy(AUTOGRAD / "starter" / "ops.py", tmp_path / "subs" / "alice" / "ops.py")
    out = tmp_path / "out"
    grade_batch(tmp_path / "subs", AUTOGRAD, out, jobs=1, sandbox="rlimits", allow_unisolated=True)
    result = load_result(result_path(out, "alice"))
    assert result.sandbox["file_isolation"] is False and not result.file_isolated
    assert "without file isolation" in result.message
    grades = (out / "grades.csv").read_text(encoding="utf-8")
    assert grades.splitlines()[0].endswith(",caveats") and "without file isolation" in grades
    folder = load_graded_folder(out)
    reports = write_reports(folder)
    assert "Graded without file isolation" in reports.index.read_text(encoding="utf-8")
    assert "Graded without file isolation" in (out / "alice" / "report.html").read_text(encoding="utf-8")
    assert results_json(result)["extra_data"]["file_isolation"] is False
    assert b'name="caveat"' in junit_bytes([result])
    assert any("without file isolation" in note for note in canvas_export(folder).notes())


def test_copies_in_the_package_folders_of_the_views_roots_are_private(tmp_path):
    """A venv's base interpreter (a pyenv, /usr/local) may hold an older install of the toolkit: hidden too."""
    site = tmp_path / "base" / "lib" / "python3.11" / "site-packages"
    for package, marker in (("reference", "mistakes"), ("grader", "sandbox")):
        (site / package / marker).mkdir(parents=True)
    (site / "nlm_grader-0.0.9.dist-info").mkdir()
    other = tmp_path / "other" / "lib" / "python3.11" / "site-packages" / "grader"  # somebody else's "grader"
    other.mkdir(parents=True)
    hidden = private_paths(roots=[str(tmp_path / "base"), str(tmp_path / "other")])
    assert {str(site / "reference"), str(site / "grader"), str(site / "nlm_grader-0.0.9.dist-info")} <= set(hidden)
    assert str(other) not in hidden
