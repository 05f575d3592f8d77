"""The sandboxed worker: the only process that runs student code.

It imports student modules, calls what the grader's tests ask for, and sends
back values as data (:mod:`grader.protocol`). It never decides a score: in the
default mode it has no idea what the expected values are. This package must
stay small and must never import grader modules that know about tests,
solutions or results.
"""
