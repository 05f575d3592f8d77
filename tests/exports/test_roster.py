"""Tests of the roster: accepted headers, matching submission ids, and errors that name the line."""
from __future__ import annotations

import pytest

from grader.roster import RosterError, load_roster, parse_roster


def test_plain_roster_with_every_column():
    roster = parse_roster("id,name,email,canvas_id,sis_user_id,sis_login_id,section\n"
                          "alice,\"Smith, Alice\",alice@x.edu,101,S001,asmith,A\n"
                          "bob,Bob Jones,bob@x.edu,102,S002,bjones,B\n")

    alice = roster.match("alice")
    assert (alice.line, alice.name, alice.email, alice.canvas_id, alice.sis_user_id, alice.sis_login_id,
            alice.section) == (2, "Smith, Alice", "alice@x.edu", "101", "S001", "asmith", "A")
    assert roster.match("bob").line == 3 and roster.match("carol") is None


def test_headers_are_matched_without_case_spaces_dashes_or_underscores_and_others_are_ignored():
    roster = parse_roster("Submission ID;Full Name;E-mail;SIS Login ID;Notes\nal;Alice;a@x.edu;asmith;late\n")

    entry = roster.match("al")
    assert (entry.name, entry.email, entry.sis_login_id) == ("Alice", "a@x.edu", "asmith")


def test_submissions_match_by_login_or_email_when_there_is_no_id_column():
    roster = parse_roster("name,email,sis_login_id\nAlice,alice@x.edu,asmith\nBob,bob@x.edu,\n")

    assert roster.match("asmith").name == "Alice"
    assert roster.match("bob@x.edu").name == "Bob"
    assert roster.match("bob") is None


def test_a_canvas_gradebook_export_works_as_a_roster():
    text = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,RNN (12345)\n"
            "    Points Possible,,,,,100\n"
            "\"Smith, Alice\",101,S001,asmith,Section A,88\n")
    roster = parse_roster(text)

    (entry,) = roster.entries
    assert (entry.name, entry.canvas_id, entry.sis_user_id, entry.sis_login_id, entry.id) == (
        "Smith, Alice", "101", "S001", "asmith", "")
    assert roster.match("asmith") is entry and roster.match("101") is entry


def test_blank_lines_are_skipped_and_short_rows_filled(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"\xef\xbb\xbfid,name,section\r\n\r\nalice,Alice\r\n")

    roster = load_roster(path)

    assert [(entry.line, entry.id, entry.section) for entry in roster.entries] == [(3, "alice", "")]


@pytest.mark.parametrize("text, message", [
    ("", "roster: empty; expected a header row such as id,name,email,sis_login_id,section"),
    ("name,section\nAlice,A\n", "roster, line 1: no column to match submissions by; expected one of id, "
                                "sis_login_id, sis_user_id, email, canvas_id (got 'name', 'section')"),
    ("id,name\nalice,Alice\nbob,Bob\nalice,Alice again\n",
     "roster, line 4: id 'alice' is already the id of line 2; every student needs values of their own"),
    ("id,name\nalice,Alice,extra\n", "roster, line 2: 3 fields, but the header has 2"),
    ("id,name\n,Nobody\n", "roster, line 2: no id value, so no submission can be matched to this student"),
    ("id,email,e-mail\na,b,c\n", "roster, line 1: columns 'email' and 'e-mail' both give the email; keep one"),
    ('id,name\nalice,"Alice\n', "roster, line 2: not valid CSV: unexpected end of data"),
])
def test_problems_name_the_line(text, message):
    with pytest.raises(RosterError) as error:
        parse_roster(text)

    assert str(error.value) == message


def test_unreadable_or_non_utf8_file_is_a_clear_error(tmp_path):
    with pytest.raises(RosterError, match=r"roster.csv: cannot be read: No such file or directory"):
        load_roster(tmp_path / "roster.csv")
    (tmp_path / "latin1.csv").write_bytes(b"id,name\nalice,Alice\nbob,J\xf6rg\n")
    with pytest.raises(RosterError) as error:
        load_roster(tmp_path / "latin1.csv")
    assert str(error.value) == f'{tmp_path / "latin1.csv"}, line 3: not UTF-8 text; save the roster as "CSV UTF-8"'
