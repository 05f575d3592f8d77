"""Tests of grader.config: every field of assignment.toml, and a clear error for every mistake.

Each assignment is written into ``tmp_path``. Error tests assert the whole
message, ``"<file>: <key>: <problem>"``, because instructors read it verbatim.
"""
from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from grader.config import CONFIG_NAME, Assignment, LegacySuite, Limits, load_assignment
from grader.errors import AssignmentConfigError, InstructorError
from grader.plan import collect_plan

TEST_FILE = textwrap.dedent('''\
    from grader.testing import points


    @points(1)
    def test_something(student):
        assert student.module("lm").value == 1
''')
LEGACY_FILE = textwrap.dedent('''\
    import lm


    def test_pad():
        assert lm.pad() == 1


    def test_mask():
        assert lm.mask() == 2
''')

# The smallest valid config; tests replace lines of it to make one mistake at a time.
MINIMAL = '''\
[assignment]
title = "A language model"
version = "1"
student_files = ["lm.py"]

[tests]
public = ["tests/test_public.py"]
'''

FULL = '''\
[assignment]
name = "rnn_lm"
title = "An LSTM language model"
version = "2026.1"
student_files = ["lm.py", "train.py"]
support_files = ["vocab.py", "data"]
allowed_packages = ["numpy", "torch"]
solution = "solution"
starter = "starter"
due = 2026-12-01T23:59:00Z
seed_salt = "spring"

[limits]
test_seconds = 5
submission_seconds = 120.5
memory_mb = 2048
output_kib = 64
file_mb = 8
processes = 16
open_files = 128

[tests]
public = ["tests/test_public.py"]
hidden = ["tests/test_hidden.py", "tests/test_more_hidden.py"]

[legacy]
file = "test_all.py"
points = { test_pad = 2 }
default_points = 0.5
visibility = "after_due_date"
'''


def write_assignment(root: Path, config: str, files: dict[str, str] | None = None) -> Path:
    """An assignment folder holding ``config`` as assignment.toml and the usual test files."""
    default_files = {
        "tests/test_public.py": TEST_FILE,
        "tests/test_hidden.py": TEST_FILE,
        "tests/test_more_hidden.py": TEST_FILE,
        "test_all.py": LEGACY_FILE,
        "vocab.py": "WORDS = ['a', 'b']\n",
        "data/corpus.txt": "a b a\n",
        "solution/lm.py": "value = 1\n",
        "starter/lm.py": "value = None\n",
    }
    for relative, text in {**default_files, **(files or {})}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / CONFIG_NAME).write_text(config, encoding="utf-8")
    return root


def config_error(root: Path) -> AssignmentConfigError:
    with pytest.raises(AssignmentConfigError) as caught:
        load_assignment(root)
    return caught.value


def assert_config_error(root: Path, key: str | None, problem: str) -> None:
    """``load_assignment(root)`` fails on ``key`` of ``root/assignment.toml`` with exactly ``problem``."""
    error = config_error(root)
    config = root / CONFIG_NAME
    assert (error.path, error.key, error.problem) == (str(config), key, problem)
    assert str(error) == (f"{config}: {key}: {problem}" if key else f"{config}: {problem}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "rnn_lm"


# -- valid configs -------------------------------------------------------------------------

def test_full_config_parses_every_field(root):
    assignment = load_assignment(write_assignment(root, FULL))

    assert assignment == Assignment(
        root=root.resolve(),
        name="rnn_lm",
        title="An LSTM language model",
        version="2026.1",
        student_files=("lm.py", "train.py"),
        support_files=("vocab.py", "data"),
        allowed_packages=("numpy", "torch"),
        public_tests=("tests/test_public.py",),
        hidden_tests=("tests/test_hidden.py", "tests/test_more_hidden.py"),
        legacy=LegacySuite(file="test_all.py", points={"test_pad": 2.0}, default_points=0.5,
                           visibility="after_due_date"),
        limits=Limits(test_seconds=5.0, submission_seconds=120.5, memory_mb=2048, output_kib=64,
                      file_mb=8, processes=16, open_files=128),
        solution="solution",
        starter="starter",
        due=dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone.utc),
        seed_salt="spring",
    )
    assert assignment.config_path == root.resolve() / CONFIG_NAME
    assert assignment.test_files() == [("tests/test_public.py", "public"), ("tests/test_hidden.py", "hidden"),
                                       ("tests/test_more_hidden.py", "hidden")]


