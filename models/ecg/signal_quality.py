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
from models.ecg.numeric import hanning, median_1d, percentile_1d, rfftfreq
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
    x = np.asarray(window_uv, dtype=np.float64)
    if x.size < max(int(fs), 16):
        return 0.0, 0.0
    d = np.abs(np.diff(zero_phase(x, cfg.noise_inband_hz, fs)))
    ref = percentile_1d(d, 99)
    if ref <= 0:
        return 0.0, 0.0
    med = median_1d(d[-round(cfg.noise_window_s * fs) :])
    return med / ref, med * fs / 1000.0


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
    x = np.asarray(window_uv, dtype=np.float64)
    nf = max(1, round(cfg.flat_window_s * fs))
    tail = x[-nf:]
    p2p = float(tail.max() - tail.min()) if tail.size else 0.0
    flat = bool(tail.size >= nf and p2p < cfg.flat_p2p_uv)
    nn = round(cfg.noise_window_s * fs)
    seg = x[-nn:]
    hf_ratio = hf_rms = slope_ratio = slope = 0.0
    if seg.size >= int(fs) and not flat:
        seg = seg - seg.mean()
        spec = np.abs(np.fft.rfft(seg * hanning(seg.size))) ** 2
        freqs = rfftfreq(seg.size, float(fs))
        lo, mid, hi = cfg.noise_band_hz
        hi = min(hi, 0.95 * fs / 2)
        p_lo = float(spec[(freqs >= lo) & (freqs < mid)].sum())
        p_hi = float(spec[(freqs >= mid) & (freqs < hi)].sum())
        hf_ratio = p_hi / p_lo if p_lo > 0 else (math.inf if p_hi > 0 else 0.0)
        # band RMS by Parseval (one-sided spectrum of a Hann-windowed segment)
        hf_rms = math.sqrt(2.0 * p_hi / (seg.size**2 * 0.375))
        slope_ratio, slope = inband_noise(x, fs, cfg)
    return {
        "p2p_uv": round(p2p, 1),
        "flat": flat,
        "hf_ratio": round(hf_ratio, 4) if math.isfinite(hf_ratio) else 1e9,
        "hf_rms_uv": round(hf_rms, 1),
        "noisy": bool(hf_ratio > cfg.noise_hf_ratio and hf_rms > cfg.noise_hf_rms_uv),
        "slope_ratio": round(slope_ratio, 4),
        "slope_uv_ms": round(slope, 2),
        "noisy_inband": bool(slope_ratio > cfg.noise_slope_ratio and slope >= cfg.noise_slope_min_uv_ms),
    }


__all__ = ["SignalQuality", "ecg_signal_quality", "inband_noise"]
