"""Recorded oracle calls (grader.recorded): keys, the codec, the files, the replayed ``reference``, the recorder."""
from __future__ import annotations

import collections
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.recorded.codec import Unencodable, decode, decode_error, encode, encode_error
from grader.recorded.keys import Unkeyable, call_key
from grader.recorded.recorder import Recorder, TestCalls, offline_report
from grader.recorded.recording import Recording, RecordingError
from grader.recorded.replay import NotRecorded, explanation, replaying


def key(*args, function="reference.x.f", anchor=None, **kwargs):
    return call_key(function, args, kwargs, anchor)


# -- keys ----------------------------------------------------------------------------------------

def test_equal_arguments_give_equal_keys_and_any_difference_another():
    a = np.arange(6.0).reshape(2, 3)
    assert key(a, 3, mode="lstm").exact == key(a.copy(), 3, mode="lstm").exact
    assert key(a, 3, mode="lstm").exact != key(a, 4, mode="lstm").exact
    assert key(a, 3, mode="lstm").exact != key(a, 3, mode="gru").exact
    assert key(a).exact != key(a.reshape(3, 2)).exact
    assert key(a).exact != key(a.astype(np.float32)).exact
    assert key(a).exact != key(a, function="mistake:f").exact


def test_a_0d_array_a_1_element_array_and_a_float_are_told_apart():
    assert len({key(np.array(2.0)).exact, key(np.array([2.0])).exact, key(2.0).exact}) == 3


def test_floats_that_differ_in_the_last_bits_share_a_structure():
    a = np.random.default_rng(0).normal(size=(4, 5))
    near = a * (1 + 1e-13)
    assert key(a).structure == key(near).structure and key(a).exact != key(near).exact
    recording = Recording()
    recording.add(key(a), {"value": encode(1, {})})
    assert recording.find(key(near)) is not None
    assert recording.find(key(a + 1e-6)) is None


def test_functions_are_keyed_by_their_code_defaults_and_closure():
    def make(op):
        return lambda o, x: getattr(o, op)(x)

    assert key(make("sigmoid")).exact == key(make("sigmoid")).exact
    assert key(make("sigmoid")).exact != key(make("tanh")).exact
    assert key(lambda o, x: o.tanh(x)).exact != key(make("tanh")).exact


def test_code_below_the_anchor_is_keyed_by_its_path_there(tmp_path):
    source = "def graph(o, x):\n    return o.tanh(x)\n"
    keys = []
    for copy in ("instructor", "bundle"):
        path = tmp_path / copy / "tests" / "conftest.py"
        path.parent.mkdir(parents=True)
        path.write_text(source)
        namespace: dict = {}
        exec(compile(source, str(path), "exec"), namespace)
        keys.append(key(namespace["graph"], anchor=tmp_path / copy).exact)
    assert keys[0] == keys[1]


def test_objects_cannot_be_keyed():
    with pytest.raises(Unkeyable):
        key(object())
    with pytest.raises(Unkeyable):
        key(np.array([object()]))


# -- the codec -------------------------------------------------------------------------------------

Hypothesis = collections.namedtuple("Hypothesis", ["tokens", "score"])


@dataclasses.dataclass(frozen=True)
class Packed:
    data: np.ndarray
    batch_sizes: np.ndarray


def test_outcomes_round_trip_as_data():
    arrays: dict = {}
    value = {"h": (np.arange(3.0), np.float32(2.5)), 4: [1, 2.0, None, True, "s", b"\x00"],
             "hyp": Hypothesis((1, 2), -0.5), "packed": Packed(np.ones(2), np.array([2, 1]))}
    back = decode(encode(value, arrays), arrays)
    assert list(back) == ["h", 4, "hyp", "packed"]
    assert np.array_equal(back["h"][0], np.arange(3.0)) and type(back["h"][1]) is np.float32
    assert back[4] == [1, 2.0, None, True, "s", b"\x00"]
    assert back["hyp"].tokens == (1, 2) and back["hyp"].score == -0.5 and type(back["hyp"]).__name__ == "Hypothesis"
    assert np.array_equal(back["packed"].batch_sizes, [2, 1])
    assert decode(encode(float("nan"), arrays), arrays) != decode(encode(float("nan"), arrays), arrays)


def test_what_is_not_data_is_refused():
    with pytest.raises(Unencodable):
        encode(iter([1]), {})
    with pytest.raises(Unencodable):
        encode(np.array([object()]), {})


def test_an_oracles_exception_is_raised_again_as_its_nearest_builtin_type():
    class ContractError(ValueError):
        pass

    error = decode_error(encode_error(ContractError("backward returned 2 gradients")))
    assert type(error) is ValueError and str(error) == "backward returned 2 gradients"


# -- the files -------------------------------------------------------------------------------------

def test_a_recording_saves_and_loads_without_pickle(tmp_path):
    recording = Recording()
    recording.add(key(np.ones(3)), {"value": encode((np.zeros(2), 1.5), recording.arrays)})
    recording.modules["reference.x"] = {"functions": ["f"], "constants": {"N": encode(3, {})}}
    recording.save(tmp_path)
    loaded = Recording.load(tmp_path)
    value = loaded.decode(loaded.find(key(np.ones(3)))["value"])
    assert np.array_equal(value[0], np.zeros(2)) and value[1] == 1.5


