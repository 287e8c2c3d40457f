"""ECG signal quality: leads off (flat line), unanalysable noise and in-band noise.

Measured on the most recent signal after every chunk; the alarm rules (:mod:`models.ecg.alarms`)
raise ``ecg.leads_off`` and ``ecg.noise`` from them and suspend rhythm analysis on a flat or
unanalysable signal. Thresholds in :class:`models.ecg.rule_config.RuleConfig`.

References: IEC 60601-2-27 (leads-off indication; the 0.5-40 Hz monitoring-mode filter);
Pan J, Tompkins WJ, IEEE Trans Biomed Eng 32(3):230-236 (1985) (QRS slope against noise
levels); Li Q, Mark RG, Clifford GD, Physiol Meas 29(1):15-32 (2008) (in-band signal quality
indices).
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray

from models.ecg.filters import zero_phase
from models.ecg.numeric import hanning, median_rows, percentile_rows, rfftfreq
from models.ecg.rule_config import DEFAULT_RULES, RuleConfig


class SignalQuality(TypedDict):
    """:func:`ecg_signal_quality` of one window (JSON-serialisable)."""

    p2p_uv: float
    flat: bool
    hf_ratio: float
    hf_rms_uv: float
    noisy: bool
    slope_ratio: float
    slope_uv_ms: float
    noisy_inband: bool


def inband_noise(
    window_uv: NDArray[np.number[Any]], fs: float, cfg: RuleConfig = DEFAULT_RULES
) -> tuple[float, float]:
    """In-band noise of the last ``cfg.noise_window_s`` against the QRS slope of the window.

    Returns
    -------
    (slope_ratio, slope_uv_ms)
        After a zero-phase ``cfg.noise_inband_hz`` low-pass: the median absolute slope of the
        last ``noise_window_s`` over the 99th percentile absolute slope of the whole window
        (a clean ECG is quiet between its QRS upstrokes, noise is not), and that median slope
        in uV/ms. ``(0.0, 0.0)`` for a window under 1 s or a constant one.
    """
    ratio, slope = inband_noise_rows(np.asarray(window_uv, dtype=np.float64)[None, :], fs, cfg)
    return float(ratio[0]), float(slope[0])


def inband_noise_rows(
    windows_uv: NDArray[np.float64], fs: float, cfg: RuleConfig = DEFAULT_RULES
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`inband_noise` of every row of ``windows_uv`` (windows of one length and rate)."""
    x = np.asarray(windows_uv, dtype=np.float64)
    zeros = np.zeros(x.shape[0])
    if x.shape[1] < max(int(fs), 16):
        return zeros, zeros.copy()
    d = np.abs(np.diff(zero_phase(x, cfg.noise_inband_hz, fs), axis=1))
    ref = percentile_rows(d, 99)
    med = median_rows(d[:, -round(cfg.noise_window_s * fs) :])
    ok = ref > 0
    ratio = np.divide(med, ref, out=zeros.copy(), where=ok)
    slope = np.where(ok, med * fs / 1000.0, 0.0)
    return ratio, slope


def ecg_signal_quality(
    window_uv: NDArray[np.number[Any]], fs: float, cfg: RuleConfig = DEFAULT_RULES
) -> SignalQuality:
    """Flat-line and noise measures of the most recent signal.

    Parameters
    ----------
    window_uv : numpy.ndarray
        The most recent samples (microvolts): the agent passes its rolling 10 s, whose QRS
        complexes are the in-band measure's reference; at least ``cfg.noise_window_s``.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    dict
        ``p2p_uv`` (peak-to-peak of the last ``flat_window_s``), ``flat`` (bool),
        ``hf_ratio`` (power 40-150 Hz / power 1-40 Hz over the last ``noise_window_s``; a clean
        ECG keeps its energy below 40 Hz, muscle and broadband noise do not), ``hf_rms_uv``
        (RMS of the 40-150 Hz band), ``noisy`` (both above their limits: unanalysable),
        ``slope_ratio`` and ``slope_uv_ms`` (:func:`inband_noise`: noise a 0.5-40 Hz monitor
        filter leaves in) and ``noisy_inband`` (both above their limits).

    Examples
    --------
    >>> from simulators.ecg_synth import synth_ecg, SynthEvent
    >>> sig, _ = synth_ecg(6, fs=360.0, events=[SynthEvent("leads_off", 2, 4)])
    >>> ecg_signal_quality(sig, 360.0)["flat"]
    True
    """
    return ecg_signal_quality_rows(np.asarray(window_uv, dtype=np.float64)[None, :], fs, cfg)[0]


