"""Each importer on its own layout: detection, ids, files, metadata, and what it skips."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from grader.errors import InstructorError
from grader.importers import classroom
from grader.importers.driver import import_submissions
from grader.importers.gradescope import seed_identity
from grader.importers.names import expected_name
from grader.ingest import prepare_workspace
from grader.roster import parse_roster

from .conftest import BUILDERS, CORRECT, ROSTER, SHA_JANE, SHA_JOHN, STUDENT_FILES, WRONG


def imported(tmp_path: Path, layout: str, source_format: str = "auto", roster: bool = True):
    source = BUILDERS[layout](tmp_path / "source")
    return import_submissions(source, STUDENT_FILES, source_format, parse_roster(ROSTER) if roster else None,
                              work_dir=tmp_path / "work")


def workspace_text(tmp_path: Path, report, student_id: str) -> str:
    source = next(source for source in report.sources if source.student_id == student_id)
    workspace = prepare_workspace(source, tmp_path / "ws" / student_id, STUDENT_FILES)
    assert workspace.missing_files == []
    return (workspace.root / "toy.py").read_text()


@pytest.mark.parametrize("layout", sorted(BUILDERS))
def test_auto_detects_each_layout_and_says_from_what(tmp_path, layout):
    report = imported(tmp_path, layout)

    assert report.layout == layout
    assert report.how.startswith("detected: ") and "entries" in report.how
    assert report.lines()[0].startswith(f"source: {report.label} (detected: ")


@pytest.mark.parametrize("layout", sorted(BUILDERS))
def test_roster_ids_names_and_missing_students_for_each_layout(tmp_path, layout):
    report = imported(tmp_path, layout)

    ids = [source.student_id for source in report.sources]
    assert ids == ["jane", "john"]
    assert all(source.submitted.on_roster for source in report.sources)
    assert report.unmatched == []
    names = {source.student_id: source.submitted.name for source in report.sources}
    assert names == {"jane": "Jane Smith", "john": "John Doe"}
    # Zoe is in Jane's Gradescope group; everywhere else she handed nothing in.
    assert [student.label for student in report.missing] == ([] if layout == "gradescope" else ["Zoe Zed"])
    assert workspace_text(tmp_path, report, "jane") == CORRECT
    pickle.loads(pickle.dumps(report.sources))  # plain data for any executor


def test_canvas_maps_renamed_files_back_and_carries_late_and_the_user_id(tmp_path):
    report = imported(tmp_path, "canvas", roster=False)

    john, jane = report.sources
    assert (jane.student_id, john.student_id) == ("smithjane_101", "doejohn_102")
    assert jane.submitted.late and not john.submitted.late
    assert jane.submitted.lms_id("canvas_user_id") == "101"
    assert "toy-1.py is toy.py renamed by the LMS (a file handed in again); graded as toy.py" in jane.submitted.notes
    assert sorted(path.name for path in john.path.iterdir()) == ["README.txt", "toy.py"]


def test_canvas_anonymous_names_and_a_later_upload_of_the_same_file(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "anon_LATE_xK3f9_7001_toy.py").write_text(WRONG)
    (source / "anon_LATE_xK3f9_7002_toy-1.py").write_text(CORRECT)

    report = import_submissions(source, STUDENT_FILES, work_dir=tmp_path / "work")

    (only,) = report.sources
    assert only.student_id == "anon_xK3f9" and only.submitted.late
    assert only.submitted.lms_id("canvas_anonymous_id") == "xK3f9"
    assert only.submitted.warnings == ("two files claim toy.py: anon_LATE_xK3f9_7001_toy.py and "
                                       "anon_LATE_xK3f9_7002_toy-1.py; graded the later upload, anon_LATE_xK3f9_7002_toy-1.py",)
    assert (only.path / "toy.py").read_text() == CORRECT


def test_gradescope_reads_ruby_symbol_metadata_and_groups(tmp_path):
    report = imported(tmp_path, "gradescope", roster=False)

    group, john = report.sources
    assert (group.student_id, john.student_id) == ("S1", "S2")
    assert [member.name for member in group.submitted.members] == ["Jane Smith", "Zoe Zed"]
    assert group.submitted.email == "jane@uni.example"
    assert group.submitted.submitted_at.startswith("2026-11-01")
    assert group.submitted.lms_id("gradescope_submission_id") == "900"
    assert "group submission of 2 students: Jane Smith, Zoe Zed" in group.submitted.notes
    assert john.submitted.members == ()


@pytest.mark.parametrize("layout", sorted(BUILDERS))
def test_only_gradescope_seeds_by_another_identity_than_the_student_id(tmp_path, layout):
    report = imported(tmp_path, layout)

    seeds = {source.student_id: source.seed_identity for source in report.sources}
    if layout == "gradescope":  # what Gradescope's own autograder seeds by, whatever the roster's id
        assert seeds == {"jane": "jane@uni.example", "john": "john@uni.example"}
    else:  # unchanged: the student id, so earlier results keep their inputs
        assert seeds == {"jane": "jane", "john": "john"}
        assert all(source.submitted.seed_id == "" and "seed_id" not in source.submitted.to_dict()
                   for source in report.sources)


def test_gradescope_seed_identity_ignores_order_case_and_spaces_and_falls_back(tmp_path):
    ann, ben = {"email": " Ann.Lee@X.edu ", "sid": "S9"}, {"email": "ben@x.edu", "sid": "S1"}
    assert seed_identity([ben, ann], "77") == seed_identity([ann, ben], 77) == "ann.lee@x.edu"
    assert seed_identity([{"sid": " S9 "}, {"sid": "S1", "email": None}], "77") == "S1", "no e-mail: the smallest sid"
    assert seed_identity([{"name": "Ann"}, "not a person"], 77) == "77", "nobody named: the submission id"
    assert seed_identity([], "") == ""

    source = BUILDERS["gradescope"](tmp_path / "source")
    (source / "submission_902").mkdir()
    (source / "submission_902" / "toy.py").write_text(WRONG)
    report = import_submissions(source, STUDENT_FILES, work_dir=tmp_path / "work")
    assert {source.student_id: source.seed_identity for source in report.sources} == {
        "S1": "jane@uni.example", "S2": "john@uni.example", "submission_902": "902"}
    assert dict(report.sources[0].submitted.describe())["hidden inputs seeded by"] == "jane@uni.example"
    assert "hidden inputs seeded by" not in dict(report.sources[0].submitted.describe(instructor=False))


def test_gradescope_metadata_that_is_not_yaml_is_an_instructor_error_naming_the_line(tmp_path):
    source = BUILDERS["gradescope"](tmp_path / "source")
    (source / "submission_metadata.yml").write_text("submission_900:\n  :submitters: [unclosed\n")

    with pytest.raises(InstructorError, match=r"submission_metadata.yml, line \d+: not valid YAML"):
        import_submissions(source, STUDENT_FILES, work_dir=tmp_path / "work")


def test_gradescope_folder_without_metadata_is_graded_with_a_warning(tmp_path):
    source = BUILDERS["gradescope"](tmp_path / "source")
    (source / "submission_902").mkdir()
    (source / "submission_902" / "toy.py").write_text(WRONG)

    report = import_submissions(source, STUDENT_FILES, work_dir=tmp_path / "work")

    stray = next(source for source in report.sources if source.student_id == "submission_902")
    assert stray.submitted.warnings == ("submission_metadata.yml says nothing about submission_902: no name, e-mail "
                                        "or student id",)


def test_moodle_skips_online_text_and_converts_a_notebook(tmp_path):
    report = imported(tmp_path, "moodle", roster=False)

    assert [source.student_id for source in report.sources] == ["Jane_Smith_301", "John_Doe_302"]
    assert report.ignored == [("John Doe_302_assignsubmission_onlinetext_",
                               "a onlinetext entry, which holds no files to grade")]
    john = report.sources[1]
    workspace = prepare_workspace(john, tmp_path / "ws", STUDENT_FILES)
    assert workspace.missing_files == []
    assert "def add(a, b):" in (workspace.root / "toy.py").read_text()
    assert workspace.notes[0] == ("toy.ipynb was handed in for toy.py: its code cells became the module; "
                                  "2 IPython line(s) or cell(s) removed")
    assert "toy.ipynb, code cell 2, line 1: removed shell command `!pip install numpy`" in workspace.notes


def test_blackboard_grades_the_latest_attempt_and_says_so(tmp_path):
    report = imported(tmp_path, "blackboard", roster=False)

    jdoe, jsmith = report.sources
    assert (jdoe.student_id, jsmith.student_id) == ("jdoe", "jsmith")
    assert jsmith.submitted.attempt == "2026-01-11 09:00:00"
    assert jsmith.submitted.name == "Jane Smith"
    assert jsmith.submitted.notes[0] == ("graded the latest attempt, 2026-01-11 09:00:00, of 2; passed over "
                                         "2026-01-10 09:00:00")
    assert (jsmith.path / "toy.py").read_text() == CORRECT
    assert sorted(path.name for path in jsmith.path.iterdir()) == ["toy.py"]  # the receipt is not graded


def test_classroom_records_the_commit_without_git_and_leaves_git_out(tmp_path):
    report = imported(tmp_path, "classroom", roster=False)

    jdoe, jsmith = report.sources
    assert (jdoe.student_id, jsmith.student_id) == ("jdoe", "jsmith")
    assert jsmith.submitted.commit == f"{SHA_JANE} (main)"
    assert jdoe.submitted.commit == f"{SHA_JOHN} (master)"
    assert report.notes == ["repository names share the prefix 'hw1-'; the rest is taken as the GitHub username"]
    workspace = prepare_workspace(jsmith, tmp_path / "ws", STUDENT_FILES)
    assert sorted(workspace.files) == ["toy.py"]
    assert "left out .git (not part of the submitted files)" in workspace.notes


@pytest.mark.parametrize("head, expected", [
    (SHA_JANE, (f"{SHA_JANE} (detached HEAD)", "")),
    ("ref: refs/heads/../../../../etc/passwd", ("", ".git/HEAD does not name a commit or a branch "
                                                "('ref: refs/heads/../../../../etc/passwd')")),
    ("ref: refs/heads/nothing", ("", "branch nothing has no commit yet")),
])
def test_classroom_commit_reading_refuses_to_leave_the_repository(tmp_path, head, expected):
    repo = tmp_path / "hw1-x"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text(head + "\n")

    assert classroom.read_commit(repo) == expected


def test_classroom_commit_is_not_read_through_links(tmp_path):
    repo = tmp_path / "hw1-x"
    (repo / ".git").mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "heads").mkdir(parents=True)
    (outside / "heads" / "main").write_text(SHA_JANE)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "refs").symlink_to(outside)

    assert classroom.read_commit(repo) == ("", "branch main has no commit yet")
    (repo / ".git" / "HEAD").unlink()
    (repo / ".git" / "HEAD").symlink_to(outside / "heads" / "main")
    assert classroom.read_commit(repo) == ("", ".git/HEAD cannot be read")


def test_folder_layout_keeps_entry_names_as_ids_and_warns_about_twins(tmp_path):
    source = BUILDERS["folder"](tmp_path / "source")
    (source / "jane.zip").write_bytes((source / "john.zip").read_bytes())

    report = import_submissions(source, STUDENT_FILES, roster=parse_roster(ROSTER), work_dir=tmp_path / "work")

    assert [s.student_id for s in report.sources] == ["jane", "jane~zip", "john"]
    jane, twin = report.sources[:2]
    assert jane.submitted.warnings[0] == ("2 entries claim the student 'jane': graded separately as jane, jane~zip; "
                                          "this is jane, see also jane~zip")
    assert "Jane Smith (roster line 2) is also claimed by jane~zip: check which submission is theirs" in jane.submitted.warnings
    assert twin.submitted.on_roster


def test_from_overrides_detection_and_says_so(tmp_path):
    report = imported(tmp_path, "canvas", source_format="folder", roster=False)

    assert report.layout == "folder" and report.how == "chosen with --from folder"
    # As a plain folder, Canvas file names are loose files: none is named after toy.py exactly.
    assert [source.student_id for source in report.sources] == ["doejohn_102_5002"]


def test_unknown_layout_is_an_instructor_error(tmp_path):
    with pytest.raises(InstructorError, match="--from 'webct': unknown layout; expected one of auto, folder"):
        import_submissions(tmp_path, STUDENT_FILES, "webct")


def test_a_single_top_folder_holding_a_layout_is_entered(tmp_path):
    BUILDERS["gradescope"](tmp_path / "source" / "assignment_42_export")

    report = import_submissions(tmp_path / "source", STUDENT_FILES, work_dir=tmp_path / "work")

    assert report.layout == "gradescope" and len(report.sources) == 2
    assert report.notes[0] == f"read the folder assignment_42_export/, the only entry of {tmp_path / 'source'}"


def test_submissions_not_on_the_roster_are_listed_and_warned(tmp_path):
    source = BUILDERS["canvas"](tmp_path / "source")
    (source / "newstudent_999_5009_toy.py").write_text(WRONG)

    report = import_submissions(source, STUDENT_FILES, roster=parse_roster(ROSTER), work_dir=tmp_path / "work")

    assert report.unmatched == ["newstudent_999"]
    stray = next(s for s in report.sources if s.student_id == "newstudent_999")
    assert stray.submitted.on_roster is False and stray.submitted.warnings == ("not on the roster (roster)",)
    assert "1 submission(s) not on the roster: newstudent_999" in report.lines()


@pytest.mark.parametrize("name, expected", [
    ("toy.py", ("toy.py", None)),
    ("toy-2.py", ("toy.py", "toy-2.py is toy.py renamed by the LMS (a file handed in again); graded as toy.py")),
    ("toy (1).py", ("toy.py", "toy (1).py is toy.py renamed by the LMS (a file handed in again); graded as toy.py")),
    ("Toy.py", ("toy.py", "Toy.py differs from toy.py only in case; graded as toy.py")),
    ("toy-1.ipynb", ("toy.ipynb", "toy-1.ipynb is toy.ipynb renamed by the LMS (a file handed in again); graded as toy.ipynb")),
    ("toy_2.py", ("toy_2.py", None)),
    ("other-1.py", ("other-1.py", None)),
])
def test_expected_name_undoes_lms_renames_only_towards_student_files(name, expected):
    assert expected_name(name, STUDENT_FILES) == expected
