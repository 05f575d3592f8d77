"""Tests of the Canvas gradebook import file: columns, the Points Possible row, and nobody dropped."""
from __future__ import annotations

import csv
import io

from grader.exports.canvas import POINTS_POSSIBLE, canvas_export, format_points
from grader.roster import parse_roster

ROSTER = ("id,name,canvas_id,sis_user_id,sis_login_id,section\n"
          "bob,\"Jones, Bob\",102,S002,bjones,B\n"
          "alice,\"Smith, Alice\",101,S001,asmith,A\n"
          "zoe,\"Zed, Zoe\",109,S009,zzed,A\n"
          "erin,Erin Ng,105,S005,eng,B\n")


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_header_points_possible_and_one_row_per_roster_student_then_unmatched(graded):
    export = canvas_export(graded, parse_roster(ROSTER), assignment_id=12345)

    rows = rows_of(export.to_csv())
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       'Toy, "quoted" & <tagged> (12345)']
    assert rows[1] == [POINTS_POSSIBLE, "", "", "", "", "10"] and rows[1][0] == "    Points Possible"
    assert rows[2:] == [
        ["Jones, Bob", "102", "S002", "bjones", "B", "10"],
        ["Smith, Alice", "101", "S001", "asmith", "A", "6"],
        ["Zed, Zoe", "109", "S009", "zzed", "A", ""],       # on the roster, no submission: empty score
        ["Erin Ng", "105", "S005", "eng", "B", ""],         # grader failure: no score rather than a wrong 0
        ["carol", "", "", "", "", "8"],                     # no roster entry: exported all the same
        ["dave", "", "", "", "", "0"],                      # broken submission: a real 0
        ["frank", "", "", "", "", ""],                      # unreadable result
    ]
    assert export.unmatched == ["carol", "dave", "frank"]
    assert export.missing == ["Zed, Zoe"]
    assert export.not_scored == ["erin", "frank"]
    assert export.notes() == [
        "3 submission(s) have no roster entry, exported with empty identity columns (Canvas cannot match them): "
        "carol, dave, frank",
        "1 student(s) on the roster have no submission, exported with an empty score: Zed, Zoe",
        "2 submission(s) have no score to export (grader failure or unreadable result; regrade them): erin, frank",
    ]


def test_without_a_roster_every_submission_has_a_row_and_a_note_says_why_canvas_cannot_match_them(graded):
    export = canvas_export(graded)

    assert [row.student for row in export.rows] == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert export.column == 'Toy, "quoted" & <tagged>'
    assert export.notes()[0] == ("no roster: the 6 row(s) carry submission ids and empty identity columns, which "
                                 "Canvas cannot match; pass a roster to fill them")


def test_a_second_submission_of_the_same_student_gets_its_own_row_and_a_note(graded):
    roster = parse_roster("id,name,email\nalice,Alice,bob\n")  # bob's id is alice's e-mail here

    export = canvas_export(graded, roster)

    assert [row.submission_id for row in export.rows][:1] == ["alice"]
    assert export.duplicates == ["bob"] and "bob" in [row.student for row in export.rows]
    assert "belong to a student who already has one" in export.notes()[-1]


def test_points_are_written_as_canvas_reads_them():
    assert [format_points(value) for value in (12.0, 9.5, 10 / 3, 0.0, -0.0, 1e-9)] == ["12", "9.5", "3.3333", "0", "0", "0"]
