"""Shared machinery of the ``rnn_classifier`` assignment's trusted tests: the ``kit`` fixture.

Test files run with ``--import-mode=importlib`` and cannot import a sibling, so
what several tests need hangs off one object: random data drawn from the
test's ``rng``; the oracles (:mod:`reference.rnn` for the LSTM with lengths,
:mod:`reference.pooling` for the three pooling methods and the predicted
classes, numpy float64); comparisons with the handout's tolerance through
:mod:`grader.diagnosis`, so that a wrong answer that matches a classic mistake
of :mod:`reference.mistakes` (the last padded step instead of each sequence's
true end, padding that wins the max or dilutes the mean, the backward direction
read at the wrong end, an LSTM run over the padding...) is named and explained.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from grader.diagnosis import compare_with_oracle, explain_mismatch, explanation
from grader.testing import StudentFailure, assert_array_close
from reference.mistakes import get
from reference.pooling import last_state, max_pool, mean_pool, pool, predict_classes
from reference.rnn import rnn

TOL = {"rtol": 1e-4, "atol": 1e-5}   # float32 student code against float64 oracles (the handout's table)
POOLING_ORACLES = {"last": last_state, "mean": mean_pool, "max": max_pool}


def as_float32(array) -> np.ndarray:
    """``array`` rounded to float32 and held as float64: the oracle sees what the student's code sees."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def show(array) -> str:
    return np.array2string(np.asarray(array), separator=" ", threshold=80).replace("\n", "")


def real_steps(lengths, steps: int) -> np.ndarray:
    """(B, T, 1) booleans, True at ``t < lengths[b]``."""
    return (np.arange(steps)[None, :] < np.asarray(lengths)[:, None])[:, :, None]


def pooling_options(method: str, bidirectional: bool) -> dict:
    """The keyword arguments of the pooling oracle of ``method`` (only "last" tells the directions apart)."""
    return {"bidirectional": bidirectional} if method == "last" else {}


# ======================================================================= the model's oracle
def parameter_shapes(V: int, E: int, H: int, C: int, bidirectional: bool) -> dict[str, tuple[int, ...]]:
    shapes = {"embedding.weight": (V, E)}
    for suffix in ("_l0", "_l0_reverse") if bidirectional else ("_l0",):
        shapes |= {f"lstm.weight_ih{suffix}": (4 * H, E), f"lstm.weight_hh{suffix}": (4 * H, H),
                   f"lstm.bias_ih{suffix}": (4 * H,), f"lstm.bias_hh{suffix}": (4 * H,)}
    return shapes | {"classifier.weight": (C, (2 if bidirectional else 1) * H), "classifier.bias": (C,)}


def lstm_call(weights: dict, inputs, lengths) -> tuple[tuple, dict]:
    """The arguments of :func:`reference.rnn.rnn` for the model's LSTM on ``inputs``: packed-sequence semantics."""
    params = {name[5:]: value for name, value in weights.items() if name.startswith("lstm.")}
    embedded = weights["embedding.weight"][np.asarray(inputs)]
    return (embedded, params), {"mode": "lstm", "bidirectional": "weight_ih_l0_reverse" in params,
                                "lengths": np.asarray(lengths)}


def classify(weights: dict, pooled: np.ndarray) -> np.ndarray:
    return pooled @ weights["classifier.weight"].T + weights["classifier.bias"]


def oracle_logits(weights: dict, inputs, lengths, pooling: str) -> np.ndarray:
    args, kwargs = lstm_call(weights, inputs, lengths)
    return classify(weights, pool(rnn(*args, **kwargs)[0], lengths, pooling, kwargs["bidirectional"]))


