"""Filters for the streaming ECG path: zero-phase Butterworth filters for the signal measures
(signal quality, VF), and stateful IIR and FIR filtering for the QRS detector.

SciPy's ``sosfilt`` and ``lfilter`` spend ~70 and ~30 us per call validating and reshaping
their inputs, against ~5 us of filtering for a one-second chunk: most of the ECG path's
filtering time. :func:`sosfilt_state` and :func:`fir_state` do the same arithmetic without that
(SciPy's own compiled ``_sosfilt`` kernel; ``np.convolve``, which is what ``lfilter`` runs for
an FIR filter), and give bit-identical output (``tests/unit/ecg/test_filters.py`` compares
them with SciPy's on random signals and states, so a SciPy upgrade that changes either shows).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import signal as sps

_sosfilt: Any
try:  # SciPy's compiled kernel behind sosfilt (a private name: fall back if it moves)
    from scipy.signal._sosfilt import _sosfilt
except ImportError:  # pragma: no cover - depends on the SciPy version
    _sosfilt = None

Band = tuple[float, float] | float


@lru_cache(maxsize=32)
def butter_sos(band: Band, fs: float) -> NDArray[np.float64]:
    """4th-order Butterworth low-pass (one edge, Hz) or band-pass ((lo, hi) Hz) as second-order
    sections, cached per rate; the top edge at most 0.45 x fs."""
    if isinstance(band, tuple):
        sos: NDArray[np.float64] = sps.butter(
            4, [band[0], min(band[1], 0.45 * fs)], "bandpass", fs=fs, output="sos"
        )
        return sos
    low: NDArray[np.float64] = sps.butter(4, min(band, 0.45 * fs), "low", fs=fs, output="sos")
    return low


def sosfilt_state(
    sos: NDArray[np.float64], x: NDArray[np.float64], zi: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``scipy.signal.sosfilt(sos, x, zi=zi)`` for a 1-D float64 ``x`` and ``zi`` of shape
    ``(sections, 2)`` (zeros when None): the filtered signal and the final state, bit for bit.

    >>> sos = butter_sos((5.0, 15.0), 360.0)
    >>> x = np.random.default_rng(0).normal(size=360)
    >>> y, zf = sosfilt_state(sos, x)
    >>> bool(np.array_equal(y, sps.sosfilt(sos, x)))
    True
    """
    n_sections = sos.shape[0]
    state = None if zi is None else np.asarray(zi).reshape(1, n_sections, 2)
    y, zf = _sosfilt_rows(sos, np.asarray(x).reshape(1, -1), state)
    return y[0], zf[0]


def fir_state(
    b: NDArray[np.float64], x: NDArray[np.float64], zi: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``scipy.signal.lfilter(b, [1.0], x, zi=zi)`` for a 1-D float64 ``x`` and ``zi`` of
    ``len(b) - 1``: the FIR output and the final state, bit for bit (the same full convolution
    with the state added to its head).

    >>> b = np.array([2.0, 1.0, 0.0, -1.0, -2.0]); x = np.arange(10.0); zi = np.ones(4)
    >>> y, zf = fir_state(b, x, zi)
    >>> ry, rz = sps.lfilter(b, [1.0], x, zi=zi)
    >>> bool(np.array_equal(y, ry) and np.array_equal(zf, rz))
    True
    """
    full = np.convolve(b, x)
    full[: zi.size] += zi
    return full[: x.size], full[x.size :]


def zero_phase(x: NDArray[np.float64], band: Band, fs: float) -> NDArray[np.float64]:
    """``x`` (mean removed) filtered forwards then backwards: zero phase, and five times cheaper
    than ``sosfiltfilt`` (no padding; the start-up transients, a few tens of ms at each end,
    are small next to the windows measured here). A 2-D ``x`` is filtered row by row in one
    call (each row exactly as on its own): a batch of patients' windows of one length.

    Examples
    --------
    >>> fs = 360.0; t = np.arange(int(4 * fs)) / fs
    >>> y = zero_phase(np.sin(2 * np.pi * 5 * t) + np.sin(2 * np.pi * 100 * t), 40.0, fs)
    >>> bool(np.abs(y[360:-360] - np.sin(2 * np.pi * 5 * t[360:-360])).max() < 0.01)
    True
    """
    sos = butter_sos(band, fs)
    a = np.asarray(x, dtype=np.float64)
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    forward, _ = _sosfilt_rows(sos, rows - rows.mean(axis=1, keepdims=True))
    backward = _sosfilt_rows(sos, forward[:, ::-1])[0][:, ::-1]
    out: NDArray[np.float64] = backward[0] if a.ndim == 1 else backward
    return out


def _sosfilt_rows(
    sos: NDArray[np.float64], rows: NDArray[np.float64], zi: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``scipy.signal.sosfilt`` of every row of the 2-D ``rows``, each from its state ``zi[i]``
    (``(rows, sections, 2)``; zeros when None): new arrays of the filtered rows and the final
    states, through SciPy's compiled kernel (the inputs are not modified)."""
    y = np.array(rows, dtype=np.float64, order="C")  # a copy: filtered in place
    shape = (y.shape[0], sos.shape[0], 2)
    z = np.zeros(shape) if zi is None else np.array(zi, dtype=np.float64, order="C").reshape(shape)
    if _sosfilt is None:  # pragma: no cover - depends on the SciPy version
        for i in range(y.shape[0]):
            y[i], z[i] = sps.sosfilt(sos, y[i], zi=z[i])
        return y, z
    _sosfilt(np.asarray(sos, dtype=np.float64), y, z)
    return y, z


__all__ = ["butter_sos", "fir_state", "sosfilt_state", "zero_phase"]
