"""A recording of oracle calls: outcomes by key, the surface of the oracle modules, the mistakes' texts.

``grader release`` records what the public tests asked the oracles while they
graded the solution, the starter, the mutants and the example submissions
(:mod:`grader.recorded.recorder`); the bundle carries the recording in
``.grader/expectations/`` and ``grader check`` replays it
(:mod:`grader.recorded.replay`). On disk:

- ``calls.json``: format version; per function (``reference.rnn.lstm_cell``,
  ``mistake:lstm_gates_ifog``) the recorded calls, each with its key (see
  :mod:`grader.recorded.keys`), the digests of its float leaves and its
  outcome (a value, or an exception, and the arguments it changed in place);
  the names of the oracle modules' functions and their constants; the ids,
  titles and explanations of the mistakes the public tests can name;
- ``arrays.npz``: every array, once, by digest, read with
  ``allow_pickle=False``.

Nothing in it is code: the outputs of the oracles on the public cases are
all it holds of them.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from grader.recorded.codec import array_digest, decode
from grader.recorded.keys import CallKey, floats_close

__all__ = ["Recording", "EXPECTATIONS_DIR", "FORMAT_VERSION", "RecordingError", "changed_in_place", "apply_changes"]

EXPECTATIONS_DIR = ".grader/expectations"
CALLS_FILE = "calls.json"
ARRAYS_FILE = "arrays.npz"
FORMAT_VERSION = 1
_MAX_CALLS_BYTES = 512 * 2**20


class RecordingError(ValueError):
    """A recording that cannot be read (a bundle from another grader version, or damaged files)."""


@dataclass
class Recording:
    """Outcomes of oracle calls by key, and what the replayed ``reference`` package looks like."""

    calls: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)  # function -> structure -> calls
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)  # module -> {"functions": [...], "constants": {}}
    mistakes: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> title, explanation, shadows
    shadowing: dict[str, list[str]] = field(default_factory=dict)     # oracle key -> mistake ids, catalogue order
    _exact: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    # -- recording and finding ------------------------------------------------------
    def add(self, key: CallKey, outcome: dict[str, Any]) -> None:
        """Record ``outcome`` for ``key`` (the first outcome of a key stays: calls are deterministic)."""
        if key.exact in self._exact:
            return
        digests = []
        for leaf in key.floats:
            digest = array_digest(leaf)
            self.arrays.setdefault(digest, leaf)
            digests.append(digest)
        entry = {"exact": key.exact, "floats": digests, "outcome": outcome}
        self.calls.setdefault(key.function, {}).setdefault(key.structure, []).append(entry)
        self._exact[key.exact] = entry

    def find(self, key: CallKey) -> dict[str, Any] | None:
        """The recorded outcome of ``key``: the same call exactly, else one whose floats are equal within 1e-9."""
        entry = self._exact.get(key.exact)
        if entry is not None:
            return entry["outcome"]
        for candidate in self.calls.get(key.function, {}).get(key.structure, ()):
            recorded = tuple(self.arrays[digest] for digest in candidate["floats"])
            if floats_close(key.floats, recorded):
                return candidate["outcome"]
        return None

    def __contains__(self, key: CallKey) -> bool:
        return key.exact in self._exact

    def count(self) -> int:
        return len(self._exact)

    def merge(self, other: "Recording") -> None:
        """Add everything ``other`` recorded (a recording made in another process)."""
        self.arrays.update(other.arrays)
        for function, structures in other.calls.items():
            for structure, entries in structures.items():
                for entry in entries:
                    if entry["exact"] not in self._exact:
                        self.calls.setdefault(function, {}).setdefault(structure, []).append(entry)
                        self._exact[entry["exact"]] = entry
        for module, surface in other.modules.items():
            self.modules.setdefault(module, surface)
        self.mistakes.update(other.mistakes)
        self.shadowing.update(other.shadowing)

    def decode(self, data: Any) -> Any:
        return decode(data, self.arrays)

    # -- files --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "calls": self.calls, "modules": self.modules, "mistakes": self.mistakes,
                "shadowing": self.shadowing}

    def save(self, folder: Path) -> list[Path]:
        """Write ``calls.json`` and ``arrays.npz`` into ``folder``; only arrays the calls use are kept."""
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True, allow_nan=False)
        used = set(_digests_in(json.loads(text)))
        (folder / CALLS_FILE).write_text(text, encoding="utf-8")
        np.savez_compressed(folder / ARRAYS_FILE, **{digest: self.arrays[digest] for digest in sorted(used)})
        return [folder / CALLS_FILE, folder / ARRAYS_FILE]

    @classmethod
    def load(cls, folder: Path) -> "Recording":
        """Read a recording written by :meth:`save` (arrays without pickle); :class:`RecordingError` if unreadable."""
        calls_path, arrays_path = Path(folder) / CALLS_FILE, Path(folder) / ARRAYS_FILE
        try:
            if calls_path.stat().st_size > _MAX_CALLS_BYTES:
                raise RecordingError(f"{calls_path} is larger than {_MAX_CALLS_BYTES // 2**20} MiB")
            data = json.loads(calls_path.read_text(encoding="utf-8"))
            with np.load(arrays_path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise RecordingError(f"cannot read the recorded expectations in {folder}: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise RecordingError(f"{calls_path}: recorded by another version of the grader (format "
                                 f"{data.get('format') if isinstance(data, dict) else '?'}, this grader reads "
                                 f"{FORMAT_VERSION}); install the grader wheel shipped in this folder")
        recording = cls(calls=data.get("calls", {}), arrays=arrays, modules=data.get("modules", {}),
                        mistakes=data.get("mistakes", {}), shadowing=data.get("shadowing", {}))
        for structures in recording.calls.values():
            for entries in structures.values():
                for entry in entries:
                    recording._exact[entry["exact"]] = entry
        return recording


def _digests_in(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("array", "scalar") and isinstance(value, str):
                yield value
            elif key == "floats" and isinstance(value, list):
                yield from (digest for digest in value if isinstance(digest, str))
            else:
                yield from _digests_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from _digests_in(item)


# -- arguments changed in place ---------------------------------------------------------------

def _mutable_leaves(value: Any, path: tuple[int, ...] = (), depth: int = 0) -> Iterator[tuple[tuple[int, ...], Any]]:
    """``(path, leaf)`` for every array and random generator inside ``value`` (paths by position)."""
    if depth > 16:
        return
    if isinstance(value, (np.ndarray, np.random.Generator)):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _mutable_leaves(item, (*path, index), depth + 1)
    elif isinstance(value, dict):
        for index, item in enumerate(value.values()):
            yield from _mutable_leaves(item, (*path, index), depth + 1)


def _state(leaf: Any) -> Any:
    return leaf.bit_generator.state if isinstance(leaf, np.random.Generator) else np.array(leaf)


def snapshot(args: tuple, kwargs: dict[str, Any]) -> list[tuple[tuple[int, ...], Any]]:
    """What an oracle call could change in place, as it was before the call."""
    return [(path, _state(leaf)) for path, leaf in _mutable_leaves((args, dict(sorted(kwargs.items()))))]


def changed_in_place(before: list[tuple[tuple[int, ...], Any]], args: tuple, kwargs: dict[str, Any],
                     arrays: dict[str, np.ndarray]) -> list[list[Any]]:
    """``[path, new state]`` of each array (by digest) or generator (its state) the call changed."""
    changes = []
    after = dict(_mutable_leaves((args, dict(sorted(kwargs.items())))))
    for path, old in before:
        leaf = after.get(path)
        if isinstance(leaf, np.random.Generator):
            if leaf.bit_generator.state != old:
                changes.append([list(path), {"generator": json.loads(json.dumps(leaf.bit_generator.state,
                                                                                default=int))}])
        elif isinstance(leaf, np.ndarray) and not (leaf.shape == old.shape and np.array_equal(leaf, old, equal_nan=True)):
            digest = array_digest(leaf)
            arrays.setdefault(digest, np.array(leaf))
            changes.append([list(path), {"array": digest}])
    return changes


def apply_changes(changes: list[list[Any]], args: tuple, kwargs: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Make the replayed call change its arguments as the recorded one did."""
    leaves = dict(_mutable_leaves((args, dict(sorted(kwargs.items())))))
    for path, new in changes:
        leaf = leaves.get(tuple(path))
        if isinstance(leaf, np.random.Generator) and "generator" in new:
            leaf.bit_generator.state = new["generator"]
        elif isinstance(leaf, np.ndarray) and "array" in new:
            leaf[...] = arrays[new["array"]]
