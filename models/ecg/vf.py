"""Ventricular fibrillation / flutter measures of the signal.

VF and flutter have no QRS for the beat detector to find, so the ``ecg.vfib`` alarm
(:func:`models.ecg.alarms.rules.vf_rule`) is raised from these measures of the signal itself.

References: Kuo S, Dillman R. Computer detection of ventricular fibrillation. Computers in
Cardiology 1978:347-349 (the "VF filter") [KD1978]; Barro S, Ruiz R, Cabello D, Mira J. J Biomed
Eng 11(4):320-328 (1989) (spectral concentration around the dominant VF frequency) [Barro1989];
both as described and compared on MIT-BIH in Amann A, Tratnig R, Unterkofler K. BioMed Eng OnLine
4:60 (2005) [Amann2005].
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray

from models.ecg.filters import zero_phase
from models.ecg.numeric import hamming, rfftfreq
from models.ecg.rule_config import DEFAULT_RULES, RuleConfig


class VFMeasures(TypedDict):
    """:func:`vf_measures` of one window (JSON-serialisable)."""

    vf_leak: float
    vf_conc: float
    vf_freq_hz: float
    vf: bool


def vf_measures(window_uv: NDArray[np.number[Any]], fs: float, cfg: RuleConfig = DEFAULT_RULES) -> VFMeasures:
    """Ventricular fibrillation / flutter measures of the last ``cfg.vf_window_s`` of signal,
    band-passed to ``cfg.vf_band_hz`` (zero phase, over one more second).

    Returns
    -------
    dict
        ``vf_leak``: the VF filter's leakage [KD1978] (mean period ``N = pi * sum|x| /
        sum|dx| + 1/2`` samples; leakage ``sum|x[i] + x[i-N]| / sum(|x[i]| + |x[i-N]|)``, small
        for a sine-like wave, near 1 for QRS complexes); ``vf_conc``: the share of the
        Hamming-windowed amplitude spectrum from 0.5 Hz to 20 x the peak frequency that lies
        within 0.7-1.4 x the peak [Barro1989] (peak searched over 0.5-9 Hz); ``vf_freq_hz``: that
        peak; ``vf``: all three within the :class:`RuleConfig` limits.

    Examples
    --------
    >>> fs = 250.0; t = np.arange(int(4 * fs)) / fs
    >>> vf_measures(400 * np.sin(2 * np.pi * 4.0 * t), fs)["vf"]
    True
    >>> from simulators.ecg_synth import synth_ecg
    >>> vf_measures(synth_ecg(6, fs=360.0, hr_bpm=150)[0], 360.0)["vf"]
    False
    """
    return vf_measures_rows(np.asarray(window_uv, dtype=np.float64)[None, :], fs, cfg)[0]


def vf_measures_rows(
    windows_uv: NDArray[np.float64], fs: float, cfg: RuleConfig = DEFAULT_RULES
) -> list[VFMeasures]:
    """:func:`vf_measures` of every row of ``windows_uv`` (windows of one length and rate, e.g.
    a batch of patients' rolling signals), each row exactly as on its own: the band-pass and
    the spectra run once over the batch."""
    x = np.asarray(windows_uv, dtype=np.float64)
    out: list[VFMeasures] = [
        {"vf_leak": 1.0, "vf_conc": 0.0, "vf_freq_hz": 0.0, "vf": False} for _ in range(x.shape[0])
    ]
    n = round(cfg.vf_window_s * fs)
    x = x[:, -(n + round(fs)) :]  # 1 s more for the filter
    if x.shape[1] < n:
        return out
    x = zero_phase(x, cfg.vf_band_hz, fs)[:, -n:]
    x = x - x.mean(axis=1, keepdims=True)
    dsums = np.abs(np.diff(x, axis=1)).sum(axis=1)
    abs_sums = np.abs(x).sum(axis=1)
    amps = np.abs(np.fft.rfft(x * hamming(x.shape[1]), axis=1))
    f = rfftfreq(x.shape[1], float(fs))
    band = (f >= 0.5) & (f <= 9.0)
    peaks = f[band][np.argmax(amps[:, band], axis=1)]
    for i, o in enumerate(out):
        dsum = float(dsums[i])
        if dsum <= 0:
            continue
        xi, amp, peak = x[i], amps[i], float(peaks[i])
        half = int(math.floor(math.pi * float(abs_sums[i]) / dsum + 0.5))
        if 1 <= half < xi.size:
            a, b = xi[half:], xi[:-half]
            den = float((np.abs(a) + np.abs(b)).sum())
            o["vf_leak"] = round(float(np.abs(a + b).sum()) / den, 4) if den > 0 else 1.0
        total = float(amp[(f >= 0.5) & (f <= 20.0 * peak)].sum())
        conc = float(amp[(f >= 0.7 * peak) & (f <= 1.4 * peak)].sum()) / total if total > 0 else 0.0
        o["vf_conc"] = round(conc, 4)
        o["vf_freq_hz"] = round(peak, 3)
        o["vf"] = bool(
            o["vf_leak"] < cfg.vf_leak_max and conc > cfg.vf_conc_min and peak >= cfg.vf_freq_min_hz
        )
    return out


__all__ = ["VFMeasures", "vf_measures", "vf_measures_rows"]
