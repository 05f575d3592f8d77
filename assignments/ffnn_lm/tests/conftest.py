"""Shared machinery of the ``ffnn_lm`` assignment's trusted tests: the ``kit`` fixture.

Test files run with ``--import-mode=importlib`` and cannot import a sibling, so
what several tests need hangs off one object: the student's ``ffnn.py`` in the
worker, random data from the test's ``rng``, and comparisons with the oracles
of :mod:`reference.ffnn` (numpy float64; ``tanh`` against
:func:`reference.ops.run_graph`) at the handout's tolerance. Every comparison
goes through :mod:`grader.diagnosis`, so a wrong answer that a known mistake
reproduces is named from the catalogue (:mod:`reference.mistakes.ffnn`,
:mod:`reference.mistakes.ops`). Nothing student code says about itself is
believed: after a training step the parameters are read back and compared
with the oracle's update, and after training on the corpus the loss is
recomputed here from those parameters.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.diagnosis import arrays_match, compare_with_oracle, explain_mismatch
from grader.testing import StudentFailure, assert_array_close
from reference.ffnn import (cross_entropy_and_grad, ffnn_lm_forward, ffnn_lm_loss_and_grads, ffnn_lm_sgd,
                            sliding_windows, window_embeddings)
from reference.ops import run_graph

TOL = {"rtol": 1e-5, "atol": 1e-6}    # the handout's tolerance (edugrad computes in float64)
CORPUS = Path(__file__).resolve().parent.parent / "data" / "tiny_corpus.txt"
BOS, EOS = 0, 1                       # the corpus's special ids; words follow from 2 in sorted order
TENSOR_TYPE = "edugrad.tensor.Tensor"


def show(array) -> str:
    return np.array2string(np.asarray(array), separator=" ", threshold=80).replace("\n", "")


def exactly_equal(got, candidate) -> bool:
    """Windows are compared exactly: same shape, same ids."""
    return isinstance(got, np.ndarray) and got.shape == np.shape(candidate) and bool(np.array_equal(got, candidate))


def alike_or_overflowing(got, candidate) -> bool:
    """Within the tolerance, or inf/nan at the same places and close elsewhere (an overflow may give either)."""
    if arrays_match(got, candidate, **TOL):
        return True
    try:
        got, candidate = np.asarray(got, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    finite = np.isfinite(candidate)
    return (got.shape == candidate.shape and not finite.all() and np.array_equal(np.isfinite(got), finite)
            and arrays_match(got[finite], candidate[finite], **TOL))


def same_parameters(got: dict, candidate: dict) -> bool:
    """Every parameter of ``candidate`` is in ``got`` with its value, within the tolerance."""
    return all(arrays_match(got.get(name), value, **TOL) for name, value in candidate.items())


def tanh_graph(ops, x):
    """The graph of the student's ``tanh`` op, for :func:`reference.ops.run_graph` and its mistakes."""
    return ops.tanh(x)


def parameter_shapes(V: int, k: int, d: int, H: int) -> dict[str, tuple[int, ...]]:
    """The parameters of ``FeedForwardLM`` by the names edugrad gives them (``Linear`` stores (inputs, outputs))."""
    return {"embeddings": (V, d), "hidden.weight": (k * d, H), "hidden.bias": (H,),
            "output.weight": (H, V), "output.bias": (V,)}


def oracle_weights(weights: dict) -> dict:
    """The student's parameters as :mod:`reference.ffnn` takes them (torch layout: weights transposed)."""
    return {"embedding": weights["embeddings"], "hidden_weight": weights["hidden.weight"].T,
            "hidden_bias": weights["hidden.bias"], "output_weight": weights["output.weight"].T,
            "output_bias": weights["output.bias"]}


def student_layout(values: dict) -> dict:
    """Weights or gradients keyed as :mod:`reference.ffnn` gives them, keyed and shaped like the student's parameters."""
    return {"embeddings": values["embedding"], "hidden.weight": values["hidden_weight"].T,
            "hidden.bias": values["hidden_bias"], "output.weight": values["output_weight"].T,
            "output.bias": values["output_bias"]}


