"""Shared machinery of the ``seq2seq`` trusted tests: the ``kit`` fixture (test files cannot import siblings).

- The student's ``Seq2Seq`` gets random float32 weights through its ``state_dict`` (names and shapes checked
  first); each piece is compared with a numpy oracle composed from :mod:`reference` (``rnn`` with lengths for
  the packed encoder, ``lstm_cell``, ``attention`` with the ``general`` score, ``log_softmax``).
- Decoding is graded on its own: the student's ``greedy_decode``/``beam_search`` receive a step function from
  the support file ``toy_steps.py`` (built in the worker from arrays drawn here), and :mod:`reference.decoding`
  runs on a numpy twin of that step.
- Every comparison with an oracle goes through :mod:`grader.diagnosis`: when an answer is off, the known
  mistakes of the catalogue (``reference/mistakes``) run on the same inputs and the one that matches is named.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pytest

from grader.diagnosis import compare_with_oracle, explain_mismatch, explanation
from grader.testing import StudentFailure, assert_type
from reference.decoding import (
    attention,
    attention_decoder_step,
    beam_search,
    bridge,
    greedy_decode,
)
from reference.lm import log_softmax
from reference.rnn import lstm_cell, rnn
from reference.sequence import lengths_to_mask

MODEL_TOL = {"rtol": 1e-4, "atol": 1e-5}   # float32 model pieces vs float64 oracles (handout)
SCORE_TOL = {"rtol": 1e-5, "atol": 1e-5}   # beam scores over float64 toy steps (handout)
E2E_SLACK = 1e-4                            # end to end: near-ties of a float32 model are accepted
PAD = 0
SHAPE_HINTS = {  # why a parameter has the shape it has, for the usual wrong ones
    "h_bridge.weight": ": the bridge reads both directions, [h_n[0]; h_n[1]], 2H numbers",
    "c_bridge.weight": ": the bridge reads both directions, [c_n[0]; c_n[1]], 2H numbers",
    "att_projection.weight": ": it maps an encoder state (2H) to the decoder's size H",
    "combined_projection.weight": ": it reads [a_t; h_t], 2H + H = 3H numbers",
    "decoder.weight_ih": ": the decoder cell reads the target word's embedding only (E numbers)",
}
LSTM = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def as_float32(array) -> np.ndarray:
    """``array`` rounded to float32 and held as float64: the oracle sees what the student's model sees."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def parameter_shapes(Vs: int, Vt: int, E: int, H: int) -> dict[str, tuple[int, ...]]:
    """The state_dict the handout fixes, in order."""
    lstm = lambda prefix, suffix, I: {f"{prefix}weight_ih{suffix}": (4 * H, I), f"{prefix}weight_hh{suffix}": (4 * H, H),
                                      f"{prefix}bias_ih{suffix}": (4 * H,), f"{prefix}bias_hh{suffix}": (4 * H,)}
    return {"src_embedding.weight": (Vs, E), "tgt_embedding.weight": (Vt, E),
            **lstm("encoder.", "_l0", E), **lstm("encoder.", "_l0_reverse", E),
            "h_bridge.weight": (H, 2 * H), "c_bridge.weight": (H, 2 * H), **lstm("decoder.", "", E),
            "att_projection.weight": (H, 2 * H), "combined_projection.weight": (H, 3 * H),
            "output_projection.weight": (Vt, H), "output_projection.bias": (Vt,)}


# ============================================================================ oracles (numpy, float64)


def encoder_call(w: dict, src, lengths) -> tuple[tuple, dict]:
    """The arguments of :func:`reference.rnn.rnn` that encode ``src`` as the handout's packed bidirectional LSTM."""
    params = {name[len("encoder."):]: value for name, value in w.items() if name.startswith("encoder.")}
    return (w["src_embedding.weight"][src], params), {"mode": "lstm", "bidirectional": True, "lengths": lengths}


def decoder_params(w: dict) -> dict[str, np.ndarray]:
    """The model's decoder weights under the names of :func:`reference.decoding.attention_decoder_step`."""
    return {**{name: w[f"decoder.{name}"] for name in LSTM}, "attention_weight": w["att_projection.weight"],
            "combined_weight": w["combined_projection.weight"], "output_weight": w["output_projection.weight"],
            "output_bias": w["output_projection.bias"]}


