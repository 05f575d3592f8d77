"""grader.plan.rewritten_code_cache: pytest's work on unchanged source is reused, and reports stay the same.

The cache patches two pytest internals; these tests fail (rather than the
speed-up silently vanishing) when a pytest release changes them.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from _pytest._code import code as pytest_code
from _pytest.assertion import rewrite as assertion_rewrite

from grader import plan
from grader.plan import forget_modules_under, rewritten_code_cache

TEST_FILE = '''
def helper(value):
    return value * 2


def test_passes():
    assert helper(2) == 4


def test_fails():
    expected = 5
    assert helper(2) == expected, "helper doubles"
'''


class _Reports:
    def __init__(self) -> None:
        self.outcomes: dict[str, tuple[str, str]] = {}

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.outcomes[report.nodeid.split("::")[-1]] = (report.outcome, report.longreprtext)


def run(path: Path) -> dict[str, tuple[str, str]]:
    reports = _Reports()
    args = ["-q", "-p", "no:cacheprovider", "--rootdir", str(path.parent), str(path)]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(args, plugins=[reports])
    forget_modules_under(path.parent)  # as the grader does: the next run imports the test module afresh
    return reports.outcomes


@pytest.fixture
def test_file(tmp_path: Path) -> Path:
    path = tmp_path / "test_cached_module.py"
    path.write_text(TEST_FILE)
    return path


def test_the_pytest_internals_the_cache_patches_exist():
    assert callable(getattr(assertion_rewrite, "_rewrite_test", None))
    assert callable(getattr(pytest_code, "getstatementrange_ast", None))


def test_reports_are_the_same_with_the_cache_and_the_rewritten_code_is_reused(test_file: Path):
    plain = run(test_file)
    with rewritten_code_cache():
        first = run(test_file)
        cached = {key: value for key, value in plan._REWRITTEN.items() if key[0] == str(test_file)}
        second = run(test_file)
    assert plain["test_passes"][0] == "passed" and plain["test_fails"][0] == "failed"
    assert "helper doubles" in plain["test_fails"][1] and "assert 4 == 5" in plain["test_fails"][1]
    assert first == plain and second == plain
    assert len(cached) == 1, "pytest did not go through the patched _rewrite_test"
    assert any("helper doubles" in source for source in plan._STATEMENT_TREES), \
        "pytest did not go through the patched getstatementrange_ast to report the failure"
    assert assertion_rewrite._rewrite_test.__module__ == "_pytest.assertion.rewrite"  # restored after the block


def test_changed_source_is_rewritten_again(test_file: Path):
    with rewritten_code_cache():
        run(test_file)
        test_file.write_text(TEST_FILE.replace("expected = 5", "expected = 4"))
        outcomes = run(test_file)
    assert outcomes["test_fails"][0] == "passed"
