"""Per-test random seeds: deterministic for a regrade, different for each student.

``seed = first 8 bytes of sha256(salt | assignment | test id | student id)``.
The salt (``seed_salt`` in ``assignment.toml``, plus ``GRADER_SEED_SECRET`` from
the grader's environment when set) keeps students from computing each other's
inputs; the worker never sees it.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np


def derive_seed(assignment: str, test_id: str, student_id: str, salt: str = "") -> int:
    """A 63-bit seed from (salt, assignment, test, student)."""
    secret = os.environ.get("GRADER_SEED_SECRET", "")
    material = "\x1f".join([secret, salt, assignment, test_id, student_id]).encode("utf-8")
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big") >> 1


def rng_for(assignment: str, test_id: str, student_id: str, salt: str = "") -> np.random.Generator:
    return np.random.default_rng(derive_seed(assignment, test_id, student_id, salt))
