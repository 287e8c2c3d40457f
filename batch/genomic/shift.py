"""Simulated differences between laboratories on the same Affymetrix chip, for judging how a
classifier trained on one laboratory's samples holds on another's (issue #22).

What differs between sites running the Hu6800 chip, sample by sample: the global scaling factor
(MAS 4/5 "average difference" values are scaled per chip to a target intensity that sites set
differently; Affymetrix Statistical Algorithms Description Document, 2002), background
subtraction (an additive offset), scanner response (a mild monotone non-linearity) and noise.
Each shift is drawn per sample (row) of raw average-difference values. The ranges are set from
those causes, not from any result on unseen samples. Pure.
"""

from __future__ import annotations

import numpy as np

SHIFTS = ("clean", "scale", "offset", "response", "noise", "all")


def lab_shift(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``x`` (samples x probes, raw values) as another laboratory might have measured it.

    ``scale``: each chip x 1/3 .. x 3; ``offset``: + -100 .. +200; ``response``:
    sign(v)|v|^g with g 0.85 .. 1.15; ``noise``: 30 % log-normal per probe; ``all``: the four in
    that order; ``clean``: a copy.
    """
    n = len(x)
    if kind == "clean":
        return x.copy()
    if kind == "scale":
        return x * np.exp(rng.uniform(np.log(1 / 3), np.log(3), size=(n, 1)))
    if kind == "offset":
        return x + rng.uniform(-100, 200, size=(n, 1))
    if kind == "response":
        g = rng.uniform(0.85, 1.15, size=(n, 1))
        out: np.ndarray = np.sign(x) * np.abs(x) ** g
        return out
    if kind == "noise":
        return x * np.exp(rng.normal(0, 0.3, size=x.shape))
    if kind == "all":
        for k in ("response", "scale", "offset", "noise"):
            x = lab_shift(x, k, rng)
        return x
    raise ValueError(f"unknown shift {kind!r}; valid: {list(SHIFTS)}")
