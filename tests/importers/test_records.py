"""The metadata record, its way into results, the roster look-ups and the Canvas export's use of it."""
from __future__ import annotations

import csv

from grader.exports.canvas import canvas_export
from grader.importers.record import Member, Submitted
from grader.results import SubmissionResult
from grader.roster import normal_name, parse_roster

from ..exports.conftest import make_result, write_graded_folder
from .conftest import ROSTER


def test_submitted_round_trips_through_a_dict_and_drops_empty_values():
    submitted = Submitted(source_format="Gradescope export", entries=("submission_9",), name="Jane Smith",
                          members=(Member("Jane Smith", "S1", "j@x"), Member("Zoe Zed", "S3", "")), late=True,
                          on_roster=False, notes=("n",), warnings=("w",)).with_lms_id("gradescope_sid", "S1")

    data = submitted.to_dict()

    assert Submitted.from_dict(data) == submitted
    assert "email" not in data and "commit" not in data and data["lms_ids"] == {"gradescope_sid": "S1"}
    assert submitted.identities() == ["S1", "j@x", "S3"]


def test_malformed_submitted_data_is_dropped_never_raised():
    assert Submitted.from_dict("nonsense") == Submitted()
    assert Submitted.from_dict({"late": "yes", "members": [3, {"name": "A", "evil": 1}], "notes": "x"}) == \
        Submitted(members=(Member(name="A"),))


def test_results_without_or_with_a_broken_submitted_field_still_load():
    old = make_result("alice").to_dict()
    del old["submitted"]
    assert SubmissionResult.from_dict(old).submitted == {}
    old["submitted"] = ["not", "a", "dict"]
    assert SubmissionResult.from_dict(old).submitted == {}


def test_students_see_no_lms_ids_or_warnings():
    submitted = Submitted(source_format="Canvas bulk download", late=True, on_roster=False,
                          warnings=("check",)).with_lms_id("canvas_user_id", "101")

    assert submitted.describe(instructor=False) == [("imported from", "Canvas bulk download"),
                                                    ("late", "yes: handed in after the due date")]
    assert ("Canvas user id", "101") in submitted.describe() and ("roster", "not on the roster") in submitted.describe()


def test_roster_find_tries_identities_then_a_unique_name():
    roster = parse_roster(ROSTER + "zoe2,Zoe Zed,,,,,\n".replace("Zoe Zed", "Jon Doe"))

    assert roster.find(["nobody", "102"]).name == "John Doe"
    assert roster.find([], "smith, JANÉ").name == "Jane Smith"
    assert roster.find(["nobody"], "Unknown Person") is None
    assert [entry.label for entry in roster.missing([2, 3])] == ["Zoe Zed", "Jon Doe"]
    assert normal_name("  Doe,  John ") == "john doe"


def test_a_name_two_rows_share_matches_neither():
    roster = parse_roster("id,name\na,Sam Lee\nb,Sam Lee\n")

    assert roster.find([], "Sam Lee") is None


def test_canvas_export_keeps_the_download_user_id_without_a_roster(tmp_path):
    canvas = Submitted(source_format="Canvas bulk download", name="").with_lms_id("canvas_user_id", "101")
    folder = write_graded_folder(tmp_path / "graded", [make_result("smithjane_101", submitted=canvas.to_dict()),
                                                       make_result("plain")])

    export = canvas_export(folder)

    rows = list(csv.reader(export.to_csv().splitlines()))
    assert rows[2][:2] == ["plain", ""] and rows[3][:2] == ["smithjane_101", "101"]
    assert export.from_download == ["smithjane_101"]
    assert export.notes() == [
        "no roster: the 1 row(s) carry submission ids and empty identity columns, which Canvas cannot match; "
        "pass a roster to fill them",
        "1 submission(s) have no roster entry but keep the Canvas user id of the bulk download, which Canvas "
        "matches: smithjane_101"]


def test_canvas_export_credits_every_group_member_on_the_roster(tmp_path):
    group = Submitted(source_format="Gradescope export", name="Jane Smith",
                      members=(Member("Jane Smith", "S1"), Member("Zoe Zed", "S3")))
    folder = write_graded_folder(tmp_path / "graded", [make_result("S1", submitted=group.to_dict())])

    export = canvas_export(folder, parse_roster(ROSTER))

    scores = {row.student: row.score for row in export.rows}
    assert scores == {"Jane Smith": "10", "John Doe": "", "Zoe Zed": "10"}
    assert export.missing == ["John Doe"] and export.unmatched == []