def test_loading_the_config_file_itself_is_the_same_as_loading_its_folder(root):
    write_assignment(root, FULL)

    assert load_assignment(root / CONFIG_NAME) == load_assignment(root)


def test_minimal_config_gets_the_documented_defaults(root):
    assignment = load_assignment(write_assignment(root, MINIMAL))

    assert assignment.name == "rnn_lm"  # the folder's name
    assert assignment.support_files == ()
    assert assignment.allowed_packages is None
    assert assignment.hidden_tests == ()
    assert assignment.legacy is None
    assert (assignment.solution, assignment.starter, assignment.due, assignment.seed_salt) == (None, None, None, "")


def test_limits_default_when_the_limits_table_is_absent(root):
    assignment = load_assignment(write_assignment(root, MINIMAL))

    assert assignment.limits == Limits()
    assert (assignment.limits.test_seconds, assignment.limits.submission_seconds,
            assignment.limits.memory_mb, assignment.limits.output_kib) == (10.0, 300.0, 4096, 1024)


def test_limits_left_out_of_the_limits_table_keep_their_defaults(root):
    assignment = load_assignment(write_assignment(root, MINIMAL + "[limits]\nmemory_mb = 1024\n"))

    assert assignment.limits == Limits(memory_mb=1024)


@pytest.mark.parametrize("written, expected", [
    ('"2026.1"', "2026.1"),
    ("3", "3"),
    ("2026.1", "2026.1"),
])
def test_version_is_kept_as_a_string_even_when_written_as_a_number(root, written, expected):
    assignment = load_assignment(write_assignment(root, MINIMAL.replace('version = "1"', f"version = {written}")))

    assert assignment.version == expected


@pytest.mark.parametrize("written, expected", [
    ("2026-12-01T23:59:00Z", dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone.utc)),
    ("2026-12-01T23:59:00+02:00", dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    ("2026-12-01T23:59:00", dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone.utc)),
    ("2026-12-01", dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=dt.timezone.utc)),
    ('"2026-12-01T23:59:00Z"', dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone.utc)),
    ('"2026-12-01T23:59:00+02:00"', dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
], ids=["toml-utc", "toml-offset", "toml-local-as-utc", "toml-date-end-of-day", "string-utc", "string-offset"])
def test_due_accepts_toml_datetimes_dates_and_iso_strings_and_is_always_timezone_aware(root, written, expected):
    config = MINIMAL.replace('version = "1"\n', f'version = "1"\ndue = {written}\n')
    assignment = load_assignment(write_assignment(root, config))

    assert assignment.due == expected
    assert assignment.due.utcoffset() == expected.utcoffset()


def test_a_legacy_file_alone_is_enough_tests(root):
    config = MINIMAL.replace('[tests]\npublic = ["tests/test_public.py"]\n', '[legacy]\nfile = "test_all.py"\n')
    assignment = load_assignment(write_assignment(root, config))

    assert assignment.legacy == LegacySuite(file="test_all.py", points={}, default_points=1.0, visibility="public")
    assert assignment.test_files() == []


def test_legacy_plan_gives_named_tests_their_points_and_the_others_the_default(root, tmp_path):
    config = MINIMAL.replace('[tests]\npublic = ["tests/test_public.py"]\n',
                             '[legacy]\nfile = "test_all.py"\npoints = { test_pad = 3 }\ndefault_points = 0.5\n')
    assignment = load_assignment(write_assignment(root, config))

    plan = collect_plan(assignment, tmp_path)

    assert [(test.id, test.points, test.computed_in) for test in plan] == [
        ("test_all.py::test_pad", 3.0, "sandbox"), ("test_all.py::test_mask", 0.5, "sandbox")]


# -- the folder and the file ---------------------------------------------------------------

def test_missing_assignment_folder_is_named(tmp_path):
    missing = tmp_path / "nowhere"

    error = config_error(missing)

    assert isinstance(error, InstructorError)
    assert str(error) == f"{missing}: no such assignment folder"


def test_folder_without_assignment_toml_says_the_file_is_missing(root):
    root.mkdir()

    assert_config_error(root, None, "missing: an assignment folder must hold assignment.toml")


def test_invalid_toml_says_so_and_gives_the_line(root):
    write_assignment(root, '[assignment]\ntitle = "unterminated\nversion = "1"\n')

    error = config_error(root)

    assert error.path == str(root / CONFIG_NAME) and error.key is None
    assert str(error).startswith(f"{root / CONFIG_NAME}: not valid TOML: ")
    assert "line 2" in error.problem


