"""Per-call numeric helpers of the streaming ECG path that return exactly NumPy's result.

A worker runs the ECG path on every 1 s chunk of every patient, on arrays of a few to a few
thousand samples, where NumPy's general-purpose entry points cost more than the arithmetic:
``np.median`` is ~30 us on an RR list or a beat window against ~5 us here.
"""

from __future__ import annotations

import math
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
    if a.size == 0:
        raise ValueError("median of no values")
    return float(median_rows(a[None, :])[0])


def median_rows(rows: NDArray[np.floating]) -> NDArray[np.float64]:
    """:func:`median_1d` of every row of a 2-D array of finite values, in one partition (the
    signal measures of a batch of patients' windows of one length).

    >>> median_rows(np.array([[3.0, 1.0, 2.0, 0.0], [4.0, 1.0, 3.0, 2.0]])).tolist()
    [1.5, 2.5]
    """
    a = np.asarray(rows, dtype=np.float64)
    n = a.shape[1]
    k = n // 2
    if n % 2:
        out: NDArray[np.float64] = np.partition(a, k, axis=1)[:, k]
        return out
    p = np.partition(a, (k - 1, k), axis=1)
    mid: NDArray[np.float64] = (p[:, k - 1] + p[:, k]) / 2
    return mid


def percentile_1d(values: NDArray[np.floating] | Sequence[float], q: float) -> float:
    """``float(np.percentile(values, q))`` for finite 1-D values, bit for bit: NumPy's default
    ("linear", Hyndman & Fan's method 7) from the two order statistics around the virtual index
    ``(n - 1) * q / 100``, interpolated as NumPy's ``_lerp`` does it (from the upper one when the
    weight is at least one half). ~3x cheaper than ``np.percentile`` on the 3,600 slopes of a
    10 s window at 360 Hz, measured for every chunk.

    >>> x = np.random.default_rng(0).normal(size=3599)
    >>> percentile_1d(x, 99) == float(np.percentile(x, 99)), percentile_1d([1.0, 2.0], 50)
    (True, 1.5)
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError("percentile of no values")
    return float(percentile_rows(a[None, :], q)[0])


def percentile_rows(rows: NDArray[np.floating], q: float) -> NDArray[np.float64]:
    """:func:`percentile_1d` of every row of a 2-D array of finite values, in one partition.

    >>> percentile_rows(np.array([[1.0, 2.0], [0.0, 4.0]]), 50).tolist()
    [1.5, 2.0]
    """
    a = np.asarray(rows, dtype=np.float64)
    n = a.shape[1]
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside [0, 100]")
    virtual = (n - 1) * (q / 100)
    if virtual >= n - 1:
        top: NDArray[np.float64] = a.max(axis=1)
        return top
    k = math.floor(virtual)
    gamma = virtual - k
    p = np.partition(a, (k, k + 1), axis=1)
    lo, hi = p[:, k], p[:, k + 1]
    diff = hi - lo
    out: NDArray[np.float64] = hi - diff * (1 - gamma) if gamma >= 0.5 else lo + diff * gamma
    return out


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


__all__ = ["hamming", "hanning", "median_1d", "median_rows", "percentile_1d", "percentile_rows", "rfftfreq"]