def explain_wrong_logits(got: np.ndarray, weights: dict, inputs, lengths, pooling: str) -> None:
    """Name the classic mistake that gives the student's (wrong) logits: in the LSTM, in the pooling, or one of each."""
    args, kwargs = lstm_call(weights, inputs, lengths)
    lengths, bidirectional = kwargs["lengths"], kwargs["bidirectional"]
    oracle, options = POOLING_ORACLES[pooling], pooling_options(pooling, bidirectional)
    to_logits = partial(classify, weights)

    def pooled(result: tuple) -> np.ndarray:  # the LSTM's outputs pooled right
        return to_logits(pool(result[0], lengths, pooling, bidirectional))

    def from_h_n(result: tuple) -> np.ndarray:  # the final state h_n (D, B, H), which "last" may use instead
        h_n = result[1][0]
        return to_logits(np.concatenate([h_n[-2], h_n[-1]], axis=1) if bidirectional else h_n[-1])

    # The LSTM's mistakes (run over the padding, outputs left in sorted order), then the pooling's on packed outputs.
    found = [explain_mismatch(got, rnn, *args, output=pooled, **kwargs, **TOL)]
    if pooling == "last":
        found.append(explain_mismatch(got, rnn, *args, output=from_h_n, **kwargs, **TOL))
    found.append(explain_mismatch(got, oracle, rnn(*args, **kwargs)[0], lengths, output=to_logits, **options, **TOL))
    if any(diagnosis.matched for diagnosis in found):
        return
    # Only when no single mistake explains them: a pooling mistake on the outputs of an LSTM run over the padding.
    unpacked = rnn(*args, **{**kwargs, "lengths": None})[0]
    for match in explain_mismatch(got, oracle, unpacked, lengths, output=to_logits, **options, **TOL).matched:
        pool_as_student = partial(get(match.id).evaluate, lengths=lengths, **options)
        explain_mismatch(got, rnn, *args, output=lambda result, pool_as=pool_as_student: to_logits(pool_as(result[0])),
                         mistakes=["rnn_runs_over_padding"], **kwargs, **TOL)


