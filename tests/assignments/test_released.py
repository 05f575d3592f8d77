"""Every bundled assignment releases a bundle whose self-check needs no oracle and judges every public point.

The release records the public tests' oracle calls against the solution, the
starter, every mutant and every example submission, replays them in the
staged bundle and refuses to release when any submission's public points,
statuses, messages or named mistakes differ (:mod:`grader.expectations`):
a release here is that comparison, for all of them. ``tests/deploy`` then
runs the bundles as students install them.
"""
from __future__ import annotations

import pytest

from grader.mutants import load_mutants
from grader.resources import assignments_dir

from ..grader.test_release import BUNDLED, assert_no_secret_bytes
from ..released import ROOT

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", BUNDLED)
def test_the_bundle_replays_every_mutant_and_example_and_judges_every_public_point_offline(released, name):
    report, bundle = released(name)
    expectations = report.expectations
    examples = {path.name for path in (ROOT / "examples" / "submissions" / name).iterdir()
                if not path.name.startswith(".")}
    mutants = {mutant.submission_id for mutant in load_mutants(report.assignment)}
    assert {"solution", "starter"} | mutants | examples <= set(expectations.submissions)
    assert expectations.offline.unchecked == {}
    assert expectations.offline.checkable_points == report.public_points == 60
    assert {test.visibility for test in report.plan} == {"public"}


@pytest.mark.parametrize("name", BUNDLED)
def test_the_bundle_holds_no_hidden_or_solution_byte(released, name):
    _, bundle = released(name)
    assert_no_secret_bytes(assignments_dir() / name, bundle)
