"""Hidden tests of the ``seq2seq`` assignment (40 points): edge cases, longer runs, the decoders end to end.

Students see these results only after grading; the handout describes in
general terms what they cover.
"""
from __future__ import annotations

from grader.testing import points
from reference.decoding import beam_search, greedy_decode
from reference.lm import log_softmax


# ------------------------------------------------------------------ the model
@points(4, name="encode: edge cases (all sentences full length but one of length 1; a source of one word)")
def test_encoder_edge_cases(kit, credit):
    model, w = kit.model(Vs=6, Vt=5, E=3, H=6)

    def both(lengths, label):
        kit.encode(model, w, lengths, label, "outputs")
        kit.encode(model, w, lengths, label, "final")
    kit.cases(credit, [lambda: both([5, 5, 1, 5], "a batch of 4"), lambda: both([1, 1], "a batch of one-word sentences")])


@points(4, name="initial_state: (h_0, c_0, enc_hiddens, src_mask) from a source batch")
def test_initial_state(kit):
    model, w = kit.model()
    kit.initial_state(model, w, [3, 6, 4])


@points(3, name="attend: a sentence of one word, and a longer source")
def test_attention_edge_cases(kit, credit):
    model, w = kit.model(E=4, H=5)
    kit.cases(credit, [lambda: kit.attend(model, w, [1, 7, 9, 3]), lambda: kit.attend(model, w, [1])])


@points(5, name="step: four steps feeding your own state back, five hypotheses over two sources")
def test_decoder_steps_fed_back(kit):
    model, w = kit.model()
    state = kit.state(w, [5, 3], k_rows=[0, 0, 1, 1, 1])
    for t in range(4):
        prev = kit.rng.integers(1, w["output_projection.bias"].shape[0], size=5)
        state = kit.check_step(model, w, prev, state, f"5 hypotheses, call {t + 1} of 4 (your previous state fed back)")


# ------------------------------------------------------------------ decoding on toy steps
def _peaked(kit, V, positions, bos, best, value=8.0):
    """A Markov table whose row (step 0, bos) puts a clear maximum on ``best``."""
    logits = kit.rng.normal(0.0, 1.0, size=(positions, V, V))
    logits[0, bos, best] += value
    return logits


@points(4, name="greedy_decode: eos at once, cut off by max_len, max_len = 1, and a tie")
def test_greedy_edge_cases(kit, credit):
    V, bos, eos = 6, 1, 4
    at_once = log_softmax(_peaked(kit, V, 2, bos, eos))
    never = _peaked(kit, V, 3, bos, 0)
    never[..., eos] -= 6.0
    tie = kit.rng.normal(0.0, 1.0, size=(3, V, V))
    tie[0, bos, [2, 5]] = tie[0, bos].max() + 1.0     # two equal maxima: the lower id (2) must win
    kit.cases(credit, [
        lambda: kit.greedy(kit.markov_from(at_once), bos, eos, 6, "a MarkovStep whose first choice is eos"),
        lambda: kit.greedy(kit.markov_from(log_softmax(never)), bos, eos, 5, "a MarkovStep that never picks eos"),
        lambda: kit.greedy(kit.tiny_rnn(V=V, eos=eos), bos, eos, 1, "a TinyRNNStep"),
        lambda: kit.greedy(kit.markov_from(log_softmax(tie)), bos, eos, 4, "a MarkovStep with a tie at the first step"),
    ])


@points(5, name="beam_search: beam_size 1 is greedy; a beam wide enough for every sequence ranks them all")
def test_beam_extremes(kit, credit):
    rnn_toy = kit.tiny_rnn(V=6, eos=5)
    table = kit.markov(V=4, eos=0, positions=3, eos_boost=0.5)
    # V = 4 and max_len = 3: 1 + 3 + 9 sequences end with eos and 27 are cut off, 40 in all.
    kit.cases(credit, [
        lambda: kit.beam(rnn_toy, 2, 5, 1, 8, 0.0, "a TinyRNNStep (beam_size = 1 must give greedy's answer)"),
        lambda: kit.beam(table, 3, 0, 40, 3, 0.0, "a MarkovStep (V=4): all 40 sequences, best first"),
        lambda: kit.beam(table, 3, 0, 40, 3, 1.0, "a MarkovStep (V=4): all 40 sequences, best first"),
    ])


@points(4, name="beam_search: length penalties 0.5 and 2")
def test_beam_other_penalties(kit, credit):
    def penalty_matters(toy, lp):
        ranked = lambda p: [h.tokens for h in beam_search(toy.oracle, toy.ostart, 1, 0, 5, 6, p)]
        return ranked(lp) != ranked(0.0)
    cases = [(lp, kit.draw(lambda: kit.markov(V=7, eos=0, positions=3, eos_boost=0.8), lambda t: penalty_matters(t, lp)))
             for lp in (0.5, 2.0)]
    kit.cases(credit, [lambda lp=lp, toy=toy: kit.beam(toy, 1, 0, 5, 6, lp, "a MarkovStep (V=7)") for lp, toy in cases])


@points(3, name="beam_search: hypotheses cut off by max_len are returned (without eos)")
def test_beam_cut_off(kit):
    def some_cut(toy):
        found = beam_search(toy.oracle, toy.ostart, 2, 4, 4, 4, 0.5)
        return any(len(h.tokens) == 4 for h in found) and any(len(h.tokens) < 4 for h in found)
    toy = kit.draw(lambda: kit.markov(V=5, eos=4, positions=4, eos_boost=-0.5), some_cut)
    kit.beam(toy, 2, 4, 4, 4, 0.5, "a MarkovStep (V=5) where eos is unlikely")


# ------------------------------------------------------------------ end to end
E2E_NOTE = ("\nThis test runs your decoder on your model: when the step, initial_state or bridge tests fail too, "
            "fix those first; when they pass, the difference is in how your decoder drives the model's state.")


def _varied(tokens, length: int) -> bool:
    """Weights are redrawn until the reference output has this length and two different tokens at least."""
    return len(tokens) >= length and len(set(tokens)) >= 2


@points(4, name="End to end: greedy_decode with your model's initial_state and step")
def test_end_to_end_greedy(kit):
    toy = kit.end_to_end(6, lambda t: _varied(greedy_decode(t.oracle, t.ostart, 1, 2, 8), 3))
    kit.greedy(toy, bos=1, eos=2, max_len=8, label="your Seq2Seq (a source of 6 words)", slack=kit.E2E_SLACK, note=E2E_NOTE)


@points(4, name="End to end: beam_search with your model's initial_state and step")
def test_end_to_end_beam(kit):
    toy = kit.end_to_end(5, lambda t: _varied(beam_search(t.oracle, t.ostart, 1, 2, 3, 6, 1.0)[0].tokens, 2))
    kit.beam(toy, bos=1, eos=2, beam_size=3, max_len=6, length_penalty=1.0, label="your Seq2Seq (a source of 5 words)",
             slack=kit.E2E_SLACK, note=E2E_NOTE)
