"""Per-test random seeds: deterministic for a regrade; hidden tests differ for each student.

Hidden (and after-due-date) tests:
``seed = first 8 bytes of sha256(secret | salt | assignment | test id | student id)``.
The salt (``seed_salt`` in ``assignment.toml``) and the secret
(``GRADER_SEED_SECRET`` from the grader's environment, when set) keep students
from computing each other's inputs; the worker never sees either. The student
id here is the submission's seed identity
(:attr:`grader.ingest.SubmissionSource.seed_identity`): the student id, except
in the Gradescope layout, which seeds by what Gradescope's own autograder uses
(:func:`grader.importers.gradescope.seed_identity`).

Public tests: ``seed = first 8 bytes of sha256("" | "" | assignment | test id | "")``,
the same for every student and without salt or secret. A student's
``grader check`` (which runs in a released bundle, with neither the salt nor the
secret, under no student id) then draws exactly the inputs that
``grader grade`` draws for the same public test, so the self-check gives the
public points the grading gives. Nothing is lost: the student holds the public
tests and can run them anyway.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np


# A secret a student can guess from the inputs a hidden test hands their code (one sha256 per guess) is none.
MIN_SECRET_CHARS = 20


def weak_secret() -> str:
    """A warning when ``GRADER_SEED_SECRET`` is set but short enough to guess; "" otherwise."""
    secret = os.environ.get("GRADER_SEED_SECRET", "")
    if secret and len(secret) < MIN_SECRET_CHARS:
        return (f"GRADER_SEED_SECRET has {len(secret)} characters: student code sees its hidden tests' inputs and can "
                "try guesses for it; use a random one, e.g. python -c \"import secrets; print(secrets.token_hex(20))\"")
    return ""


def derive_seed(assignment: str, test_id: str, student_id: str, salt: str = "") -> int:
    """A 63-bit seed from (secret, salt, assignment, test, student): the seed of a hidden test."""
    secret = os.environ.get("GRADER_SEED_SECRET", "")
    return _seed_of([secret, salt, assignment, test_id, student_id])


def derive_public_seed(assignment: str, test_id: str) -> int:
    """A 63-bit seed from (assignment, test) alone: the seed of a public test, the same in grading and self-check."""
    return _seed_of(["", "", assignment, test_id, ""])


def rng_for(assignment: str, test_id: str, student_id: str, salt: str = "") -> np.random.Generator:
    return np.random.default_rng(derive_seed(assignment, test_id, student_id, salt))


def _seed_of(parts: list[str]) -> int:
    material = "\x1f".join(parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big") >> 1
