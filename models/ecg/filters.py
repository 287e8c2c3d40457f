"""Zero-phase Butterworth filters for the ECG signal measures (signal quality, VF)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import signal as sps

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


def zero_phase(x: NDArray[np.float64], band: Band, fs: float) -> NDArray[np.float64]:
    """``x`` (mean removed) filtered forwards then backwards: zero phase, and five times cheaper
    than ``sosfiltfilt`` (no padding; the start-up transients, a few tens of ms at each end,
    are small next to the windows measured here).

    Examples
    --------
    >>> fs = 360.0; t = np.arange(int(4 * fs)) / fs
    >>> y = zero_phase(np.sin(2 * np.pi * 5 * t) + np.sin(2 * np.pi * 100 * t), 40.0, fs)
    >>> bool(np.abs(y[360:-360] - np.sin(2 * np.pi * 5 * t[360:-360])).max() < 0.01)
    True
    """
    sos = butter_sos(band, fs)
    y: NDArray[np.float64] = sps.sosfilt(sos, sps.sosfilt(sos, x - x.mean())[::-1])[::-1]
    return y


__all__ = ["butter_sos", "zero_phase"]
