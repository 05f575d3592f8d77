"""Builders of every submission layout, made by the tests from the toy fixtures (no real student data).

The same three students appear in every layout: Jane Smith hands in the
correct ``toy.py``, John Doe a wrong one, Zoe Zed nothing (except in the
Gradescope export, where she is in Jane's group). :data:`ROSTER` knows them all.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nbformat
import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TOY_ASSIGNMENT = FIXTURES / "assignments" / "toy"
CORRECT = (FIXTURES / "submissions" / "toy" / "correct" / "toy.py").read_text()
WRONG = (FIXTURES / "submissions" / "toy" / "wrong" / "toy.py").read_text()
STUDENT_FILES = ["toy.py"]
ROSTER = ("id,name,email,canvas_id,sis_user_id,sis_login_id,section\n"
          "jane,Jane Smith,jane@uni.example,101,S1,jsmith,A\n"
          "john,John Doe,john@uni.example,102,S2,jdoe,B\n"
          "zoe,Zoe Zed,zoe@uni.example,103,S3,zzed,A\n")
SHA_JANE = "1" * 40
SHA_JOHN = "2" * 40


def notebook_bytes(*cells: str) -> bytes:
    """A notebook whose code cells are ``cells``, with a markdown cell first."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# My work")] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(notebook).encode("utf-8")


def make_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def build_canvas(root: Path) -> Path:
    """Jane: late, her toy.py renamed toy-1.py by Canvas; John: toy.py and a readme."""
    root.mkdir(parents=True)
    (root / "smithjane_LATE_101_5001_toy-1.py").write_text(CORRECT)
    (root / "doejohn_102_5002_toy.py").write_text(WRONG)
    (root / "doejohn_102_5003_README.txt").write_text("my notes")
    return root


def build_gradescope(root: Path) -> Path:
    """submission_900: Jane and Zoe as a group; submission_901: John. Ruby-symbol metadata."""
    (root / "submission_900").mkdir(parents=True)
    (root / "submission_900" / "toy.py").write_text(CORRECT)
    (root / "submission_901").mkdir()
    (root / "submission_901" / "toy.py").write_text(WRONG)
    (root / "submission_metadata.yml").write_text(
        "submission_900:\n"
        "  :submitters:\n"
        "  - :name: Jane Smith\n    :sid: S1\n    :email: jane@uni.example\n"
        "  - :name: Zoe Zed\n    :sid: S3\n    :email: zoe@uni.example\n"
        "  :created_at: 2026-11-01 10:00:00.000000000 -08:00\n"
        "  :score: 0.0\n"
        "submission_901:\n"
        "  :submitters:\n"
        "  - :name: John Doe\n    :sid: S2\n    :email: john@uni.example\n"
        "  :created_at: 2026-11-02 09:30:00.000000000 -08:00\n"
        "  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n    score: 0\n")
    return root


def build_moodle(root: Path) -> Path:
    """Jane's folder holds toy.py; John handed in a notebook and an online text."""
    jane = root / "Jane Smith_301_assignsubmission_file_"
    jane.mkdir(parents=True)
    (jane / "toy.py").write_text(CORRECT)
    john = root / "John Doe_302_assignsubmission_file_"
    john.mkdir()
    (john / "toy.ipynb").write_bytes(notebook_bytes("%matplotlib inline\n" + WRONG, "!pip install numpy"))
    text = root / "John Doe_302_assignsubmission_onlinetext_"
    text.mkdir()
    (text / "onlinetext.html").write_text("<p>see my notebook</p>")
    return root


def build_blackboard(root: Path) -> Path:
    """jsmith: a wrong first attempt, then the correct one; jdoe: one attempt. Receipts for each."""
    root.mkdir(parents=True)
    attempts = [("jsmith", "Jane Smith", "2026-01-10-09-00-00", WRONG), ("jsmith", "Jane Smith", "2026-01-11-09-00-00", CORRECT),
                ("jdoe", "John Doe", "2026-01-10-10-00-00", WRONG)]
    for user, name, stamp, code in attempts:
        stored = f"HW_1_{user}_attempt_{stamp}_toy.py"
        (root / stored).write_text(code)
        (root / f"HW_1_{user}_attempt_{stamp}.txt").write_text(
            f"Name: {name} ({user})\nAssignment: HW 1\nDate Submitted: {stamp}\n\nFiles:\n"
            f"\tOriginal filename: toy.py\n\tFilename: {stored}\n")
    return root


def build_classroom(root: Path) -> Path:
    """hw1-jsmith on branch main (a loose ref), hw1-jdoe on master (packed refs)."""
    for user, code, sha, branch, packed in (("jsmith", CORRECT, SHA_JANE, "main", False),
                                            ("jdoe", WRONG, SHA_JOHN, "master", True)):
        repo = root / f"hw1-{user}"
        (repo / ".git" / "refs" / "heads").mkdir(parents=True)
        (repo / "toy.py").write_text(code)
        (repo / ".git" / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
        (repo / ".git" / "config").write_text("[core]\n")
        if packed:
            (repo / ".git" / "packed-refs").write_text(f"# pack-refs with: peeled\n{sha} refs/heads/{branch}\n")
        else:
            (repo / ".git" / "refs" / "heads" / branch).write_text(sha + "\n")
    return root


def build_folder(root: Path) -> Path:
    """jane/toy.py and john.zip."""
    (root / "jane").mkdir(parents=True)
    (root / "jane" / "toy.py").write_text(CORRECT)
    make_zip(root / "john.zip", {"toy.py": WRONG})
    return root


BUILDERS = {"canvas": build_canvas, "gradescope": build_gradescope, "moodle": build_moodle,
            "blackboard": build_blackboard, "classroom": build_classroom, "folder": build_folder}


@pytest.fixture
def roster_file(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER)
    return path


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
