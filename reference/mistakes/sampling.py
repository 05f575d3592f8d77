"""Classic mistakes with the sampling temperature, shadowing :func:`reference.decoding.sampling_distribution`.

Sampling with temperature ``T`` draws the next token from ``softmax(z / T)``:
``T < 1`` sharpens the distribution towards the argmax (greedy decoding as
``T -> 0``), ``T > 1`` flattens it towards uniform.
"""
from __future__ import annotations

import numpy as np

from reference.decoding import sampling_distribution
from reference.lm import log_softmax
from reference.mistakes import mistake


def _softmax(z) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(z, dtype=np.float64)))


def _temperature_multiplied(logits, temperature=1.0):
    sampling_distribution(logits, temperature)  # the oracle's argument checks
    if temperature == 1:
        raise ValueError("at temperature 1, multiplying and dividing agree")
    return _softmax(np.asarray(logits, dtype=np.float64) * temperature)


mistake("temperature_multiplied", shadows=sampling_distribution,
        title="Logits multiplied by the temperature instead of divided by it",
        explanation="You sample from softmax(z * T). The temperature divides the logits: p = softmax(z / T). "
                    "Multiplying does the opposite of what T means: a small T (say 0.001) then gives an almost "
                    "uniform distribution instead of almost always the most likely token, and T = 2 sharpens "
                    "instead of flattening.",
        )(_temperature_multiplied)


def _temperature_ignored(logits, temperature=1.0):
    sampling_distribution(logits, temperature)
    if temperature == 1:
        raise ValueError("at temperature 1, ignoring the temperature changes nothing")
    return _softmax(logits)


mistake("temperature_ignored", shadows=sampling_distribution,
        title="Temperature ignored: tokens drawn from softmax(z) whatever T is",
        explanation="Your samples follow the model's distribution softmax(z), as if T were 1. Divide the logits by "
                    "the temperature before the softmax, p = softmax(z / T), so that T < 1 sharpens the distribution "
                    "and T > 1 flattens it.",
        )(_temperature_ignored)
