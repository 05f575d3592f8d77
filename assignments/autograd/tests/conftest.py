"""Shared machinery of the ``autograd`` assignment's trusted tests: the ``kit`` fixture.

Test files run with ``--import-mode=importlib`` and cannot import a sibling
module, so both reach this file through one fixture. The kit:

- builds every graph twice at once, in the worker from the student's ``ops.py``
  (plus edugrad's own ``matmul``, ``add``, ...) and here from
  :mod:`reference.ops`; a :class:`graphs.Node` holds both halves, so a message
  can name the op of a graph that first goes wrong;
- compares the output value and the leaves' gradients (for a random upstream
  gradient) with :func:`reference.ops.run_graph`; a mismatch is diagnosed with
  the catalogue of classic mistakes (:mod:`reference.mistakes.ops`);
- checks edugrad's calling convention by calling the student's Operation class
  directly (found in the closure of the ``@tensor_op`` function): ``tensor_op``
  applies backward's result as ``inputs[i].grad += grads[i]``, so a bare array
  would silently hand out its rows as gradients;
- adds what no catalogue entry can say (``hints.py``), e.g. what finite
  differences of the student's own forward tell about a wrong gradient.
"""
from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import edugrad.ops as edugrad_ops
import numpy as np
import pytest
from edugrad.tensor import Tensor

import reference.ops as oracle
from grader.diagnosis import arrays_match, explain_mismatch
from grader.testing import StudentFailure, assert_array_close
from reference.mistakes.ops import mistakes_about
from reference.ops import run_graph


def _load_sibling(name: str):
    """Import a helper module that lives beside this conftest (test files cannot import siblings)."""
    qualified = f"autograd_tests_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]


hints = _load_sibling("hints")
graphs = _load_sibling("graphs")
Node, graph_nodes, sweep, short_label, describe_inputs, same_gradients, gradients_of = (
    graphs.Node, graphs.graph_nodes, graphs.sweep, graphs.short_label, graphs.describe_inputs, graphs.same_gradients,
    graphs.gradients_of)

TOL = graphs.TOL  # the tolerance stated in the handout (README.md, "How your work is checked")
# Ops students write as Operation classes, and functions they compose from ops.
STUDENT_OPS = ("sigmoid", "log", "multiply", "exp", "tanh", "sum_along_columns", "lookup_rows")
STUDENT_FUNCTIONS = ("softmax_rows", "cross_entropy_loss")
STUDENT_NAMES = (*STUDENT_OPS, *STUDENT_FUNCTIONS)
TENSOR_TYPE = "edugrad.tensor.Tensor"
FD_EPS = 1e-5


class Ops:
    """``o.sigmoid(x)`` in a test's graph: the student's op and the oracle's, side by side."""

    def __init__(self, kit: "Kit") -> None:
        self._kit = kit

    def __getattr__(self, name: str) -> Callable[..., Node]:
        return lambda *nodes: self._kit.apply(name, *nodes)


