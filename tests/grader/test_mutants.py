"""``mutants.toml`` and ``grader validate --mutants``: every classic mistake must lose points and be named."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.config import load_assignment
from grader.errors import AssignmentConfigError
from grader.mutants import load_mutants, write_mutant

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "assignments" / "diagnosed"


@pytest.fixture
def assignment_copy(tmp_path) -> Path:
    root = tmp_path / "diagnosed"
    shutil.copytree(FIXTURE, root)
    return root


def write_mutants(root: Path, text: str) -> None:
    (root / "mutants.toml").write_text(text)


def test_mutants_are_read_with_their_mistakes_and_written_as_edited_solutions(tmp_path):
    assignment = load_assignment(FIXTURE)
    mutants = load_mutants(assignment)
    assert [(m.name, m.mistake.id) for m in mutants] == [("rnn_sigmoid_instead_of_tanh", "rnn_sigmoid_instead_of_tanh"),
                                                         ("rnn_missing_hidden_bias", "rnn_missing_hidden_bias")]
    folder = write_mutant(assignment, mutants[1], tmp_path)
    assert folder.name == "mutant-rnn_missing_hidden_bias"
    edited = (folder / "cell.py").read_text()
    assert "h @ w_hh.T)\n" in edited and "h @ w_hh.T + b_hh)\n" not in edited
    assert (FIXTURE / "solution" / "cell.py").read_text() != edited


def test_an_assignment_without_mutants_toml_has_none(assignment_copy):
    (assignment_copy / "mutants.toml").unlink()
    assert load_mutants(load_assignment(assignment_copy)) == []


@pytest.mark.parametrize("text, where, problem", [
    ('[[mutant]]\nmistake = "lstm_gates_xyz"\nfile = "cell.py"\nfind = "np.tanh"\nreplace = "np.exp"\n',
     "mutant[0].mistake", "no mistake 'lstm_gates_xyz' in the catalogue"),
    ('[[mutant]]\nmistake = "rnn_weights_swapped"\nfile = "cell.py"\nfind = "w_h"\nreplace = "w_i"\n',
     "mutant[0].find", "occurs 2 times in the solution's cell.py; it must occur exactly once"),
    ('[[mutant]]\nmistake = "rnn_weights_swapped"\nfile = "other.py"\nfind = "a"\nreplace = "b"\n',
     "mutant[0].file", "'other.py' is not one of the student files (cell.py)"),
    ('[[mutant]]\nmistake = "rnn_weights_swapped"\n', "mutant[0]", "no edit: give file, find and replace"),
    ('[[mutant]]\nmistake = "rnn_weights_swapped"\nfile = "cell.py"\nfind = "np.tanh"\nreplace = "np.exp"\n'
     '[[mutant]]\nmistake = "rnn_weights_swapped"\nfile = "cell.py"\nfind = "b_ih + h"\nreplace = "h"\n',
     "mutant", "two mutants are named 'rnn_weights_swapped'"),
    ('[mutants]\n', "mutants", "unknown key; the file holds only [[mutant]] tables"),
])
def test_a_broken_mutants_toml_names_the_entry_and_the_problem(assignment_copy, text, where, problem):
    write_mutants(assignment_copy, text)
    with pytest.raises(AssignmentConfigError) as error:
        load_mutants(load_assignment(assignment_copy))
    assert error.value.key == where and problem in error.value.problem
    assert str(error.value).startswith(str(assignment_copy / "mutants.toml"))


@pytest.mark.slow
def test_validate_mutants_passes_when_every_mutant_is_killed_and_named():
    result = CliRunner().invoke(main, ["validate", str(FIXTURE), "--mutants", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [(m["name"], m["killed"], m["diagnosed"], m["diagnosed_in"]) for m in report["mutants"]] == [
        ("rnn_sigmoid_instead_of_tanh", True, True, ["rnn_cell: one step"]),
        ("rnn_missing_hidden_bias", True, True, ["rnn_cell: one step"])]


@pytest.mark.slow
def test_validate_mutants_lists_survivors_and_undiagnosed_mutants_and_fails(assignment_copy):
    write_mutants(assignment_copy, '''
[[mutant]]  # changes nothing the tests can see: survives
mistake = "rnn_weights_swapped"
name = "invisible"
file = "cell.py"
find = '"""One Elman RNN step'
replace = '"""An Elman RNN step'

[[mutant]]  # loses points, but in a test without an oracle: not named
mistake = "rnn_missing_hidden_bias"
name = "wrong_zero_state"
file = "cell.py"
find = "np.zeros((batch, hidden))"
replace = "np.ones((batch, hidden))"
''')
    result = CliRunner().invoke(main, ["validate", str(assignment_copy), "--mutants", "--format", "json"])
    assert result.exit_code == 1
    assert "Error: diagnosed: 2 of 11 checks failed: mutants: killed, mutants: diagnosed" in result.output
    report = json.loads(result.output[:result.output.rindex("}") + 1])
    details = {check["check"]: check["detail"] for check in report["checks"]}
    assert details["mutants: killed"] == "1/2 lose points; surviving (the tests miss them): invisible"
    assert details["mutants: diagnosed"] == "0/2 named by a test's diagnosis; not named: invisible, wrong_zero_state"
    assert [(m["name"], m["score"], m["killed"]) for m in report["mutants"]] == [("invisible", 10.0, False),
                                                                                 ("wrong_zero_state", 6.0, True)]


@pytest.mark.slow
def test_without_the_flag_mutants_toml_is_not_even_read(assignment_copy):
    write_mutants(assignment_copy, "this is not toml [")
    from grader.validate import validate_assignment

    report = validate_assignment(assignment_copy)
    assert report.ok and report.mutants is None
    assert not any(check.name.startswith("mutants") for check in report.checks)


def test_grader_mistakes_lists_the_catalogue_filtered_by_oracle():
    result = CliRunner().invoke(main, ["mistakes", "--oracle", "gru_cell", "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {entry["shadows"] for entry in listed} == {"reference.rnn.gru_cell"}
    assert "gru_reset_before_matmul" in {entry["id"] for entry in listed}
    assert all(entry["title"] and entry["explanation"] for entry in listed)


def test_grader_mistakes_refuses_an_unknown_oracle():
    result = CliRunner().invoke(main, ["mistakes", "--oracle", "no_such_oracle"])
    assert result.exit_code == 1
    assert "Error: --oracle no_such_oracle: no mistake shadows an oracle of that name" in result.output