# =========================================================================== kit
class Kit:
    """What a test needs to drive the student's ``classifier.py`` and judge it."""

    def __init__(self, student, rng: np.random.Generator, hung: set[str]) -> None:
        self.student, self.rng, self.hung = student, rng, hung

    @property
    def code(self):
        return self.student.module("classifier")

    def call(self, task: str, function, *args, keep: bool = False, **kwargs):
        """Call student code; after a timeout in ``task`` its later tests are not run (they would only wait again)."""
        if task in self.hung:
            error = StudentFailure(f"not run: your {task} did not finish within the time limit in an earlier test")
            error.status = "timeout"
            raise error
        try:
            return (self.student.keep(function) if keep else function)(*args, **kwargs)
        except StudentFailure as error:
            if getattr(error, "status", "") != "timeout":
                raise
            self.hung.add(task)
            named = StudentFailure(f"{error} (it was running your {task})")
            named.status = "timeout"
            raise named from None

    def ids(self, array):
        return self.student.tensor(array, dtype=np.int64)

    def floats(self, array):
        return self.student.tensor(array, dtype=np.float32)

    # -- data ---------------------------------------------------------------------------------
    def lengths(self, count: int, low: int, high: int) -> np.ndarray:
        """Lengths in ``low..high``, the longest exactly ``high``, not sorted (when count > 2)."""
        while True:
            lengths = self.rng.integers(low, high + 1, size=count)
            lengths[self.rng.integers(count)] = high
            if count < 3 or np.any(np.diff(lengths) > 0):
                return lengths

    def batch(self, lengths, steps: int, vocab: int) -> np.ndarray:
        """Token ids (B, T); the padded positions hold random ids too (any pad id must work)."""
        return self.rng.integers(0, vocab, size=(len(lengths), steps))

    @staticmethod
    def repad(inputs: np.ndarray, lengths, steps: int, pad_ids: np.ndarray) -> np.ndarray:
        """The same sequences padded to ``steps`` columns with ``pad_ids`` after each one's end."""
        out = np.empty((len(inputs), steps), dtype=np.int64)
        for row, (sequence, n) in enumerate(zip(inputs, lengths)):
            out[row] = np.concatenate([sequence[:n], pad_ids[row, : steps - n]])
        return out

    # -- task 1: pooling --------------------------------------------------------------------------
    def check_pooling(self, outputs: np.ndarray, lengths, method: str, bidirectional: bool = False) -> None:
        """The student's ``pool_states`` on float32 ``outputs`` (B, T, F) against :mod:`reference.pooling`."""
        outputs, lengths = as_float32(outputs), np.asarray(lengths)
        label = (f"pool_states(outputs of shape {outputs.shape}, lengths={lengths.tolist()}, method={method!r}, "
                 f"bidirectional={bidirectional})")
        got = self.call("pool_states", self.code.pool_states, self.floats(outputs), self.ids(lengths), method, bidirectional)
        compare_with_oracle(got, POOLING_ORACLES[method], outputs, lengths, what=label,
                            **pooling_options(method, bidirectional), **TOL)

    def outputs(self, lengths, steps: int, features: int, padding: float | None = 0.0, shift: float = 0.0) -> np.ndarray:
        """Random RNN outputs (B, T, F) whose padded steps hold ``padding`` (``None``: random values)."""
        values = self.rng.normal(shift, 1.0, size=(len(lengths), steps, features))
        return values if padding is None else np.where(real_steps(lengths, steps), values, padding)

    # -- task 2: the model ------------------------------------------------------------------------
    def weights(self, V: int, E: int, H: int, C: int, bidirectional: bool, scale: float = 0.6) -> dict:
        """float32-representable weights, different in every gate and row."""
        return {name: as_float32(self.rng.normal(0.0, 1.0 if name == "embedding.weight" else scale, size=shape))
                for name, shape in parameter_shapes(V, E, H, C, bidirectional).items()}

    def model(self, V: int, E: int, H: int, C: int, pooling: str, bidirectional: bool = False):
        """The student's classifier with random weights loaded, after checking its parameter names and shapes."""
        label = (f"RNNClassifier(vocab_size={V}, embedding_dim={E}, hidden_size={H}, num_classes={C}, "
                 f"pooling={pooling!r}, bidirectional={bidirectional})")
        model = self.call("RNNClassifier", self.code.RNNClassifier, vocab_size=V, embedding_dim=E, hidden_size=H,
                          num_classes=C, pooling=pooling, bidirectional=bidirectional, keep=True)
        if self.student.module("builtins").isinstance(model, self.student.module("torch").nn.Module) is not True:
            raise StudentFailure(f"{label} made an object of type {model.type_name}, not a torch.nn.Module")
        expected = parameter_shapes(V, E, H, C, bidirectional)
        got = {name: tuple(np.shape(value)) for name, value in self.student.state_dict(model).items()}
        if got != expected:
            problems = [f"missing {', '.join(sorted(set(expected) - set(got)))}" * bool(set(expected) - set(got)),
                        f"unexpected {', '.join(sorted(set(got) - set(expected)))}" * bool(set(got) - set(expected))]
            problems += [f"{n} has shape {got[n]}, expected {s}" for n, s in expected.items() if got.get(n, s) != s]
            raise StudentFailure(f"{label} has the wrong parameters: {'; '.join(p for p in problems if p)}.\nExpected "
                                 f"exactly: {', '.join(f'{n} {s}' for n, s in expected.items())} (submodules embedding = "
                                 "nn.Embedding, lstm = nn.LSTM(batch_first=True), classifier = nn.Linear).")
        weights = self.weights(V, E, H, C, bidirectional)
        self.student.load_state_dict(model, weights)
        return model, weights

    def logits(self, model, inputs, lengths) -> np.ndarray:
        got = self.call("RNNClassifier", model, self.ids(inputs), self.ids(lengths))
        if not isinstance(got, np.ndarray):
            raise StudentFailure(f"RNNClassifier.forward must return the logits, a float tensor (B, C); got "
                                 f"{getattr(got, 'type_name', type(got).__name__)}")
        return got

    def check_logits(self, model, weights: dict, inputs, lengths, pooling: str) -> np.ndarray:
        """The student's logits for ``(inputs, lengths)`` against the oracle's; returns them."""
        inputs, lengths = np.asarray(inputs), np.asarray(lengths)
        bidirectional = "lstm.weight_ih_l0_reverse" in weights
        label = (f"logits (pooling={pooling!r}, bidirectional={bidirectional}; B={inputs.shape[0]}, T={inputs.shape[1]}, "
                 f"lengths={lengths.tolist()})")
        got = self.logits(model, inputs, lengths)
        try:
            assert_array_close(got, oracle_logits(weights, inputs, lengths, pooling), what=label, **TOL)
        except StudentFailure:
            # An explanation of a verdict already reached: a released self-check may lack some of its oracle calls.
            explanation(lambda: explain_wrong_logits(got, weights, inputs, lengths, pooling), default=None)
            raise
        return got

    def check_padding_invariance(self, model, weights: dict, inputs, lengths, pooling: str, extra: int = 3) -> None:
        """The same sequences padded to two widths, with different pad ids, give the oracle's logits both times."""
        lengths = np.asarray(lengths)
        wide = self.repad(inputs, lengths, inputs.shape[1] + extra, self.batch(lengths, inputs.shape[1] + extra,
                                                                                weights["embedding.weight"].shape[0]))
        first = self.check_logits(model, weights, inputs, lengths, pooling)
        try:
            second = self.check_logits(model, weights, wide, lengths, pooling)
        except StudentFailure as error:
            raise StudentFailure(f"padding changed your logits: the same sequences padded to T={wide.shape[1]} (other pad "
                                 f"ids) instead of T={inputs.shape[1]} give different values.\n{error}") from None
        assert_array_close(second, first, what="logits of the same batch padded to two widths", **TOL)

    # -- task 3: predictions ------------------------------------------------------------------------
    def check_predict(self, model, weights: dict, inputs, lengths, pooling: str) -> None:
        inputs, lengths = np.asarray(inputs), np.asarray(lengths)
        got = self.call("predict", self.code.predict, model, self.ids(inputs), self.ids(lengths))
        logits = oracle_logits(weights, inputs, lengths, pooling)
        label = f"predict (B={len(lengths)}, T={inputs.shape[1]}, lengths={lengths.tolist()}, pooling={pooling!r})"
        if not isinstance(got, np.ndarray) or got.shape != (len(lengths),) or got.dtype.kind not in "iu":
            described = f"shape {got.shape}, dtype {got.dtype}" if isinstance(got, np.ndarray) else type(got).__name__
            explain_mismatch(got, predict_classes, logits, **TOL)
            raise StudentFailure(f"{label} must return a torch.long tensor (B,) = ({len(lengths)},) of class ids; got "
                                 f"{described}")
        # A class counts as right when its logit is within the tolerance of the best (float32 can break near-ties).
        best = logits.max(axis=1)
        chosen = logits[np.arange(len(got)), np.clip(got, 0, logits.shape[1] - 1)]
        wrong = np.flatnonzero((got < 0) | (got >= logits.shape[1]) | (chosen < best - 1e-4))
        if wrong.size:
            explain_mismatch(got, predict_classes, logits, **TOL)
            raise StudentFailure(f"{label}: {wrong.size} of {len(got)} predictions are not the class with the largest "
                                 f"logit (first at sequence {wrong[0]})\n  expected {show(np.argmax(logits, axis=1))}\n"
                                 f"  got      {show(got)}")

    # -- partial credit -----------------------------------------------------------------------------
    @staticmethod
    def cases(credit, cases: list, noun: str = "cases") -> None:
        """Run independent checks with partial credit (see :meth:`grader.testing.Credit.run_cases`)."""
        credit.run_cases(cases, noun)


@pytest.fixture(scope="session")
def hung_tasks() -> set[str]:
    """Tasks that ran out of time in an earlier test of this submission (one pytest session per submission)."""
    return set()


@pytest.fixture
def kit(student, rng, hung_tasks) -> Kit:
    return Kit(student, rng, hung_tasks)
