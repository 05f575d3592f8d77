"""The property every catalogue entry must have, checked on inputs chosen by each test module.

For every mistake that shadows an oracle: its variant runs on the oracle's
arguments, its output differs from the oracle's (so it is a real mistake on
those inputs), and :func:`grader.diagnosis.diagnose` given that output names
exactly this mistake (so a student who makes it gets the right explanation,
not a list of look-alikes).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from grader.diagnosis import arrays_match, diagnose
from reference.mistakes import oracle_key, shadowing


def check_variants_of(oracle: Callable[..., Any], args: tuple, kwargs: dict[str, Any] | None = None,
                      output: Any = None, same: Callable[[Any, Any], bool] | None = None,
                      skip: Iterable[str] = (), look_alikes: dict[str, set[str]] | None = None) -> list[str]:
    """Check every variant of ``oracle`` on these inputs; returns the ids checked.

    ``skip`` names variants these inputs cannot express (checked elsewhere);
    ``look_alikes`` allows, per id, other ids that legitimately give the same
    output on these inputs.
    """
    kwargs = kwargs or {}
    pick = (lambda value: value) if output is None else (output if callable(output) else (lambda value: value[output]))
    equal = same or arrays_match
    want = pick(oracle(*args, **kwargs))
    entries = [entry for entry in shadowing(oracle) if entry.id not in set(skip)]
    assert entries, f"no mistake shadows {oracle_key(oracle)}"
    for entry in entries:
        got = pick(entry.evaluate(*args, **kwargs))
        assert not equal(got, want), f"{entry.id} gives the oracle's own output on these inputs"
        named = {match.id for match in diagnose(got, oracle, args, kwargs, output=output, same=same).matched}
        allowed = {entry.id} | (look_alikes or {}).get(entry.id, set())
        assert entry.id in named, f"{entry.id}: its own output is not diagnosed as {entry.id} (named: {sorted(named)})"
        assert named <= allowed, f"{entry.id}: its output is also diagnosed as {sorted(named - allowed)}"
    return [entry.id for entry in entries]


def float_inputs(rng: np.random.Generator, *shapes: tuple[int, ...], scale: float = 1.0) -> list[np.ndarray]:
    """Standard normal arrays of the given shapes, times ``scale``."""
    return [scale * rng.normal(size=shape) for shape in shapes]
