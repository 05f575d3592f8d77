"""The diagnosis in reports and exports: the named mistake where the student reads feedback, never for hidden tests."""
from __future__ import annotations

from grader.check import print_check
from grader.exports.gradescope import results_json
from grader.report import write_reports
from grader.report.html import render_summary
from grader.report.submission import build_submission_report
from grader.report.summary import build_class_summary, common_mistakes
from grader.results import Diagnosis, MatchedMistake
from tests.report.conftest import BEFORE_DUE, HIDDEN_MESSAGE, PLAN, make_folder, result

GATES = MatchedMistake("lstm_gates_ifog", "LSTM gate blocks read in the order i|f|o|g instead of i|f|g|o",
                       "Split the pre-activation in the order i, f, g, o.")
UNEXPLAINED = Diagnosis([], ["lstm_gates_ifog", "lstm_tanh_gates", "lstm_missing_hidden_bias"])


def diagnosed(student_id: str, public: Diagnosis | None, hidden: Diagnosis | None = None):
    item = result(student_id)
    item.tests[1].diagnosis = public
    item.tests[2].diagnosis = hidden
    return item


def test_the_named_mistake_is_shown_to_student_and_instructor(tmp_path):
    folder = make_folder(tmp_path, [diagnosed("bob", Diagnosis([GATES], ["lstm_gates_ifog"]))])
    for flavour in ("instructor", "student"):
        page = build_submission_report(folder.results[0], folder.manifest, flavour, now=BEFORE_DUE)
        assert page.tests[1].diagnosis.matched == [GATES]


def test_a_hidden_tests_diagnosis_is_withheld_from_the_student(tmp_path):
    secret = Diagnosis([MatchedMistake("lstm_tanh_gates", "SECRET-TITLE", "SECRET-EXPLANATION")], ["lstm_tanh_gates"])
    folder = make_folder(tmp_path, [diagnosed("bob", None, secret)])
    student = build_submission_report(folder.results[0], folder.manifest, "student", now=BEFORE_DUE)
    assert student.tests[2].diagnosis is None and student.tests[2].details_withheld
    write_reports(folder, now=BEFORE_DUE)
    feedback = (tmp_path / "bob" / "feedback.html").read_text()
    assert "SECRET-TITLE" not in feedback and HIDDEN_MESSAGE not in feedback
    assert "SECRET-TITLE" in (tmp_path / "bob" / "report.html").read_text()


def test_pages_say_likely_mistake_or_that_none_matched(tmp_path):
    folder = make_folder(tmp_path, [diagnosed("bob", Diagnosis([GATES], ["lstm_gates_ifog"])),
                                    diagnosed("carol", UNEXPLAINED)])
    write_reports(folder, now=BEFORE_DUE)
    bob = (tmp_path / "bob" / "feedback.html").read_text()
    assert "Likely mistake: LSTM gate blocks read in the order i|f|o|g instead of i|f|g|o." in bob
    assert "Split the pre-activation in the order i, f, g, o." in bob
    carol = (tmp_path / "carol" / "feedback.html").read_text()
    assert "No known mistake explains this output: 3 classic mistakes checked." in carol
    assert "Likely mistake" not in carol


def test_the_class_summary_ranks_mistakes_by_submissions(tmp_path):
    other = MatchedMistake("lstm_tanh_gates", "LSTM gates i, f, o squashed with tanh instead of sigmoid", "Use sigmoid.")
    results = [diagnosed("bob", Diagnosis([GATES], ["lstm_gates_ifog"])),
               diagnosed("dan", Diagnosis([GATES], ["lstm_gates_ifog"])),
               diagnosed("eve", Diagnosis([other], ["lstm_tanh_gates"])),
               diagnosed("carol", UNEXPLAINED), result("alice")]
    mistakes, unexplained = common_mistakes(results)
    assert [(m.id, m.students, m.tests) for m in mistakes] == [("lstm_gates_ifog", ["bob", "dan"], [PLAN[1].name]),
                                                               ("lstm_tanh_gates", ["eve"], [PLAN[1].name])]
    assert unexplained == 1
    folder = make_folder(tmp_path, results)
    html = render_summary(build_class_summary(folder))
    assert "Classic mistakes named by the diagnosis" in html and "1 other failed check matched no known mistake" in html


def test_gradescope_output_carries_the_diagnosis(tmp_path):
    item = diagnosed("bob", Diagnosis([GATES], ["lstm_gates_ifog"]))
    data = results_json(item, "Toy assignment")
    lstm = next(test for test in data["tests"] if test["name"] == PLAN[1].name)
    assert lstm["output"].endswith("Likely mistake: LSTM gate blocks read in the order i|f|o|g instead of i|f|g|o. "
                                   "Split the pre-activation in the order i, f, g, o.")


def test_the_self_check_table_names_the_mistake(tmp_path):
    from io import StringIO

    from rich.console import Console

    from grader.config import load_assignment
    from tests.grader.conftest import TOY_ASSIGNMENT

    buffer = StringIO()
    print_check(diagnosed("bob", Diagnosis([GATES], ["lstm_gates_ifog"])), load_assignment(TOY_ASSIGNMENT),
                console=Console(file=buffer, width=200))
    assert "Likely mistake: LSTM gate blocks read in the order i|f|o|g instead of i|f|g|o." in buffer.getvalue()
