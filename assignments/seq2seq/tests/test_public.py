"""Public tests of the ``seq2seq`` assignment: the self-check students see (60 points).

The model's pieces are compared with numpy oracles built from :mod:`reference`
after random weights are loaded through the student's ``state_dict``; the
decoders are run on step functions from ``toy_steps.py`` and compared with
:mod:`reference.decoding` (see ``conftest.py``).
"""
from __future__ import annotations

from grader.testing import points
from reference.decoding import beam_search


# ------------------------------------------------------------------ the model (PyTorch)
@points(4, name="Seq2Seq: parameter names and shapes (the state_dict in the handout)")
def test_parameters(kit):
    kit.model()
    kit.model(Vs=7, Vt=6, E=3, H=6)


@points(8, name="encode: enc_hiddens of a padded batch (unsorted lengths; a batch of one)")
def test_encoder_outputs(kit, credit):
    model, w = kit.model()
    kit.cases(credit, [lambda: kit.encode(model, w, [4, 6, 2], "a batch of 3", "outputs"),
                       lambda: kit.encode(model, w, [5], "a batch of 1", "outputs")])


@points(5, name="encode: final states (h_n, c_n) at each sentence's true end")
def test_encoder_final_states(kit):
    model, w = kit.model()
    kit.encode(model, w, [3, 7, 5, 1], "a batch of 4", "final")


@points(4, name="bridge: the decoder's initial (h_0, c_0) from both directions")
def test_bridge(kit, credit):
    model, w = kit.model()
    kit.cases(credit, [lambda: kit.bridge(model, w, 3), lambda: kit.bridge(model, w, 1)])


@points(8, name="attend: attention weights and context, padding masked")
def test_attention(kit, credit):
    model, w = kit.model()
    kit.cases(credit, [lambda: kit.attend(model, w, [5, 2, 4]), lambda: kit.attend(model, w, [3])])


@points(8, name="step: one decoder step (log_probs and the new h, c)")
def test_decoder_step(kit):
    model, w = kit.model()
    state = kit.state(w, [4, 6, 2])
    prev = kit.rng.integers(3, w["output_projection.bias"].shape[0], size=3)
    kit.check_step(model, w, prev, state, "a batch of 3 (lengths [4, 6, 2])")


# ------------------------------------------------------------------ decoding (toy step functions)
@points(6, name="greedy_decode on known step functions")
def test_greedy(kit, credit):
    kit.cases(credit, [
        lambda: kit.greedy(kit.tiny_rnn(V=7, eos=2), bos=1, eos=2, max_len=10, label="a TinyRNNStep (V=7)"),
        lambda: kit.greedy(kit.tiny_rnn(V=9, eos=0, eos_drift=0.2), bos=8, eos=0, max_len=8, label="a TinyRNNStep (V=9)"),
        lambda: kit.greedy(kit.markov(V=6, eos=5, positions=3, eos_boost=1.0), bos=0, eos=5, max_len=6,
                           label="a MarkovStep (V=6)"),
    ])


@points(8, name="beam_search: hypotheses and raw log-probability scores (length_penalty = 0)")
def test_beam_raw_scores(kit):
    kit.beam(kit.tiny_rnn(V=7, eos=2), bos=1, eos=2, beam_size=3, max_len=7, length_penalty=0.0, label="a TinyRNNStep (V=7)")


@points(5, name="beam_search: a hypothesis that emits eos is finished and the beam shrinks")
def test_beam_stops_at_eos(kit):
    def ends_early(toy):  # some hypotheses must finish well before max_len for this test to mean anything
        found = beam_search(toy.oracle, toy.ostart, 0, 3, 4, 6)
        return sum(len(h.tokens) < 5 for h in found) >= 2
    toy = kit.draw(lambda: kit.markov(V=6, eos=3, positions=4, eos_boost=1.5), ends_early)
    kit.beam(toy, bos=0, eos=3, beam_size=4, max_len=6, length_penalty=0.0, label="a MarkovStep (V=6) where eos is likely")


@points(4, name="beam_search: the length penalty (length_penalty = 1)")
def test_beam_length_penalty(kit):
    def penalty_matters(toy):
        ranked = lambda lp: [h.tokens for h in beam_search(toy.oracle, toy.ostart, 0, 3, 4, 7, lp)]
        return ranked(1.0) != ranked(0.0)
    toy = kit.draw(lambda: kit.tiny_rnn(V=8, eos=3, eos_drift=0.3), penalty_matters)
    kit.beam(toy, bos=0, eos=3, beam_size=4, max_len=7, length_penalty=1.0, label="a TinyRNNStep (V=8)")
