"""The HTML reporter: report data rendered with Jinja2 templates, one ``render`` call per page.

Templates live in ``templates/`` (:func:`grader.resources.templates_dir`):
``submission.html.j2`` (both flavours of a submission's page),
``summary.html.j2`` (the class summary) and ``report.css``, inlined into
every page at render time, so each file stands alone: no external
stylesheet, script, font or image, readable offline, on a phone and on paper.

Everything a student wrote (ids, output, messages) is data: autoescaping is
on for every ``.html.j2`` template, and no template marks student text safe.
Each page also carries a Content-Security-Policy that allows no script at all.
"""
from __future__ import annotations

import datetime as dt
import functools
import math

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from grader.report.model import ClassSummary, SubmissionReport
from grader.report.submission import format_bytes
from grader.resources import templates_dir

SUBMISSION_TEMPLATE = "submission.html.j2"
SUMMARY_TEMPLATE = "summary.html.j2"


def format_points(value: float | None) -> str:
    """``12.0`` -> ``12``, ``2.3333`` -> ``2.33``; None -> an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{round(value, 2):g}"


def format_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def format_seconds(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f} s"


def format_timestamp(value: str | None) -> str:
    """An ISO 8601 time as ``2026-12-01 23:59 UTC`` (or with its offset); other text unchanged."""
    if not value:
        return "–"
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    offset = moment.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else moment.strftime(" UTC%z")
    return moment.strftime("%Y-%m-%d %H:%M") + zone


def bar_width(value: float | None) -> str:
    """A percentage for a CSS width, clamped to 0..100 and always a plain number (it lands in a style attribute)."""
    if value is None or math.isnan(value):
        return "0"
    return f"{min(max(value, 0.0), 100.0):.1f}"


@functools.lru_cache(maxsize=None)
def environment() -> Environment:
    """The Jinja2 environment of the reports: autoescape on for HTML templates, undefined names an error."""
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True, default=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters.update(points=format_points, percent=format_percent, seconds=format_seconds, timestamp=format_timestamp,
                       bytes=format_bytes, bar_width=bar_width)
    return env


def render_submission(report: SubmissionReport) -> str:
    """``report.html`` or ``feedback.html`` (the flavour is in ``report``)."""
    return environment().get_template(SUBMISSION_TEMPLATE).render(report=report)


def render_summary(summary: ClassSummary) -> str:
    """``index.html``: the class summary."""
    return environment().get_template(SUMMARY_TEMPLATE).render(summary=summary)