def test_config_that_is_not_utf8_cannot_be_read(root):
    write_assignment(root, "")
    (root / CONFIG_NAME).write_bytes(b'[assignment]\ntitle = "caf\xe9"\n')

    error = config_error(root)

    assert error.problem.startswith("cannot be read: ")


# -- [assignment] ------------------------------------------------------------------------

def test_missing_assignment_table_is_reported(root):
    write_assignment(root, '[tests]\npublic = ["tests/test_public.py"]\n')

    assert_config_error(root, "assignment", "missing; expected an [assignment] table")


def test_assignment_that_is_not_a_table_is_reported(root):
    write_assignment(root, 'assignment = "rnn_lm"\n')

    assert_config_error(root, "assignment", "expected an [assignment] table, got str 'rnn_lm'")


def test_missing_title_is_reported(root):
    write_assignment(root, MINIMAL.replace('title = "A language model"\n', ""))

    assert_config_error(root, "assignment.title", "missing; expected a title shown to students")


def test_missing_version_is_reported(root):
    write_assignment(root, MINIMAL.replace('version = "1"\n', ""))

    assert_config_error(root, "assignment.version", 'missing; expected a version string such as "2026.1"')


def test_boolean_version_is_rejected(root):
    write_assignment(root, MINIMAL.replace('version = "1"', "version = true"))

    assert_config_error(root, "assignment.version", 'expected a version string such as "2026.1", got a boolean')


def test_student_files_as_a_string_instead_of_a_list_is_reported(root):
    write_assignment(root, MINIMAL.replace('student_files = ["lm.py"]', 'student_files = "lm.py"'))

    assert_config_error(root, "assignment.student_files", "expected a list of strings, got str 'lm.py'")


def test_student_files_entry_that_is_not_a_string_is_reported_with_its_index(root):
    write_assignment(root, MINIMAL.replace('student_files = ["lm.py"]', 'student_files = ["lm.py", 3]'))

    assert_config_error(root, "assignment.student_files[1]", "expected a non-empty string, got 3")


def test_empty_student_files_is_reported(root):
    write_assignment(root, MINIMAL.replace('student_files = ["lm.py"]', "student_files = []"))

    assert_config_error(root, "assignment.student_files", "expected at least one entry, got an empty list")


@pytest.mark.parametrize("key, path", [
    ("student_files", "../x.py"),
    ("student_files", "/etc/passwd"),
    ("student_files", "sub\\\\..\\\\x.py"),
    ("support_files", "../x.py"),
])
def test_path_escaping_the_assignment_folder_is_rejected(root, key, path):
    line = f'{key} = ["{path}"]'
    config = (MINIMAL.replace('student_files = ["lm.py"]', line) if key == "student_files"
              else MINIMAL.replace('version = "1"\n', f'version = "1"\n{line}\n'))
    write_assignment(root, config)

    shown = path.replace("\\\\", "\\")
    assert_config_error(root, f"assignment.{key}[0]", f"expected a path inside the assignment folder, got {shown!r}")


def test_missing_support_file_is_named_with_the_folder_searched(root):
    write_assignment(root, MINIMAL.replace('version = "1"\n', 'version = "1"\nsupport_files = ["vocab.py", "tokens.py"]\n'))

    assert_config_error(root, "assignment.support_files[1]", f"'tokens.py' does not exist in {root}")


@pytest.mark.parametrize("key", ["solution", "starter"])
def test_missing_solution_or_starter_folder_is_reported(root, key):
    write_assignment(root, MINIMAL.replace('version = "1"\n', f'version = "1"\n{key} = "nope"\n'))

    assert_config_error(root, f"assignment.{key}", f"'nope' does not exist in {root}")


def test_assignment_name_with_a_slash_is_rejected(root):
    write_assignment(root, MINIMAL.replace('[assignment]\n', '[assignment]\nname = "rnn/lm"\n'))

    assert_config_error(root, "assignment.name", "expected letters, digits, '_', '-' or '.', got 'rnn/lm'")


def test_due_string_that_is_not_a_date_is_reported(root):
    write_assignment(root, MINIMAL.replace('version = "1"\n', 'version = "1"\ndue = "next friday"\n'))

    assert_config_error(root, "assignment.due", "expected a date-time such as 2026-12-01T23:59:00Z, got 'next friday'")


