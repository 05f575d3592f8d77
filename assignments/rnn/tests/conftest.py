"""Shared machinery of the ``rnn`` assignment's trusted tests: the ``kit`` fixture.

Test files cannot import a sibling module (the grader runs pytest with
``--import-mode=importlib``), so everything both test files need hangs off one
object that a fixture hands out:

- the rules check: ``rnn.py``'s source is fetched through the worker and parsed
  here with ``ast`` (never run here) to find PyTorch's built-in recurrences,
  torch inside the numpy tasks, and imports of other files;
- student cells built with random float32 weights, after their parameter names
  and shapes have been checked;
- oracles: :mod:`reference.rnn` for values, PyTorch's own cells in float64 for
  gradients (trusted code may use torch; the reference package may not);
- comparisons with the tolerances the handout states, all made through
  :mod:`grader.diagnosis`: when an output is off, the known mistakes of
  :mod:`reference.mistakes` that shadow its oracle (gate order, the slides' GRU,
  a forgotten bias, BPTT that stops after one step, clipping per array, ...)
  are tried on the same inputs, and the feedback names the one that matches.
"""
from __future__ import annotations

import ast
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from grader.diagnosis import arrays_match, compare_with_oracle, explain_mismatch
from grader.testing import StudentFailure, assert_array_close, assert_type, recorded
from reference.bptt import clip_grad_norm, elman_bptt
from reference.rnn import gru_cell, lstm_cell, rnn_cell

# The tolerances stated in the handout (README.md, "How your work is checked").
TORCH_TOL = {"rtol": 1e-4, "atol": 1e-5}    # float32 student cells vs a float64 oracle
NUMPY_TOL = {"rtol": 1e-6, "atol": 1e-8}    # float64 numpy tasks

CELLS = ("RNNCell", "LSTMCell", "GRUCell")
NUMPY_TASKS = ("elman_bptt", "clip_grad_norm")
TASKS = CELLS + NUMPY_TASKS
GATES = {"RNNCell": 1, "LSTMCell": 4, "GRUCell": 3}
PARAMETERS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
BPTT_KEYS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y", "h0")


# ============================================================================ rules

# torch names that would do a cell's work, and the cells they would do it for.
_BUILTIN_RECURRENCES = {
    **dict.fromkeys(("RNNCell", "RNN", "rnn_tanh_cell", "rnn_relu_cell", "rnn_tanh", "rnn_relu"), ("RNNCell",)),
    **dict.fromkeys(("LSTMCell", "LSTM", "lstm_cell", "lstm", "_thnn_fused_lstm_cell"), ("LSTMCell",)),
    **dict.fromkeys(("GRUCell", "GRU", "gru_cell", "gru", "_thnn_fused_gru_cell"), ("GRUCell",)),
    **dict.fromkeys(("_VF", "RNNBase", "RNNCellBase"), CELLS),
}
_ALLOWED_IMPORTS = set(sys.stdlib_module_names) | {"numpy", "torch"}
_RULE_FIXES = {
    "builtin": "write each cell's equations with tensor operations (@, torch.sigmoid, torch.tanh, chunk); "
               "PyTorch's recurrent modules and cells (torch.nn.RNN/LSTM/GRU, torch.nn.*Cell, torch.lstm_cell, "
               "torch._VF, ...) are not allowed",
    "torch": "write elman_bptt and clip_grad_norm with numpy only (no torch, no autograd)",
    "import": "keep all your code in rnn.py; it may import numpy, torch and the standard library only",
}


@dataclass(frozen=True)
class Violation:
    """One place where ``rnn.py`` breaks a rule; ``tasks`` are the tests it costs."""

    line: int
    text: str
    rule: str  # a key of _RULE_FIXES
    tasks: tuple[str, ...]


