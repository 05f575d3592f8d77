"""Tests of grader.ingest: discovery, workspaces, hashing and every unsafe-zip case."""
from __future__ import annotations

import contextlib
import os
import struct
import zipfile
from pathlib import Path

import pytest

from grader import ingest, staging
from grader.errors import (BadArchiveError, SubmissionError, SubmissionsFolderError,
                           UnsafeArchiveError)
from grader.ingest import (IngestLimits, SubmissionSource, discover_submissions, hash_tree,
                           ignored_entries, prepare_workspace, sanitise_student_id)

STUDENT_FILES = ["lm.py"]
LM = b"def perplexity(x):\n    return x\n"


def make_zip(path: Path, members: dict, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Write a zip whose members are ``name -> bytes`` (a ZipInfo as key keeps its attributes)."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def zip_source(path: Path) -> SubmissionSource:
    return SubmissionSource(path.stem, path, "zip")


def patch_headers(path: Path, local_offset: int, central_offset: int, fmt: str, update) -> None:
    """Rewrite one field of every local (PK\\3\\4) and central (PK\\1\\2) header."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        if offset is None:
            continue
        start = data.find(signature)
        while start != -1:
            (value,) = struct.unpack_from(fmt, data, start + offset)
            struct.pack_into(fmt, data, start + offset, update(value))
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


def files_under(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size
            for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


@pytest.fixture
def subs(tmp_path: Path) -> Path:
    folder = tmp_path / "submissions"
    folder.mkdir()
    return folder


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "work" / "ws"


@pytest.fixture(scope="module")
def bomb_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 MB of zeros deflated to about 100 KB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("zeros.bin", "w") as out:
        chunk = bytes(1 << 20)
        for _ in range(100):
            out.write(chunk)
    return path


# ----------------------------------------------------------------- discovery


def test_discovery_finds_folders_zips_and_single_student_files_sorted_by_id(subs: Path) -> None:
    (subs / "carol").mkdir()
    make_zip(subs / "bob.zip", {"lm.py": LM})
    (subs / "alice_lm.py").write_bytes(LM)
    (subs / "dave-lm.py").write_bytes(LM)
    (subs / "lm.py").write_bytes(LM)
    found = discover_submissions(subs, STUDENT_FILES)
    assert [(s.student_id, s.kind, s.path.name) for s in found] == [
        ("alice", "file", "alice_lm.py"), ("bob", "zip", "bob.zip"), ("carol", "folder", "carol"),
        ("dave", "file", "dave-lm.py"), ("lm", "file", "lm.py")]


def test_discovery_skips_hidden_entries_macosx_and_loose_files_and_reports_the_loose_ones(subs: Path) -> None:
    (subs / "alice").mkdir()
    (subs / ".DS_Store").write_bytes(b"x")
    (subs / ".hidden").mkdir()
    (subs / "__MACOSX").mkdir()
    (subs / "notes.txt").write_text("hi")
    (subs / "grades.csv").write_text("a,b")
    (subs / "xlm.py").write_bytes(LM)  # no separator: not lm.py
    os.symlink(subs / "alice", subs / "link_to_alice")
    assert [s.student_id for s in discover_submissions(subs, STUDENT_FILES)] == ["alice"]
    assert [p.name for p in ignored_entries(subs, STUDENT_FILES)] == [
        "grades.csv", "link_to_alice", "notes.txt", "xlm.py"]


def test_discovery_sanitises_ids_to_safe_folder_names(subs: Path) -> None:
    (subs / "José Ñúñez").mkdir()
    (subs / "a;rm -rf").mkdir()
    (subs / "日本.zip").write_bytes(b"")
    ids = [s.student_id for s in discover_submissions(subs, STUDENT_FILES)]
    assert ids == ["Jose_Nunez", "__", "a_rm_-rf"]


@pytest.mark.parametrize("raw, expected", [
    ("alice@uni.edu", "alice@uni.edu"), ("", "_"), (".", "_"), ("..", "__"), ("a/b\\c", "a_b_c"),
    ("CON", "_CON"), ("x" * 300, "x" * 200)])
def test_sanitised_ids_are_never_empty_dots_or_reserved(raw: str, expected: str) -> None:
    assert sanitise_student_id(raw) == expected


def test_colliding_ids_are_suffixed_by_kind_deterministically(subs: Path) -> None:
    (subs / "alice").mkdir()
    make_zip(subs / "alice.zip", {"lm.py": LM})
    (subs / "alice_lm.py").write_bytes(LM)
    (subs / "alice-lm.py").write_bytes(LM)
    (subs / "a b").mkdir()
    (subs / "a_b").mkdir()
    found = {s.student_id: s.path.name for s in discover_submissions(subs, STUDENT_FILES)}
    assert found == {"alice": "alice", "alice~zip": "alice.zip", "alice~file": "alice-lm.py",
                     "alice~file2": "alice_lm.py", "a_b": "a b", "a_b~folder": "a_b"}


def test_missing_submissions_folder_error_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SubmissionsFolderError, match="does not exist") as info:
        discover_submissions(missing, STUDENT_FILES)
    assert str(missing) in str(info.value)


def test_submissions_path_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(SubmissionsFolderError, match="is not a folder"):
        discover_submissions(tmp_path / "f", STUDENT_FILES)


def test_unreadable_submissions_folder_is_an_error(subs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(ingest.os, "scandir", denied)
    with pytest.raises(SubmissionsFolderError, match="cannot read submissions folder .*Permission denied"):
        discover_submissions(subs, STUDENT_FILES)


# ----------------------------------------------------------------- workspaces


def test_workspace_from_folder_copies_files_and_drops_pycache(subs: Path, dest: Path) -> None:
    alice = subs / "alice"
    (alice / "__pycache__").mkdir(parents=True)
    (alice / "__pycache__" / "lm.cpython-311.pyc").write_bytes(b"\0")
    (alice / "old.pyc").write_bytes(b"\0")
    (alice / ".DS_Store").write_bytes(b"\0")
    (alice / "lm.py").write_bytes(LM)
    (alice / "data").mkdir()
    (alice / "data" / "vocab.txt").write_text("a\nb\n")
    ws = prepare_workspace(SubmissionSource("alice", alice, "folder"), dest, STUDENT_FILES)
    assert ws.root == dest and ws.student_id == "alice"
    assert sorted(ws.files) == ["data/vocab.txt", "lm.py"]
    assert files_under(dest) == {"data/vocab.txt": 4, "lm.py": len(LM)}
    assert ws.missing_files == []
    assert "ignored 1 __pycache__ file" in ws.notes and "ignored 1 .pyc file" in ws.notes
    assert "ignored 1 .DS_Store file" in ws.notes


def test_workspace_from_zip_extracts_files(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"lm.py": LM, "util/helpers.py": b"X = 1\n", "util/": b""})
    ws = prepare_workspace(zip_source(path), dest, STUDENT_FILES)
    assert (dest / "lm.py").read_bytes() == LM
    assert sorted(ws.files) == ["lm.py", "util/helpers.py"] and ws.notes == []


def test_zip_with_a_top_folder_is_flattened_with_a_note(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"hw3/lm.py": LM, "hw3/README.md": b"hi",
                                        "__MACOSX/hw3/._lm.py": b"junk", "notes.txt": b"x"})
    ws = prepare_workspace(zip_source(path), dest, STUDENT_FILES)
    assert sorted(ws.files) == ["README.md", "lm.py"] and ws.missing_files == []
    assert files_under(dest) == {"README.md": 2, "lm.py": len(LM)}
    assert "found lm.py in sub-folder hw3/; used it as the workspace root" in ws.notes
    assert "ignored 1 file outside hw3/" in ws.notes
    assert "ignored 1 __MACOSX file" in ws.notes


def test_two_candidate_sub_folders_are_not_guessed_between(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"v1/lm.py": LM, "v2/lm.py": LM})
    ws = prepare_workspace(zip_source(path), dest, STUDENT_FILES)
    assert ws.missing_files == ["lm.py"]
    assert any("several sub-folders (v1/, v2/)" in note for note in ws.notes)


def test_single_file_submission_is_renamed_to_the_student_file(subs: Path, dest: Path) -> None:
    (subs / "alice_lm.py").write_bytes(LM)
    [source] = discover_submissions(subs, STUDENT_FILES)
    ws = prepare_workspace(source, dest, STUDENT_FILES)
    assert files_under(dest) == {"lm.py": len(LM)} and ws.missing_files == []
    assert "renamed alice_lm.py to lm.py" in ws.notes


def test_missing_required_files_are_reported_with_case_hint(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"LM.py": LM})
    ws = prepare_workspace(zip_source(path), dest, ["lm.py", "rnn.py"])
    assert ws.missing_files == ["lm.py", "rnn.py"]
    assert "found LM.py but expected lm.py (names are case-sensitive)" in ws.notes


def test_destination_must_be_empty(subs: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    (dest / "old").write_text("x")
    path = make_zip(subs / "bob.zip", {"lm.py": LM})
    with pytest.raises(FileExistsError):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES)


def test_utf8_member_names_are_kept(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"lm.py": LM, "données/café.txt": b"x"})
    ws = prepare_workspace(zip_source(path), dest, STUDENT_FILES)
    assert "données/café.txt" in ws.files and (dest / "données" / "café.txt").is_file()


def test_utf8_names_stored_without_the_utf8_flag_are_read_as_utf8(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"café.txt": b"x"})
    patch_headers(path, 6, 8, "<H", lambda flags: flags & ~0x800)
    ws = prepare_workspace(zip_source(path), dest, STUDENT_FILES)
    assert list(ws.files) == ["café.txt"]


# ----------------------------------------------------------------- hashing


def test_content_hash_is_stable_and_equals_hash_tree(subs: Path, tmp_path: Path) -> None:
    alice = subs / "alice"
    alice.mkdir()
    (alice / "lm.py").write_bytes(LM)
    (alice / "b.txt").write_text("b")
    source = SubmissionSource("alice", alice, "folder")
    first = prepare_workspace(source, tmp_path / "w1", STUDENT_FILES)
    second = prepare_workspace(source, tmp_path / "w2", STUDENT_FILES)
    assert first.content_hash == second.content_hash == hash_tree(first.root)
    assert len(first.content_hash) == 64


def test_content_hash_changes_when_one_byte_changes(subs: Path, tmp_path: Path) -> None:
    alice = subs / "alice"
    alice.mkdir()
    (alice / "lm.py").write_bytes(LM)
    before = prepare_workspace(SubmissionSource("alice", alice, "folder"), tmp_path / "w1", STUDENT_FILES)
    (alice / "lm.py").write_bytes(LM.replace(b"x", b"y", 1))
    after = prepare_workspace(SubmissionSource("alice", alice, "folder"), tmp_path / "w2", STUDENT_FILES)
    assert before.content_hash != after.content_hash


def test_content_hash_is_the_same_for_zip_folder_and_single_file_packaging(subs: Path, tmp_path: Path) -> None:
    (subs / "alice").mkdir()
    (subs / "alice" / "lm.py").write_bytes(LM)
    make_zip(subs / "bob.zip", {"hw3/": b"", "hw3/lm.py": LM})
    (subs / "carol_lm.py").write_bytes(LM)
    hashes = {prepare_workspace(s, tmp_path / "w" / s.student_id, STUDENT_FILES).content_hash
              for s in discover_submissions(subs, STUDENT_FILES)}
    assert len(hashes) == 1


# ----------------------------------------------------------------- unsafe zips


def symlink_member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


def fifo_member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o010644 << 16
    return info


@pytest.mark.parametrize("name, message", [
    ("/etc/evil", "absolute path"),
    ("../evil", "outside the archive"),
    ("a/../../evil", "outside the archive"),
    ("a\\..\\..\\x", "outside the archive"),
    ("C:/Windows/evil", "absolute path"),
    ("C:evil", "absolute path"),
    ("\\\\server\\share\\evil", "absolute path"),
    ("lm\n.py", "control characters"),
    ("a\x1b[2J.py", "control characters"),
])
def test_unsafe_member_names_reject_the_archive(subs: Path, dest: Path, tmp_path: Path,
                                                name: str, message: str) -> None:
    path = make_zip(subs / "bob.zip", {"lm.py": LM, name: b"pwned"})
    with pytest.raises(UnsafeArchiveError, match=message) as info:
        prepare_workspace(zip_source(path), dest, STUDENT_FILES)
    assert repr(name) in str(info.value) and "bob.zip" in str(info.value)
    assert files_under(tmp_path / "work") == {} and not (tmp_path / "evil").exists()


@pytest.mark.parametrize("member, message", [
    (symlink_member("link"), "symbolic link"), (fifo_member("pipe"), "special file")])
def test_link_and_special_members_reject_the_archive(subs: Path, dest: Path, member: zipfile.ZipInfo,
                                                     message: str) -> None:
    path = make_zip(subs / "bob.zip", {"lm.py": LM, member: b"/etc/passwd"})
    with pytest.raises(UnsafeArchiveError, match=f"'{member.filename}' is a {message}"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("second", ["lm.py", "LM.py", "./lm.py"])
def test_duplicate_member_names_reject_the_archive(subs: Path, dest: Path, second: str) -> None:
    with pytest.warns(UserWarning) if second == "lm.py" else contextlib.nullcontext():
        path = make_zip(subs / "bob.zip", {"lm.py": LM, zipfile.ZipInfo(second): b"other"})
    with pytest.raises(UnsafeArchiveError, match="duplicate member"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES)


def test_a_name_that_is_both_file_and_folder_rejects_the_archive(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"a": b"x", "a/b": b"y"})
    with pytest.raises(UnsafeArchiveError, match="'a' is both a file and a folder"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES)


@pytest.mark.parametrize("end_record", [True, False], ids=["pre-check", "after-parsing"])
def test_too_many_members_reject_the_archive(subs: Path, dest: Path, end_record: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    if not end_record:
        monkeypatch.setattr(staging, "_END_RECORD", None)
    path = make_zip(subs / "bob.zip", {f"f{i}.py": b"" for i in range(5)})
    with pytest.raises(UnsafeArchiveError, match="5 members, more than 3"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES, IngestLimits(max_files=3))


def test_member_count_is_checked_before_zipfile_parses_the_directory(
        subs: Path, dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_zip(subs / "bob.zip", {f"f{i}.py": b"" for i in range(5)})
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("directory was parsed"))
    with pytest.raises(UnsafeArchiveError, match="5 members, more than 3"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES, IngestLimits(max_files=3))


def test_oversized_central_directory_rejects_the_archive(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {f"{i}{'x' * 2000}.py": b"" for i in range(3)})
    with pytest.raises(UnsafeArchiveError, match="central directory of \\d+ bytes is too big for 3"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES, IngestLimits(max_files=3))


def test_header_sizes_over_the_limits_reject_the_archive(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"a.bin": os.urandom(600), "b.bin": os.urandom(600)})
    with pytest.raises(UnsafeArchiveError, match="'a.bin' is 600 bytes, more than 500"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES, IngestLimits(max_file_bytes=500))
    with pytest.raises(UnsafeArchiveError, match="exceed 1000 bytes in all .*'b.bin'"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES, IngestLimits(max_total_bytes=1000))


def test_zip_bomb_is_rejected_by_ratio_before_anything_is_written(bomb_zip: Path, dest: Path,
                                                                  tmp_path: Path) -> None:
    with pytest.raises(UnsafeArchiveError, match=r"'zeros.bin' expands \d+:1"):
        prepare_workspace(zip_source(bomb_zip), dest, STUDENT_FILES)
    assert files_under(tmp_path) == {}
    assert [p.name for p in dest.parent.iterdir()] == ["ws"]  # no staging folder left behind


def test_zip_bomb_is_rejected_by_size_when_the_ratio_guard_is_off(bomb_zip: Path, dest: Path,
                                                                  tmp_path: Path) -> None:
    limits = IngestLimits(max_compression_ratio=float("inf"))
    with pytest.raises(UnsafeArchiveError, match="'zeros.bin' is 104857600 bytes, more than"):
        prepare_workspace(zip_source(bomb_zip), dest, STUDENT_FILES, limits)
    assert files_under(tmp_path) == {}


def test_small_compressible_files_are_exempt_from_the_ratio_guard(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"lm.py": LM, "blank.txt": b" " * 100_000})
    ws = prepare_workspace(zip_source(path), dest, STUDENT_FILES)
    assert "blank.txt" in ws.files


def test_bomb_with_a_lying_header_never_writes_more_than_the_header_claims(
        tmp_path: Path, bomb_zip: Path, dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lying = tmp_path / "lying.zip"
    lying.write_bytes(bomb_zip.read_bytes())
    patch_headers(lying, None, 24, "<I", lambda size: 1000)  # central directory file_size
    assert zipfile.ZipFile(lying).getinfo("zeros.bin").file_size == 1000
    monkeypatch.setattr(ingest.shutil, "rmtree", lambda *a, **k: None)  # keep the staging folder
    with pytest.raises(BadArchiveError, match="damaged zip archive"):
        prepare_workspace(zip_source(lying), dest, STUDENT_FILES)
    assert all(size <= 1000 for size in files_under(tmp_path / "work").values())


def test_streaming_limit_stops_writing_when_real_bytes_exceed_it(
        subs: Path, dest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The header check is switched off: only the count of real bytes can stop this member."""
    path = make_zip(subs / "bob.zip", {"lm.py": LM, "big.bin": os.urandom(300_000)})
    monkeypatch.setattr(staging, "_check_member_size", lambda *args: None)
    monkeypatch.setattr(ingest.shutil, "rmtree", lambda *a, **k: None)
    limits = IngestLimits(max_file_bytes=100_000)
    with pytest.raises(UnsafeArchiveError, match="'big.bin' is larger than 100000 bytes"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES, limits)
    written = files_under(tmp_path / "work")
    assert written and all(size <= 100_000 for size in written.values())


def test_streaming_total_limit_applies_to_folders(subs: Path, dest: Path) -> None:
    (subs / "alice").mkdir()
    for name in ("a.bin", "b.bin"):
        (subs / "alice" / name).write_bytes(os.urandom(600))
    with pytest.raises(UnsafeArchiveError, match="exceed 1000 bytes in all"):
        prepare_workspace(SubmissionSource("alice", subs / "alice", "folder"), dest, STUDENT_FILES,
                          IngestLimits(max_total_bytes=1000))
    assert list(dest.iterdir()) == []


def test_encrypted_member_is_a_bad_archive(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"lm.py": LM})
    patch_headers(path, 6, 8, "<H", lambda flags: flags | 0x1)
    with pytest.raises(BadArchiveError, match="'lm.py' is encrypted"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES)