def corpus_loss(weights: dict, contexts, targets, nonlinearity: str) -> float:
    """The mean cross-entropy of the parameters ``weights`` (the student's layout) on these examples.

    ``z = U g(W e + b1) + b2`` as the handout states it, computed here in numpy, not by the oracle: after
    training the parameters are the student's, and a released bundle's self-check can replay only the oracle
    calls whose arguments the test chose (tests/assignments checks that this agrees with the oracle).
    """
    contexts, targets = np.asarray(contexts), np.asarray(targets)
    e = weights["embeddings"][contexts].reshape(len(contexts), -1)  # the oldest word's embedding first
    a = e @ weights["hidden.weight"] + weights["hidden.bias"]
    h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)
    z = h @ weights["output.weight"] + weights["output.bias"]
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(targets)), targets]))


def read_corpus() -> tuple[list[list[int]], int]:
    """The shipped corpus as ids, each sentence ending in EOS, and the vocabulary size."""
    lines = [line.split() for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    vocab = {word: 2 + i for i, word in enumerate(sorted({w for line in lines for w in line}))}
    return [[vocab[w] for w in line] + [EOS] for line in lines], len(vocab) + 2


def corpus_examples(n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Every (context, target) pair of the corpus for an order-``n`` model, sentence by sentence (oracle windows)."""
    sentences, vocab = read_corpus()
    pairs = [sliding_windows(sentence, n, BOS) for sentence in sentences]
    return np.concatenate([c for c, _ in pairs]), np.concatenate([t for _, t in pairs]), vocab


class Kit:
    """What a test needs to drive the student's ``ffnn.py`` and judge it."""

    TOL = TOL
    show = staticmethod(show)
    corpus_examples = staticmethod(corpus_examples)

    def __init__(self, student, rng: np.random.Generator, hung: set[str], seed: int = 0) -> None:
        self.student, self.rng, self.hung = student, rng, hung
        # Upstream gradients come from a second stream, so a failure never shifts the inputs of later cases.
        self.noise = np.random.default_rng([seed, 1])

    @property
    def ffnn(self):
        return self.student.module("ffnn")

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

    def leaf(self, array: np.ndarray):
        """A Tensor kept in the worker: float64 values, or integer ids (which get no gradient)."""
        array = np.asarray(array)
        if array.dtype.kind in "iu":
            return self.student.keep(self.student.module("edugrad.tensor").Tensor)(array)
        return self.student.put(self.student.edugrad(array))

    def require_tensor(self, remote, what: str) -> None:
        if getattr(remote, "type_name", None) != TENSOR_TYPE:
            raise StudentFailure(f"{what} returned {getattr(remote, 'type_name', type(remote).__name__)}, not an edugrad "
                                 "Tensor: build it from ops (decorated with @tensor_op) so that backward can reach the inputs")

    def upstream(self, shape) -> np.ndarray:
        """A random dL/dy, never all ones, so a backward that ignores it is caught."""
        return self.noise.uniform(0.5, 1.5, size=shape) * self.noise.choice([-1.0, 1.0], size=shape)

    # -- task 1: windows ----------------------------------------------------------------------
    def check_windows(self, tokens: list[int], n: int, bos: int) -> None:
        what = f"make_windows(tokens={tokens}, n={n}, bos_id={bos})"
        result = self.call("make_windows", self.ffnn.make_windows, tokens, n, bos)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise StudentFailure(f"{what} must return the pair (contexts, targets)")
        for index, (got, want, name) in enumerate(zip(result, sliding_windows(tokens, n, bos), ("contexts", "targets"))):
            if not isinstance(got, np.ndarray) or got.dtype.kind not in "iu":
                raise StudentFailure(f"the {name} from {what} must be a numpy array of integers, got "
                                     f"{type(got).__name__}{'' if not isinstance(got, np.ndarray) else ' of dtype ' + str(got.dtype)}")
            if not exactly_equal(got, want):
                explain_mismatch(got, sliding_windows, tokens, n, bos, output=index, same=exactly_equal)
                shape = f" (expected shape {want.shape}, got {got.shape})" if got.shape != want.shape else ""
                raise StudentFailure(f"the {name} from {what} are wrong{shape}:\n  expected {show(want)}\n  got      {show(got)}")

    # -- task 2: ops ----------------------------------------------------------------------------
    def run_op(self, name: str, arrays: list[np.ndarray]):
        """``name(*leaves)`` in the worker: the leaves and the (kept) output Tensor."""
        leaves = [self.leaf(array) for array in arrays]
        out = self.call(name, getattr(self.ffnn, name), *leaves, keep=True)
        self.require_tensor(out, name)
        return leaves, out

    def check_op(self, name: str, arrays: list[np.ndarray], what: str, oracle, args: tuple, output=0,
                 gradient=None, upstream=None, same=None) -> None:
        """``name(*arrays)`` must give the part ``output`` of ``oracle(*args)``.

        With ``upstream``, backward from it must give input 0 the part
        ``gradient`` (an index, or a function of the oracle's result).
        """
        leaves, out = self.run_op(name, arrays)
        self.compare(self.student.value(out), oracle, args, output, f"{name}: the output for {what}", same)
        if upstream is None:
            return
        try:
            self.call(name, self.student.backward, out, upstream)
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout":
                raise
            raise StudentFailure(f"backward through {name} failed for {what}. edugrad applies your backward's result as "
                                 "inputs[i].grad += grads[i]: return a list with one gradient per input, each "
                                 f"shaped like that input.\n{error}") from None
        self.compare(self.student.grads(leaves[0]), oracle, args, gradient,
                     f"{name}: the gradient of its first input for {what}", same)

    @staticmethod
    def compare(got, oracle, args: tuple, output, what: str, same=None) -> None:
        """``got`` against the part ``output`` of ``oracle(*args)`` at the handout's tolerance; a mismatch is diagnosed.

        ``same`` (with an index ``output``) decides which known mistakes match, in place of the tolerance.
        """
        if same is None:
            compare_with_oracle(got, oracle, *args, output=output, what=what, **TOL)
            return
        try:
            assert_array_close(got, oracle(*args)[output], what=what, **TOL)
        except StudentFailure:
            explain_mismatch(got, oracle, *args, output=output, same=same)
            raise

    def check_embed_window(self, embeddings: np.ndarray, contexts: np.ndarray, backward: bool = True) -> None:
        upstream = self.upstream((contexts.shape[0], contexts.shape[1] * embeddings.shape[1]))
        what = f"embeddings of shape {embeddings.shape} and contexts {show(contexts)}"
        self.check_op("embed_window", [embeddings, contexts], what, window_embeddings, (embeddings, contexts, upstream),
                      gradient=1, upstream=upstream if backward else None)

    def check_tanh(self, x: np.ndarray, backward: bool = True) -> None:
        upstream = self.upstream(x.shape)
        args = (tanh_graph, {"x": x}, upstream if backward else None)
        self.check_op("tanh", [x], f"x of shape {x.shape}", run_graph, args,
                      gradient=lambda result: result[1]["x"], upstream=args[2])

    def check_cross_entropy(self, logits: np.ndarray, targets: np.ndarray, backward: bool = True) -> None:
        what = f"logits of shape {logits.shape} (largest |logit| {np.abs(logits).max():.3g}) and targets {show(targets)}"
        g = float(self.noise.uniform(0.5, 2.0))
        self.check_op("cross_entropy", [logits, targets], what, cross_entropy_and_grad, (logits, targets, g),
                      gradient=1, upstream=np.array(g) if backward else None, same=alike_or_overflowing)

    # -- task 3: the model ------------------------------------------------------------------------
    def weights(self, V: int, k: int, d: int, H: int, scale: float = 0.5) -> dict:
        """Random parameters in the student's layout, different in every row and column."""
        return {name: self.rng.normal(0.0, 1.0 if name == "embeddings" else scale, size=shape)
                for name, shape in parameter_shapes(V, k, d, H).items()}

    def model(self, V: int, k: int, d: int, H: int, nonlinearity: str = "tanh", weights: dict | None = None):
        """The student's model with ``weights`` loaded, after checking its parameter names and shapes."""
        label = (f"FeedForwardLM(vocab_size={V}, context_size={k}, embedding_dim={d}, hidden_size={H}, "
                 f"nonlinearity={nonlinearity!r})")
        model = self.call("FeedForwardLM", self.ffnn.FeedForwardLM, vocab_size=V, context_size=k, embedding_dim=d,
                          hidden_size=H, nonlinearity=nonlinearity, keep=True)
        if self.student.module("builtins").isinstance(model, self.student.module("edugrad.nn").Module) is not True:
            raise StudentFailure(f"{label} made an object of type {model.type_name}, not an edugrad.nn.Module")
        expected = parameter_shapes(V, k, d, H)
        got = {name: tuple(np.shape(value)) for name, value in self.student.state_dict(model).items()}
        if got != expected:
            problems = [f"missing {', '.join(sorted(set(expected) - set(got)))}" * bool(set(expected) - set(got)),
                        f"unexpected {', '.join(sorted(set(got) - set(expected)))}" * bool(set(got) - set(expected))]
            problems += [f"{n} has shape {got[n]}, expected {s}" for n, s in expected.items() if got.get(n, s) != s]
            raise StudentFailure(f"{label} has the wrong parameters: {'; '.join(p for p in problems if p)}.\nExpected "
                                 f"exactly: {', '.join(f'{n} {s}' for n, s in expected.items())} (embeddings = a Tensor, "
                                 "hidden and output = edugrad.nn.Linear, which stores its weight as (inputs, outputs)).")
        weights = weights if weights is not None else self.weights(V, k, d, H)
        self.student.load_state_dict(model, weights)
        return model, weights

    def logits(self, model, contexts: np.ndarray):
        """``model(contexts)`` kept in the worker (it must be a Tensor) and its value."""
        out = self.call("FeedForwardLM", model, np.asarray(contexts, dtype=np.int64), keep=True)
        self.require_tensor(out, "FeedForwardLM.forward")
        return out, self.student.value(out)

    def check_logits(self, model, weights: dict, contexts: np.ndarray, nonlinearity: str) -> None:
        _, got = self.logits(model, contexts)
        compare_with_oracle(got, ffnn_lm_forward, contexts, **oracle_weights(weights), nonlinearity=nonlinearity,
                            what=f"logits for contexts {show(contexts)} (nonlinearity={nonlinearity!r})", **TOL)

    def check_model_gradients(self, model, weights: dict, contexts: np.ndarray, targets: np.ndarray,
                              nonlinearity: str) -> None:
        """Seed dJ/dz of the oracle's loss at the student's logits; every parameter must get the oracle's dJ/dθ."""
        try:
            self.check_logits(model, weights, contexts, nonlinearity)
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout":
                raise
            raise StudentFailure(f"the gradients are checked through your FeedForwardLM, whose forward pass is off here, "
                                 f"so they cannot match; fix the forward pass first.\n{error}") from None
        out, _ = self.logits(model, contexts)
        args = (contexts, targets, *oracle_weights(weights).values())
        want = student_layout(ffnn_lm_loss_and_grads(*args, nonlinearity=nonlinearity)[1])
        z = ffnn_lm_forward(contexts, **oracle_weights(weights), nonlinearity=nonlinearity)
        self.call("FeedForwardLM", self.student.backward, out, cross_entropy_and_grad(z, targets)[1])
        got = self.student.grads(model)
        bad = [name for name in want if not self.close(got.get(name), want[name])]
        if not bad:
            return
        explain_mismatch(got, ffnn_lm_loss_and_grads, *args, nonlinearity=nonlinearity,
                         output=lambda result: student_layout(result[1]), same=same_parameters)
        try:
            assert_array_close(got.get(bad[0]), want[bad[0]], what=f"the gradient of {bad[0]} (contexts {show(contexts)}, "
                               f"nonlinearity={nonlinearity!r})", **TOL)
        except StudentFailure as error:
            raise StudentFailure(f"wrong gradients of {', '.join(bad)}\n{error}") from None

    @staticmethod
    def close(got, want: np.ndarray) -> bool:
        """``got`` matches ``want`` within the tolerance (quietly, to locate a mistake)."""
        return isinstance(got, np.ndarray) and got.shape == want.shape and bool(np.allclose(got, want, **TOL))

    # -- task 4: training --------------------------------------------------------------------------
    def optimizer(self, model, lr: float):
        """edugrad's SGD over the model's parameters, created in the worker."""
        parameters = self.student.keep(model.parameters)()
        return self.student.keep(self.student.module("edugrad.optim").SGD)(parameters, lr=lr)

    def train_step(self, model, optimizer, contexts: np.ndarray, targets: np.ndarray):
        loss = self.call("train_step", self.ffnn.train_step, model, optimizer, contexts, targets)
        if not isinstance(loss, (int, float, np.ndarray)) or isinstance(loss, bool) or np.shape(loss) != ():
            raise StudentFailure(f"train_step must return the loss as a Python float (float(loss.value)); got "
                                 f"{type(loss).__name__}")
        return float(loss)

    def check_train_steps(self, steps: int, nonlinearity: str = "tanh", lr: float = 0.4) -> None:
        """``steps`` calls of train_step with SGD; the loss and the parameters after each must be the oracle's."""
        V, k, d, H = 9, 2, 3, 5
        model, initial = self.model(V, k, d, H, nonlinearity)
        optimizer, batches = self.optimizer(model, lr), []
        for step in range(1, steps + 1):
            batches.append((self.rng.integers(0, V, size=(6, k)), self.rng.integers(0, V, size=6)))
            args = (list(batches), *oracle_weights(initial).values(), lr, nonlinearity)  # ffnn_lm_sgd's, in order
            want = student_layout(ffnn_lm_sgd(*args)[-1][1])
            label = f"train_step number {step} (SGD with lr={lr:g}, nonlinearity={nonlinearity!r}, a batch of 6)"
            got_loss = self.train_step(model, optimizer, *batches[-1])
            try:
                compare_with_oracle(got_loss, ffnn_lm_sgd, *args, output=lambda result: result[-1][0],
                                    what=f"the loss returned by {label}", **TOL)
            except StudentFailure as error:
                raise StudentFailure(f"{error}\ntrain_step must return cross_entropy(model(contexts), targets) from "
                                     "before the update; if the cross_entropy or FeedForwardLM tests fail, fix those "
                                     "first.") from None
            got = self.student.state_dict(model)
            bad = [name for name in want if not np.allclose(got[name], want[name], **TOL)]
            if bad:
                explain_mismatch(got, ffnn_lm_sgd, *args, output=lambda result: student_layout(result[-1][1]),
                                 same=same_parameters)
                try:
                    assert_array_close(got[bad[0]], want[bad[0]], what=f"{bad[0]} after {label}", **TOL)
                except StudentFailure as error:
                    raise StudentFailure(f"parameters wrong after {label}: {', '.join(bad)}\n{error}") from None

    def check_training(self, n: int, nonlinearity: str, epochs: int = 5, lr: float = 0.5, batch: int = 32,
                       required_drop: float = 1.0) -> None:
        """Train with the student's train_step on the corpus; the loss before and after comes from the oracle."""
        contexts, targets, vocab = corpus_examples(n)
        weights = self.weights(vocab, n - 1, 8, 16, scale=0.3)
        weights["embeddings"] *= 0.3
        model, _ = self.model(vocab, n - 1, 8, 16, nonlinearity, weights)
        before = corpus_loss(weights, contexts, targets, nonlinearity)
        optimizer = self.optimizer(model, lr)
        for _ in range(epochs):
            for start in range(0, len(targets), batch):
                self.train_step(model, optimizer, contexts[start:start + batch], targets[start:start + batch])
        trained = {name: np.asarray(value, dtype=np.float64) for name, value in self.student.state_dict(model).items()}
        broken = [name for name, value in trained.items() if not np.all(np.isfinite(value))]
        if broken:
            raise StudentFailure(f"after training, these parameters hold NaN or inf: {', '.join(broken)}")
        after = corpus_loss(trained, contexts, targets, nonlinearity)
        if not after <= before - required_drop:
            raise StudentFailure(
                f"after {epochs} epochs of train_step (SGD, lr={lr:g}, batches of {batch}, n={n}, {nonlinearity}) over the "
                f"{len(targets)} examples of data/tiny_corpus.txt, the loss the grader computes from your model's parameters "
                f"went from {before:.3f} to {after:.3f} nats per token; a correct train_step lowers it by more than "
                f"{required_drop:g} (a correct one: by about 2)")

    # -- partial credit ----------------------------------------------------------------------------
    @staticmethod
    def cases(credit, cases: list, noun: str = "cases") -> None:
        """Run independent checks with partial credit (see :meth:`grader.testing.Credit.run_cases`)."""
        credit.run_cases(cases, noun)


@pytest.fixture(scope="session")
def hung_tasks() -> set[str]:
    """Tasks that ran out of time in an earlier test of this submission (one pytest session per submission)."""
    return set()


@pytest.fixture
def kit(student, rng, seed, hung_tasks) -> Kit:
    return Kit(student, rng, hung_tasks, seed)
