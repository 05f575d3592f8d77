"""The HTML pages: layout in the graded folder, visibility on the page, escaping, self-containment, gold file."""
from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

from grader.report import write_reports
from grader.report.html import environment, format_timestamp, render_submission
from grader.report.model import INSTRUCTOR
from grader.report.submission import build_submission_report
from grader.resources import templates_dir

from .conftest import AFTER_DUE, BEFORE_DUE, HIDDEN_MESSAGE, LATE_MESSAGE, PLAN, make_folder, manifest, result

GOLD = Path(__file__).resolve().parent / "gold"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def pages(folder_path: Path) -> dict[str, str]:
    return {path.relative_to(folder_path).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(folder_path.rglob("*.html"))}


# -- layout and visibility ---------------------------------------------------------------------

def test_every_submission_gets_a_report_and_a_feedback_page_beside_its_result(graded):
    written = write_reports(graded, now=AFTER_DUE)

    assert written.index == graded.path / "index.html"
    assert sorted(pages(graded.path)) == [
        "alice/feedback.html", "alice/report.html", "bob/feedback.html", "bob/report.html",
        "carol/feedback.html", "carol/report.html", "index.html"]
    assert [(p.student_id, p.report.name, p.feedback.name) for p in written.submissions] == [
        ("alice", "report.html", "feedback.html"), ("bob", "report.html", "feedback.html"),
        ("carol", "report.html", "feedback.html")]
    assert not list(graded.path.rglob("*.tmp")), "temp files are renamed into place"


def test_a_hidden_test_message_never_appears_in_feedback_html(graded):
    write_reports(graded, now=AFTER_DUE)

    feedback = (graded.path / "alice" / "feedback.html").read_text(encoding="utf-8")
    report = (graded.path / "alice" / "report.html").read_text(encoding="utf-8")
    assert HIDDEN_MESSAGE in report and PLAN[2].id in report
    assert "HIDDEN-ORACLE-SAYS" not in feedback and "secret sequence" not in feedback
    assert "test_secret_case" not in feedback and "test_hidden.py" not in feedback
    assert "long sequences" in feedback, "the hidden test's name is shown"
    assert "hidden test: only its result is shown" in feedback
    assert "epoch 1 loss" not in feedback, "output printed beside hidden tests is not shown"
    assert "epoch 1 loss" in report


def test_after_due_date_tests_appear_in_feedback_only_once_the_due_date_passed(graded):
    write_reports(graded, now=BEFORE_DUE)
    before = (graded.path / "carol" / "feedback.html").read_text(encoding="utf-8")
    write_reports(graded, now=AFTER_DUE)
    after = (graded.path / "carol" / "feedback.html").read_text(encoding="utf-8")

    assert "after the due date</h3>" not in before and "LATE-DETAIL" not in before
    assert "1 more test (1 points) will be shown after the due date (2026-12-01 23:59 UTC)" in before
    assert "after the due date</h3>" in after and LATE_MESSAGE in after
    assert "will be shown after the due date" not in after


def test_the_instructor_page_shows_mismatch_figures_and_positions(graded):
    write_reports(graded, now=AFTER_DUE)
    report = (graded.path / "alice" / "report.html").read_text(encoding="utf-8")

    for figure in ("<dd>(4, 5)</dd>", "<dd>20 of 20</dd>", "<dd>0.746</dd>", "<dd>70.2</dd>",
                   "<dd>rtol=0.0001, atol=1e-05</dd>"):
        assert figure in report
    assert '<td class="num mono">-0.177802</td><td class="num mono">0.0210888</td>' in report
    assert "17 more elements differ; the first 3 are shown." in report
    assert "<dd>4 GiB</dd>" in report and "<dd>bwrap</dd>" in report


def test_legacy_results_say_computed_inside_the_sandbox_on_every_page(tmp_path):
    legacy = result("old")
    for test in legacy.tests:
        test.computed_in = "sandbox"
    plan = [type(test)(test.id, test.name, test.points, test.visibility, "sandbox") for test in PLAN]
    folder = make_folder(tmp_path / "g", [legacy], manifest(plan=plan))

    write_reports(folder, now=AFTER_DUE)

    for name, page in pages(folder.path).items():
        assert "Computed inside the sandbox" in page, name


# -- escaping ---------------------------------------------------------------------------------

def test_student_text_is_escaped_everywhere(tmp_path):
    public_plan = PLAN[:2]
    hostile = result(IMG, stdout=f"{SCRIPT}\n{IMG}\n", stderr=SCRIPT, message=f"{SCRIPT} tests passed")
    hostile.tests = hostile.tests[:2]
    hostile.tests[0].status, hostile.tests[0].points, hostile.tests[0].message = "failed", 0.0, f"got {SCRIPT} {IMG}"
    hostile.notes = [IMG]
    folder = make_folder(tmp_path / "g", [hostile], manifest(plan=public_plan))

    write_reports(folder, now=AFTER_DUE)

    written = pages(folder.path)
    assert sorted(written) == ["<img src=x onerror=alert(1)>/feedback.html",
                               "<img src=x onerror=alert(1)>/report.html", "index.html"]
    for name, page in written.items():
        assert SCRIPT not in page and IMG not in page, name
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, name
        if name != "index.html":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name
        tags = Tags(page).tags
        assert not [tag for tag, _ in tags if tag in ("script", "img", "iframe", "object", "embed")], name
        assert not [attrs for _, attrs in tags if any(key.startswith("on") for key in attrs)], name


