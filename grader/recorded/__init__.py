"""Oracle outcomes recorded at release and replayed by the student's self-check.

The oracles (:mod:`reference`) stay with the instructor (invariant 8). To let
a student's ``grader check`` judge the public tests anyway, ``grader release``
records every call the public tests make to an oracle or a catalogue variant
(:mod:`grader.recorded.recorder`, instructor side) and ships the outcomes as
data (:mod:`grader.recorded.recording`); the self-check serves them in place
of ``reference`` (:mod:`grader.recorded.replay`). :mod:`grader.recorded.keys`
and :mod:`grader.recorded.codec` say how a call is keyed and an outcome
written, the same on both sides.
"""
