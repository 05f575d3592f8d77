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


# The classic mistakes of the unit (the diagnostics issue's list), each with the catalogue ids that stand for it.
CLASSIC_MISTAKES = {
    "LSTM gates in another order": ["lstm_gates_ifog", "lstm_gates_fiog", "lstm_gates_igfo", "lstm_gates_iofg"],
    "GRU reset gate applied before the matmul": ["gru_reset_before_matmul"],
    "sigmoid where tanh belongs": ["rnn_sigmoid_instead_of_tanh", "lstm_sigmoid_candidate", "gru_sigmoid_candidate"],
    "tanh where sigmoid belongs": ["lstm_tanh_gates", "gru_tanh_gates", "sigmoid_as_tanh"],
    "a missing bias": ["rnn_missing_hidden_bias", "lstm_missing_hidden_bias", "gru_missing_hidden_bias",
                       "rnn_missing_input_bias", "lstm_missing_input_bias", "gru_missing_input_bias"],
    "input and hidden weights swapped": ["rnn_weights_swapped", "lstm_weights_swapped", "gru_weights_swapped"],
    "weights used transposed": ["rnn_weights_transposed"],
    "padding counted in the loss or the perplexity": ["loss_counts_padding", "perplexity_counts_padding"],
    "perplexity as a mean of sentence or batch perplexities": [
        "perplexity_mean_of_sentence_perplexities", "perplexity_mean_of_batch_perplexities"],
    "log base 2 or 10 where nats are asked": ["loss_log_base_2", "loss_log_base_10", "perplexity_base_2", "perplexity_base_10"],
    "targets not shifted": ["lm_targets_not_shifted"],
    "softmax before a cross-entropy that expects logits": ["loss_softmax_before_cross_entropy"],
    "softmax without subtracting the max": ["softmax_without_max_shift", "loss_softmax_overflow"],
    "temperature multiplied instead of divided": ["temperature_multiplied"],
    "beam search that does not stop at EOS": ["beam_no_eos_stop"],
    "beam search normalising by length, and the reverse": ["beam_always_length_normalised", "beam_length_penalty_ignored"],
    "beam search counting BOS in the length": ["beam_bos_in_length"],
    "attention without the padding mask": ["attention_no_mask"],
    "concatenation order [h; a] versus [a; h]": ["decoder_concat_hidden_first"],
    "the last time step instead of each sequence's true end": ["last_state_padded_step"],
    "a backward that returns a bare array": ["backward_returns_bare_array"],
    "grad[idx] += g instead of np.add.at": ["lookup_rows_backward_fancy_index"],
    "a gradient that overwrites instead of accumulating": ["gradient_overwritten_not_accumulated"],
    "gradient clipping after the optimizer step": ["sgd_clip_after_step"],
}


@pytest.mark.parametrize("what", CLASSIC_MISTAKES)
def test_the_catalogue_covers_the_classic_mistakes_of_every_unit(what):
    missing = [mistake_id for mistake_id in CLASSIC_MISTAKES[what] if mistake_id not in catalogue()]
    assert not missing, f"{what}: the catalogue has no {missing}"


def test_every_oracle_an_assignment_checks_against_is_shadowed():
    for oracle in ("reference.rnn.lstm_cell", "reference.rnn.gru_cell", "reference.rnn.rnn_cell",
                   "reference.lm.masked_cross_entropy", "reference.decoding.beam_search"):
        assert shadowing(oracle), oracle


def test_unknown_ids_are_named_with_near_misses():
    with pytest.raises(UnknownMistake, match="no mistake 'lstm_gates_xyz'.*lstm_gates_ifog"):
        get("lstm_gates_xyz")


def test_an_id_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        mistake("lstm_gates_ifog", shadows="reference.rnn.lstm_cell", title="again", explanation="again")(lambda: None)