def test_an_id_that_is_no_folder_name_gets_no_page_but_an_escaped_row(tmp_path):
    folder = make_folder(tmp_path / "g", [result("alice")])
    folder.results.append(result(SCRIPT))
    folder.results.append(result("../escape"))

    written = write_reports(folder, now=AFTER_DUE)

    assert written.skipped == [SCRIPT, "../escape"]
    assert not (tmp_path / "escape").exists() and not list(tmp_path.glob("*.html"))
    index = (folder.path / "index.html").read_text(encoding="utf-8")
    assert SCRIPT not in index and "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert 'href="./%3Cscript%3Ealert%281%29%3C%2Fscript%3E/report.html"' in index


def test_autoescape_is_on_for_html_templates_and_no_template_marks_text_safe():
    env = environment()
    assert env.from_string("{{ x }}").render(x=SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert env.autoescape("submission.html.j2") is True and env.autoescape("summary.html.j2") is True
    for template in templates_dir().glob("*.html.j2"):
        source = template.read_text(encoding="utf-8")
        assert "|safe" not in source.replace(" ", "") and "Markup" not in source, template.name
        assert "autoescape false" not in source, template.name


# -- self-contained, responsive, printable --------------------------------------------------------

def test_pages_are_self_contained_responsive_and_printable(graded):
    write_reports(graded, now=AFTER_DUE)
    css = (templates_dir() / "report.css").read_text(encoding="utf-8")

    for name, page in pages(graded.path).items():
        assert "http://" not in page and "https://" not in page, name
        assert "@import" not in page and "url(" not in page, name
        tags = Tags(page).tags
        for tag, attrs in tags:
            for key in ("src", "href", "srcset", "data", "action", "poster"):
                value = attrs.get(key)
                if value is not None and not value.startswith("data:"):
                    assert not re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", value, re.I), (name, tag, key, value)
        links = [attrs for tag, attrs in tags if tag == "link"]
        assert links == [{"rel": "icon", "href": "data:,"}], name
        assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in tags, name
        style = re.search(r"<style>\n(.*?)</style>", page, re.S)
        assert style and style.group(1) == css, f"{name}: the stylesheet is inlined as it is"
        assert "@media print" in page and "@media (max-width" in page
        assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_an_empty_graded_folder_still_gets_a_summary(tmp_path):
    folder = make_folder(tmp_path / "g", [])

    write_reports(folder)

    assert "No graded submissions yet." in (folder.path / "index.html").read_text(encoding="utf-8")


def test_timestamps_are_shown_in_minutes_with_their_zone():
    assert format_timestamp("2026-12-01T23:59:00+00:00") == "2026-12-01 23:59 UTC"
    assert format_timestamp("2026-12-01T23:59:00Z") == "2026-12-01 23:59 UTC"
    assert format_timestamp("2026-12-01T23:59:00+01:00") == "2026-12-01 23:59 UTC+0100"
    assert format_timestamp("2026-12-01T23:59:00") == "2026-12-01 23:59"
    assert format_timestamp("soon") == "soon" and format_timestamp("") == "–"


# -- gold file --------------------------------------------------------------------------------

VOLATILE = [
    (re.compile(r"<style>.*?</style>", re.S), "<style>[CSS]</style>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?"), "[TIME]"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?: UTC[+-]?\d*)?"), "[TIME]"),
    (re.compile(r"\b\d+\.\d+ s\b"), "[DURATION]"),
    (re.compile(r"grader \d+\.\d+\.\d+[\w.+-]*"), "grader [VERSION]"),
    (re.compile(r"(?:/[\w.-]+)+/(?=\w+\.(?:html|json))"), "[PATH]/"),
]


def blank_volatile(page: str) -> str:
    for pattern, replacement in VOLATILE:
        page = pattern.sub(replacement, page)
    return page


def test_a_small_report_matches_its_gold_file():
    """Set GRADER_UPDATE_GOLD=1 to rewrite the gold file after an intended change, then review its diff."""
    small = result("dana", stdout="epoch 1 loss 2.31\n", duration=12.3456)
    small.tests, small.message = small.tests[:3], "1 of 3 tests passed"
    page = render_submission(build_submission_report(small, manifest(plan=PLAN[:3]), INSTRUCTOR, now=BEFORE_DUE))

    gold_path = GOLD / "report.html"
    actual = blank_volatile(page)
    if os.environ.get("GRADER_UPDATE_GOLD"):
        gold_path.write_text(actual, encoding="utf-8")
    assert actual == gold_path.read_text(encoding="utf-8")
