"""Shared machinery of the ``ffnn_lm`` assignment's trusted tests: the ``kit`` fixture.

Test files run with ``--import-mode=importlib`` and cannot import a sibling, so
what several tests need hangs off one object: the student's ``ffnn.py`` in the
worker, random data from the test's ``rng``, the oracles of
:mod:`reference.ffnn` (numpy float64) and comparisons with the handout's
tolerance that name the likely cause when an answer matches a known mistake.
Nothing student code says about itself is believed: after a training step the
parameters are read back and compared with the oracle's update, and after
training on the corpus the loss is recomputed here from those parameters.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.testing import StudentFailure, assert_array_close
from reference.ffnn import ffnn_lm_forward, ffnn_lm_loss_and_grads, sliding_windows

TOL = {"rtol": 1e-5, "atol": 1e-6}    # the handout's tolerance (edugrad computes in float64)
CORPUS = Path(__file__).resolve().parent.parent / "data" / "tiny_corpus.txt"
BOS, EOS = 0, 1                       # the corpus's special ids; words follow from 2 in sorted order
TENSOR_TYPE = "edugrad.tensor.Tensor"


def show(array) -> str:
    return np.array2string(np.asarray(array), separator=" ", threshold=80).replace("\n", "")


def with_cause(error: StudentFailure, cause: str) -> StudentFailure:
    return StudentFailure(f"{error}\nLikely cause: {cause}." if cause else str(error))


def first_match(got, variants: list[tuple[str, object]]) -> str:
    """The explanation of the first known mistake whose answer ``got`` reproduces, else ""."""
    for explanation, value in variants:
        try:
            if np.shape(got) == np.shape(value) and np.allclose(got, value, **TOL):
                return explanation
        except (TypeError, ValueError):
            return ""
    return ""


def parameter_shapes(V: int, k: int, d: int, H: int) -> dict[str, tuple[int, ...]]:
    """The parameters of ``FeedForwardLM`` by the names edugrad gives them (``Linear`` stores (inputs, outputs))."""
    return {"embeddings": (V, d), "hidden.weight": (k * d, H), "hidden.bias": (H,),
            "output.weight": (H, V), "output.bias": (V,)}


def oracle_weights(weights: dict) -> dict:
    """The student's parameters as :mod:`reference.ffnn` takes them (torch layout: weights transposed)."""
    return {"embedding": weights["embeddings"], "hidden_weight": weights["hidden.weight"].T,
            "hidden_bias": weights["hidden.bias"], "output_weight": weights["output.weight"].T,
            "output_bias": weights["output.bias"]}


def oracle_loss_and_grads(weights: dict, contexts, targets, nonlinearity: str) -> tuple[float, dict]:
    """The mean cross-entropy and its gradients, keyed and shaped like the student's parameters."""
    loss, grads = ffnn_lm_loss_and_grads(contexts, targets, **oracle_weights(weights), nonlinearity=nonlinearity)
    return loss, {"embeddings": grads["embedding"], "hidden.weight": grads["hidden_weight"].T,
                  "hidden.bias": grads["hidden_bias"], "output.weight": grads["output_weight"].T,
                  "output.bias": grads["output_bias"]}


def oracle_logits(weights: dict, contexts, nonlinearity: str) -> np.ndarray:
    return ffnn_lm_forward(contexts, **oracle_weights(weights), nonlinearity=nonlinearity)


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


