"""The catalogue itself: every entry is well formed and mirrors the signature of the oracle it shadows."""
from __future__ import annotations

import importlib
import inspect

import pytest

from reference.mistakes import Mistake, UnknownMistake, catalogue, get, mistake, shadowing

ENTRIES = list(catalogue().values())


def _oracle(entry: Mistake):
    module_name, _, name = entry.shadows.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.id for entry in ENTRIES])
def test_entry_shadows_a_reference_oracle_with_the_same_signature(entry):
    assert entry.shadows.startswith("reference."), entry.shadows
    oracle = _oracle(entry)
    wanted = [(p.name, p.default) for p in inspect.signature(oracle).parameters.values()]
    got = [(p.name, p.default) for p in inspect.signature(entry.variant).parameters.values()]
    assert got == wanted, f"{entry.id} takes {got}, but {entry.shadows} takes {wanted}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.id for entry in ENTRIES])
def test_entry_speaks_to_the_student(entry):
    assert 10 <= len(entry.title) <= 120 and not entry.title.endswith(".")
    assert len(entry.explanation) >= 40 and entry.explanation.endswith((".", ")"))


def test_the_catalogue_covers_the_classic_mistakes_of_every_unit():
    ids = set(catalogue())
    assert len(ids) >= 30
    for oracle in ("reference.rnn.lstm_cell", "reference.rnn.gru_cell", "reference.rnn.rnn_cell"):
        assert shadowing(oracle), oracle


def test_unknown_ids_are_named_with_near_misses():
    with pytest.raises(UnknownMistake, match="no mistake 'lstm_gates_xyz'.*lstm_gates_ifog"):
        get("lstm_gates_xyz")


def test_an_id_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        mistake("lstm_gates_ifog", shadows="reference.rnn.lstm_cell", title="again", explanation="again")(lambda: None)
