"""Per-call numeric helpers of the streaming ECG path that return exactly NumPy's result.

A worker runs the ECG path on every 1 s chunk of every patient, on arrays of a few to a few
thousand samples, where NumPy's general-purpose entry points cost more than the arithmetic:
``np.median`` is ~30 us on an RR list or a beat window against ~5 us here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray


def median_1d(values: NDArray[np.floating] | Sequence[float]) -> float:
    """``float(np.median(values))`` for finite 1-D values, bit for bit (the middle value, or the
    mean of the two middle values, of a partition).

    >>> median_1d([3.0, 1.0, 2.0]), median_1d([4.0, 1.0, 3.0, 2.0])
    (2.0, 2.5)
    >>> x = np.random.default_rng(0).normal(size=101)
    >>> median_1d(x) == float(np.median(x))
    True
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    n = a.size
    if n == 0:
        raise ValueError("median of no values")
    k = n // 2
    if n % 2:
        return float(np.partition(a, k)[k])
    p = np.partition(a, (k - 1, k))
    return float((p[k - 1] + p[k]) / 2)


@lru_cache(maxsize=64)
def hamming(n: int) -> NDArray[np.float64]:
    """``np.hamming(n)``, computed once per length (read-only)."""
    w = np.hamming(n)
    w.flags.writeable = False
    return w


@lru_cache(maxsize=64)
def hanning(n: int) -> NDArray[np.float64]:
    """``np.hanning(n)``, computed once per length (read-only)."""
    w = np.hanning(n)
    w.flags.writeable = False
    return w


@lru_cache(maxsize=64)
def rfftfreq(n: int, fs: float) -> NDArray[np.float64]:
    """``np.fft.rfftfreq(n, 1 / fs)``, computed once per length and rate (read-only)."""
    f: NDArray[np.float64] = np.fft.rfftfreq(n, 1.0 / fs).astype(np.float64, copy=False)
    f.flags.writeable = False
    return f


__all__ = ["hamming", "hanning", "median_1d", "rfftfreq"]