def test_a_recording_of_another_format_or_with_an_object_array_is_refused(tmp_path):
    Recording().save(tmp_path)
    calls = tmp_path / "calls.json"
    calls.write_text(calls.read_text().replace('"format":1', '"format":99'))
    with pytest.raises(RecordingError, match="another version"):
        Recording.load(tmp_path)
    Recording().save(tmp_path)
    np.savez(tmp_path / "arrays.npz", evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(RecordingError):
        Recording.load(tmp_path)


# -- replaying -----------------------------------------------------------------------------------

def recorded_module(tmp_path) -> Recording:
    recording = Recording()
    recording.modules["reference.toy"] = {"functions": ["double", "fill"], "constants": {"SIZE": encode(3, {})}}
    recording.add(call_key("reference.toy.double", (np.arange(3.0),), {}, tmp_path),
                  {"value": encode(np.arange(3.0) * 2, recording.arrays), "changes": []})
    return recording


def test_replaying_serves_the_reference_package_from_the_recording(tmp_path):
    with replaying(recorded_module(tmp_path), tmp_path):
        from reference.toy import SIZE, double

        assert SIZE == 3
        assert np.array_equal(double(np.arange(3.0)), [0.0, 2.0, 4.0])
        with pytest.raises(NotRecorded, match="checked when graded"):
            double(np.arange(4.0))
        with pytest.raises(ModuleNotFoundError):
            import reference.other  # noqa: F401
    assert "reference.toy" not in sys.modules


def test_a_missing_outcome_is_not_an_exception_a_test_could_swallow(tmp_path):
    assert not issubclass(NotRecorded, Exception)
    with replaying(recorded_module(tmp_path), tmp_path):
        from reference.toy import double

        assert explanation(lambda: double(np.ones(7)), default="no hint") == "no hint"


def test_arguments_changed_in_place_are_changed_again(tmp_path):
    from grader.recorded.recording import changed_in_place, snapshot

    recording = Recording()
    recording.modules["reference.toy"] = {"functions": ["fill"], "constants": {}}
    array, rng = np.zeros(3), np.random.default_rng(5)
    args = (array, rng)
    before = snapshot(args, {})
    recorded_key = call_key("reference.toy.fill", args, {}, tmp_path)
    array[:] = rng.normal(size=3)
    recording.add(recorded_key, {"value": encode(None, {}), "changes": changed_in_place(before, args, {}, recording.arrays)})
    again, again_rng = np.zeros(3), np.random.default_rng(5)
    with replaying(recording, tmp_path):
        from reference.toy import fill

        fill(again, again_rng)
    assert np.array_equal(again, array) and again_rng.normal() == rng.normal()


# -- recording -----------------------------------------------------------------------------------

def test_the_recorder_keeps_the_tests_calls_and_the_variants_outputs_but_not_nested_calls(tmp_path):
    recorder = Recorder(tmp_path)
    rng = np.random.default_rng(1)
    x, h, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    weights = rng.normal(size=(16, 3)), rng.normal(size=(16, 4)), rng.normal(size=16), rng.normal(size=16)
    with recorder.patched():
        import reference.rnn as oracle

        want = oracle.lstm_cell(x, (h, c), *weights)
    functions = set(recorder.recording.calls)
    assert "reference.rnn.lstm_cell" in functions and "mistake:lstm_gates_ifog" in functions
    assert not any(name.startswith("reference.") and name != "reference.rnn.lstm_cell" for name in functions)
    assert recorder.recording.mistakes["lstm_gates_ifog"]["shadows"] == "reference.rnn.lstm_cell"
    import reference.rnn

    assert reference.rnn.lstm_cell.__module__ == "reference.rnn" and not hasattr(reference.rnn.lstm_cell, "__wrapped__")
    with replaying(recorder.recording, tmp_path):
        from reference.mistakes import get, shadowing
        from reference.rnn import lstm_cell

        assert all(np.array_equal(a, b) for a, b in zip(lstm_cell(x, (h, c), *weights), want))
        assert get("lstm_gates_ifog").evaluate(x, (h, c), *weights)[0].shape == (2, 4)
        assert "lstm_gates_ifog" in [entry.id for entry in shadowing(lstm_cell)]


def test_a_test_is_checkable_offline_only_when_no_submission_asked_what_the_solution_did_not():
    calls = {("solution", "t1"): TestCalls({"a", "b"}), ("mutant", "t1"): TestCalls({"a"}),
             ("solution", "t2"): TestCalls({"c"}), ("mutant", "t2"): TestCalls({"c", "d"}),
             ("solution", "t3"): TestCalls(set(), ["reference.x.f: cannot key an argument of type Handle"])}
    report = offline_report(calls, {"t1": 2.0, "t2": 3.0, "t3": 5.0}, "solution")
    assert report.checkable_points == 2.0 and report.total_points == 10.0
    assert set(report.unchecked) == {"t2", "t3"} and "depend on the student's output" in report.unchecked["t2"]


@pytest.mark.slow
def test_a_check_whose_oracle_call_was_not_recorded_is_checked_when_graded_never_failed(tmp_path):
    """End to end: a released bundle whose recording lacks the call a public test makes."""
    import json
    import shutil

    from grader.check import print_check, run_self_check
    from grader.release import release_assignment
    from rich.console import Console

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "assignments" / "diagnosed"
    bundle = tmp_path / "bundle"
    release_assignment(fixture, bundle)
    calls = bundle / ".grader" / "expectations" / "calls.json"
    recorded = json.loads(calls.read_text())
    assert "reference.rnn.rnn_cell" in recorded["calls"]
    shutil.copy(fixture / "solution" / "cell.py", bundle / "cell.py")
    assert run_self_check(bundle).result.total == 6.0  # the recording answers: the solution passes
    del recorded["calls"]["reference.rnn.rnn_cell"]
    calls.write_text(json.dumps(recorded))
    check = run_self_check(bundle)
    (test,) = check.result.tests
    assert test.status == "deferred" and test.points == 0 and "checked when graded" in test.message
    assert check.ok and "6 of them checked when graded" in check.score_line()
    console = Console(record=True, width=120)
    print_check(check, console=console)
    assert "checked when graded" in console.export_text()
