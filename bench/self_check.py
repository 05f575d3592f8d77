"""How long a student waits for ``grader check`` in a freshly installed bundle.

For each assignment: release it (``grader release``), set the bundle up as its
CHECK.md says (a venv in the bundle folder; PyTorch, when the assignment uses
it, from a template venv of the same release linked in, as pip would find it
satisfied), put the solution's files in the student's place, and time
``grader check`` as a student runs it: whole processes, wall clock. The first
run (which compiles bytecode) is reported apart; the median of the others is
what the goals are about: under 2 s for the numpy assignments, under 4 s for
the torch ones, on 2 cores.

    .venv/bin/python bench/self_check.py            # autograd, ffnn_lm, rnn, rnn_lm
    .venv/bin/python bench/self_check.py -n 7 rnn   # one assignment, more runs

Set-up (releases, venvs) is kept in ``bench/.self-check/`` for the next run;
``--fresh`` starts over.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".self-check"
GOALS = {"numpy": 2.0, "torch": 4.0}
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def run(command, cwd=None, quiet=True) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=quiet, text=True, shell=isinstance(command, str),
                          executable="/bin/bash" if isinstance(command, str) else None)
    if done.returncode != 0:
        raise SystemExit(f"{command!r} failed:\n{done.stdout}\n{done.stderr}")
    return done


def torch_template() -> Path:
    template = WORK / "torch-template"
    if not (template / "bin" / "python").exists():
        run([BASE_PYTHON, "-m", "venv", str(template)])
        run([str(template / "bin" / "python"), "-m", "pip", "install", "--quiet",
             os.environ.get("TORCH_SPEC", "torch==2.13.0")])
    return template


def set_up(name: str) -> tuple[Path, str]:
    """The released bundle of ``name``, set up as CHECK.md says, with the solution in place; its kind."""
    from grader.config import load_assignment
    from grader.release import release_assignment

    bundle = WORK / name
    assignment = load_assignment(ROOT / "assignments" / name)
    if not (bundle / ".venv" / "bin" / "grader").exists():
        shutil.rmtree(bundle, ignore_errors=True)
        release_assignment(assignment.root, bundle)
        torch = "torch==" in (bundle / "requirements.txt").read_text()
        if torch:
            run(["cp", "-al", str(torch_template()), str(bundle / ".venv")])
        run("python3 -m venv .venv && . .venv/bin/activate && python -m pip install --quiet -r requirements.txt",
            cwd=bundle)
    for relative in assignment.student_files:
        shutil.copy(assignment.root / assignment.solution / relative, bundle / relative)
    return bundle, "torch" if "torch==" in (bundle / "requirements.txt").read_text() else "numpy"


def time_check(bundle: Path, runs: int) -> tuple[float, list[float]]:
    """Wall-clock seconds of ``grader check`` in ``bundle``: the first run, then ``runs`` more."""
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        run([str(bundle / ".venv" / "bin" / "grader"), "check", "--format", "json"], cwd=bundle)
        times.append(time.perf_counter() - started)
    return times[0], times[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", default=["autograd", "ffnn_lm", "rnn", "rnn_lm"])
    parser.add_argument("-n", "--runs", type=int, default=5, help="timed runs after the first (default 5)")
    parser.add_argument("--fresh", action="store_true", help="release and set up again")
    args = parser.parse_args(argv)
    if args.fresh:
        shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    rows = []
    for name in args.assignments:
        bundle, kind = set_up(name)
        first, times = time_check(bundle, args.runs)
        median = statistics.median(times)
        goal = GOALS[kind]
        verdict = "met" if median < goal else f"missed by {median - goal:.2f} s"
        rows.append(f"| {name} | {kind} | {first:.2f} | {median:.2f} | {min(times):.2f} | {max(times):.2f} | "
                    f"< {goal:g} s: {verdict} |")
    print(f"grader check in a freshly set-up bundle, solution in place, {args.runs} timed runs after a first one; "
          f"{os.cpu_count()} cores, load {load:.2f} before")
    print("| assignment | kind | first run (s) | median (s) | min | max | goal |")
    print("|---|---|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
