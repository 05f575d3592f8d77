"""Shared machinery of the ``rnn_lm`` assignment's trusted tests: the ``kit`` fixture.

Test files run with ``--import-mode=importlib`` and cannot import a sibling, so
what several tests need hangs off one object: random data drawn from the test's
``rng``; the oracles (:mod:`reference` in numpy float64 for values, PyTorch in
float64 for the gradients of a training step); comparisons with the handout's
tolerances. Every comparison with an oracle goes through :mod:`grader.diagnosis`,
so a wrong answer that a known mistake of :mod:`reference.mistakes` reproduces
is named in the feedback. Nothing student code says about itself is believed:
parameters after a step are read back and compared, and sampled tokens are
counted here.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from grader.diagnosis import arrays_match, compare_with_oracle, explain_mismatch
from grader.testing import StudentFailure, assert_array_close, assert_type, recorded
from reference.bptt import clip_grad_norm
from reference.decoding import sampling_distribution
from reference.lm import corpus_perplexity, lm_batch, masked_cross_entropy
from reference.mistakes import get, shadowing
from reference.optim import sgd_step
from reference.rnn import rnn as rnn_oracle
from reference.sequence import lengths_to_mask

TOL = {"rtol": 1e-4, "atol": 1e-5}   # float32 student code against float64 oracles (the handout's table)
IGNORE = -100
P_VALUE = 1e-6                        # chance that a correct sampler fails a sampling test
TEMPERATURE_MISTAKES = ("temperature_multiplied", "temperature_ignored")


def as_float32(array) -> np.ndarray:
    """``array`` rounded to float32 and held as float64: the oracle sees what the student's code sees."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def show(array) -> str:
    return np.array2string(np.asarray(array), separator=" ", threshold=80).replace("\n", "")


def check_exact(got, want, what: str, kind: str = "iu") -> None:
    """Integer or boolean outputs must match exactly; the message shows both when they are small."""
    want = np.asarray(want)
    both = f"\n  expected {show(want)}\n  got      {show(got)}" if want.size <= 80 and np.size(got) <= 80 else ""
    if not isinstance(got, np.ndarray):
        raise StudentFailure(f"{what}: expected a tensor of shape {want.shape}, got {type(got).__name__} {str(got)[:60]!r}")
    if got.shape != want.shape:
        raise StudentFailure(f"{what}: expected shape {want.shape}, got shape {got.shape}{both}")
    if got.dtype.kind not in kind:
        noun = "booleans (a torch.bool tensor)" if kind == "b" else "integers (a torch.long tensor)"
        raise StudentFailure(f"{what}: expected {noun}, got dtype {got.dtype}")
    bad = np.argwhere(got != want)
    if bad.size:
        where = ", ".join(str(tuple(int(i) for i in b)) for b in bad[:3])
        raise StudentFailure(f"{what}: {len(bad)} of {want.size} entries differ (first at {where}){both}")


def check_exact_oracle(got, oracle, *args, what: str, output=None, kind: str = "iu", **kwargs) -> None:
    """:func:`check_exact` against ``oracle(*args, **kwargs)`` (the part ``output`` picks); a mismatch is diagnosed
    with the catalogue's mistakes of that oracle, when it knows some."""
    want = oracle(*args, **kwargs)
    try:
        check_exact(got, want if output is None else want[output], what, kind)
    except StudentFailure:
        if shadowing(oracle):
            explain_mismatch(got, oracle, *args, output=output, same=same_ids, **kwargs)
        raise


def same_ids(got, candidate) -> bool:
    return isinstance(got, np.ndarray) and got.shape == np.shape(candidate) and bool(np.array_equal(got, candidate))


def same_loss(got, candidate) -> bool:
    """Equal within the tolerances, or both not finite (an overflow gives nan or inf, depending on the code)."""
    if not np.all(np.isfinite(np.asarray(candidate, dtype=np.float64))):
        return np.shape(got) == np.shape(candidate) and not np.all(np.isfinite(np.asarray(got, dtype=np.float64)))
    return arrays_match(got, candidate, **TOL)


def plausible_draw(token: int, probs: np.ndarray) -> bool:
    """Whether a sampler following ``probs`` could reasonably have drawn ``token`` (probability at least 1e-6)."""
    return bool(probs[token] >= 1e-6)


