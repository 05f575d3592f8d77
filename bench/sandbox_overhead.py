"""Per-submission overhead of the sandbox, warm worker against a fresh interpreter.

Grades N copies of a correct submission serially (one job) with each
configuration and prints, side by side, the median and 95th percentile of the
per-submission wall time the grader recorded (``result.duration``: workspace,
worker start, every test, clean-up). The toy assignment's student code takes
microseconds, so its time is almost all overhead; the ``rnn`` assignment adds
what importing torch costs a worker.

    .venv/bin/python bench/sandbox_overhead.py -n 24
"""
from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.batch import grade_batch  # noqa: E402
from grader.sandbox.probe import choose_backend  # noqa: E402

CASES = {
    "toy (numpy)": (ROOT / "tests/fixtures/assignments/toy", ROOT / "tests/fixtures/submissions/toy/correct"),
    "rnn (torch)": (ROOT / "assignments/rnn", ROOT / "examples/submissions/rnn/alice_correct"),
}


def durations(assignment: Path, submission: Path, copies: int, backend: str, warm: bool) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        folder = Path(scratch) / "subs"
        for index in range(copies):
            shutil.copytree(submission, folder / f"s{index:03d}")
        summary = grade_batch(folder, assignment, Path(scratch) / "out", jobs=1, sandbox=backend, warm=warm)
        assert all(result.total == result.possible for result in summary.results), "the correct submission lost points"
        return sorted(result.duration for result in summary.results)


def worker_start_times(copies: int, backend: str, warm: bool, student: str, allowed: tuple[str, ...]) -> list[float]:
    """Seconds from asking for a worker to its first answer (importing a trivial student module), then killed."""
    from grader.config import Limits
    from grader.proxy import StudentProxy
    from grader.sandbox import Sandbox, WorkerSpec
    from grader.session import WorkerSession

    sandbox = Sandbox(backend=backend, warm=warm)
    times = []
    try:
        for index in range(copies + 1):
            root = sandbox.new_scratch("start-") / "work"
            root.mkdir()
            (root / "student.py").write_text(student)
            sandbox.hand_over(root)
            session = WorkerSession(WorkerSpec(root, Limits(test_seconds=60, submission_seconds=60), allowed),
                                    launcher=sandbox.launch)
            session.test_deadline = time.monotonic() + 60
            started = time.monotonic()
            StudentProxy(session).module("student")
            if index:  # the first warm start also starts the zygote: reported separately below
                times.append(time.monotonic() - started)
            session.close()
            shutil.rmtree(root.parent, ignore_errors=True)
    finally:
        sandbox.close()
    return sorted(times)


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--copies", type=int, default=24, help="submissions per configuration (default 24)")
    parser.add_argument("--backend", default="auto", help="sandbox backend (default: the strongest available)")
    args = parser.parse_args()
    backend = choose_backend(args.backend)
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}, backend {backend}, "
          f"{args.copies} submissions per row, one job\n")
    print("Worker start to first answer (the sandbox's own cost per submission):\n")
    print("| student module imports | worker | median | p95 |")
    print("|---|---|---:|---:|")
    for label, student, allowed in (("numpy", "import numpy\n", ("numpy",)), ("torch", "import torch\n", ("numpy", "torch"))):
        for warm in (False, True):
            times = worker_start_times(args.copies, backend, warm, student, allowed)
            print(f"| {label} | {'warm zygote' if warm else 'fresh interpreter'} | {statistics.median(times) * 1000:.0f} ms "
                  f"| {percentile(times, 0.95) * 1000:.0f} ms |")
    print("\nWhole submissions, graded serially (workspace, worker, every test, clean-up):\n")
    print("| assignment | worker | median per submission | p95 | warm speed-up (median) |")
    print("|---|---|---:|---:|---:|")
    for label, (assignment, submission) in CASES.items():
        started = time.monotonic()
        cold = durations(assignment, submission, args.copies, backend, warm=False)
        warm = durations(assignment, submission, args.copies, backend, warm=True)
        cold_median, warm_median = statistics.median(cold), statistics.median(warm)
        print(f"| {label} | fresh interpreter | {cold_median * 1000:.0f} ms | {percentile(cold, 0.95) * 1000:.0f} ms | |")
        print(f"| {label} | warm zygote | {warm_median * 1000:.0f} ms | {percentile(warm, 0.95) * 1000:.0f} ms | "
              f"{cold_median / warm_median:.1f}x |")
        print(f"<!-- {label}: {time.monotonic() - started:.0f} s -->", file=sys.stderr)


if __name__ == "__main__":
    main()
