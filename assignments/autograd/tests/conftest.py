"""Shared machinery of the ``autograd`` assignment's trusted tests: the ``kit`` fixture.

Test files run with ``--import-mode=importlib`` and cannot import a sibling
module, so both reach this file through one fixture. The kit:

- builds every graph in the worker from the student's ``ops.py`` (plus
  edugrad's own ``matmul``, ``add``, ...) and has the oracle trace the same
  graph (:func:`reference.ops.trace_graph`); a :class:`graphs.Node` holds the
  student's Tensor and the oracle's value and gradient, so a message can name
  the op of a graph that first goes wrong;
- compares the output value and the leaves' gradients (for a random upstream
  gradient) with :func:`reference.ops.run_graph`; a mismatch is diagnosed with
  the catalogue of classic mistakes (:mod:`reference.mistakes.ops`);
- draws every random number a case needs (its upstream gradient, the probes of
  a hint) from a stream of its own, seeded by the test and what the case is:
  so every oracle call depends on the test's inputs only, whatever an earlier
  case of the student's code did, and a released bundle's self-check can
  replay it (explanations of a failure run in
  :func:`grader.diagnosis.explanation`);
- checks edugrad's calling convention by calling the student's Operation class
  directly (found in the closure of the ``@tensor_op`` function): ``tensor_op``
  applies backward's result as ``inputs[i].grad += grads[i]``, so a bare array
  would silently hand out its rows as gradients;
- adds what no catalogue entry can say (``hints.py``), e.g. what finite
  differences of the student's own forward tell about a wrong gradient.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from grader.diagnosis import arrays_match, explain_mismatch, explanation
from grader.testing import StudentFailure, assert_array_close
from reference.mistakes.ops import mistakes_about
from reference.ops import run_graph, trace_graph


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
Node, graph_nodes, short_label, describe_inputs, same_gradients, gradients_of = (
    graphs.Node, graphs.graph_nodes, graphs.short_label, graphs.describe_inputs, graphs.same_gradients,
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
        self.seed = seed
        self.hung = hung  # names that ran out of time in an earlier test of this submission
        self.o = Ops(self)
        self._applied = 0  # ops applied in the graph being built (their index in the oracle's trace)

    def stream(self, *what: Any) -> np.random.Generator:
        """Random numbers for one purpose of one case (``what``: its name, the graph, the inputs).

        Seeded by the test and ``what`` alone: a failure earlier in the test (whose hints draw probes)
        never changes them, so every oracle call depends on the test's inputs only.
        """
        digest = hashlib.sha256(self.seed.to_bytes(8, "big"))
        for part in what:
            digest.update(np.ascontiguousarray(part).tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
            digest.update(b"\x1f")
        return np.random.default_rng(int.from_bytes(digest.digest()[:16], "big"))

    def case_stream(self, purpose: str, out: Node) -> np.random.Generator:
        """:meth:`stream` for ``purpose`` on the graph whose output is ``out``, by its label and inputs."""
        _, arrays = out.built
        return self.stream(purpose, out.label, *[(name, np.shape(array)) for name, array in arrays.items()],
                           *[np.asarray(array) for array in arrays.values()])

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
        """A leaf Tensor in the worker (kept, so its ``.grad`` can be read), with its array here."""
        array = np.asarray(array)
        if array.dtype.kind in "iu":  # indices: an integer Tensor, which student.edugrad() cannot send
            remote = self.student.keep(self.module("edugrad.tensor").Tensor)(array)
            return Node(remote, name, value=np.array(array))
        return Node(self.student.put(self.student.edugrad(array)), name, value=np.array(array, dtype=np.float64))

    def apply(self, name: str, *nodes: Node) -> Node:
        """``name(*nodes)`` in the worker; the student's result must be a Tensor (its value here comes from the trace)."""
        label = f"{name}({', '.join(short_label(node) for node in nodes)})"
        leaves = {node.label: node.value for node in nodes if node.op is None}
        call = label + (f" with {describe_inputs(leaves)}" if leaves else "")
        index, self._applied = self._applied, self._applied + 1
        if name in STUDENT_NAMES:
            self.require_not_hung(name)
            function, watched = self.student_function(name), (name,)
        else:
            function, watched = getattr(self.module("edugrad.ops"), name), ()
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
        return Node(remote, label, name, nodes, index=index)

    def is_class(self, function) -> bool:
        builtins = self.module("builtins")
        try:
            return builtins.isinstance(function, builtins.type) is True
        except StudentFailure:
            return False

    def build(self, graph: Callable[..., Node], arrays: dict[str, np.ndarray]) -> tuple[list[Node], Node]:
        """``graph`` on ``arrays``: built in the worker op by op, and traced by the oracle in one call."""
        self._applied = 0
        leaves = [self.leaf(name, array) for name, array in arrays.items()]
        out = graph(self.o, *leaves)
        trace = trace_graph(graph, arrays)
        for node in graph_nodes(out):
            if node.op is not None:
                node.value = trace.values[node.index]
        out.built = (graph, arrays)
        return leaves, out

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
            notes = explanation(lambda: self.explain_value(graph, arrays, out, got, expected), default=[])
            raise StudentFailure("\n".join([str(error), *filter(None, notes)])) from None

    def explain_value(self, graph, arrays: dict[str, np.ndarray], out: Node, got: Any, expected: np.ndarray) -> list[str]:
        """What the message adds to a wrong value: the mistake, or a hint, and where in the graph it goes wrong."""
        inner = self.broken_inner_ops(out, backward=False)
        named = not inner and explain_mismatch(got, run_graph, graph, arrays, output=0,
                                               mistakes=self.mistakes_for(out), **TOL).matched
        notes = [] if named or inner else [hints.factor_hint(got, expected, "values")]
        return notes + [self.first_wrong_value(out), inner]

    @staticmethod
    def mistakes_for(out: Node) -> list[str]:
        """The catalogue's mistakes in the ops and compositions the graph of ``out`` calls itself.

        An op that is wrong on its own is diagnosed by its own check (broken_inner_ops runs it), not in a graph.
        """
        return mistakes_about(tuple(node.op for node in graph_nodes(out) if node.op is not None))

    def first_wrong_value(self, out: Node) -> str:
        """In a graph of several ops, the first op whose output is off (ops before it are right)."""
        ops = [node for node in graph_nodes(out) if node.op is not None]
        if len(ops) < 2:
            return ""
        for node in ops[:-1]:
            if not self.same(self.value(node), node.value):
                return f"The first wrong value in this graph is the output of {node.label}; everything before it is right."
        return ""

    @staticmethod
    def same(got: Any, want: np.ndarray) -> bool:
        """``got`` matches ``want`` within the tolerance (quietly: for locating a mistake, not for reporting it)."""
        return arrays_match(got, want, **TOL)

    # -- backward --------------------------------------------------------------------------------
    def upstream_for(self, out: Node) -> np.ndarray:
        """A random upstream gradient dL/dy, never all ones, so a backward that ignores it is caught."""
        shape, noise = np.shape(out.value), self.case_stream("upstream", out)
        return np.asarray(noise.uniform(0.5, 1.5, size=shape) * noise.choice([-1.0, 1.0], size=shape))

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
            arrays_in = [parent.value for parent in node.inputs]
            key = (node.op, tuple(np.shape(a) for a in arrays_in))
            if node.op in STUDENT_OPS and key not in checked:
                checked.add(key)
                self.check_contract(node.op, arrays_in, [parent.label for parent in node.inputs])
        upstream = self.upstream_for(out)
        self.backward(out, upstream)
        graded = [leaf for leaf in leaves if leaf.label in check] if check else \
            [leaf for leaf in leaves if leaf.value.dtype.kind == "f"]
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
        notes = explanation(lambda: self.explain_gradients(graph, arrays, out, got, expected, bad, graded, upstream),
                            default=[])
        head = f"gradients through {out.label} with {describe_inputs(arrays)} are wrong for {', '.join(bad)}"
        raise StudentFailure("\n".join([head, details[0], *filter(None, notes)]))

    def explain_gradients(self, graph, arrays: dict[str, np.ndarray], out: Node, got: dict, expected: dict,
                          bad: list[str], graded: list[Node], upstream: np.ndarray) -> list[str]:
        """What the message adds to wrong gradients: the mistake or a hint, the op to blame, finite differences."""
        inner = self.broken_inner_ops(out, backward=True)
        named = not inner and explain_mismatch(got, run_graph, graph, arrays, upstream, output=gradients_of(got),
                                               same=same_gradients, mistakes=self.mistakes_for(out)).matched
        notes = [] if named or inner else [hints.factor_hint(got[bad[0]], expected[bad[0]], "gradients")]
        return notes + [self.first_wrong_gradient(out, set(got)), inner,
                        self.finite_difference_hint(graph, arrays, graded, upstream, self.case_stream("probe", out))]

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
            inner = explanation(lambda: self.broken_inner_ops(out, backward=True))
            inner = f"\n{inner}" if inner else ""
            raise StudentFailure(f"backward through {out.label} failed: {error}{reminder}{inner}") from None
        graph, arrays = out.built
        trace = trace_graph(graph, arrays, upstream)
        for node in graph_nodes(out):
            node.grad = trace.leaf_gradients[node.label] if node.op is None else trace.gradients[node.index]

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
            arrays = graphs.random_inputs(self.stream("inner", name, backward), name, (5, 3) if name == "lookup_rows" else (3, 4),
                                          indices=[0, 2, 2, 4])
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
            if not self.same(self.student.grads(node.remote), node.grad):
                users = list(dict.fromkeys(user.label for user in nodes if node in user.inputs))
                return (f"Walking back from the output, the first wrong gradient is that of {node.label}; it comes from the "
                        f"backward of {' and '.join(users)} (the gradient{'s' if len(users) > 1 else ''} of "
                        f"{'their outputs are' if len(users) > 1 else 'its output is'} right).")
        return ""

    def finite_difference_hint(self, graph, arrays: dict[str, np.ndarray], leaves: list[Node], upstream: np.ndarray,
                               noise: np.random.Generator) -> str:
        """Compare the student's gradient with central differences of their own forward, along a random direction.

        Only ``leaves`` move; each entry's step is scaled by its size (at most 1), so
        log and the loss never see a step that crosses zero.
        """
        directions = {leaf.label: noise.normal(size=np.shape(arrays[leaf.label])) *
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
            expected = sum(float(np.sum(leaf.grad * directions[leaf.label]))
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
                noise = self.stream("contract", name, *[np.shape(array) for array in arrays])
                upstream = noise.uniform(0.5, 1.5, size=np.shape(out)) if not hasattr(out, "type_name") else np.ones(())
                grads = operation.backward(ctx, self.student.put(np.asarray(upstream)))
            except StudentFailure as error:
                if getattr(error, "status", "") == "timeout":
                    raise
                raise StudentFailure(f"calling {name}.forward and {name}.backward directly, as edugrad's tensor_op does, "
                                     f"failed: {error}{hints.crash_hint(name, str(error))}") from None
        problem = hints.contract_problem(name, grads, arrays, labels)
        if isinstance(grads, np.ndarray):
            explanation(lambda: hints.explain_bare_array(name, grads, arrays, np.asarray(upstream)), default=None)
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