def _snippet(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _chain(node: ast.AST) -> tuple[str | None, list[str]]:
    """``torch.nn.LSTMCell`` -> ("torch", ["LSTMCell", "nn"])."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return (node.id if isinstance(node, ast.Name) else None), names


def find_violations(source: str) -> list[Violation]:
    """Every rule ``rnn.py`` breaks, found by reading its syntax tree."""
    tree = ast.parse(source)
    found: list[Violation] = []
    torch_names: set[str] = set()  # local names bound to torch or something imported from it
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.partition(".")[0]
                if top not in _ALLOWED_IMPORTS:
                    found.append(Violation(node.lineno, f"import {alias.name}", "import", TASKS))
                elif top == "torch":
                    torch_names.add(alias.asname or "torch")
                    for part in alias.name.split("."):
                        if part in _BUILTIN_RECURRENCES:
                            found.append(Violation(node.lineno, f"import {alias.name}", "builtin", _BUILTIN_RECURRENCES[part]))
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").partition(".")[0]
            if node.level or top not in _ALLOWED_IMPORTS:
                found.append(Violation(node.lineno, _snippet(node), "import", TASKS))
            elif top == "torch":
                for alias in node.names:
                    torch_names.add(alias.asname or alias.name)
                    for part in (node.module or "").split(".") + [alias.name]:
                        if part in _BUILTIN_RECURRENCES:
                            found.append(Violation(node.lineno, _snippet(node), "builtin", _BUILTIN_RECURRENCES[part]))
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:  # judge each chain once, whole
            root, names = _chain(node)
            if root in torch_names:
                for name in names:
                    if name in _BUILTIN_RECURRENCES:
                        found.append(Violation(node.lineno, _snippet(node), "builtin", _BUILTIN_RECURRENCES[name]))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value in _BUILTIN_RECURRENCES:
                found.append(Violation(node.lineno, _snippet(node), "builtin", _BUILTIN_RECURRENCES[node.args[1].value]))
    found.extend(_torch_in_numpy_tasks(tree, torch_names))
    unique = {(v.line, v.text, v.rule): v for v in found}
    return sorted(unique.values(), key=lambda v: (v.line, v.text))


def _torch_in_numpy_tasks(tree: ast.Module, torch_names: set[str]) -> list[Violation]:
    """torch used by ``elman_bptt`` or ``clip_grad_norm``, or by module-level functions they reach."""
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    found = []
    for task in NUMPY_TASKS:
        seen: set[str] = set()
        todo = [task] if task in functions else []
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for node in ast.walk(functions[name]):
                if isinstance(node, ast.Name) and node.id in functions:
                    todo.append(node.id)
                elif isinstance(node, ast.Name) and node.id in torch_names:
                    found.append(Violation(node.lineno, f"{node.id} used in {task}" + (f" (via {name})" if name != task else ""),
                                           "torch", (task,)))
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    if any(module.partition(".")[0] == "torch" for module in modules):
                        found.append(Violation(node.lineno, f"{_snippet(node)} in {task}", "torch", (task,)))
    return found


def explain_violations(violations: list[Violation]) -> str:
    lines = [f"  rnn.py line {v.line}: {v.text}" for v in violations]
    fixes = [_RULE_FIXES[rule] for rule in _RULE_FIXES if any(v.rule == rule for v in violations)]
    return "\n".join(lines) + "\nFix: " + "; ".join(fixes) + "."


# ================================================================= comparing dicts


def all_close(tol: dict) -> Callable[[dict, dict], bool]:
    """``same(got, candidate)`` for dicts of arrays: every array of ``candidate`` matches ``got``'s within ``tol``."""

    def same(got: dict, candidate: dict) -> bool:
        return all(key in got and arrays_match(got[key], value, **tol) for key, value in candidate.items())

    return same


def grads_of(keys: tuple[str, ...]) -> Callable[[tuple], dict]:
    """Pick the gradients named ``keys`` from what ``elman_bptt`` (or a variant of it) returns."""
    return lambda result: {key: result[1][key] for key in keys}


# ========================================================================== gradients


@recorded
def torch_cell_gradients(kind: str, weights: dict, xs: np.ndarray, state: tuple, upstream: tuple,
                         nonlinearity: str = "tanh") -> dict:
    """PyTorch's own cell in float64 holding ``weights``, unrolled over ``xs`` (T, B, I) from ``state``, with
    ``upstream`` (dL/d of the last state) backpropagated: the gradient oracle.

    Returns ``{"parameters": {name: dL/dW}, "inputs": dL/dxs, "state": (dL/dh0[, dL/dc0])}``. Recorded by the
    release (:func:`grader.testing.recorded`): a student's self-check replays it without importing torch here.
    """
    import torch  # here, not at the top: only this helper needs torch in the grader's process

    hidden, input_size = weights["weight_hh"].shape[1], weights["weight_ih"].shape[1]
    options = {"nonlinearity": nonlinearity} if kind == "RNNCell" else {}
    module = getattr(torch.nn, kind)(input_size, hidden, dtype=torch.float64, **options)
    module.load_state_dict({name: torch.from_numpy(np.array(value, dtype=np.float64)) for name, value in weights.items()})
    xs64 = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    state64 = tuple(torch.tensor(s, dtype=torch.float64, requires_grad=True) for s in state)
    current = state64 if kind == "LSTMCell" else state64[0]
    for x_t in xs64.unbind(0):
        current = module(x_t, current)
    outputs = current if kind == "LSTMCell" else (current,)
    torch.autograd.backward(outputs, [torch.tensor(g, dtype=torch.float64) for g in upstream])
    return {"parameters": {name: p.grad.numpy().copy() for name, p in module.named_parameters()},
            "inputs": xs64.grad.numpy().copy(), "state": tuple(s.grad.numpy().copy() for s in state64)}


# ============================================================================ the kit


@dataclass
class BpttCase:
    """One call of the student's ``elman_bptt``: what it returned and the oracle's gradients."""

    args: tuple
    label: str
    loss: object
    grads: dict
    want_grads: dict


class Kit:
    """What a test needs to drive the student's ``rnn.py`` and judge it."""

    TORCH_TOL = TORCH_TOL
    NUMPY_TOL = NUMPY_TOL

    def __init__(self, student, rng: np.random.Generator, hung: set[str] | None = None) -> None:
        self.student = student
        self.rng = rng
        self.hung = hung if hung is not None else set()  # cells that ran out of time in an earlier test
        self._violations: list[Violation] | None = None

    # -- the student's module and the rules ----------------------------------
    @property
    def rnn(self):
        return self.student.module("rnn")

    def violations(self) -> list[Violation]:
        if self._violations is None:
            module = self.rnn  # import errors (a syntax error, a NameError at top level) surface here
            try:
                source = self.student.module("inspect").getsource(module)
            except StudentFailure as error:
                raise StudentFailure(f"the grader could not read the source of rnn.py: {error}") from None
            if not isinstance(source, str):
                raise StudentFailure("the grader could not read the source of rnn.py")
            try:
                self._violations = find_violations(source)
            except (SyntaxError, ValueError, RecursionError) as error:
                raise StudentFailure(f"rnn.py could not be parsed: {error}") from None
        return self._violations

    def check_rules(self) -> None:
        """Fail with every rule ``rnn.py`` breaks and what to do instead."""
        violations = self.violations()
        if violations:
            raise StudentFailure("rnn.py breaks the assignment's rules; the tests of the tasks concerned score 0 "
                                 f"until this is fixed:\n{explain_violations(violations)}")

    def require_own(self, task: str) -> None:
        """Fail this test if ``rnn.py`` breaks a rule that concerns ``task``."""
        relevant = [v for v in self.violations() if task in v.tasks]
        if relevant:
            raise StudentFailure(f"not graded: {task} breaks the assignment's rules:\n{explain_violations(relevant)}")

    # -- building cells ----------------------------------------------------------
    def random_weights(self, kind: str, input_size: int, hidden_size: int) -> dict[str, np.ndarray]:
        """float32-representable weights, different in every gate, never symmetric."""
        rows = GATES[kind] * hidden_size
        shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size), "bias_ih": (rows,), "bias_hh": (rows,)}
        return {name: as_float32(self.rng.normal(0.0, 0.5, size=shape)) for name, shape in shapes.items()}

    def random_state(self, kind: str, batch: int, hidden_size: int) -> tuple[np.ndarray, ...]:
        h = as_float32(self.rng.uniform(-0.9, 0.9, size=(batch, hidden_size)))
        if kind == "LSTMCell":
            return h, as_float32(self.rng.normal(0.0, 1.0, size=(batch, hidden_size)))
        return (h,)

    def cell(self, kind: str, input_size: int, hidden_size: int, **options):
        """The student's cell with random weights loaded; returns ``(remote cell, weights)``."""
        self.require_own(kind)
        if kind in self.hung:
            # Each further call would wait out the whole time limit again; a hung cell costs one test's time, not six.
            error = StudentFailure(f"not run: your {kind} did not finish within the time limit in an earlier test, "
                                   f"so its remaining tests are not run; make it finish first")
            error.status = "timeout"
            raise error
        with self.watching(kind):
            cell = getattr(self.rnn, kind)(input_size, hidden_size, **options)
        self.check_parameters(kind, cell, input_size, hidden_size)
        weights = self.random_weights(kind, input_size, hidden_size)
        self.student.load_state_dict(cell, weights)
        return cell, weights

    @contextlib.contextmanager
    def watching(self, kind: str):
        """Remember ``kind`` as hung if student code times out inside the block."""
        try:
            yield
        except StudentFailure as error:
            if getattr(error, "status", "") != "timeout" or kind in self.hung:
                raise
            self.hung.add(kind)
            named = StudentFailure(f"{error} (it was running your {kind})")
            named.status = "timeout"
            raise named from None

    def check_parameters(self, kind: str, cell, input_size: int, hidden_size: int) -> None:
        """The cell must be a ``torch.nn.Module`` whose state_dict is named and shaped as PyTorch's."""
        torch_remote = self.student.module("torch")
        if self.student.module("builtins").isinstance(cell, torch_remote.nn.Module) is not True:
            raise StudentFailure(f"{kind}(...) made an object of type {cell.type_name}, which is not a torch.nn.Module; "
                                 f"write `class {kind}(nn.Module)` and call super().__init__() first")
        rows = GATES[kind] * hidden_size
        expected = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size), "bias_ih": (rows,), "bias_hh": (rows,)}
        got = {name: tuple(np.shape(value)) for name, value in self.student.state_dict(cell).items()}
        problems = []
        missing = [name for name in expected if name not in got]
        unexpected = [name for name in got if name not in expected]
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected {', '.join(unexpected)}")
        problems += [f"{name} has shape {got[name]}, expected {shape}"
                     for name, shape in expected.items() if name in got and got[name] != shape]
        if problems:
            layout = ", ".join(f"{name} {shape}" for name, shape in expected.items())
            yours = ", ".join(f"{name} {shape}" for name, shape in got.items()) or "no parameters"
            raise StudentFailure(
                f"{kind}(input_size={input_size}, hidden_size={hidden_size}) has the wrong parameters: {'; '.join(problems)}.\n"
                f"Expected exactly these (as torch.nn.{kind}, {GATES[kind]} gate block(s) stacked): {layout}.\n"
                f"Your state_dict has: {yours}."
            )

    def tensor(self, array: np.ndarray, requires_grad: bool = False):
        """A float32 tensor argument; one that must collect a gradient is created and kept in the worker."""
        array = np.asarray(array, dtype=np.float32)
        if requires_grad:
            return self.student.keep(self.student.module("torch").tensor)(array, requires_grad=True)
        return self.student.tensor(array)

    # -- forward passes -------------------------------------------------------------
    def forward(self, kind: str, cell, x: np.ndarray, state: tuple[np.ndarray, ...]) -> tuple:
        """One step of the student's cell as arrays: ``(h_next,)`` or ``(h_next, c_next)``."""
        with self.watching(kind):
            if kind == "LSTMCell":
                return lstm_pair(cell(self.tensor(x), (self.tensor(state[0]), self.tensor(state[1]))))
            return (cell(self.tensor(x), self.tensor(state[0])),)

    def check_step(self, kind: str, x, state, got, weights: dict, label: str, nonlinearity: str = "tanh") -> None:
        """Compare one step of the student's cell with the oracle's from ``state``; a mismatch is diagnosed."""
        w = [weights[name] for name in PARAMETERS]
        if kind == "LSTMCell":
            for index, (name, got_part) in enumerate(zip(("h_next", "c_next"), got)):
                compare_with_oracle(got_part, lstm_cell, x, tuple(state), *w, output=index, what=f"{name} of {label}",
                                    **TORCH_TOL)
        elif kind == "GRUCell":
            compare_with_oracle(got[0], gru_cell, x, state[0], *w, what=f"h_next of {label}", **TORCH_TOL)
        else:
            compare_with_oracle(got[0], rnn_cell, x, state[0], *w, nonlinearity=nonlinearity,
                                what=f"h_next of {label}", **TORCH_TOL)

    def one_step(self, kind: str, batch: int, input_size: int, hidden_size: int, nonlinearity: str | None = None) -> None:
        """Build a cell, run one step on random inputs, compare with the oracle."""
        options = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
        cell, weights = self.cell(kind, input_size, hidden_size, **options)
        state = self.random_state(kind, batch, hidden_size)
        x = self.rng.normal(size=(batch, input_size))
        act = nonlinearity or "tanh"
        if act == "relu":  # keep pre-activations away from relu's kink, where float32 and float64 may disagree
            while True:
                pre = x @ weights["weight_ih"].T + weights["bias_ih"] + state[0] @ weights["weight_hh"].T + weights["bias_hh"]
                if np.min(np.abs(pre)) > 1e-3:
                    break
                x = self.rng.normal(size=(batch, input_size))
        got = self.forward(kind, cell, x, state)
        described = f"{kind}" + (f"(nonlinearity={act!r})" if nonlinearity else "")
        self.check_step(kind, x, state, got, weights, f"{described} (B={batch}, I={input_size}, H={hidden_size})", act)

    def unroll(self, kind: str, cell, weights: dict, xs: np.ndarray, state: tuple) -> None:
        """Run the student's cell over ``xs`` (T, B, I), feeding its own state back; compare every step."""
        got_state, want_state = state, state
        steps = len(xs)
        for t in range(steps):
            got_state = self.forward(kind, cell, xs[t], got_state)
            label = f"step {t + 1} of {steps} of your {kind} (your previous state fed back in)"
            self.check_step(kind, xs[t], want_state, got_state, weights, label)
            want_state = self.oracle_step(kind, xs[t], want_state, weights)

    # -- gradients --------------------------------------------------------------------
    def check_gradients(self, kind: str, cell, weights: dict, xs: np.ndarray, state: tuple, upstream: tuple) -> None:
        """Backpropagate ``upstream`` from the last state of an unroll over ``xs`` (T, B, I).

        The gradients of the parameters, the inputs and the initial state are
        compared with PyTorch's float64 cell holding the same weights.
        """
        student = self.student
        torch_remote = student.module("torch")
        getitem = student.module("operator").getitem
        xs_remote = self.tensor(xs, requires_grad=True)
        steps_remote = student.keep(torch_remote.unbind)(xs_remote)
        state_remote = tuple(self.tensor(s, requires_grad=True) for s in state)
        current = state_remote if kind == "LSTMCell" else state_remote[0]
        T = len(xs)
        shapes = f"B={xs.shape[1]}, I={xs.shape[2]}, H={weights['weight_hh'].shape[1]}, T={T}"
        want = tuple(state)
        for t in range(T):
            with self.watching(kind):
                current = student.keep(cell)(student.keep(getitem)(steps_remote, t), current)
            got = student.value(current)  # the student's state as data, checked before it is used
            got = lstm_pair(got) if kind == "LSTMCell" else (got,)
            try:
                self.check_step(kind, xs[t], want, got, weights, f"your {kind}" + (f" after step {t + 1}" if T > 1 else ""))
            except StudentFailure as error:
                raise StudentFailure(f"the forward pass is already off here ({shapes}), so the gradients cannot match; "
                                     f"fix the forward pass first (see the one-step tests).\n{error}") from None
            want = self.oracle_step(kind, xs[t], want, weights)

        final = student.keep(torch_remote.cat)(current, 1) if kind == "LSTMCell" else current
        try:
            with self.watching(kind):
                student.backward(final, np.concatenate(upstream, axis=1).astype(np.float32))
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout":
                raise
            raise StudentFailure(f"backward() through your {kind} failed; is every output computed from the inputs "
                                 f"and parameters with torch operations (no numpy, .detach() or .item())?\n{error}") from None
        expected = torch_cell_gradients(kind, weights, xs, tuple(state), tuple(upstream))

        got_params = student.grads(cell)
        pairs = [(f"gradient of {name}", got_params.get(name), value) for name, value in expected["parameters"].items()]
        pairs.append(("gradient of the input x" if T == 1 else f"gradient of the inputs x_1..x_{T}",
                      student.grads(xs_remote), expected["inputs"]))
        for name, remote, local in zip(("h", "c"), state_remote, expected["state"]):
            pairs.append((f"gradient of {name}" if T == 1 else f"gradient of the initial {name}", student.grads(remote),
                          local))
        self.compare_all(pairs, TORCH_TOL, f"gradients through your {kind} ({shapes}) differ from PyTorch's", autograd=True)

    # -- oracles -----------------------------------------------------------------------
    @staticmethod
    def oracle_step(kind: str, x, state, weights: dict, nonlinearity: str = "tanh") -> tuple[np.ndarray, ...]:
        """The reference's next state, ``(h,)`` or ``(h, c)``: what an unroll feeds into the next step's check."""
        w = [weights[name] for name in PARAMETERS]
        if kind == "RNNCell":
            return (rnn_cell(x, state[0], *w, nonlinearity=nonlinearity),)
        if kind == "LSTMCell":
            return lstm_cell(x, tuple(state), *w)
        return (gru_cell(x, state[0], *w),)

    # -- comparisons and partial credit --------------------------------------------------
    @staticmethod
    def compare_all(pairs: list[tuple[str, object, np.ndarray]], tol: dict, heading: str, autograd: bool = False) -> None:
        """Compare several named arrays; fail once, naming every one that is off.

        With ``autograd``, ``None`` is a gradient torch never computed, and the
        message says why that happens.
        """
        bad, first_detail = [], ""
        for name, got, want in pairs:
            if got is None and autograd:
                bad.append(name)
                first_detail = first_detail or (f"{name} is None: the output does not depend on it through torch "
                                                "operations (unused, detached, or copied into a new tensor)")
                continue
            try:
                assert_array_close(got, want, what=name, **tol)
            except StudentFailure as error:
                bad.append(name)
                first_detail = first_detail or str(error)
        if bad:
            raise StudentFailure(f"{heading}: wrong for {', '.join(bad)}\n{first_detail}")

    @staticmethod
    def cases(credit, cases: list, noun: str = "cases") -> None:
        """Run independent checks with partial credit (see :meth:`grader.testing.Credit.run_cases`)."""
        credit.run_cases(cases, noun)

    # -- the numpy tasks ---------------------------------------------------------------
    def bptt_case(self, steps: int, inputs: int, hidden: int, vocab: int, scale: float = 0.5) -> tuple:
        """Arguments for ``elman_bptt``: float64 arrays and integer targets."""
        rng = self.rng
        return (
            rng.normal(0.0, 1.0, size=(steps, inputs)),
            rng.integers(0, vocab, size=steps),
            rng.uniform(-0.5, 0.5, size=hidden),
            rng.normal(0.0, scale, size=(hidden, inputs)),
            rng.normal(0.0, scale, size=(hidden, hidden)),
            rng.normal(0.0, 0.3, size=hidden),
            rng.normal(0.0, scale, size=(vocab, hidden)),
            rng.normal(0.0, 0.3, size=vocab),
        )

    def run_bptt(self, args: tuple) -> BpttCase:
        """The student's ``elman_bptt(*args)``, checked for form, beside the oracle's answer."""
        self.require_own("elman_bptt")
        T, I = args[0].shape
        label = f"elman_bptt with T={T}, I={I}, H={args[2].shape[0]}, V={args[6].shape[0]}"
        result = self.rnn.elman_bptt(*args)
        assert_type(result, (tuple, list), f"{label} must return the pair (loss, grads)")
        if len(result) != 2:
            raise StudentFailure(f"{label} should return two values (loss, grads); it returned {len(result)}")
        loss, grads = result
        assert_type(grads, dict, f"the second value returned by {label} must be a dict of gradients keyed {', '.join(BPTT_KEYS)}")
        return BpttCase(args, label, loss, grads, elman_bptt(*args)[1])

    def check_bptt_loss(self, case: BpttCase) -> None:
        compare_with_oracle(case.loss, elman_bptt, *case.args, output=0, what=f"the loss returned by {case.label}",
                            **NUMPY_TOL)

    def check_bptt_grads(self, case: BpttCase, keys: tuple[str, ...]) -> None:
        """The gradients named ``keys`` must be present and match the oracle's."""
        missing = [key for key in keys if key not in case.grads]
        if missing:
            raise StudentFailure(
                f"the gradients dict of {case.label} has no {', '.join(repr(k) for k in missing)}; it has "
                f"{sorted(case.grads) or 'no keys'}. Name each gradient after its parameter: {', '.join(BPTT_KEYS)}"
            )
        pairs = [(f"grads[{key!r}]", case.grads[key], case.want_grads[key]) for key in keys]
        try:
            self.compare_all(pairs, NUMPY_TOL, f"the gradients from {case.label}")
        except StudentFailure:
            explain_mismatch({key: case.grads[key] for key in keys}, elman_bptt, *case.args, output=grads_of(keys),
                             same=all_close(NUMPY_TOL))
            raise

    def random_grads(self, shapes: dict[str, tuple[int, ...]], scale: float = 1.0) -> dict[str, np.ndarray]:
        return {name: self.rng.normal(0.0, scale, size=shape) for name, shape in shapes.items()}

    def run_clip(self, grads: dict[str, np.ndarray], max_norm: float) -> None:
        """Call the student's ``clip_grad_norm`` and compare all it returns with the oracle."""
        self.require_own("clip_grad_norm")
        label = f"clip_grad_norm(grads, max_norm={max_norm:.4g})"
        result = self.rnn.clip_grad_norm(grads, max_norm)
        assert_type(result, (tuple, list), f"{label} must return the pair (clipped, total_norm)")
        if len(result) != 2:
            raise StudentFailure(f"{label} should return two values (clipped, total_norm); it returned {len(result)}")
        clipped, total_norm = result
        want_clipped, want_norm = clip_grad_norm(grads, max_norm)
        compare_with_oracle(total_norm, clip_grad_norm, grads, max_norm, output=1,
                            what=f"total_norm returned by {label} (the norm before clipping)", **NUMPY_TOL)
        assert_type(clipped, dict, f"the first value returned by {label} must be a dict with the keys of grads")
        if sorted(clipped) != sorted(grads):
            raise StudentFailure(f"the dict returned by {label} has keys {sorted(clipped)}; expected those of grads, {sorted(grads)}")
        pairs = [(f"clipped[{name!r}]", clipped[name], want_clipped[name]) for name in grads]
        try:
            self.compare_all(pairs, NUMPY_TOL, f"the arrays returned by {label} (total norm {want_norm:.4g})")
        except StudentFailure:
            explain_mismatch(clipped, clip_grad_norm, grads, max_norm, output=0, same=all_close(NUMPY_TOL))
            raise


def lstm_pair(got) -> tuple:
    """What ``LSTMCell.forward`` returned, as ``(h_next, c_next)``, or a failure saying what came back."""
    assert_type(got, (tuple, list), "LSTMCell.forward(x, (h, c)) must return the pair (h_next, c_next)")
    if len(got) != 2:
        raise StudentFailure(f"LSTMCell.forward(x, (h, c)) must return the pair (h_next, c_next); it returned {len(got)} values")
    return tuple(got)


def as_float32(array: np.ndarray) -> np.ndarray:
    """``array`` rounded to float32 and held as float64, so the oracle sees what the student's cell sees."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


@pytest.fixture(scope="session")
def hung_cells() -> set[str]:
    """Cells that ran out of time in an earlier test of this submission (one pytest session each)."""
    return set()


@pytest.fixture
def kit(student, rng, hung_cells) -> Kit:
    return Kit(student, rng, hung_cells)