@pytest.mark.parametrize("content, message", [
    (b"hello, I am not a zip", "not a zip archive"), (b"", "not a zip archive")])
def test_a_file_that_is_not_a_zip_is_a_bad_archive(subs: Path, dest: Path, content: bytes,
                                                   message: str) -> None:
    (subs / "bob.zip").write_bytes(content)
    with pytest.raises(BadArchiveError, match=f"bob.zip: {message}"):
        prepare_workspace(zip_source(subs / "bob.zip"), dest, STUDENT_FILES)


def test_truncated_zip_is_a_bad_archive(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"lm.py": LM * 100, "b.txt": os.urandom(2000)})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadArchiveError, match="bob.zip: truncated or damaged zip archive"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES)


def test_corrupted_member_data_is_a_bad_archive(subs: Path, dest: Path) -> None:
    path = make_zip(subs / "bob.zip", {"lm.py": LM * 100}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[40:60] = b"X" * 20  # inside the stored member's data
    path.write_bytes(bytes(data))
    with pytest.raises(BadArchiveError, match="Bad CRC-32"):
        prepare_workspace(zip_source(path), dest, STUDENT_FILES)


def test_every_ingest_error_is_a_submission_error() -> None:
    assert issubclass(UnsafeArchiveError, SubmissionError) and issubclass(BadArchiveError, SubmissionError)


# ----------------------------------------------------------------- folders


def test_symlinks_inside_a_folder_are_skipped_never_followed(subs: Path, dest: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden test answers")
    (tmp_path / "secret_dir").mkdir()
    (tmp_path / "secret_dir" / "x.py").write_text("x")
    alice = subs / "alice"
    alice.mkdir()
    (alice / "lm.py").write_bytes(LM)
    os.symlink(secret, alice / "answers.txt")
    os.symlink(tmp_path / "secret_dir", alice / "more")
    ws = prepare_workspace(SubmissionSource("alice", alice, "folder"), dest, STUDENT_FILES)
    assert sorted(ws.files) == ["lm.py"] and files_under(dest) == {"lm.py": len(LM)}
    assert not any(p.is_symlink() for p in dest.rglob("*"))
    assert "skipped symbolic link answers.txt (links are never followed)" in ws.notes
    assert "skipped symbolic link more (links are never followed)" in ws.notes


def test_a_symlinked_submission_is_refused(subs: Path, dest: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", subs / "alice")
    with pytest.raises(UnsafeArchiveError, match="alice: is a symbolic link"):
        prepare_workspace(SubmissionSource("alice", subs / "alice", "folder"), dest, STUDENT_FILES)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_special_files_inside_a_folder_are_skipped_without_blocking(subs: Path, dest: Path) -> None:
    alice = subs / "alice"
    alice.mkdir()
    (alice / "lm.py").write_bytes(LM)
    os.mkfifo(alice / "pipe")
    ws = prepare_workspace(SubmissionSource("alice", alice, "folder"), dest, STUDENT_FILES)
    assert sorted(ws.files) == ["lm.py"] and "skipped pipe: not a regular file" in ws.notes


def test_control_characters_in_folder_file_names_are_rejected(subs: Path, dest: Path) -> None:
    alice = subs / "alice"
    alice.mkdir()
    (alice / "bad\nname.py").write_text("x")
    with pytest.raises(UnsafeArchiveError, match="control characters"):
        prepare_workspace(SubmissionSource("alice", alice, "folder"), dest, STUDENT_FILES)


def test_hash_tree_of_a_folder_equals_its_workspace_hash_despite_git_and_junk(subs: Path, tmp_path: Path) -> None:
    repo = subs / "alice"
    (repo / ".git" / "refs").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / "__pycache__").mkdir()
    (repo / "__pycache__" / "lm.cpython-311.pyc").write_bytes(b"\0")
    (repo / "lm.py").write_bytes(LM)
    workspace = prepare_workspace(SubmissionSource("alice", repo, "folder"), tmp_path / "w", STUDENT_FILES)
    assert sorted(workspace.files) == ["lm.py"]
    assert hash_tree(repo) == workspace.content_hash  # so a rerun keeps the result


def test_a_nested_zip_whose_folder_name_is_taken_is_kept_as_a_file(subs: Path, dest: Path) -> None:
    inner = subs / "inner.zip"
    make_zip(inner, {"x.txt": b"x"})
    make_zip(subs / "bob.zip", {"lm.py": LM, "more.zip": inner.read_bytes(), "more/x.txt": b"y"})
    ws = prepare_workspace(zip_source(subs / "bob.zip"), dest, STUDENT_FILES)
    assert "kept more.zip as a file: more already exists" in ws.notes
    assert sorted(ws.files) == ["lm.py", "more.zip", "more/x.txt"] and (ws.root / "more" / "x.txt").read_text() == "y"