# ======================================================================= oracles
def parameter_shapes(V: int, E: int, H: int, layers: int) -> dict[str, tuple[int, ...]]:
    shapes = {"embedding.weight": (V, E)}
    for k in range(layers):
        shapes |= {f"lstm.weight_ih_l{k}": (4 * H, E if k == 0 else H), f"lstm.weight_hh_l{k}": (4 * H, H),
                   f"lstm.bias_ih_l{k}": (4 * H,), f"lstm.bias_hh_l{k}": (4 * H,)}
    return shapes | {"output.weight": (V, H), "output.bias": (V,)}


def lstm_arguments(weights: dict, inputs, lengths=None, state=None) -> tuple[tuple, dict]:
    """The arguments of :func:`reference.rnn.rnn` for the model's LSTM: ``(embedded, params)`` and the keywords."""
    params = {name[5:]: value for name, value in weights.items() if name.startswith("lstm.")}
    layers = sum(name.startswith("weight_ih_l") for name in params)
    embedded = weights["embedding.weight"][np.asarray(inputs)]
    return (embedded, params), {"mode": "lstm", "initial_state": state, "num_layers": layers, "lengths": lengths}


def oracle_forward(weights: dict, inputs, lengths=None, state=None):
    """Embedding, LSTM (``lengths`` as pack_padded_sequence), linear layer: logits (B, T, V), (h_n, c_n)."""
    args, kwargs = lstm_arguments(weights, inputs, lengths, state)
    outputs, final = rnn_oracle(*args, **kwargs)
    return outputs @ weights["output.weight"].T + weights["output.bias"], final


def masked_targets(targets, lengths) -> np.ndarray:
    """``targets`` with every position past a sequence's length set to the ignore index."""
    return np.where(lengths_to_mask(lengths, np.shape(targets)[1]), targets, IGNORE)


@recorded
def torch_loss_and_grads(weights: dict, inputs, targets, lengths) -> tuple[float, dict[str, np.ndarray]]:
    """The masked mean cross-entropy and its gradients, by PyTorch in float64 (the gradient oracle).

    Recorded by the release (:func:`grader.testing.recorded`): a student's self-check replays it without
    importing torch in the grader's process.
    """
    import torch  # here, not at the top: only this helper needs torch in the grader's process

    (V, E), H = weights["embedding.weight"].shape, weights["output.weight"].shape[1]
    layers = sum(name.startswith("lstm.weight_ih") for name in weights)
    modules = torch.nn.ModuleDict({"embedding": torch.nn.Embedding(V, E), "output": torch.nn.Linear(H, V),
                                   "lstm": torch.nn.LSTM(E, H, num_layers=layers, batch_first=True)}).double()
    modules.load_state_dict({name: torch.tensor(value, dtype=torch.float64) for name, value in weights.items()})
    # The LSTM is causal and padding comes last, so an unpacked run agrees with a packed one at real positions.
    outputs, _ = modules["lstm"](modules["embedding"](torch.tensor(inputs)))
    loss = torch.nn.functional.cross_entropy(modules["output"](outputs).transpose(1, 2),
                                             torch.tensor(masked_targets(targets, lengths)), ignore_index=IGNORE)
    loss.backward()
    return float(loss), {name: p.grad.numpy().copy() for name, p in modules.named_parameters()}


def binomial_p_value(count: int, draws: int, p: float) -> float:
    """Two-sided exact p-value of ``count`` successes in ``draws`` trials of probability ``p``."""
    k, p = np.arange(draws + 1), min(max(p, 1e-300), 1 - 1e-16)
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, draws + 1)))])
    pmf = np.exp(log_factorial[draws] - log_factorial[k] - log_factorial[draws - k] + k * math.log(p) + (draws - k) * math.log1p(-p))
    return float(min(1.0, 2 * min(pmf[: count + 1].sum(), pmf[count:].sum())))


def follows(counts: np.ndarray, probs: np.ndarray) -> bool:
    """Whether every token's count of ``counts.sum()`` draws passes the exact binomial test against ``probs``."""
    draws = int(counts.sum())
    return min(binomial_p_value(int(counts[i]), draws, probs[i]) for i in range(len(probs))) >= P_VALUE / len(probs)