def test_due_time_of_day_without_a_date_is_reported(root):
    write_assignment(root, MINIMAL.replace('version = "1"\n', 'version = "1"\ndue = 23:59:00\n'))

    assert_config_error(root, "assignment.due",
                        "expected a TOML date-time such as 2026-12-01T23:59:00Z, got time datetime.time(23, 59)")


# -- unknown keys ------------------------------------------------------------------------

def test_misspelled_required_key_is_reported_as_unknown_not_as_missing(root):
    write_assignment(root, MINIMAL.replace("student_files", "studnet_files"))

    assert_config_error(root, "assignment.studnet_files",
                        "unknown key; expected one of allowed_packages, due, hidden_points, name, seed_salt, solution, starter, "
                        "student_files, support_files, title, total_points, version")


def test_unknown_key_beside_valid_ones_is_reported(root):
    write_assignment(root, MINIMAL.replace('version = "1"\n', 'version = "1"\nduedate = 2026-12-01\n'))

    error = config_error(root)

    assert error.key == "assignment.duedate"
    assert error.problem.startswith("unknown key; expected one of ")


@pytest.mark.parametrize("config, key, known", [
    (MINIMAL + "[limits]\ntest_secs = 3\n", "limits.test_secs",
     "file_mb, memory_mb, open_files, output_kib, processes, submission_seconds, test_seconds"),
    (MINIMAL + 'pubic = ["tests/test_public.py"]\n', "tests.pubic", "hidden, public"),
    (MINIMAL + '[legacy]\nfile = "test_all.py"\npoint = { test_pad = 2 }\n', "legacy.point",
     "default_points, file, points, visibility"),
    (MINIMAL + '[legacy]\nfiel = "test_all.py"\n', "legacy.fiel", "default_points, file, points, visibility"),
], ids=["limits", "tests", "legacy", "legacy-required"])
def test_unknown_key_in_each_table_is_reported_with_the_keys_allowed(root, config, key, known):
    write_assignment(root, config)

    assert_config_error(root, key, f"unknown key; expected one of {known}")


def test_unknown_top_level_table_is_reported(root):
    write_assignment(root, MINIMAL + "[grading]\nstrict = true\n")

    assert_config_error(root, "grading", "unknown key; expected one of assignment, legacy, limits, tests")


def test_misspelled_assignment_table_is_reported_as_unknown(root):
    write_assignment(root, MINIMAL.replace("[assignment]", "[assignmnet]"))

    assert_config_error(root, "assignmnet", "unknown key; expected one of assignment, legacy, limits, tests")


# -- [limits] ----------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, minimum", [
    ("test_seconds", "0", "0"),
    ("test_seconds", "-1", "0"),
    ("submission_seconds", "0", "0"),
    ("submission_seconds", "-5.5", "0"),
    ("memory_mb", "200", "255"),
    ("output_kib", "0", "0"),
    ("file_mb", "-1", "0"),
    ("processes", "0", "0"),
    ("open_files", "10", "15"),
])
def test_zero_negative_or_too_small_limits_are_rejected(root, key, value, minimum):
    write_assignment(root, MINIMAL + f"[limits]\n{key} = {value}\n")

    assert_config_error(root, f"limits.{key}", f"expected a number greater than {minimum}, got {value}")


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
@pytest.mark.parametrize("key", ["test_seconds", "submission_seconds", "memory_mb", "open_files"])
def test_infinite_or_nan_limits_are_rejected_instead_of_crashing(root, key, value):
    write_assignment(root, MINIMAL + f"[limits]\n{key} = {value}\n")

    assert_config_error(root, f"limits.{key}", f"expected a finite number, got {float(value)!r}")


@pytest.mark.parametrize("value, problem", [
    ('"10"', "expected a number, got str '10'"),
    ("true", "expected a number, got a boolean"),
])
def test_limit_that_is_not_a_number_is_rejected(root, value, problem):
    write_assignment(root, MINIMAL + f"[limits]\ntest_seconds = {value}\n")

    assert_config_error(root, "limits.test_seconds", problem)


def test_test_seconds_longer_than_submission_seconds_is_rejected(root):
    write_assignment(root, MINIMAL + "[limits]\ntest_seconds = 60\nsubmission_seconds = 30\n")

    assert_config_error(root, "limits.test_seconds", "60 s is longer than submission_seconds (30 s)")