def oracle_step(w: dict, prev, state):
    """The model's ``step`` in numpy: ``(log_probs, (h, c, enc_hiddens, src_mask))``."""
    log_probs, (h, c) = attention_decoder_step(w["tgt_embedding.weight"][prev], state, decoder_params(w))
    return log_probs, (h, c, state[2], state[3])


def oracle_initial_state(w: dict, src, lengths):
    args, kwargs = encoder_call(w, src, lengths)
    out, (h_n, c_n) = rnn(*args, **kwargs)
    return bridge(h_n, w["h_bridge.weight"]), bridge(c_n, w["c_bridge.weight"]), out, lengths_to_mask(lengths, src.shape[1])


def markov_oracle(table: np.ndarray):
    def step(prev, state):
        return table[np.minimum(state, table.shape[0] - 1), prev], state + 1
    return step


def tiny_rnn_oracle(embedding, recurrent, output, bias, eos: int, eos_drift: float):
    def step(prev, state):
        h = np.tanh(state[0] @ recurrent.T + embedding[prev])
        logits = h @ output.T + bias
        logits[:, eos] += eos_drift * state[1][0]
        return log_softmax(logits), (h, (state[1][0] + 1,))
    return step


def hypothesis_score(toy, tokens, bos: int, eos: int, max_len: int, length_penalty: float) -> float:
    """The score ``toy``'s oracle gives ``tokens`` (ended with eos unless cut off by max_len)."""
    ended, total, prev, state = len(tokens) < max_len, 0.0, bos, toy.ostart
    for token in list(tokens) + ([eos] if ended else []):
        log_probs, state = toy.oracle(np.array([prev]), state)
        total, prev = total + float(log_probs[0, token]), token
    return total / float(max(1, len(tokens))) ** length_penalty


# ============================================================================ what the student returns


def token_list(value, what: str, vocab: int) -> tuple[int, ...]:
    """A sequence of token ids as a tuple of ints, or a failure saying what to return instead."""
    ids = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray)) else np.zeros((0, 0))
    if ids.size and (ids.ndim != 1 or ids.dtype.kind not in "iu") or ids.ndim > 1:
        raise StudentFailure(f"{what}: expected a list of token ids (Python ints), got {value!r:.80}; "
                             "convert tensors with .tolist()")
    if ids.size and not (0 <= ids.min() and ids.max() < vocab):
        raise StudentFailure(f"{what}: token ids must lie in 0..{vocab - 1}, got {ids.tolist()}")
    return tuple(int(i) for i in ids)


def hypotheses(value, what: str, vocab: int) -> list[tuple[tuple[int, ...], float]]:
    """What ``beam_search`` returned as ``[(tokens, score)]``, or a failure saying what is wrong with it."""
    assert_type(value, (list, tuple), f"{what} must return a list of (tokens, score) pairs")
    out = []
    for index, pair in enumerate(value, 1):
        score = np.asarray(pair[1]) if isinstance(pair, (list, tuple)) and len(pair) == 2 else None
        if score is None or score.ndim != 0 or score.dtype.kind not in "iuf":
            raise StudentFailure(f"{what}: hypothesis {index} should be a pair (tokens, score) with a number as score")
        out.append((token_list(pair[0], f"{what}: the tokens of hypothesis {index}", vocab), float(score)))
    return out


def same_hypotheses(got, candidate) -> bool:
    """Whether the student's ``[(tokens, score)]`` is the list of :class:`~reference.decoding.Hypothesis` ``candidate``."""
    return len(got) == len(candidate) and all(tuple(tokens) == c.tokens and np.isclose(score, c.score, **SCORE_TOL)
                                              for (tokens, score), c in zip(got, candidate))