# =========================================================================== kit
class Kit:
    """What a test needs to drive the student's ``lm.py`` and judge it."""

    TOL = TOL
    exact = staticmethod(check_exact)
    exact_oracle = staticmethod(check_exact_oracle)
    oracle_forward = staticmethod(oracle_forward)
    torch_loss_and_grads = staticmethod(torch_loss_and_grads)

    def __init__(self, student, rng: np.random.Generator, hung: set[str]) -> None:
        self.student, self.rng, self.hung = student, rng, hung

    @property
    def lm(self):
        return self.student.module("lm")

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

    # -- data ------------------------------------------------------------------------
    def specials(self, vocab: int) -> tuple[int, int, int]:
        """Distinct (pad, bos, eos) ids drawn at random, so code that assumes 0, 1, 2 is caught."""
        return tuple(int(i) for i in self.rng.choice(vocab, size=3, replace=False))

    def lengths(self, count: int, low: int, high: int) -> np.ndarray:
        """Lengths in ``low..high``, the longest exactly ``high``, not sorted (when count > 2)."""
        while True:
            lengths = self.rng.integers(low, high + 1, size=count)
            lengths[self.rng.integers(count)] = high
            if count < 3 or np.any(np.diff(lengths) > 0):
                return lengths

    def sentences(self, lengths, vocab: int, avoid: tuple[int, ...] = ()) -> list[list[int]]:
        words = np.setdiff1d(np.arange(vocab), avoid)
        return [[int(w) for w in self.rng.choice(words, size=int(n))] for n in lengths]

    @staticmethod
    def oracle_batch(sentences: list[list[int]], specials: tuple[int, int, int]):
        """``(inputs, targets, lengths)`` built by the oracle: bos/eos per sentence, then padding."""
        pad, bos, eos = specials
        return lm_batch(sentences, bos, eos, pad)

    def logits(self, shape, scale: float = 1.5) -> np.ndarray:
        return as_float32(self.rng.normal(0.0, scale, size=shape))

    # -- the model -----------------------------------------------------------------------
    def weights(self, V: int, E: int, H: int, layers: int = 1, scale: float = 0.5, embedding: float = 1.0) -> dict:
        """float32-representable weights, different in every gate and row."""
        return {name: as_float32(self.rng.normal(0.0, embedding if name == "embedding.weight" else scale, size=shape))
                for name, shape in parameter_shapes(V, E, H, layers).items()}

    def model(self, V: int, E: int, H: int, layers: int = 1, weights: dict | None = None):
        """The student's model with ``weights`` loaded, after checking its parameter names and shapes."""
        extra = {"num_layers": layers} if layers != 1 else {}
        model = self.call("LSTMLanguageModel", self.lm.LSTMLanguageModel, V, E, H, **extra)
        if self.student.module("builtins").isinstance(model, self.student.module("torch").nn.Module) is not True:
            raise StudentFailure(f"LSTMLanguageModel(...) made an object of type {model.type_name}, not a torch.nn.Module")
        expected = parameter_shapes(V, E, H, layers)
        got = {name: tuple(np.shape(value)) for name, value in self.student.state_dict(model).items()}
        if got != expected:
            problems = [f"missing {', '.join(sorted(set(expected) - set(got)))}" * bool(set(expected) - set(got)),
                        f"unexpected {', '.join(sorted(set(got) - set(expected)))}" * bool(set(got) - set(expected))]
            problems += [f"{n} has shape {got[n]}, expected {s}" for n, s in expected.items() if got.get(n, s) != s]
            raise StudentFailure(f"LSTMLanguageModel({V}, {E}, {H}{', num_layers=%d' % layers if extra else ''}) has the wrong "
                                 f"parameters: {'; '.join(p for p in problems if p)}.\nExpected exactly: "
                                 f"{', '.join(f'{n} {s}' for n, s in expected.items())} (submodules embedding = nn.Embedding, "
                                 f"lstm = nn.LSTM(batch_first=True), output = nn.Linear).")
        weights = weights if weights is not None else self.weights(V, E, H, layers)
        self.student.load_state_dict(model, weights)
        return model, weights

    def check_forward(self, model, weights, inputs, lengths, state=None, parts=("logits", "state")) -> None:
        """The student's ``model(inputs, lengths[, state])``: logits at real positions and the final state."""
        inputs, lengths = np.asarray(inputs), np.asarray(lengths)
        (B, T), label = inputs.shape, f"B={inputs.shape[0]}, T={inputs.shape[1]}, lengths={lengths.tolist()}"
        args = [self.ids(inputs), self.ids(lengths)] + ([(self.floats(state[0]), self.floats(state[1]))] if state else [])
        result = self.call("LSTMLanguageModel", model, *args)
        assert_type(result, (tuple, list), "LSTMLanguageModel.forward must return the pair (logits, (h_n, c_n))")
        if len(result) != 2 or not isinstance(result[1], (tuple, list)) or len(result[1]) != 2:
            raise StudentFailure("LSTMLanguageModel.forward must return the pair (logits, (h_n, c_n))")
        logits, final = result
        # The LSTM is the oracle reference.rnn.rnn on the embedded inputs, so its known mistakes (running over
        # the padding, a length-sorted order) are recognised; the logits are its outputs through the linear layer.
        args, kwargs = lstm_arguments(weights, inputs, lengths, state)
        if "logits" in parts:
            want_shape = (B, T, weights["output.bias"].shape[0])
            if not isinstance(logits, np.ndarray) or logits.shape != want_shape:
                shape = logits.shape if isinstance(logits, np.ndarray) else type(logits).__name__
                hint = (": the T of the logits must be the T of inputs; pass total_length=inputs.shape[1] to "
                        "pad_packed_sequence") if np.shape(logits)[1:2] == (lengths.max(),) else ""
                raise StudentFailure(f"logits ({label}): expected shape (B, T, V) = {want_shape}, got {shape}{hint}")
            mask = lengths_to_mask(lengths, T)[..., None]

            def real_logits(run):
                return np.where(mask, run[0] @ weights["output.weight"].T + weights["output.bias"], 0.0)

            compare_with_oracle(np.where(mask, logits, 0.0), rnn_oracle, *args, output=real_logits, **kwargs,
                                what=f"logits at the real positions ({label}; padded positions are not graded)", **TOL)
        if "state" in parts:
            for index, name in enumerate(("h_n", "c_n")):
                compare_with_oracle(final[index], rnn_oracle, *args, output=lambda run, i=index: run[1][i], **kwargs,
                                    what=f"{name} ({label})", **TOL)

    def check_model_for(self, task: str, model, weights, bos: int) -> None:
        """Generation leans on the model: say so when its forward pass is already off."""
        try:
            self.check_forward(model, weights, [[bos]], [1])
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout":
                raise
            raise StudentFailure(f"{task} is checked with your LSTMLanguageModel, whose forward pass is off here, so {task} "
                                 f"cannot match; fix the model first.\n{error}") from None

    # -- loss and perplexity --------------------------------------------------------------
    def check_loss(self, logits, targets, lengths) -> None:
        (B, T, V), lengths = logits.shape, np.asarray(lengths)
        label = f"lm_loss (B={B}, T={T}, V={V}, lengths={lengths.tolist()})"
        got = self.call("lm_loss", self.lm.lm_loss, self.floats(logits), self.ids(targets), self.ids(lengths))
        if isinstance(got, np.ndarray) and got.shape != ():
            raise StudentFailure(f"{label} must return a 0-d tensor (one number), got shape {got.shape}: average over all real tokens")
        try:
            assert_array_close(got, masked_cross_entropy(logits, targets, lengths)[0], what=label, **TOL)
        except StudentFailure:
            explain_mismatch(got, masked_cross_entropy, logits, targets, lengths, output=0, same=same_loss)
            raise

    def check_perplexity(self, batches: list[tuple]) -> None:
        tokens = [int(np.sum(b[2])) for b in batches]
        label = f"corpus_perplexity over {len(batches)} batch(es) of {', '.join(map(str, tokens))} real tokens"
        sent = [(self.floats(x), self.ids(y), self.ids(n)) for x, y, n in batches]
        got = self.call("corpus_perplexity", self.lm.corpus_perplexity, sent)
        if not isinstance(got, (int, float, np.ndarray)) or isinstance(got, bool) or np.shape(got) != ():
            raise StudentFailure(f"{label} must return one number (a Python float); got {type(got).__name__}")
        compare_with_oracle(got, corpus_perplexity, batches, what=label, **TOL)

    # -- training -------------------------------------------------------------------------
    def optimizer(self, model, kind: str = "SGD", lr: float = 0.5):
        return getattr(self.student.module("torch").optim, kind)(model.parameters(), lr=lr)

    def train_step(self, model, optimizer, batch, max_norm: float):
        loss = self.call("train_step", self.lm.train_step, model, optimizer, *(self.ids(part) for part in batch), max_norm)
        if not isinstance(loss, (int, float, np.ndarray)) or isinstance(loss, bool) or np.shape(loss) != ():
            raise StudentFailure(f"train_step must return the loss as a Python float (loss.item()); got {type(loss).__name__}")
        return loss

    def check_train_steps(self, steps: int, factor: float, lr: float = 0.5) -> None:
        """``steps`` calls of train_step with SGD; max_norm is ``factor`` times each step's gradient norm."""
        V, E, H = 10, 5, 7
        model, current = self.model(V, E, H)
        names = list(current)

        def flat(params: dict) -> np.ndarray:  # every parameter in one vector, to diagnose the whole update at once
            return np.concatenate([np.asarray(params[name], dtype=np.float64).ravel() for name in names])

        optimizer, specials, carried = self.optimizer(model, "SGD", lr=lr), self.specials(V), None
        for step in range(steps):
            batch = self.oracle_batch(self.sentences(self.lengths(4, 1, 5), V, specials), specials)
            _, grads = torch_loss_and_grads(current, *batch)
            norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
            max_norm = round(factor * norm, 4)
            label = (f"train_step number {step + 1} (SGD with lr={lr:g}; max_norm={max_norm:g}, gradient norm "
                     f"{norm:.4g}; lengths {batch[2].tolist()})")
            got_loss = self.train_step(model, optimizer, batch, max_norm)
            try:
                compare_with_oracle(got_loss, masked_cross_entropy, oracle_forward(current, batch[0], batch[2])[0],
                                    batch[1], batch[2], output=0, what=f"the loss returned by {label}", **TOL)
            except StudentFailure as error:
                raise StudentFailure(f"{error}\ntrain_step must return lm_loss(model(inputs, lengths)[0], targets, "
                                     "lengths) as computed before the update; if the lm_loss tests fail, fix lm_loss "
                                     "first.") from None
            # What .grad held before this step's backward: the previous step's clipped gradients (the step must
            # clear them with optimizer.zero_grad(); code that does not is recognised by the catalogue).
            step_args = (current, grads, lr, max_norm)
            want = sgd_step(*step_args, previous_grads=carried)
            got = self.student.state_dict(model)
            bad = [name for name in want if not np.allclose(got[name], want[name], **TOL)]
            if bad:
                explain_mismatch(flat(got), sgd_step, *step_args, previous_grads=carried, output=flat, **TOL)
                try:
                    assert_array_close(got[bad[0]], want[bad[0]], what=f"{bad[0]} after {label}", **TOL)
                except StudentFailure as error:
                    raise StudentFailure(f"parameters wrong after {label}: {', '.join(bad)}\n{error}") from None
            carried = clip_grad_norm(grads, max_norm)[0]
            current = want

    # -- generation -----------------------------------------------------------------------
    def generator(self, seed: int):  # a torch.Generator created and seeded in the worker
        return self.student.module("torch").Generator().manual_seed(int(seed))

    def generate(self, model, bos, eos, max_len, temperature, generator, vocab: int, function=None) -> list[int]:
        """The student's ``generate`` (``function``: the remote ``lm.generate`` already looked up, for many calls)."""
        label = f"generate(bos_id={bos}, eos_id={eos}, max_len={max_len}, temperature={temperature:g})"
        function = function if function is not None else self.lm.generate
        out = self.call("generate", function, model, bos, eos, max_len, temperature=temperature, generator=generator)
        if isinstance(out, np.ndarray) and out.ndim == 1 and out.dtype.kind in "iu":
            out = out.tolist()
        if not isinstance(out, (list, tuple)) or not all(type(t) is int for t in out):
            raise StudentFailure(f"{label} must return a list of Python ints (token ids); got {type(out).__name__} {str(out)[:60]}")
        if len(out) > max_len or eos in out or any(not 0 <= t < vocab for t in out):
            raise StudentFailure(f"{label} returned {list(out)[:30]}{' ...' * (len(out) > 30)}: expected at most {max_len} ids "
                                 f"in 0..{vocab - 1}, stopping at eos (eos itself is not returned)")
        return list(out)

    def greedy_setup(self, V: int, E: int, H: int, layers: int, max_len: int):
        """Weights whose greedy path has a clear winner at every step (top-2 gap >= 0.05) and varied tokens."""
        for _ in range(500):
            weights, bos = self.weights(V, E, H, layers, scale=0.8), int(self.rng.integers(V))
            path, gaps, token, state = [], [], bos, None
            for _ in range(max_len):
                logits, state = oracle_forward(weights, [[token]], None, state)
                top = np.sort(logits[0, -1])
                gaps.append(top[-1] - top[-2])
                token = int(np.argmax(logits[0, -1]))
                path.append(token)
            late = [t for t in dict.fromkeys(path) if path.index(t) >= 2 and t != bos]
            absent = [t for t in range(V) if t not in path and t != bos]
            if min(gaps) >= 0.05 and late and absent:
                return weights, bos, path, late[-1], absent[int(self.rng.integers(len(absent)))]
        raise RuntimeError("no weights with a clear greedy path were found")

    def check_greedy(self, credit, layers: int, max_len: int = 10, temperature: float = 1e-3) -> None:
        """At a tiny temperature sampling is greedy; eos chosen so that one case stops early and one never does."""
        V, E, H = 12, 6, 10
        weights, bos, path, stop, never = self.greedy_setup(V, E, H, layers, max_len)
        model, _ = self.model(V, E, H, layers, weights)
        self.check_model_for("generate", model, weights, bos)

        def case(eos: int) -> None:
            want = path[: path.index(eos)] if eos in path else path
            got = self.generate(model, bos, eos, max_len, temperature, self.generator(self.rng.integers(2**31)), V)
            if got != want:
                if got[:1] != want[:1]:
                    # The first draw is not the argmax: which temperature mistake could have drawn it?
                    first_logits = oracle_forward(weights, [[bos]])[0][0, -1]
                    explain_mismatch(got[0] if got else eos, sampling_distribution, first_logits, temperature,
                                     same=plausible_draw, mistakes=TEMPERATURE_MISTAKES)
                    where = ("the first token is already not the most likely one, which softmax(z / temperature) "
                             "picks with probability almost 1 at this temperature")
                else:
                    where = ("the first token is right but later ones are not: at every step feed the token you drew "
                             "and the state the model returned back into the model")
                raise StudentFailure(f"generate at temperature {temperature:g} must pick the most likely token at every step "
                                     f"(bos_id={bos}, eos_id={eos}, max_len={max_len}):\n  expected {want}\n  got      {got}"
                                     f"\n{where[0].upper()}{where[1:]}.")
        self.cases(credit, [lambda: case(stop), lambda: case(never)], noun="cases (eos reached; max_len reached without eos)")

    def check_distribution(self, temperature: float, draws: int = 500) -> None:
        """Draw the first token ``draws`` times and test every count against softmax(z / temperature)."""
        V, E, H = 8, 5, 6
        mistakes = [get(mistake_id) for mistake_id in TEMPERATURE_MISTAKES]
        for _ in range(200):
            weights = self.weights(V, E, H, scale=0.8)
            weights["output.bias"] = as_float32(self.rng.normal(0.0, 1.5, size=V))
            bos, eos = (int(t) for t in self.rng.choice(V, size=2, replace=False))
            z = oracle_forward(weights, [[bos]])[0][0, -1]
            want = sampling_distribution(z, temperature)
            candidates = [want] + [entry.evaluate(z, temperature) for entry in mistakes]
            # Keep only weights on which both mistakes fail for certain, and are told apart from each other.
            if all(min(binomial_p_value(int(round(draws * a[i])), draws, b[i]) for i in range(V)) < 1e-12
                   for a in candidates for b in candidates if a is not b):
                break
        model, _ = self.model(V, E, H, weights=weights)
        self.check_model_for("generate", model, weights, bos)
        generator, counts = self.generator(self.rng.integers(2**31)), np.zeros(V, dtype=int)
        # Looked up once, not once per draw: the first failing call ends the loop, so every call of the loop
        # goes to the same worker (a handle from before a restart is never used).
        generate = self.lm.generate
        for _ in range(draws):
            out = self.generate(model, bos, eos, 1, temperature, generator, V, function=generate)
            counts[out[0] if out else eos] += 1
        p_values = [binomial_p_value(int(counts[i]), draws, want[i]) for i in range(V)]
        worst = int(np.argmin(p_values))
        if p_values[worst] < P_VALUE / V:
            explain_mismatch(counts, sampling_distribution, z, temperature, same=follows, mistakes=TEMPERATURE_MISTAKES)
            raise StudentFailure(f"the first token of {draws} calls of generate(max_len=1, temperature={temperature:g}) does not "
                                 f"follow softmax(z / temperature): token {worst}{' (eos)' * (worst == eos)} came {counts[worst]} "
                                 f"times, expected about {draws * want[worst]:.0f} (probability {want[worst]:.3f}); a correct "
                                 f"sampler is this far off with probability {p_values[worst]:.1e}.\n  expected counts "
                                 f"{show(np.round(draws * want).astype(int))}\n  your counts     {show(counts)}")

    # -- partial credit ---------------------------------------------------------------------
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