class Kit:
    """What a test needs to drive the student's ``ops.py`` and judge it."""

    def __init__(self, student, rng: np.random.Generator, hung: set[str], seed: int = 0) -> None:
        self.student = student
        self.rng = rng  # the test's inputs, drawn in the same order whatever the student's code does
        # Upstream gradients, directions and probes come from a second stream, so a failure (which draws
        # extra numbers for its diagnosis) never changes the inputs of the cases after it.
        self.noise = np.random.default_rng([seed, 1])
        self.hung = hung  # names that ran out of time in an earlier test of this submission
        self.o = Ops(self)

    # -- the worker's side --------------------------------------------------------------
    def module(self, name: str):
        return self.student.module(name)

    def student_function(self, name: str):
        try:
            ops = self.module("ops")
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout":
                raise
            raise StudentFailure(f"ops.py could not be imported, so no test can run: {error}"
                                 f"{hints.import_hint(str(error))}") from None
        try:
            return getattr(ops, name)
        except StudentFailure as error:
            if getattr(error, "type_name", "") == "AttributeError":
                raise StudentFailure(f"ops.py defines no {name!r}; keep the names and signatures of the starter code") from None
            raise

    @contextlib.contextmanager
    def watching(self, names: tuple[str, ...]):
        """Remember ``names`` as hung when student code runs out of time inside the block."""
        try:
            yield
        except StudentFailure as error:
            if getattr(error, "status", "") != "timeout" or not names:
                raise
            self.hung.update(names)
            named = StudentFailure(f"{error} (it was running your {' / '.join(names)})")
            named.status = "timeout"
            raise named from None

    def require_not_hung(self, name: str) -> None:
        if name in self.hung:
            error = StudentFailure(f"not run: your {name} did not finish within the time limit in an earlier test, "
                                   "so the tests that use it are not run again; make it finish first")
            error.status = "timeout"
            error.not_run = True  # no time was spent: the other cases of the test still run
            raise error

    # -- building graphs ------------------------------------------------------------------
    def leaf(self, name: str, array: np.ndarray) -> Node:
        """A leaf Tensor in the worker (kept, so its ``.grad`` can be read) and its twin here."""
        array = np.asarray(array)
        if array.dtype.kind in "iu":  # indices: an integer Tensor, which student.edugrad() cannot send
            remote = self.student.keep(self.module("edugrad.tensor").Tensor)(array)
            return Node(remote, Tensor(np.array(array)), name)
        return Node(self.student.put(self.student.edugrad(array)), Tensor(np.array(array, dtype=np.float64)), name)

    def apply(self, name: str, *nodes: Node) -> Node:
        """``name(*nodes)`` in the worker and in the oracle; the student's result must be a Tensor."""
        label = f"{name}({', '.join(short_label(node) for node in nodes)})"
        leaves = {node.label: node.local.value for node in nodes if node.op is None}
        call = label + (f" with {describe_inputs(leaves)}" if leaves else "")
        if name in STUDENT_NAMES:
            self.require_not_hung(name)
            function, local_function, watched = self.student_function(name), getattr(oracle, name), (name,)
        else:
            function, local_function, watched = getattr(self.module("edugrad.ops"), name), getattr(edugrad_ops, name), ()
        try:
            with self.watching(watched):
                remote = self.student.keep(function)(*[node.remote for node in nodes])
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout":
                raise
            hint = hints.CLASS_NOT_DECORATED.format(name=name) if self.is_class(function) else ""
            raise StudentFailure(f"{call} failed: {error}{hint}") from None
        tensor_type = self.module("edugrad.tensor").Tensor
        if remote.type_name != TENSOR_TYPE and self.module("builtins").isinstance(remote, tensor_type) is not True:
            raise StudentFailure(f"{call} returned an object of type {remote.type_name}, not an edugrad Tensor. "
                                 + hints.NOT_A_TENSOR.get(name, hints.NOT_A_TENSOR["op"]))
        return Node(remote, local_function(*[node.local for node in nodes]), label, name, nodes)

    def is_class(self, function) -> bool:
        builtins = self.module("builtins")
        try:
            return builtins.isinstance(function, builtins.type) is True
        except StudentFailure:
            return False

    def build(self, graph: Callable[..., Node], arrays: dict[str, np.ndarray]) -> tuple[list[Node], Node]:
        leaves = [self.leaf(name, array) for name, array in arrays.items()]
        return leaves, graph(self.o, *leaves)

    def value(self, node: Node) -> Any:
        return self.student.value(node.remote)

    # -- forward ------------------------------------------------------------------------------
    def check_forward(self, graph: Callable[..., Node], arrays: dict[str, np.ndarray], what: str | None = None) -> Node:
        """Build ``graph`` on ``arrays`` and compare its output value with the oracle's."""
        _, out = self.build(graph, arrays)
        self.compare_value(graph, arrays, out, what)
        return out

    def compare_value(self, graph: Callable[..., Node], arrays: dict[str, np.ndarray], out: Node,
                      what: str | None = None) -> None:
        """The value of ``out`` (the student's graph) against the oracle's; a mismatch is diagnosed, then fails."""
        got = self.value(out)
        expected, _ = run_graph(graph, arrays)
        try:
            assert_array_close(got, expected, what=what or out.label, **TOL)
        except StudentFailure as error:
            inner = self.broken_inner_ops(out, backward=False)
            named = not inner and explain_mismatch(got, run_graph, graph, arrays, output=0,
                                                   mistakes=self.mistakes_for(out), **TOL).matched
            notes = [] if named or inner else [hints.factor_hint(got, expected, "values")]
            notes += [self.first_wrong_value(out), inner]
            raise StudentFailure("\n".join([str(error), *filter(None, notes)])) from None

    @staticmethod
    def mistakes_for(out: Node) -> list[str]:
        """The catalogue's mistakes in the ops and compositions the graph of ``out`` calls itself.

        An op that is wrong on its own is diagnosed by its own check (broken_inner_ops runs it), not in a graph.
        """
        return mistakes_about(node.op for node in graph_nodes(out) if node.op is not None)

    def first_wrong_value(self, out: Node) -> str:
        """In a graph of several ops, the first op whose output is off (ops before it are right)."""
        ops = [node for node in graph_nodes(out) if node.op is not None]
        if len(ops) < 2:
            return ""
        for node in ops[:-1]:
            if not self.same(self.value(node), node.local.value):
                return f"The first wrong value in this graph is the output of {node.label}; everything before it is right."
        return ""

    @staticmethod
    def same(got: Any, want: np.ndarray) -> bool:
        """``got`` matches ``want`` within the tolerance (quietly: for locating a mistake, not for reporting it)."""
        return arrays_match(got, want, **TOL)

    # -- backward --------------------------------------------------------------------------------
    def upstream_for(self, out: Node) -> np.ndarray:
        """A random upstream gradient dL/dy, never all ones, so a backward that ignores it is caught."""
        shape = np.shape(out.local.value)
        return np.asarray(self.noise.uniform(0.5, 1.5, size=shape) * self.noise.choice([-1.0, 1.0], size=shape))

    def check_backward(self, graph: Callable[..., Node], arrays: dict[str, np.ndarray],
                       check: tuple[str, ...] | None = None, value: bool = False) -> None:
        """Backpropagate a random upstream gradient through ``graph``; compare the gradients of the leaves.

        ``check`` names the leaves whose gradients are graded (default: every float leaf);
        with ``value`` the output's value is compared first.
        """
        try:
            leaves, out = self.build(graph, arrays)
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout" or str(error).startswith("ops.py could not be imported"):
                raise
            raise StudentFailure(f"the backward test needs a working forward to build the graph: {error}") from None
        if value:
            self.compare_value(graph, arrays, out)
        checked = set()
        for node in graph_nodes(out):
            arrays_in = [parent.local.value for parent in node.inputs]
            key = (node.op, tuple(np.shape(a) for a in arrays_in))
            if node.op in STUDENT_OPS and key not in checked:
                checked.add(key)
                self.check_contract(node.op, arrays_in, [parent.label for parent in node.inputs])
        upstream = self.upstream_for(out)
        self.backward(out, upstream)
        graded = [leaf for leaf in leaves if leaf.label in check] if check else \
            [leaf for leaf in leaves if leaf.local.value.dtype.kind == "f"]
        _, expected = run_graph(graph, arrays, upstream)
        got = {leaf.label: self.student.grads(leaf.remote) for leaf in graded}
        bad, details = [], []
        for name, gradient in got.items():
            try:
                assert_array_close(gradient, expected[name], what=f"gradient of {name}", **TOL)
            except StudentFailure as error:
                bad.append(name)
                details.append(str(error))
        if not bad:
            return
        inner = self.broken_inner_ops(out, backward=True)
        named = not inner and explain_mismatch(got, run_graph, graph, arrays, upstream, output=gradients_of(got),
                                               same=same_gradients, mistakes=self.mistakes_for(out)).matched
        notes = [] if named or inner else [hints.factor_hint(got[bad[0]], expected[bad[0]], "gradients")]
        notes += [self.first_wrong_gradient(out, set(got)), inner, self.finite_difference_hint(graph, arrays, graded, upstream)]
        head = f"gradients through {out.label} with {describe_inputs(arrays)} are wrong for {', '.join(bad)}"
        raise StudentFailure("\n".join([head, details[0], *filter(None, notes)]))

    def backward(self, out: Node, upstream: np.ndarray) -> None:
        """Seed ``upstream`` at ``out`` and sweep, in the worker (edugrad's sweep) and here."""
        ops = tuple(dict.fromkeys(node.op for node in graph_nodes(out) if node.op in STUDENT_NAMES))
        try:
            with self.watching(ops if len(ops) == 1 else ()):
                self.student.backward(out.remote, upstream)
        except StudentFailure as error:
            if getattr(error, "status", "") == "timeout":
                raise
            # An error raised by edugrad's tensor_op itself (no frame of ops.py) means backward's result had the wrong form.
            reminder = "" if getattr(error, "frames", None) else "\n" + hints.BACKWARD_CRASH
            inner = self.broken_inner_ops(out, backward=True)
            inner = f"\n{inner}" if inner else ""
            raise StudentFailure(f"backward through {out.label} failed: {error}{reminder}{inner}") from None
        sweep(out.local, upstream)

    def used_ops(self, out: Node) -> list[str]:
        """The student's ops inside the student's graph of ``out`` (edugrad names every node after its op)."""
        builtins = self.module("builtins")
        try:
            nodes = self.student.keep(out.remote._topo_sort)()
            names = builtins.list(builtins.map(self.module("operator").attrgetter("name"), nodes))
        except StudentFailure:
            return []
        return [name for name in dict.fromkeys(names) if name in STUDENT_OPS] if isinstance(names, list) else []

    def broken_inner_ops(self, out: Node, backward: bool) -> str:
        """For a graph that uses several ops: which of the student's ops are wrong on their own."""
        ops = [node.op for node in graph_nodes(out) if node.op is not None]
        if len(ops) < 2 and not set(ops) & set(STUDENT_FUNCTIONS):
            return ""
        broken = []
        for name in self.used_ops(out):
            arrays = graphs.random_inputs(self.noise, name, (5, 3) if name == "lookup_rows" else (3, 4), indices=[0, 2, 2, 4])
            try:
                (self.check_backward if backward else self.check_forward)(self.single(name), arrays)
            except StudentFailure:
                broken.append(name)
        if not broken:
            return ""
        return (f"This graph runs your {', '.join(broken)}, which on {'its' if len(broken) == 1 else 'their'} own already "
                f"give{'s' if len(broken) == 1 else ''} wrong {'gradients' if backward else 'values'} (see "
                f"{'its' if len(broken) == 1 else 'their'} own tests): fix {'it' if len(broken) == 1 else 'them'} first.")

    def first_wrong_gradient(self, out: Node, graded: set[str]) -> str:
        """The op whose backward first gives a wrong gradient, walking back from the output (of leaves, ``graded`` only)."""
        nodes = graph_nodes(out)
        if sum(node.op is not None for node in nodes) < 2:
            return ""
        for node in reversed(nodes[:-1]):
            if node.op is None and node.label not in graded:
                continue
            if not self.same(self.student.grads(node.remote), node.local.grad):
                users = list(dict.fromkeys(user.label for user in nodes if node in user.inputs))
                return (f"Walking back from the output, the first wrong gradient is that of {node.label}; it comes from the "
                        f"backward of {' and '.join(users)} (the gradient{'s' if len(users) > 1 else ''} of "
                        f"{'their outputs are' if len(users) > 1 else 'its output is'} right).")
        return ""

    def finite_difference_hint(self, graph, arrays: dict[str, np.ndarray], leaves: list[Node], upstream: np.ndarray) -> str:
        """Compare the student's gradient with central differences of their own forward, along a random direction.

        Only ``leaves`` move; each entry's step is scaled by its size (at most 1), so
        log and the loss never see a step that crosses zero.
        """
        directions = {leaf.label: self.noise.normal(size=np.shape(arrays[leaf.label])) *
                      np.minimum(1.0, np.abs(arrays[leaf.label])) for leaf in leaves}
        try:
            def loss(sign: float) -> float:
                shifted = {name: a + sign * FD_EPS * directions[name] if name in directions else a
                           for name, a in arrays.items()}
                _, out = self.build(graph, shifted)
                return float(np.sum(upstream * np.asarray(self.value(out), dtype=float)))

            numeric = (loss(1.0) - loss(-1.0)) / (2 * FD_EPS)
            analytic = sum(float(np.sum(np.asarray(self.student.grads(leaf.remote)) * directions[leaf.label]))
                           for leaf in leaves if leaf.label in directions)
            expected = sum(float(np.sum(leaf.local.grad * directions[leaf.label]))
                           for leaf in leaves if leaf.label in directions)
        except (StudentFailure, ValueError, TypeError):
            return ""
        return hints.finite_difference_verdict(numeric, analytic, expected)

    # -- edugrad's calling convention -----------------------------------------------------------
    def operation_class(self, name: str):
        """The Operation class behind the student's ``@tensor_op`` function, or None when there is none."""
        function = self.student_function(name)
        builtins = self.module("builtins")
        try:
            if self.is_class(function):
                return None
            closure = self.module("inspect").getclosurevars(function)
            operation = self.module("edugrad.tensor").Operation
            for value in closure[0].values():
                if getattr(value, "type_name", None) == "type" and builtins.issubclass(value, operation) is True:
                    return value
        except StudentFailure:
            return None
        return None

    def check_contract(self, name: str, arrays: list[np.ndarray], labels: list[str]) -> None:
        """Call the Operation's forward and backward directly and check what backward returns."""
        operation = self.operation_class(name)
        if operation is None:
            return
        ctx = self.student.put([])
        inputs = [self.student.put(np.array(array)) for array in arrays]
        with self.watching((name,)):
            try:
                out = operation.forward(ctx, *inputs)
                upstream = self.noise.uniform(0.5, 1.5, size=np.shape(out)) if not hasattr(out, "type_name") else np.ones(())
                grads = operation.backward(ctx, self.student.put(np.asarray(upstream)))
            except StudentFailure as error:
                if getattr(error, "status", "") == "timeout":
                    raise
                raise StudentFailure(f"calling {name}.forward and {name}.backward directly, as edugrad's tensor_op does, "
                                     f"failed: {error}{hints.crash_hint(name, str(error))}") from None
        problem = hints.contract_problem(name, grads, arrays, labels)
        if isinstance(grads, np.ndarray):
            hints.explain_bare_array(name, grads, arrays, np.asarray(upstream))
        if problem is None:
            for label, before, remote in zip(labels, arrays, inputs):
                after = self.student.value(remote)
                if np.shape(after) != np.shape(before) or not np.array_equal(after, before):
                    problem = hints.MODIFIED_INPUT.format(name=name, label=label)
                    break
        if problem:
            raise StudentFailure(problem)

    @staticmethod
    def single(op: str) -> Callable[..., Node]:
        """The graph that applies ``op`` to the leaves, in order."""
        return lambda o, *leaves: getattr(o, op)(*leaves)

    # -- partial credit -------------------------------------------------------------------------
    @staticmethod
    def cases(credit, cases: list[Callable[[], Any]], noun: str = "cases") -> None:
        """Run independent checks with partial credit (see :meth:`grader.testing.Credit.run_cases`)."""
        credit.run_cases(cases, noun)

    # -- inputs -----------------------------------------------------------------------------------
    def inputs(self, op: str, shape: tuple[int, ...], **options) -> dict[str, np.ndarray]:
        """Random, non-symmetric inputs for ``op`` from this test's generator (see :func:`graphs.random_inputs`)."""
        return graphs.random_inputs(self.rng, op, shape, **options)


@pytest.fixture(scope="session")
def hung_names() -> set[str]:
    """Ops and functions that ran out of time in an earlier test of this submission."""
    return set()


@pytest.fixture
def kit(student, rng, seed, hung_names) -> Kit:
    return Kit(student, rng, hung_names, seed)
