"""Hostile and broken input at import time: class archives, nested zips, odd names, bad notebooks."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from grader.errors import BadArchiveError, InstructorError, SubmissionError, UnsafeArchiveError
from grader.importers.driver import import_submissions
from grader.importers.notebook import NotebookError, notebook_to_module
from grader.ingest import IngestLimits, SubmissionSource, prepare_workspace

from .conftest import BUILDERS, CORRECT, STUDENT_FILES, WRONG, make_zip, notebook_bytes


def zip_of_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(folder).as_posix())
    return archive


def link_member(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info, target.encode()


def test_a_bulk_download_zip_is_extracted_detected_and_its_student_zips_stay_whole(tmp_path):
    folder = BUILDERS["canvas"](tmp_path / "download")
    make_zip(folder / "doejane_103_5010_work.zip", {"hw/toy.py": CORRECT})
    archive = zip_of_folder(folder, tmp_path / "submissions.zip")

    report = import_submissions(archive, STUDENT_FILES, work_dir=tmp_path / "work")

    assert report.layout == "canvas"
    assert report.notes[0] == f"extracted submissions.zip (4 files) into {tmp_path / 'work' / 'submissions'}"
    nested = next(source for source in report.sources if source.student_id == "doejane_103")
    assert nested.kind == "zip"
    workspace = prepare_workspace(nested, tmp_path / "ws", STUDENT_FILES)
    assert (workspace.root / "toy.py").read_text() == CORRECT
    assert "found toy.py in sub-folder hw/; used it as the workspace root" in workspace.notes


@pytest.mark.parametrize("member, problem", [
    (("../escape.py", b"x"), "points outside the archive"),
    (("/etc/cron.d/x", b"x"), "has an absolute path"),
    (link_member("smithjane_101_1_toy.py", "/etc/passwd"), "is a symbolic link"),
])
def test_a_hostile_bulk_download_is_refused_as_a_whole_naming_the_member(tmp_path, member, problem):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("doejohn_102_5002_toy.py", WRONG)
        out.writestr(*member)

    with pytest.raises(InstructorError, match=f"submissions.zip: cannot be used as an archive of submissions: .*{problem}"):
        import_submissions(archive, STUDENT_FILES, work_dir=tmp_path / "work")
    assert not any((tmp_path / "work").rglob("*.py"))


def test_a_broken_bulk_download_is_an_instructor_error(tmp_path):
    archive = tmp_path / "submissions.zip"
    archive.write_bytes(b"PK\x03\x04 truncated")

    with pytest.raises(InstructorError, match="submissions.zip: cannot be used .*truncated or damaged zip"):
        import_submissions(archive, STUDENT_FILES, work_dir=tmp_path / "work")


def test_a_zip_inside_a_student_zip_is_extracted_one_level_only(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as deeper_zip:
        deeper_zip.writestr("deep.txt", "deep")
    middle = io.BytesIO()
    with zipfile.ZipFile(middle, "w") as middle_zip:
        middle_zip.writestr("toy.py", CORRECT)
        middle_zip.writestr("deeper.zip", inner.getvalue())
    archive = make_zip(tmp_path / "alice.zip", {"code.zip": middle.getvalue(), "readme.txt": "hi"})

    workspace = prepare_workspace(SubmissionSource("alice", archive, "zip"), tmp_path / "ws", STUDENT_FILES)

    assert sorted(workspace.files) == ["deeper.zip", "toy.py"]  # code/ holds toy.py: it became the root
    assert "extracted the zip code.zip inside the submission into code/" in workspace.notes
    assert "kept code/deeper.zip as a file: only one level of zips inside a zip is extracted" in workspace.notes


def test_a_zip_bomb_inside_a_student_zip_is_refused(tmp_path):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as bomb_zip:
        bomb_zip.writestr("zeros.bin", bytes(8 * 1024 * 1024))
    archive = make_zip(tmp_path / "alice.zip", {"toy.py": CORRECT, "data.zip": bomb.getvalue()})
    limits = IngestLimits(max_compression_ratio=50)

    with pytest.raises(UnsafeArchiveError, match=r"alice.zip: data.zip: member 'zeros.bin' expands \d+:1"):
        prepare_workspace(SubmissionSource("alice", archive, "zip"), tmp_path / "ws", STUDENT_FILES, limits)
    assert not any((tmp_path / "ws").iterdir())


def test_nested_zips_count_against_the_same_file_limit(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as inner_zip:
        for index in range(4):  # 4 members pass alone; with the outer 2 they are 6
            inner_zip.writestr(f"f{index}.txt", "x")
    archive = make_zip(tmp_path / "alice.zip", {"toy.py": CORRECT, "more.zip": inner.getvalue()})

    with pytest.raises(UnsafeArchiveError, match="more than 5 files and folders"):
        prepare_workspace(SubmissionSource("alice", archive, "zip"), tmp_path / "ws", STUDENT_FILES,
                          IngestLimits(max_files=5))


def test_a_member_name_marked_utf8_that_is_not_is_a_bad_archive(tmp_path):
    archive = make_zip(tmp_path / "alice.zip", {"toy.py": CORRECT, "caf\u00e9.txt": "x"})
    data = bytearray(archive.read_bytes())
    encoded = "caf\u00e9.txt".encode("utf-8")
    broken = b"caf\xff\xfe.txt"
    archive.write_bytes(bytes(data).replace(encoded, broken))

    with pytest.raises(BadArchiveError, match="alice.zip: a member name is marked UTF-8 but is not"):
        prepare_workspace(SubmissionSource("alice", archive, "zip"), tmp_path / "ws", STUDENT_FILES)


def test_file_names_that_are_not_utf8_on_disk_are_renamed_with_a_note(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "toy.py").write_text(CORRECT)
    try:
        (folder / os.fsdecode(b"r\xe9sum\xe9.txt")).write_text("cv")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")

    workspace = prepare_workspace(SubmissionSource("alice", folder, "folder"), tmp_path / "ws", STUDENT_FILES)

    assert sorted(workspace.files) == ["résumé.txt", "toy.py"]
    assert "renamed b'r\\xe9sum\\xe9.txt' to 'résumé.txt': the name was not UTF-8" in workspace.notes


def test_two_files_of_a_student_zip_claiming_one_name_are_a_clear_error(tmp_path):
    archive = tmp_path / "download"
    archive.mkdir()
    make_zip(archive / "doejohn_102_5002_a.zip", {"toy.py": WRONG})
    (archive / "doejohn_102_5003_toy.py").write_text(CORRECT)

    report = import_submissions(archive, STUDENT_FILES, work_dir=tmp_path / "work")

    (john,) = report.sources
    assert john.submitted.notes == ("extracted doejohn_102_5002_a.zip into a/", "doejohn_102_5003_toy.py graded as toy.py")
    assert sorted(p.relative_to(john.path).as_posix() for p in john.path.rglob("*") if p.is_file()) == ["a/toy.py", "toy.py"]


@pytest.mark.parametrize("content, reason", [
    (b"{ not json", "not a readable notebook: "),
    (b"\xff\xfe\x00garbage", "not a readable notebook: not UTF-8 text"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 3}', "not a readable notebook"),
])
def test_an_unreadable_notebook_is_that_students_error(tmp_path, content, reason):
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "toy.ipynb").write_bytes(content)

    with pytest.raises(NotebookError, match=f"^toy.ipynb: {reason}"):
        prepare_workspace(SubmissionSource("alice", folder, "folder"), tmp_path / "ws", STUDENT_FILES)
    assert issubclass(NotebookError, SubmissionError)
    assert not any((tmp_path / "ws").iterdir())


def test_a_single_notebook_file_is_a_submission_and_becomes_the_module(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice_toy.ipynb").write_bytes(notebook_bytes(CORRECT))

    report = import_submissions(subs, STUDENT_FILES, work_dir=tmp_path / "work")

    (alice,) = report.sources
    assert (alice.student_id, alice.kind) == ("alice", "file")
    workspace = prepare_workspace(alice, tmp_path / "ws", STUDENT_FILES)
    assert workspace.missing_files == [] and sorted(workspace.files) == ["toy.ipynb", "toy.py"]
    assert workspace.notes == ["renamed alice_toy.ipynb to toy.ipynb",
                               "toy.ipynb was handed in for toy.py: its code cells became the module"]


def test_notebook_conversion_removes_ipython_lines_and_lists_each_removal():
    data = notebook_bytes("%matplotlib inline\nimport numpy as np\nfiles = !ls\nnp.sum?",
                          "x = (1\n     % 2)\nfor i in range(2):\n    %time print(i)",
                          "%%bash\necho hi", "%%time\ny = 2")

    module, notes = notebook_to_module(data, "toy.ipynb")

    compile(module, "toy.py", "exec")
    assert "x = (1\n     % 2)" in module and "echo hi" not in module and "y = 2" in module
    assert notes == [
        "toy.ipynb, code cell 1, line 1: removed magic `%matplotlib inline`",
        "toy.ipynb, code cell 1, line 3: removed shell or magic assignment `files = !ls`",
        "toy.ipynb, code cell 1, line 4: removed help lookup `np.sum?`",
        "toy.ipynb, code cell 2, line 4: removed magic `%time print(i)`",
        "toy.ipynb, code cell 3: removed the whole cell (cell magic `%%bash`)",
        "toy.ipynb, code cell 4, line 1: removed cell magic `%%time`",
    ]
