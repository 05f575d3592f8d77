"""The reports in a real browser: student text shows as text and never runs; the pages fit a phone.

Headless Chromium (Debian package ``chromium``, installed by ``scripts/bootstrap``)
loads the pages from disk: ``--dump-dom`` prints the DOM after scripts would have
run, ``--screenshot`` saves what a reader sees. A control page proves that
scripts do run in this harness, so "the title is unchanged" means something.
In CI (``CI`` set) a missing Chromium fails this test instead of skipping it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.report import write_reports

from .conftest import AFTER_DUE, PLAN, make_folder, manifest, result

pytestmark = pytest.mark.slow

MARK = "document.documentElement.setAttribute('data-pwned', '{}')"
STDOUT = (f"<script>document.title='PWNED'</script>\n<script>{MARK.format('stdout')}</script>\n"
          f"<img src=x onerror=\"{MARK.format('img')}\">\nloss 2.31\n")
HOSTILE_ID = f"<img src=x onerror=\"{MARK.format('id')}\">"


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    message = "headless Chromium is not installed (apt-get install chromium; scripts/bootstrap does it as root)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_chromium(page: Path, profile: Path, *args: str) -> str:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class VisibleText(HTMLParser):
    """The text a reader sees, and the document's title and root attributes."""

    def __init__(self, dom: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.title = ""
        self.root: dict[str, str | None] = {}
        self.elements: list[str] = []
        self._skip: list[str] = []
        self._titles = 0
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        self.elements.append(tag)
        if tag == "html":
            self.root = dict(attrs)
        if tag in ("style", "script", "title"):
            self._skip.append(tag)
            self._titles += tag == "title"  # the first is the document's; later ones are SVG tooltips

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if self._skip == ["title"] and self._titles == 1:
            self.title += data
        elif not self._skip:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture
def hostile_folder(tmp_path):
    mallory = result("mallory", stdout=STDOUT)
    mallory.tests = mallory.tests[:2]  # public tests only: the student's page shows the output too
    folder = make_folder(tmp_path / "graded", [mallory, result(HOSTILE_ID)], manifest(plan=PLAN[:2]))
    write_reports(folder, now=AFTER_DUE)
    return folder


def assert_inert(dom: str, title: str) -> VisibleText:
    page = VisibleText(dom)
    assert page.title == title
    assert "data-pwned" not in page.root and "data-pwned=" not in dom.split("<body", 1)[0]
    assert "script" not in page.elements and "img" not in page.elements
    return page


def test_the_harness_runs_scripts_so_an_unchanged_title_means_something(tmp_path):
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><title>before</title><script>document.title='RAN';"
                       f"{MARK.format('control')}</script><p>x</p>", encoding="utf-8")

    page = VisibleText(run_chromium(control, tmp_path / "profile", "--dump-dom"))

    assert page.title == "RAN" and page.root.get("data-pwned") == "control"


def test_student_output_shows_as_text_and_never_runs(hostile_folder, tmp_path):
    for name in ("report.html", "feedback.html"):
        page = hostile_folder.path / "mallory" / name
        dom = run_chromium(page, tmp_path / "profile", "--dump-dom")

        text = assert_inert(dom, "mallory: Toy assignment").visible
        assert "2 of 10 points" in text, name
        assert "<script>document.title='PWNED'</script>" in text, name
        assert f"<img src=x onerror=\"{MARK.format('img')}\">" in text, name
        assert "loss 2.31" in text, name


def test_escaping_alone_keeps_scripts_inert_without_the_content_security_policy(hostile_folder, tmp_path):
    page = hostile_folder.path / "mallory" / "report.html"
    without_csp = tmp_path / "report-without-csp.html"
    source = page.read_text(encoding="utf-8")
    without_csp.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n', "", source), encoding="utf-8")
    assert "Content-Security-Policy" not in without_csp.read_text(encoding="utf-8")

    dom = run_chromium(without_csp, tmp_path / "profile", "--dump-dom")

    assert "<script>document.title='PWNED'</script>" in assert_inert(dom, "mallory: Toy assignment").visible


def test_a_hostile_student_id_is_text_in_the_summary_and_on_its_own_page(hostile_folder, tmp_path):
    index = run_chromium(hostile_folder.path / "index.html", tmp_path / "profile", "--dump-dom")
    assert HOSTILE_ID in assert_inert(index, "Toy assignment: class summary").visible

    own_page = run_chromium(hostile_folder.path / HOSTILE_ID / "report.html", tmp_path / "profile", "--dump-dom")
    assert HOSTILE_ID in assert_inert(own_page, f"{HOSTILE_ID}: Toy assignment").visible


def test_screenshots_at_phone_and_desktop_width(hostile_folder, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for page, size in (("mallory/report.html", "412,915"), ("mallory/feedback.html", "412,915"),
                       ("index.html", "412,915"), ("mallory/report.html", "1280,900"), ("index.html", "1280,900")):
        target = shots / f"{page.replace('/', '-').removesuffix('.html')}-{size.split(',')[0]}.png"
        run_chromium(hostile_folder.path / page, tmp_path / "profile", f"--screenshot={target}",
                     f"--window-size={size}")
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", target
        assert target.stat().st_size > 10_000, f"{target} looks blank"