def ecg_signal_quality_rows(
    windows_uv: NDArray[np.float64], fs: float, cfg: RuleConfig = DEFAULT_RULES
) -> list[SignalQuality]:
    """:func:`ecg_signal_quality` of every row of ``windows_uv`` (windows of one length and
    rate, e.g. a batch of patients' rolling signals), each row exactly as on its own: the
    filters, spectra and order statistics run once over the batch."""
    x = np.asarray(windows_uv, dtype=np.float64)
    rows, n = x.shape
    nf = max(1, round(cfg.flat_window_s * fs))
    tail = x[:, -nf:]
    p2p = (tail.max(axis=1) - tail.min(axis=1)) if n else np.zeros(rows)
    flat = (tail.shape[1] >= nf) & (p2p < cfg.flat_p2p_uv)
    nn = round(cfg.noise_window_s * fs)
    seg = x[:, -nn:]
    hf_ratio = hf_rms = slope_ratio = slope = np.zeros(rows)
    measured = ~flat if seg.shape[1] >= int(fs) else np.zeros(rows, bool)
    if measured.any():
        seg = seg - seg.mean(axis=1, keepdims=True)
        m = seg.shape[1]
        spec = np.abs(np.fft.rfft(seg * hanning(m), axis=1)) ** 2
        freqs = rfftfreq(m, float(fs))
        lo, mid, hi = cfg.noise_band_hz
        hi = min(hi, 0.95 * fs / 2)
        p_lo = spec[:, (freqs >= lo) & (freqs < mid)].sum(axis=1)
        p_hi = spec[:, (freqs >= mid) & (freqs < hi)].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(p_lo > 0, p_hi / p_lo, np.where(p_hi > 0, math.inf, 0.0))
        # band RMS by Parseval (one-sided spectrum of a Hann-windowed segment)
        hf_ratio = np.where(measured, ratio, 0.0)
        hf_rms = np.where(measured, np.sqrt(2.0 * p_hi / (m**2 * 0.375)), 0.0)
        s_ratio, s_slope = inband_noise_rows(x, fs, cfg)
        slope_ratio = np.where(measured, s_ratio, 0.0)
        slope = np.where(measured, s_slope, 0.0)
    out: list[SignalQuality] = []
    for i in range(rows):
        hr, rms, sr, sl = float(hf_ratio[i]), float(hf_rms[i]), float(slope_ratio[i]), float(slope[i])
        out.append(
            {
                "p2p_uv": round(float(p2p[i]), 1),
                "flat": bool(flat[i]),
                "hf_ratio": round(hr, 4) if math.isfinite(hr) else 1e9,
                "hf_rms_uv": round(rms, 1),
                "noisy": bool(hr > cfg.noise_hf_ratio and rms > cfg.noise_hf_rms_uv),
                "slope_ratio": round(sr, 4),
                "slope_uv_ms": round(sl, 2),
                "noisy_inband": bool(sr > cfg.noise_slope_ratio and sl >= cfg.noise_slope_min_uv_ms),
            }
        )
    return out


__all__ = [
    "SignalQuality",
    "ecg_signal_quality",
    "ecg_signal_quality_rows",
    "inband_noise",
    "inband_noise_rows",
]
