"""A catalogue of classic mistakes, each a named wrong variant of an oracle.

Most wrong answers in a unit on neural language models come from a short list
of mistakes: LSTM gates read in another order, padding counted in the loss,
temperature multiplied instead of divided... Each entry here is a
:class:`Mistake`: a small numpy function with **the same signature as the
oracle it shadows** that computes what the mistaken code would return, plus a
student-facing title and explanation.

The grader uses the catalogue twice (see :mod:`grader.diagnosis` and
:mod:`grader.mutants`):

- to *diagnose*: when a student's output differs from the oracle's, the
  variants that shadow that oracle run on the same inputs; one that matches the
  student's output names the mistake;
- to *test the tests*: each assignment turns the entries that apply to it into
  mutants of its solution, and every mutant must lose points.

Entries live in one module per oracle module (:mod:`reference.mistakes.rnn`
shadows :mod:`reference.rnn`, and so on) and register themselves with the
:func:`mistake` decorator::

    @mistake("lstm_gates_ifog", shadows=lstm_cell, title="LSTM gates read as i|f|o|g",
             explanation="...")
    def lstm_gates_ifog(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
        ...

Like the oracles, variants are pure numpy float64 functions without I/O.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = ["Mistake", "mistake", "catalogue", "get", "shadowing", "oracle_key", "UnknownMistake"]

_CATALOGUE: dict[str, "Mistake"] = {}
_loaded = False


class UnknownMistake(KeyError):
    """A mistake id that is not in the catalogue."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True)
class Mistake:
    """One classic mistake: what it computes instead of ``shadows``, and how to explain it.

    ``shadows`` is the qualified name of the oracle (``"reference.rnn.lstm_cell"``);
    ``variant`` takes exactly the oracle's arguments and returns what code with
    this mistake returns on them (it may raise where the mistake cannot be
    expressed for those inputs, e.g. swapped weights of different shapes).
    """

    id: str
    title: str
    explanation: str
    shadows: str
    variant: Callable[..., Any]

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        """What code with this mistake returns on the oracle's arguments."""
        return self.variant(*args, **kwargs)

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "explanation": self.explanation, "shadows": self.shadows}


def oracle_key(oracle: Callable[..., Any] | str) -> str:
    """The qualified name a mistake uses to say which oracle it shadows."""
    if isinstance(oracle, str):
        return oracle
    return f"{oracle.__module__}.{oracle.__qualname__}"


def mistake(id: str, shadows: Callable[..., Any] | str, title: str, explanation: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as the variant of ``shadows`` that makes mistake ``id``."""
    if not id.replace("_", "").isalnum() or not id.islower():
        raise ValueError(f"mistake ids are lower_snake_case, got {id!r}")

    def register(variant: Callable[..., Any]) -> Callable[..., Any]:
        if id in _CATALOGUE:
            raise ValueError(f"mistake {id!r} is registered twice ({_CATALOGUE[id].variant.__module__} and {variant.__module__})")
        _CATALOGUE[id] = Mistake(id, title.strip(), " ".join(explanation.split()), oracle_key(shadows), variant)
        return variant

    return register


def _load() -> None:
    """Import every module of this package (each registers its entries) on first use of the catalogue."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
            importlib.import_module(f"{__name__}.{module.name}")


def catalogue() -> dict[str, Mistake]:
    """Every registered mistake by id, in registration order."""
    _load()
    return dict(_CATALOGUE)


def get(mistake_id: str) -> Mistake:
    """The mistake with this id; :class:`UnknownMistake` names the near misses when there is none."""
    entries = catalogue()
    if mistake_id not in entries:
        close = [known for known in entries if mistake_id.split("_")[0] in known][:5]
        hint = f"; similar ids: {', '.join(close)}" if close else ""
        raise UnknownMistake(f"no mistake {mistake_id!r} in the catalogue (reference/mistakes){hint}")
    return entries[mistake_id]


def shadowing(oracle: Callable[..., Any] | str, only: Iterable[str] | None = None) -> list[Mistake]:
    """The mistakes that shadow ``oracle`` (optionally only those with ids in ``only``)."""
    key = oracle_key(oracle)
    wanted = None if only is None else set(only)
    return [entry for entry in catalogue().values() if entry.shadows == key and (wanted is None or entry.id in wanted)]