def test_limits_that_is_not_a_table_is_reported(root):
    write_assignment(root, "limits = 3\n" + MINIMAL)

    assert_config_error(root, "limits", "expected a [limits] table, got int 3")


# -- [tests] -----------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["public", "hidden"])
def test_missing_test_file_is_named(root, key):
    write_assignment(root, MINIMAL + f'{key} = ["tests/test_nope.py"]\n'
                     if key == "hidden" else MINIMAL.replace("tests/test_public.py", "tests/test_nope.py"))

    assert_config_error(root, f"tests.{key}[0]", f"'tests/test_nope.py' does not exist in {root}")


def test_test_file_not_ending_in_py_is_rejected(root):
    write_assignment(root, MINIMAL + 'hidden = ["tests/test_public.py", "tests/notes.txt"]\n',
                     files={"tests/notes.txt": "not a test\n"})

    assert_config_error(root, "tests.hidden[1]", "expected a pytest file ending in .py, got 'tests/notes.txt'")


def test_test_file_escaping_the_folder_is_rejected(root):
    write_assignment(root, MINIMAL.replace("tests/test_public.py", "../test_public.py"))

    assert_config_error(root, "tests.public[0]", "expected a path inside the assignment folder, got '../test_public.py'")


@pytest.mark.parametrize("tests_table", ["", "[tests]\n", "[tests]\npublic = []\nhidden = []\n"],
                         ids=["no-table", "empty-table", "empty-lists"])
def test_assignment_without_any_tests_is_rejected(root, tests_table):
    write_assignment(root, MINIMAL.replace('[tests]\npublic = ["tests/test_public.py"]\n', tests_table))

    assert_config_error(root, "tests", "no tests: declare tests.public, tests.hidden or a [legacy] file")


# -- [legacy] ----------------------------------------------------------------------------

LEGACY_ONLY = MINIMAL.replace('[tests]\npublic = ["tests/test_public.py"]\n', '[legacy]\nfile = "test_all.py"\n')


def test_legacy_without_a_file_is_reported(root):
    write_assignment(root, MINIMAL + "[legacy]\ndefault_points = 1\n")

    assert_config_error(root, "legacy.file", 'missing; expected the path of the test file, e.g. "test_all.py"')


def test_missing_legacy_file_is_named(root):
    write_assignment(root, LEGACY_ONLY.replace("test_all.py", "test_gone.py"))

    assert_config_error(root, "legacy.file", f"'test_gone.py' does not exist in {root}")


def test_legacy_visibility_outside_the_allowed_values_is_rejected(root):
    write_assignment(root, LEGACY_ONLY + 'visibility = "secret"\n')

    assert_config_error(root, "legacy.visibility", "expected one of public, hidden, after_due_date, got 'secret'")


@pytest.mark.parametrize("value", ["-1", "true", '"two"'])
def test_legacy_points_that_are_not_a_non_negative_number_are_rejected(root, value):
    write_assignment(root, LEGACY_ONLY + f"points = {{ test_pad = {value} }}\n")

    shown = {"-1": "-1", "true": "True", '"two"': "'two'"}[value]
    assert_config_error(root, "legacy.points.test_pad", f"expected a number of points >= 0, got {shown}")


def test_legacy_points_for_a_test_that_does_not_exist_are_caught_by_the_plan(root, tmp_path):
    write_assignment(root, LEGACY_ONLY + "points = { test_pda = 2 }\n")
    assignment = load_assignment(root)  # the config alone cannot know the file's tests

    with pytest.raises(AssignmentConfigError) as caught:
        collect_plan(assignment, tmp_path)

    assert str(caught.value) == f"{root.resolve() / CONFIG_NAME}: legacy.points.test_pda: no such test in test_all.py"


# -- fingerprint -------------------------------------------------------------------------

def test_fingerprint_is_stable_while_nothing_changes(root):
    write_assignment(root, FULL)

    assert load_assignment(root).fingerprint() == load_assignment(root).fingerprint()


@pytest.mark.parametrize("changed", ["tests/test_hidden.py", "tests/test_public.py", "test_all.py", "vocab.py",
                                     "data/corpus.txt", CONFIG_NAME])
def test_fingerprint_changes_when_a_test_support_or_config_file_changes(root, changed):
    write_assignment(root, FULL)
    before = load_assignment(root).fingerprint()

    with (root / changed).open("a", encoding="utf-8") as file:
        file.write("\n# changed\n")

    assert load_assignment(root).fingerprint() != before