def softmax_rows(z: np.ndarray) -> np.ndarray:
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class Kit:
    """What a test needs to drive the student's ``ffnn.py`` and judge it."""

    TOL = TOL
    show = staticmethod(show)
    with_cause = staticmethod(with_cause)
    first_match = staticmethod(first_match)
    oracle_logits = staticmethod(oracle_logits)
    oracle_loss_and_grads = staticmethod(oracle_loss_and_grads)
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
        want_contexts, want_targets = sliding_windows(tokens, n, bos)
        for got, want, name in ((result[0], want_contexts, "contexts"), (result[1], want_targets, "targets")):
            both = f"\n  expected {show(want)}\n  got      {show(got)}"
            if not isinstance(got, np.ndarray) or got.dtype.kind not in "iu":
                raise StudentFailure(f"the {name} from {what} must be a numpy array of integers, got "
                                     f"{type(got).__name__}{'' if not isinstance(got, np.ndarray) else ' of dtype ' + str(got.dtype)}")
            if got.shape != want.shape or not np.array_equal(got, want):
                causes = [("the windows start at the first full window: pad the start with n - 1 bos ids so that every "
                           "token, the first one included, is a target", want[n - 1:] if name == "targets" else want_contexts[n - 1:]),
                          ("the context is in reverse order: the oldest word comes first, the previous word last",
                           want[:, ::-1] if name == "contexts" else None)]
                cause = first_match(got, [(text, value) for text, value in causes if value is not None])
                if not cause and got.shape == want.shape and name == "contexts" and np.array_equal(got != want, want == bos):
                    cause = "the padding before the first word is not bos_id: use the bos_id argument"
                shape = f" (expected shape {want.shape}, got {got.shape})" if got.shape != want.shape else ""
                raise with_cause(StudentFailure(f"the {name} from {what} are wrong{shape}:{both}"), cause)

    # -- task 2: ops ----------------------------------------------------------------------------
    def run_op(self, name: str, arrays: list[np.ndarray]):
        """``name(*leaves)`` in the worker: the leaves and the (kept) output Tensor."""
        leaves = [self.leaf(array) for array in arrays]
        out = self.call(name, getattr(self.ffnn, name), *leaves, keep=True)
        self.require_tensor(out, name)
        return leaves, out

    def check_op(self, name: str, arrays: list[np.ndarray], want: np.ndarray, what: str, variants=(),
                 backward: tuple[np.ndarray, list[tuple[str, object]]] | None = None, upstream=None,
                 nonfinite_cause: str = "") -> None:
        """Compare ``name(*arrays)`` with ``want``; with ``backward=(want_grad, variants)`` also the gradient of input 0."""
        leaves, out = self.run_op(name, arrays)
        got = self.student.value(out)
        try:
            assert_array_close(got, want, what=f"{name}: the output for {what}", **TOL)
        except StudentFailure as error:
            overflow = (nonfinite_cause if isinstance(got, np.ndarray) and got.dtype.kind == "f"
                        and not np.all(np.isfinite(got)) else "")
            raise with_cause(error, first_match(got, list(variants)) or overflow) from None
        if backward is None:
            return
        want_grad, grad_variants = backward
        try:
            self.call(name, self.student.backward, out, upstream)
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout":
                raise
            raise StudentFailure(f"backward through {name} failed for {what}. edugrad applies your backward's result as "
                                 "inputs[i].grad += grads[i]: return a list with one gradient per input, each "
                                 f"shaped like that input.\n{error}") from None
        got_grad = self.student.grads(leaves[0])
        try:
            assert_array_close(got_grad, want_grad, what=f"{name}: the gradient of its first input for {what}", **TOL)
        except StudentFailure as error:
            raise with_cause(error, first_match(got_grad, list(grad_variants))) from None

    def check_embed_window(self, embeddings: np.ndarray, contexts: np.ndarray, backward: bool = True) -> None:
        B, k = contexts.shape
        want = embeddings[contexts].reshape(B, -1)
        what = f"embeddings of shape {embeddings.shape} and contexts {show(contexts)}"
        variants = [("the embeddings are concatenated in reverse order: the oldest word (column 0 of contexts) "
                     "comes first", embeddings[contexts[:, ::-1]].reshape(B, -1))]
        grad_check = None
        upstream = self.upstream(want.shape)
        if backward:
            want_grad = np.zeros_like(embeddings)
            np.add.at(want_grad, contexts, upstream.reshape(B, k, -1))
            lost = np.zeros_like(embeddings)
            lost[contexts] += upstream.reshape(B, k, -1)  # numpy keeps one of the repeated updates
            grad_check = (want_grad, [("a word that occurs several times in the contexts must receive the SUM of its "
                                       "gradients; grad[contexts] += ... keeps only one of them, np.add.at adds them all", lost),
                                      ("backward ignores grad_output (it must scale every gradient)",
                                       self._embed_ones(embeddings, contexts))])
        self.check_op("embed_window", [embeddings, contexts], want, what, variants, grad_check, upstream)

    @staticmethod
    def _embed_ones(embeddings, contexts) -> np.ndarray:
        grad = np.zeros_like(embeddings)
        np.add.at(grad, contexts, np.ones(contexts.shape + embeddings.shape[1:]))
        return grad

    def check_tanh(self, x: np.ndarray, backward: bool = True) -> None:
        y = np.tanh(x)
        upstream = self.upstream(x.shape)
        grad = (upstream * (1 - y * y), [("the derivative is written with the input: use the output, 1 - tanh(x)^2",
                                          upstream * (1 - x * x)), ("backward ignores grad_output", 1 - y * y)])
        self.check_op("tanh", [x], y, f"x of shape {x.shape}", (), grad if backward else None, upstream)

    def check_cross_entropy(self, logits: np.ndarray, targets: np.ndarray, backward: bool = True) -> None:
        B = len(targets)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        nll = -log_p[np.arange(B), targets]
        what = f"logits of shape {logits.shape} (largest |logit| {np.abs(logits).max():.3g}) and targets {show(targets)}"
        variants = [("the loss is the MEAN over the batch, not the sum", nll.sum()),
                    ("the loss must be one number (a 0-d array), the mean of the per-example losses", nll)]
        g = float(self.noise.uniform(0.5, 2.0))
        onehot = np.eye(logits.shape[1])[targets]
        want_grad = g * (np.exp(log_p) - onehot) / B
        grad = (want_grad, [("the gradient is divided by B too: dJ/dz = (softmax(z) - onehot) / B", want_grad * B),
                            ("backward ignores grad_output (multiply by it)", want_grad / g)])
        self.check_op("cross_entropy", [logits, targets], nll.mean(), what, variants, grad if backward else None, np.array(g),
                      nonfinite_cause="exp overflows for logits this large: subtract each row's maximum from its logits "
                                      "before exp (it does not change the softmax)")

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
        want = oracle_logits(weights, contexts, nonlinearity)
        other = "relu" if nonlinearity == "tanh" else "tanh"
        try:
            assert_array_close(got, want, what=f"logits for contexts {show(contexts)} (nonlinearity={nonlinearity!r})", **TOL)
        except StudentFailure as error:
            raise with_cause(error, first_match(got, [
                (f"the hidden layer applies {other} where nonlinearity={nonlinearity!r} was asked",
                 oracle_logits(weights, contexts, other)),
                ("the context embeddings are concatenated in reverse order: the oldest word (column 0) comes first",
                 oracle_logits(weights, contexts[:, ::-1], nonlinearity))])) from None

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
        _, want = oracle_loss_and_grads(weights, contexts, targets, nonlinearity)
        z = oracle_logits(weights, contexts, nonlinearity)
        upstream = (softmax_rows(z) - np.eye(z.shape[1])[targets]) / len(targets)
        self.call("FeedForwardLM", self.student.backward, out, upstream)
        got = self.student.grads(model)
        bad = [name for name in want if not self.close(got.get(name), want[name])]
        if not bad:
            return
        repeats = len(np.unique(contexts)) < contexts.size
        cause = ("only the embeddings' gradient is off and some words occur several times in the contexts: their "
                 "gradients must add up (np.add.at in embed_window.backward)" if bad == ["embeddings"] and repeats else "")
        try:
            assert_array_close(got.get(bad[0]), want[bad[0]], what=f"the gradient of {bad[0]} (contexts {show(contexts)}, "
                               f"nonlinearity={nonlinearity!r})", **TOL)
        except StudentFailure as error:
            raise with_cause(StudentFailure(f"wrong gradients of {', '.join(bad)}\n{error}"), cause) from None

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
        """``steps`` calls of train_step with SGD; the parameters after each must be the oracle's update."""
        V, k, d, H = 9, 2, 3, 5
        model, current = self.model(V, k, d, H, nonlinearity)
        optimizer, previous = self.optimizer(model, lr), None
        for step in range(1, steps + 1):
            contexts, targets = self.rng.integers(0, V, size=(6, k)), self.rng.integers(0, V, size=6)
            loss, grads = oracle_loss_and_grads(current, contexts, targets, nonlinearity)
            label = f"train_step number {step} (SGD with lr={lr:g}, nonlinearity={nonlinearity!r}, a batch of 6)"
            got_loss = self.train_step(model, optimizer, contexts, targets)
            want = {name: current[name] - lr * grads[name] for name in current}
            try:
                assert_array_close(got_loss, loss, what=f"the loss returned by {label}", **TOL)
            except StudentFailure as error:
                after_step = oracle_loss_and_grads(want, contexts, targets, nonlinearity)[0]
                raise with_cause(error, first_match(got_loss, [
                    ("the loss was computed after optimizer.step(); return the loss of the batch before the update",
                     after_step)])
                    or "train_step must return cross_entropy(model(contexts), targets) before the update; if the "
                       "cross_entropy or FeedForwardLM tests fail, fix those first") from None
            got = self.student.state_dict(model)
            bad = [name for name in want if not np.allclose(got[name], want[name], **TOL)]
            if bad:
                variants = [("no parameter changed: call optimizer.step() after loss.backward()", current)]
                if previous is not None:
                    variants.insert(0, ("the previous step's gradients were added to this step's: call "
                                        "optimizer.zero_grad() before loss.backward()",
                                        {name: current[name] - lr * (grads[name] + previous[name]) for name in current}))
                cause = next((text for text, alt in variants if all(np.allclose(got[n], alt[n], **TOL) for n in want)), "")
                try:
                    assert_array_close(got[bad[0]], want[bad[0]], what=f"{bad[0]} after {label}", **TOL)
                except StudentFailure as error:
                    raise with_cause(StudentFailure(f"parameters wrong after {label}: {', '.join(bad)}\n{error}"), cause) from None
            previous, current = grads, want

    def check_training(self, n: int, nonlinearity: str, epochs: int = 5, lr: float = 0.5, batch: int = 32,
                       required_drop: float = 1.0) -> None:
        """Train with the student's train_step on the corpus; the loss before and after comes from the oracle."""
        contexts, targets, vocab = corpus_examples(n)
        weights = self.weights(vocab, n - 1, 8, 16, scale=0.3)
        weights["embeddings"] *= 0.3
        model, _ = self.model(vocab, n - 1, 8, 16, nonlinearity, weights)
        before = oracle_loss_and_grads(weights, contexts, targets, nonlinearity)[0]
        optimizer = self.optimizer(model, lr)
        for _ in range(epochs):
            for start in range(0, len(targets), batch):
                self.train_step(model, optimizer, contexts[start:start + batch], targets[start:start + batch])
        trained = {name: np.asarray(value, dtype=np.float64) for name, value in self.student.state_dict(model).items()}
        broken = [name for name, value in trained.items() if not np.all(np.isfinite(value))]
        if broken:
            raise StudentFailure(f"after training, these parameters hold NaN or inf: {', '.join(broken)}")
        after = oracle_loss_and_grads(trained, contexts, targets, nonlinearity)[0]
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