def compare_all(heading: str, checks: list[tuple], note: str = "") -> None:
    """Compare named values with their oracles, ``(name, got, oracle, args, options)`` each; ``options`` holds the
    oracle's keywords and ``output``. Every mismatch is diagnosed; fail once, naming every value that is off."""
    bad, detail = [], ""
    for name, got, oracle, args, options in checks:
        try:
            compare_with_oracle(got, oracle, *args, what=name, **MODEL_TOL, **options)
        except StudentFailure as error:
            bad.append(name)
            detail = detail or str(error)
    if bad:
        raise StudentFailure(f"{heading}: wrong {', '.join(bad)}\n{detail}" + (f"\n{note}" if note else ""))


# ============================================================================ the kit


def timeout(message: str) -> StudentFailure:
    error = StudentFailure(message)
    error.status = "timeout"
    return error


@dataclass
class Toy:
    """A step function twice: a numpy ``oracle`` here, and (built on first use) its twin in the worker."""

    oracle: object
    ostart: object
    vocab: int
    build: object  # () -> (remote step function, remote initial state)

    @cached_property
    def remote(self) -> tuple:
        """``(step function, initial state)`` in the worker."""
        return self.build()


class Kit:
    """What a test needs to drive the student's ``seq2seq.py`` and judge it."""

    MODEL_TOL, E2E_SLACK = MODEL_TOL, E2E_SLACK

    def __init__(self, student, rng: np.random.Generator, hung: set) -> None:
        self.student, self.rng, self.hung = student, rng, hung

    @property
    def s2s(self):
        return self.student.module("seq2seq")

    @contextlib.contextmanager
    def running(self, task: str):
        """Run student code for ``task``; after a timeout, later tests of the task are not run (each would wait again)."""
        if task in self.hung:
            raise timeout(f"not run: your {task} did not finish within the time limit in an earlier test; make it finish first")
        try:
            yield
        except StudentFailure as error:
            if getattr(error, "status", "") != "timeout":
                raise
            self.hung.add(task)
            raise timeout(f"{error} (it was running your {task})") from None

    @staticmethod
    def cases(credit, checks: list, noun: str = "cases") -> None:
        """Run independent checks, credit the share that passed, fail with the first problem (and any timeout)."""
        failures: list[tuple[int, StudentFailure]] = []
        for index, check in enumerate(checks, 1):
            try:
                check()
            except StudentFailure as error:
                failures.append((index, error))
                if getattr(error, "status", "") == "timeout":  # the time is spent: the rest cannot run
                    failures += [(later, error) for later in range(index + 1, len(checks) + 1)]
                    break
        passed = len(checks) - len(failures)
        credit.fraction(passed, len(checks), note=f"{passed} of {len(checks)} {noun} correct")
        if failures:
            first, timed_out = failures[0][1], [(i, e) for i, e in failures if getattr(e, "status", "") == "timeout"]
            if not timed_out:
                raise first
            late = f"\nCase {timed_out[0][0]} of {len(checks)}: {timed_out[0][1]}" if timed_out[0][1] is not first else ""
            raise timeout(str(first) + late)

    # -- the model ---------------------------------------------------------------------
    def random_weights(self, shapes: dict) -> dict[str, np.ndarray]:
        scale = lambda name: 1.0 if "embedding" in name else 0.5
        return {name: as_float32(self.rng.normal(0.0, scale(name), size=shape)) for name, shape in shapes.items()}

    def model(self, Vs: int = 9, Vt: int = 11, E: int = 5, H: int = 4, weights: dict | None = None):
        """The student's ``Seq2Seq`` with random (or the given) weights loaded; returns ``(remote model, weights)``."""
        call = f"Seq2Seq(src_vocab_size={Vs}, tgt_vocab_size={Vt}, embed_size={E}, hidden_size={H})"
        with self.running("Seq2Seq"):
            model = self.s2s.Seq2Seq(Vs, Vt, E, H)
        torch_remote = self.student.module("torch")
        if self.student.module("builtins").isinstance(model, torch_remote.nn.Module) is not True:
            raise StudentFailure(f"{call} made a {model.type_name}, not a torch.nn.Module; write "
                                 "`class Seq2Seq(nn.Module)` and call super().__init__() first")
        expected = parameter_shapes(Vs, Vt, E, H)
        got = {name: tuple(np.shape(value)) for name, value in self.student.state_dict(model).items()}
        problems = [f"missing {name} {shape}" for name, shape in expected.items() if name not in got]
        problems += [f"unexpected {name} {shape}" for name, shape in got.items() if name not in expected]
        problems += [f"{name} has shape {got[name]}, expected {shape}" + SHAPE_HINTS.get(name, "")
                     for name, shape in expected.items() if name in got and got[name] != shape]
        if problems:
            raise StudentFailure(f"{call} has the wrong parameters (see the handout's table):\n  " + "\n  ".join(problems))
        weights = self.random_weights(expected) if weights is None else weights
        self.student.load_state_dict(model, weights)
        return model, weights

    def call(self, method, args: tuple, form: str, sizes: tuple[int, ...]):
        """A model method's result, checked to be a tuple of ``sizes[0]`` items whose last is a tuple of ``sizes[1]``."""
        with self.running("Seq2Seq"):
            got = method(*args)
        if not isinstance(got, tuple) or len(got) != sizes[0] or (
                len(sizes) > 1 and (not isinstance(got[-1], tuple) or len(got[-1]) != sizes[1])):
            raise StudentFailure(f"{form}; got {type(got).__name__}" + (f" of length {len(got)}" if isinstance(got, tuple) else ""))
        return got

    def tensor(self, array, dtype=np.float32):
        return self.student.tensor(np.asarray(array, dtype=dtype))

    def source_batch(self, lengths, Vs: int = 9):
        """Padded ids ``(B, S)`` with ``S = max(lengths)``: real words in ``1..Vs-1``, then ``PAD``."""
        lengths = np.asarray(lengths, dtype=np.int64)
        src = self.rng.integers(1, Vs, size=(len(lengths), int(lengths.max())))
        src[~lengths_to_mask(lengths)] = PAD
        return src

    def state(self, w: dict, lengths, k_rows=None):
        """A random decoder state ``(h, c, enc_hiddens, src_mask)``, rows optionally replicated by ``k_rows``."""
        lengths = np.asarray(lengths, dtype=np.int64)
        B, S, H = len(lengths), int(lengths.max()), w["h_bridge.weight"].shape[0]
        h = as_float32(self.rng.uniform(-0.9, 0.9, size=(B, H)))
        c = as_float32(self.rng.normal(0.0, 1.0, size=(B, H)))
        enc = as_float32(self.rng.uniform(-0.9, 0.9, size=(B, S, 2 * H)))
        state = (h, c, enc, lengths_to_mask(lengths))
        return state if k_rows is None else tuple(s[np.asarray(k_rows)] for s in state)

    def send_state(self, state):
        return tuple(self.student.tensor(np.asarray(s)) if np.asarray(s).dtype == bool else self.tensor(s) for s in state)

    def check_step(self, model, w, prev, state, label: str):
        """One student step against the oracle; returns the student's new state (as arrays)."""
        out = self.call(model.step, (self.tensor(prev, np.int64), self.send_state(state)),
                        "step must return (log_probs, (h, c, enc_hiddens, src_mask))", (2, 4))
        if not all(isinstance(part, np.ndarray) for part in out[1]):
            raise StudentFailure("step must return new_state = (h, c, enc_hiddens, src_mask) as four tensors")
        embedded, cell = w["tgt_embedding.weight"][prev], [w[f"decoder.{name}"] for name in LSTM]
        compare_all(f"step on {label}", [
            ("log_probs", out[0], attention_decoder_step, (embedded, state, decoder_params(w)), {"output": 0}),
            ("new h", out[1][0], lstm_cell, (embedded, state[:2], *cell), {"output": 0}),
            ("new c", out[1][1], lstm_cell, (embedded, state[:2], *cell), {"output": 1})])
        return out[1]

    def encode(self, model, w, lengths, label: str, part: str) -> None:
        """The student's ``encode`` on a random batch; ``part`` is ``"outputs"`` or ``"final"`` (h_n, c_n)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        src = self.source_batch(lengths, w["src_embedding.weight"].shape[0])
        got = self.call(model.encode, (self.tensor(src, np.int64), self.tensor(lengths, np.int64)),
                        "encode must return (enc_hiddens, (h_n, c_n))", (2, 2))
        args, kwargs = encoder_call(w, src, lengths)
        label = f"encode on {label} (lengths {lengths.tolist()}, S={src.shape[1]})"
        if part == "final":
            compare_all(label, [("h_n", got[1][0], rnn, args, {**kwargs, "output": lambda out: out[1][0]}),
                                ("c_n", got[1][1], rnn, args, {**kwargs, "output": lambda out: out[1][1]})])
            return
        want, mask, note = rnn(*args, **kwargs)[0], lengths_to_mask(lengths), ""
        if np.shape(got[0]) == want.shape and np.allclose(np.asarray(got[0])[mask], want[mask], **MODEL_TOL):
            note = "Your outputs at padded positions are not zero (pad_packed_sequence gives zeros there)."
        compare_all(label, [("enc_hiddens", got[0], rnn, args, {**kwargs, "output": 0})], note)

    def bridge(self, model, w, batch: int) -> None:
        H = w["h_bridge.weight"].shape[0]
        h_n, c_n = (as_float32(self.rng.uniform(-0.9, 0.9, size=(2, batch, H))) for _ in range(2))
        got = self.call(model.bridge, (self.tensor(h_n), self.tensor(c_n)), "bridge(h_n, c_n) must return (h_0, c_0)", (2,))
        compare_all(f"bridge with B={batch}", [("h_0", got[0], bridge, (h_n, w["h_bridge.weight"]), {}),
                                               ("c_0", got[1], bridge, (c_n, w["c_bridge.weight"]), {})])

    def attend(self, model, w, lengths) -> None:
        h, _, enc, mask = self.state(w, lengths)
        got = self.call(model.attend, (self.tensor(h), self.tensor(enc), self.student.tensor(mask)),
                        "attend(query, enc_hiddens, src_mask) must return (context, alpha)", (2,))
        options = {"mask": mask, "score": "general", "weight": w["att_projection.weight"]}
        compare_all(f"attend with lengths {list(lengths)} (B={len(lengths)}, S={enc.shape[1]})",
                    [("alpha", got[1], attention, (h, enc, enc), {**options, "output": 1}),
                     ("context", got[0], attention, (h, enc, enc), {**options, "output": 0})])

    def initial_state(self, model, w, lengths) -> None:
        """The student's ``initial_state`` on a random batch: the mask exactly, the states through the oracles."""
        lengths = np.asarray(lengths, dtype=np.int64)
        src = self.source_batch(lengths)
        got = self.call(model.initial_state, (self.tensor(src, np.int64), self.tensor(lengths, np.int64)),
                        "initial_state must return the tuple (h_0, c_0, enc_hiddens, src_mask)", (4,))
        want_mask, mask = lengths_to_mask(lengths), got[3]
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or not np.array_equal(mask, want_mask):
            yours = (f"{mask.astype(np.int64).tolist()} of dtype {mask.dtype}" if isinstance(mask, np.ndarray)
                     and mask.dtype.kind in "biuf" else type(mask).__name__)
            raise StudentFailure(f"initial_state: src_mask should be the bool array {want_mask.astype(int).tolist()} "
                                 f"(1 = True at real words, lengths {lengths.tolist()}); yours is {yours}")
        args, kwargs = encoder_call(w, src, lengths)
        _, (h_n, c_n) = rnn(*args, **kwargs)
        compare_all(f"initial_state (lengths {lengths.tolist()})", [
            ("h_0", got[0], bridge, (h_n, w["h_bridge.weight"]), {}),
            ("c_0", got[1], bridge, (c_n, w["c_bridge.weight"]), {}),
            ("enc_hiddens", got[2], rnn, args, {**kwargs, "output": 0})])

    # -- decoding ----------------------------------------------------------------------
    @staticmethod
    def draw(make, good, tries: int = 50):
        """``make()`` until ``good(result)``: a condition on the oracle that makes the test discriminate."""
        return next(result for result in (make() for _ in range(tries)) if good(result))

    def markov(self, V: int, eos: int, positions: int = 1, eos_boost: float = 0.0, spread: float = 1.5) -> Toy:
        """A random :class:`toy_steps.MarkovStep` (``eos_boost`` makes eos likelier everywhere)."""
        logits = self.rng.normal(0.0, spread, size=(positions, V, V))
        logits[..., eos] += eos_boost
        return self.markov_from(log_softmax(logits))

    def markov_from(self, table: np.ndarray) -> Toy:
        build = lambda: (self.student.module("toy_steps").MarkovStep(table), self.tensor(np.zeros(1), np.int64))
        return Toy(markov_oracle(table), np.zeros(1, dtype=np.int64), table.shape[-1], build)

    def tiny_rnn(self, V: int, eos: int, d: int = 4, eos_drift: float = 0.4) -> Toy:
        """A random :class:`toy_steps.TinyRNNStep`, whose state is the nested tuple ``(h, (steps,))``."""
        parts = (self.rng.normal(0, 1.0, (V, d)), self.rng.normal(0, 0.8, (d, d)), self.rng.normal(0, 1.5, (V, d)),
                 self.rng.normal(0, 0.5, V))
        h0 = self.rng.uniform(-0.5, 0.5, size=(1, d))
        build = lambda: (self.student.module("toy_steps").TinyRNNStep(*parts, eos, eos_drift),
                         (self.student.tensor(h0), (self.tensor(np.zeros(1), np.int64),)))
        return Toy(tiny_rnn_oracle(*parts, eos, eos_drift), (h0, (np.zeros(1, dtype=np.int64),)), V, build)

    def end_to_end(self, length: int, good) -> Toy:
        """The student's model, with weights drawn until ``good(toy)``, decoding one source of ``length`` words."""
        src, lengths = self.source_batch([length]), np.array([length])
        shapes = parameter_shapes(9, 11, 5, 4)

        def oracle_toy(w):
            return Toy(lambda prev, state: oracle_step(w, prev, state), oracle_initial_state(w, src, lengths), 11, None)
        w = self.draw(lambda: self.random_weights(shapes), lambda w: good(oracle_toy(w)))
        model, _ = self.model(weights=w)

        def build():
            with self.running("Seq2Seq"):
                start = self.student.keep(model.initial_state)(self.tensor(src, np.int64), self.tensor(lengths, np.int64))
            return model.step, start
        toy = oracle_toy(w)
        toy.build = build
        return toy

    def greedy(self, toy: Toy, bos: int, eos: int, max_len: int, label: str, slack: float = 0.0, note: str = "") -> None:
        """The student's ``greedy_decode`` over ``toy`` against the oracle's (``slack``: near-ties allowed)."""
        what = f"greedy_decode on {label} (bos={bos}, eos={eos}, max_len={max_len})"
        remote, start = toy.remote
        with self.running("greedy_decode"):
            got = token_list(self.s2s.greedy_decode(remote, start, bos, eos, max_len), what, toy.vocab)
        want = tuple(greedy_decode(toy.oracle, toy.ostart, bos, eos, max_len))
        if got == want or (slack and not self.first_wrong_choice(toy, got, bos, eos, max_len, slack)):
            return
        diagnosis = explain_mismatch(got, greedy_decode, toy.oracle, toy.ostart, bos, eos, max_len,
                                     same=lambda student, candidate: tuple(student) == tuple(candidate))
        hint = "" if diagnosis.matched else explanation(lambda: self.first_wrong_choice(toy, got, bos, eos, max_len, 0.0))
        raise StudentFailure(f"{what}: expected {list(want)}, got {list(got)}" + (f"\n{hint}." if hint else "") + note)

    @staticmethod
    def first_wrong_choice(toy: Toy, got, bos: int, eos: int, max_len: int, slack: float) -> str:
        """Walk the oracle along ``got`` (then eos, if it ended): the first choice worse than the best by > ``slack``."""
        if eos in got:
            return f"eos (id {eos}) appears in your output: stop as soon as the most probable token is eos, without it"
        if len(got) > max_len:
            return f"max_len = {max_len} counts step calls, so at most {max_len} tokens come back"
        state, prev = toy.ostart, bos
        for position, token in enumerate(list(got) + ([eos] if len(got) < max_len else [])):
            log_probs, state = toy.oracle(np.array([prev]), state)
            best = int(np.argmax(log_probs[0]))
            if log_probs[0, token] < log_probs[0, best] - slack:
                chose = "to stop (eos)" if token == eos else f"token {token}"
                return (f"First wrong choice: at position {position} you chose {chose} with log P = {log_probs[0, token]:.4f}, but the most "
                        f"probable token is {best} with log P = {log_probs[0, best]:.4f} (ties go to the lowest id)")
            prev = token
        return ""

    def beam(self, toy: Toy, bos: int, eos: int, beam_size: int, max_len: int, length_penalty: float, label: str,
             slack: float = 0.0, note: str = "") -> None:
        """The student's ``beam_search`` over ``toy`` against the oracle's: tokens exactly, scores to SCORE_TOL."""
        what = (f"beam_search on {label} (bos={bos}, eos={eos}, beam_size={beam_size}, max_len={max_len}, "
                f"length_penalty={length_penalty:g})")
        remote, start = toy.remote
        with self.running("beam_search"):
            got = hypotheses(self.s2s.beam_search(remote, start, bos, eos, beam_size, max_len,
                                                  length_penalty=length_penalty), what, toy.vocab)
        want = [(h.tokens, h.score) for h in beam_search(toy.oracle, toy.ostart, bos, eos, beam_size, max_len, length_penalty)]
        wrong = [rank for rank, (g, w) in enumerate(zip(got, want)) if g[0] != w[0] or not np.isclose(g[1], w[1], **SCORE_TOL)]
        if len(got) == len(want) and not wrong:
            return
        def rescored() -> list[float]:  # what the oracle scores the student's hypotheses
            return [hypothesis_score(toy, tokens, bos, eos, max_len, length_penalty) for tokens, _ in got]

        if slack and len(got) == len(want) and all(abs(r - w[1]) <= slack for r, w in zip(rescored(), want)):
            return  # a float32 model's near-tie: an equally good list
        show = lambda hyps: "; ".join(f"{list(t)} {s:.5f}" for t, s in hyps[:6]) + (" ..." if len(hyps) > 6 else "")
        head = (f"hypothesis {wrong[0] + 1} (best first) should be {list(want[wrong[0]][0])} with score "
                f"{want[wrong[0]][1]:.6f}; yours is {list(got[wrong[0]][0])} with score {got[wrong[0]][1]:.6f}"
                if wrong else f"expected {len(want)} hypotheses, got {len(got)}")
        diagnosis = explain_mismatch(got, beam_search, toy.oracle, toy.ostart, bos, eos, beam_size, max_len,
                                     length_penalty=length_penalty, same=same_hypotheses)
        hint = "" if diagnosis.matched else explanation(lambda: self.beam_hint(got, rescored(), eos, max_len))
        raise StudentFailure(f"{what}: {head}\n  expected: {show(want)}\n  yours:    {show(got)}"
                             + (f"\n{hint}." if hint else "") + note)

    @staticmethod
    def beam_hint(got, rescored, eos: int, max_len: int) -> str:
        """Which rule of the handout the hypotheses break, when no known mistake explains them."""
        if any(eos in tokens for tokens, _ in got):
            return (f"A hypothesis contains eos (id {eos}): one that emits eos is finished; set it aside (without eos) "
                    "and never extend it")
        if any(len(tokens) > max_len for tokens, _ in got):
            return f"A hypothesis has more than max_len = {max_len} tokens; max_len counts step calls"
        if got and np.allclose([score for _, score in got], rescored, **SCORE_TOL):
            return ("Your scores fit your hypotheses, but these are not the best ones: at each step keep the best "
                    "beam_size - #finished extensions of all live hypotheses by raw total log-probability, set aside "
                    "those ending in eos, and rank the final list by the length-penalised score")
        return ""


@pytest.fixture(scope="session")
def hung_tasks() -> set:
    """Tasks that ran out of time in an earlier test of this submission (one pytest session each)."""
    return set()


@pytest.fixture
def kit(student, rng, hung_tasks) -> Kit:
    return Kit(student, rng, hung_tasks)
