"""Synthetic ``rnn_lm`` submissions for the benchmark: mostly correct, some wrong, a few crashing or hanging.

Every submission is derived from the reference solution or from the bundled
examples in ``examples/submissions/rnn_lm`` (so its score is known), and gets a
first line of its own so that no two submissions have the same content. The
kinds are spread evenly through the batch (a batch sorted by id meets the slow
ones in the middle, not all at the end):

``correct``  the solution or ``alice_correct``
``wrong``    one known mistake each (``bob_padding_in_loss``, ``carol_...``, ...)
``broken``   an exception on every call (``kate_cuda``) or a syntax error (``judy_...``)
``crash``    the solution with ``os._exit(3)`` in ``train_step``: the worker dies in four tests
``timeout``  ``mallory_loops``: ``generate`` never returns, five tests hit the time limit
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "rnn_lm"
EXAMPLES = ROOT / "examples" / "submissions" / "rnn_lm"
CORRECT = (ASSIGNMENT / "solution" / "lm.py", EXAMPLES / "alice_correct" / "lm.py")
WRONG = tuple(EXAMPLES / name / "lm.py" for name in (
    "bob_padding_in_loss", "carol_sentence_perplexity", "dave_targets_not_shifted", "erin_no_packing",
    "frank_clip_after_step", "grace_temperature_multiplied", "heidi_log2_perplexity", "ivan_enforce_sorted",
    "nina_partial"))
BROKEN = (EXAMPLES / "kate_cuda" / "lm.py", EXAMPLES / "judy_syntax_error" / "lm.py")
TIMEOUT = (EXAMPLES / "mallory_loops" / "lm.py",)
# Kinds whose student code the in-process baseline can run: it cannot stop a hang or survive os._exit.
IN_PROCESS_SAFE = ("correct", "wrong", "broken")


@dataclass(frozen=True)
class Synthetic:
    student_id: str
    kind: str
    derived_from: str


def crashing_solution() -> str:
    """The solution, except that ``train_step`` ends its own process before the optimiser step."""
    text = CORRECT[0].read_text()
    patched = text.replace("    optimizer.step()\n", "    import os\n    os._exit(3)\n", 1)
    assert patched != text, "the solution's train_step changed; update bench/synthetic_submissions.py"
    return patched


def kind_counts(total: int) -> dict[str, int]:
    """How many of each kind a batch of ``total`` holds (at least one of each from 8 on)."""
    if total < 8:
        raise ValueError("the benchmark needs at least 8 submissions (one of each kind and some correct ones)")
    counts = {"timeout": max(1, total // 20), "crash": max(1, total // 20), "broken": max(1, total // 10),
              "wrong": max(1, total // 5)}
    counts["correct"] = total - sum(counts.values())
    return counts


def _spread(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(kind, k) pairs ordered so that every kind is spread evenly over the batch."""
    slots = [((k + 0.5) / count, kind, k) for kind, count in counts.items() for k in range(count)]
    return [(kind, k) for _, kind, k in sorted(slots)]


def write_submissions(folder: Path, total: int) -> list[Synthetic]:
    """Write ``total`` submission folders ``sNNN_<kind>/lm.py`` into ``folder``; return what each is."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = {"correct": CORRECT, "wrong": WRONG, "broken": BROKEN, "timeout": TIMEOUT}
    written = []
    for index, (kind, k) in enumerate(_spread(kind_counts(total))):
        if kind == "crash":
            text, origin = crashing_solution(), "solution + os._exit(3) in train_step"
        else:
            path = sources[kind][k % len(sources[kind])]
            text, origin = path.read_text(), str(path.parent.relative_to(ROOT))
        student_id = f"s{index:03d}_{kind}"
        target = folder / student_id / "lm.py"
        target.parent.mkdir()
        target.write_text(f"# synthetic submission {student_id} ({origin})\n{text}")
        written.append(Synthetic(student_id, kind, origin))
    return written


def bench_assignment(folder: Path, test_seconds: float) -> Path:
    """A copy of ``rnn_lm`` whose per-test time limit is ``test_seconds`` (hangs then cost seconds, not minutes)."""
    import shutil

    target = folder / "rnn_lm"
    shutil.copytree(ASSIGNMENT, target, ignore=shutil.ignore_patterns("__pycache__"))
    config = target / "assignment.toml"
    text, replaced = re.subn(r"(?m)^test_seconds\s*=.*$", f"test_seconds = {test_seconds:g}", config.read_text())
    assert replaced == 1, "assignment.toml of rnn_lm has no test_seconds line"
    config.write_text(text)
    return target
