"""ECG alarm rules over the classified beat stream and the signal: pure functions, JSON state.

Physiological alarms (from beats: time + AAMI class N/S/V/F/Q):

==================  ========  =======  ====================================================
source              priority  latched  rule (defaults in :class:`RuleConfig`)
==================  ========  =======  ====================================================
``ecg.asystole``    high      yes      no beat for >= 4 s
``ecg.vtach``       high      yes      >= 3 consecutive V beats at >= 100 bpm
``ecg.vfib``        high      yes      VF/flutter waveform (from the signal, not beats) for 2 s
``ecg.pause``       medium    no       no beat for >= 3 s (< asystole)
``ecg.brady``       medium    no       HR < 50 bpm sustained 10 s (high when < 40 bpm)
``ecg.tachy``       medium    no       HR > 120 bpm sustained 10 s (high when > 150 bpm)
``ecg.afib``        medium    no       irregular RR of N/S beats over 30 intervals, 10 s
``ecg.pvc_burden``  low       no       >= 10 V beats in the last 60 s
==================  ========  =======  ====================================================

Technical alarms (the equipment / signal, not the patient):

=====================  ========  ===========================================================
``ecg.leads_off``      medium    flat line: peak-to-peak < 20 uV over the last 2 s
``ecg.noise``          medium    for 4 s, either unanalysable: 40-150 Hz / 1-40 Hz power > 0.3
                      / low     (and 40-150 Hz RMS > 30 uV); or (low) noisy inside the ECG band
                                 (what a monitor's 0.5-40 Hz filter leaves): the median slope of
                                 the last 3 s > 0.1 x the QRS slope (99th percentile over 10 s)
                                 and >= 2 uV/ms, analysis continues; never while VF measures fire
``ecg.feed_stopped``   medium    no chunk received for 10 s (wall clock, agent timer)
=====================  ========  ===========================================================

While the current signal is flat or unanalysable, rhythm analysis is suspended (beats found in it are
not analysed, and no asystole/pause is declared), as bedside monitors suspend arrhythmia
analysis during "leads off" / "cannot analyse ECG" (IEC 60601-2-27 requires the monitor to
indicate when it cannot analyse; a false asystole on a disconnected lead is the classic false
alarm, Sandau et al. 2017, section "Alarm management"). When analysis resumes, timers restart.
In-band noise only raises the alarm (its measure also rises in fast wide-QRS VT, so it must
not hide the rhythm; the alarm tells staff that alarms may be false and the electrodes need
attention). A VF / flutter waveform is the patient, not noise: while the VF measures are
positive the signal is neither noisy nor unanalysable, and the VF rule runs whether or not
the signal is noisy (the in-band measure cannot tell coarse VF from noise by itself).

Every rule emits an :class:`AlarmChange` only when its condition starts, changes priority or
ends; the agent turns changes into :class:`wardwatch.records.conditions.Condition` records.
All state is a plain dict (JSON-serialisable) kept per patient in a Faust table.

References
----------
- Sandau KE, Funk M, Auerbach A, et al. Update to Practice Standards for Electrocardiographic
  Monitoring in Hospital Settings. A Scientific Statement from the American Heart Association.
  Circulation 136:e273-e344 (2017). [AHA2017]
- IEC 60601-2-27:2011, particular requirements for ECG monitoring equipment (alarm conditions
  for asystole, ventricular tachycardia/fibrillation, HR limits; technical alarm for leads
  off). [IEC]
- ANSI/AAMI EC13:2002/(R)2007, cardiac monitors, heart rate meters and alarms (heart-rate
  averaging and alarm time requirements; asystole and tachycardia alarm tests). [EC13]
- ANSI/AAMI EC57:2012, testing and reporting performance of rhythm algorithms (VT episode: a
  run of >= 3 ventricular beats; MIT-BIH annotates every such run ``(VT``). [EC57]
- Dash S, Chon KH, Lu S, Raeder EA. Automatic real time detection of atrial fibrillation.
  Ann Biomed Eng 37(9):1701-1709 (2009) (normalised RMSSD > 0.1 and Shannon entropy >= 0.7
  of the RR series). [Dash2009]
- Kuo S, Dillman R. Computer detection of ventricular fibrillation. Computers in Cardiology
  1978:347-349 (the "VF filter": leakage of a notch filter tuned to the signal's mean period).
  [KD1978]
- Barro S, Ruiz R, Cabello D, Mira J. Algorithmic sequential decision-making in the frequency
  domain for life threatening ventricular arrhythmias and imitative artefacts: a diagnostic
  system. J Biomed Eng 11(4):320-328 (1989) (spectral concentration around the dominant VF
  frequency). Both as described and compared on MIT-BIH in Amann A, Tratnig R, Unterkofler K.
  Reliability of old and new ventricular fibrillation detection algorithms for automated
  external defibrillators. BioMed Eng OnLine 4:60 (2005). [Barro1989][Amann2005]
- Pan J, Tompkins WJ. A real-time QRS detection algorithm. IEEE Trans Biomed Eng
  32(3):230-236 (1985) (QRS found by its slope against running signal and noise levels).
  [PT1985]
- Li Q, Mark RG, Clifford GD. Robust heart rate estimation from multiple asynchronous noisy
  sources using signal quality indices and a Kalman filter. Physiol Meas 29(1):15-32 (2008)
  (ECG signal quality indices: in-band measures for noise a filter cannot remove). [Li2008]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import signal as sps

from models.ecg import rhythm

RULES_VERSION = "ecg-rules-1.2"

PHYSIOLOGICAL = ("ecg.asystole", "ecg.vtach", "ecg.vfib", "ecg.pause", "ecg.brady", "ecg.tachy",
                 "ecg.afib", "ecg.pvc_burden")
TECHNICAL = ("ecg.leads_off", "ecg.noise", "ecg.feed_stopped")
LATCHED = frozenset({"ecg.asystole", "ecg.vtach", "ecg.vfib"})
BEAT_CLASSES = ("N", "S", "V", "F", "Q")


@dataclass(frozen=True)
class RuleConfig:
    """Alarm thresholds in physical units (seconds, bpm, microvolts).

    Defaults follow common adult bedside-monitor defaults and the cited standards; every one
    is adjustable per unit as IEC 60601-2-27 requires for HR limits.
    """

    # [AHA2017] pauses > 3 s are clinically significant; [IEC]/[EC13] asystole (cardiac
    # standstill) must alarm; 4 s is the usual monitor default for "no QRS" = asystole.
    pause_s: float = 3.0
    asystole_s: float = 4.0
    # [AHA2017]/[EC57]: VT = >= 3 consecutive ventricular beats at a rate > 100 bpm.
    vt_min_beats: int = 3
    vt_rate_bpm: float = 100.0
    # [KD1978][Barro1989][Amann2005]: ventricular fibrillation / flutter has no QRS to detect, so
    # it is found in the signal: over the last vf_window_s, the VF-filter leakage below
    # vf_leak_max (a nearly periodic wave), the spectrum concentrated around its peak (0.7-1.4 x
    # the peak frequency holds more than vf_conc_min of the 0.5 Hz - 20 x peak amplitude) and
    # the peak at >= vf_freq_min_hz (150/min). Limits set on DS1 (4 s windows every 0.5 s):
    # inside 207's flutter episodes the medians are 0.57 / 0.40 / 3.5 Hz; of 78,928 windows
    # outside VF/flutter none passes except 19 inside 205's VT runs.
    # Since 2026-11-26 the measures run on the signal band-passed to vf_band_hz (VF's energy
    # lies at 3-7 Hz; [Amann2005] band-limit the ECG, with a drift-suppressing high-pass, before
    # every algorithm they compare). Unfiltered, white noise at 12 dB SNR hid 207's flutter from
    # every window and a 0.5 mV, 0.3 Hz respiratory wander from 96 % of them (0 and 1 of its 6
    # episodes alarmed). With the band-pass the leakage of QRS-like windows drops towards the
    # old limit, so it was re-set: 0.6 instead of 0.65 (4 s windows every 1 s, 9 DS1 records
    # with VF, VT, AF or flutter, clean / 0.5-40 Hz filter / wander / 12 dB noise: flutter
    # windows passing 90.5 -> 87.7 %, windows outside VF and VT passing 62 -> 1, 45 of the 62
    # in 203 behind the filter). Fit on DS1's one VF record, not a held-out figure.
    vf_window_s: float = 4.0
    vf_band_hz: tuple[float, float] = (0.5, 30.0)
    vf_leak_max: float = 0.6
    vf_conc_min: float = 0.25
    vf_freq_min_hz: float = 2.5
    vf_sustain_s: float = 2.0
    vf_clear_s: float = 4.0
    # [IEC]/[EC13] adjustable HR alarm limits; adult defaults 50/120; "extreme" 40/150 escalate.
    brady_bpm: float = 50.0
    brady_extreme_bpm: float = 40.0
    tachy_bpm: float = 120.0
    tachy_extreme_bpm: float = 150.0
    rate_sustain_s: float = 10.0
    rate_hysteresis_bpm: float = 5.0
    # [EC13] HR averaging: mean of the most recent RR intervals (up to 8) within 10 s.
    hr_rr_max: int = 8
    hr_window_s: float = 10.0
    # [Dash2009] normalised RMSSD of the RR series after dropping outliers; CoV as a second
    # irregularity measure. Only N/S-N/S intervals (ventricular beats and their compensatory
    # pauses excluded). Thresholds set on DS1 reference beats (30-interval windows, 10 % trim
    # each side): AF windows 93.6 % above, non-AF windows 2.4 % (untrimmed 0.1/0.1: 7.0 %).
    af_window: int = rhythm.WINDOW
    af_min_intervals: int = rhythm.MIN_INTERVALS
    af_trim: float = rhythm.TRIM
    af_nrmssd: float = rhythm.AF_NRMSSD
    af_cov: float = rhythm.AF_COV
    af_she: float = rhythm.AF_SHE
    af_sustain_s: float = 10.0
    af_clear_factor: float = 0.7   # clears when nRMSSD and CoV, or the entropy, fall below 0.7 x limit
    # Frequent PVCs: >= 10 PVCs/min is the usual "PVCs/min high" monitor default ([AHA2017]
    # discusses PVC-burden monitoring; Lown grade 2 = > 30 PVCs/h).
    pvc_per_min: int = 10
    pvc_clear_per_min: int = 7
    pvc_window_s: float = 60.0
    # Technical: flat line and noise on the rolling signal ([IEC] leads-off indication).
    flat_window_s: float = 2.0
    flat_p2p_uv: float = 20.0
    noise_window_s: float = 3.0
    noise_hf_ratio: float = 0.3     # DS1 records (600 s each): 99th percentile <= 0.11
    noise_hf_rms_uv: float = 30.0   # and enough of it: baseline noise in a pause is not "noisy"
    noise_band_hz: tuple[float, float, float] = (1.0, 40.0, 150.0)
    # In-band noise [PT1985][Li2008]: a monitor in monitoring mode filters 0.5-40 Hz
    # (IEC 60601-2-27), which removes the 40-150 Hz band the measure above needs. So also:
    # after a noise_inband_hz low-pass, the median |slope| of the last noise_window_s against
    # the 99th percentile |slope| of the whole rolling signal given (10 s in the agent: its QRS
    # upstrokes), as Pan-Tompkins weighs noise peaks against signal peaks. Set on DS1 (10 s
    # windows every 1 s, 4 s sustained, after the 0.5-40 Hz monitor filter; share of the time):
    # clean 0.4 % (mostly MIT-BIH-annotated noisy stretches of 108, 203, 207), white noise at
    # 18 / 12 / 9 / 6 dB SNR 1.5 / 14 / 47 / 97 %; 0.08 gave 0.7 / 4.7 / 34 / 92 / 99.8 %.
    # It also rises in fast multiform VT (203: 22 % of VT windows at 0.08), so it only alarms:
    # suspending analysis on it cost 10 of 29 VT episodes found on DS1.
    # The slope floor (2 uV/ms ~ 20 uV RMS of in-band noise) keeps a quiet baseline with no QRS
    # (asystole longer than the rolling signal) from counting as noise.
    noise_inband_hz: float = 40.0
    noise_slope_ratio: float = 0.1
    noise_slope_min_uv_ms: float = 2.0
    noise_sustain_s: float = 4.0
    noise_clear_s: float = 4.0
    feed_timeout_s: float = 10.0
    # Beat memory kept in the state (bounded).
    keep_beats_s: float = 60.0
    keep_beats_max: int = 400


DEFAULT_RULES = RuleConfig()


@dataclass(frozen=True)
class AlarmChange:
    """One alarm condition starting (``active``), changing priority, or ending.

    ``t`` is the device time (POSIX seconds) of the evidence that changed it.
    """

    source: str
    active: bool
    priority: str
    t: float
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return "technical" if self.source in TECHNICAL else "physiological"

    @property
    def latched(self) -> bool:
        return self.source in LATCHED


# ------------------------------------------------------------------------------ signal quality
@lru_cache(maxsize=32)
def _butter(band: tuple[float, float] | float, fs: float) -> np.ndarray:
    """4th-order Butterworth low-pass (one edge, Hz) or band-pass ((lo, hi) Hz) as second-order
    sections, cached per rate; the top edge at most 0.45 x fs."""
    if isinstance(band, tuple):
        return sps.butter(4, [band[0], min(band[1], 0.45 * fs)], "bandpass", fs=fs, output="sos")
    return sps.butter(4, min(band, 0.45 * fs), "low", fs=fs, output="sos")


def _zero_phase(x: np.ndarray, band: tuple[float, float] | float, fs: float) -> np.ndarray:
    """``x`` (mean removed) filtered forwards then backwards: zero phase, and five times cheaper
    than ``sosfiltfilt`` (no padding; the start-up transients, a few tens of ms at each end,
    are small next to the windows measured here)."""
    sos = _butter(band, fs)
    return sps.sosfilt(sos, sps.sosfilt(sos, x - x.mean())[::-1])[::-1]


def inband_noise(window_uv: np.ndarray, fs: float, cfg: RuleConfig = DEFAULT_RULES) -> tuple[float, float]:
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
    d = np.abs(np.diff(_zero_phase(x, cfg.noise_inband_hz, fs)))
    ref = float(np.percentile(d, 99))
    if ref <= 0:
        return 0.0, 0.0
    med = float(np.median(d[-round(cfg.noise_window_s * fs):]))
    return med / ref, med * fs / 1000.0


def ecg_signal_quality(window_uv: np.ndarray, fs: float, cfg: RuleConfig = DEFAULT_RULES) -> dict[str, Any]:
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
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size))) ** 2
        freqs = np.fft.rfftfreq(seg.size, 1.0 / fs)
        lo, mid, hi = cfg.noise_band_hz
        hi = min(hi, 0.95 * fs / 2)
        p_lo = float(spec[(freqs >= lo) & (freqs < mid)].sum())
        p_hi = float(spec[(freqs >= mid) & (freqs < hi)].sum())
        hf_ratio = p_hi / p_lo if p_lo > 0 else (math.inf if p_hi > 0 else 0.0)
        # band RMS by Parseval (one-sided spectrum of a Hann-windowed segment)
        hf_rms = math.sqrt(2.0 * p_hi / (seg.size ** 2 * 0.375))
        slope_ratio, slope = inband_noise(x, fs, cfg)
    return {"p2p_uv": round(p2p, 1), "flat": flat,
            "hf_ratio": round(hf_ratio, 4) if math.isfinite(hf_ratio) else 1e9,
            "hf_rms_uv": round(hf_rms, 1),
            "noisy": bool(hf_ratio > cfg.noise_hf_ratio and hf_rms > cfg.noise_hf_rms_uv),
            "slope_ratio": round(slope_ratio, 4), "slope_uv_ms": round(slope, 2),
            "noisy_inband": bool(slope_ratio > cfg.noise_slope_ratio
                                 and slope >= cfg.noise_slope_min_uv_ms)}


def vf_measures(window_uv: np.ndarray, fs: float, cfg: RuleConfig = DEFAULT_RULES) -> dict[str, Any]:
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
    out = {"vf_leak": 1.0, "vf_conc": 0.0, "vf_freq_hz": 0.0, "vf": False}
    n = round(cfg.vf_window_s * fs)
    x = np.asarray(window_uv, dtype=np.float64)[-(n + round(fs)):]   # 1 s more for the filter
    if x.size < n:
        return out
    x = _zero_phase(x, cfg.vf_band_hz, fs)[-n:]
    x = x - x.mean()
    dsum = float(np.abs(np.diff(x)).sum())
    if dsum <= 0:
        return out
    half = int(math.floor(math.pi * float(np.abs(x).sum()) / dsum + 0.5))
    if 1 <= half < x.size:
        a, b = x[half:], x[:-half]
        den = float((np.abs(a) + np.abs(b)).sum())
        out["vf_leak"] = round(float(np.abs(a + b).sum()) / den, 4) if den > 0 else 1.0
    amp = np.abs(np.fft.rfft(x * np.hamming(x.size)))
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    band = (f >= 0.5) & (f <= 9.0)
    peak = float(f[band][np.argmax(amp[band])])
    total = float(amp[(f >= 0.5) & (f <= 20.0 * peak)].sum())
    conc = float(amp[(f >= 0.7 * peak) & (f <= 1.4 * peak)].sum()) / total if total > 0 else 0.0
    out.update(vf_conc=round(conc, 4), vf_freq_hz=round(peak, 3))
    out["vf"] = bool(out["vf_leak"] < cfg.vf_leak_max and conc > cfg.vf_conc_min
                     and peak >= cfg.vf_freq_min_hz)
    return out


# ------------------------------------------------------------------------------ heart rate
def hr_from_beats(beats: list[list[Any]], t: float | None = None,
                  cfg: RuleConfig = DEFAULT_RULES) -> float | None:
    """Heart rate (bpm) from the most recent RR intervals.

    Parameters
    ----------
    beats : list of ``[t, label, seg]``
        Recent beats, oldest first (``seg`` numbers the continuous signal segment; no RR
        interval spans two segments).
    t : float, optional
        Evaluate at this time (default: the last beat); intervals older than
        ``cfg.hr_window_s`` before it are not used.

    Returns
    -------
    float or None
        60 / mean of the last up to ``cfg.hr_rr_max`` RR intervals (EC13 averaging); None with
        fewer than 2 intervals in the window.
    """
    if len(beats) < 3:
        return None
    t = beats[-1][0] if t is None else t
    rr: list[float] = []
    for a, b in zip(reversed(beats[:-1]), reversed(beats), strict=False):
        if len(rr) >= cfg.hr_rr_max or a[0] < t - cfg.hr_window_s or a[2] != b[2]:
            break
        rr.append(b[0] - a[0])
    if len(rr) < 2:
        return None
    return 60.0 / (sum(rr) / len(rr))


def rr_irregularity(beats: list[list[Any]], cfg: RuleConfig = DEFAULT_RULES) -> dict[str, float] | None:
    """RR irregularity of the last ``cfg.af_window`` N/S-to-N/S intervals (0.2 s to a pause).

    Returns
    -------
    dict or None
        ``nrmssd``, ``cov``, ``she`` (entropy), ``n`` (intervals), ``mean_rr_s``
        (:func:`models.ecg.rhythm.rr_irregularity`); None with fewer than
        ``cfg.af_min_intervals`` usable intervals.
    """
    rr: list[float] = []
    for a, b in zip(reversed(beats[:-1]), reversed(beats), strict=False):
        if len(rr) >= cfg.af_window:
            break
        if a[2] != b[2]:
            break
        # pauses (>= pause_s) are their own alarm, not AF irregularity
        if a[1] in ("N", "S") and b[1] in ("N", "S") and rhythm.RR_MIN_S <= b[0] - a[0] < cfg.pause_s:
            rr.append(b[0] - a[0])
    if len(rr) < cfg.af_min_intervals:
        return None
    # drop the most extreme intervals (isolated premature beats and their pauses) first
    return rhythm.rr_irregularity(rr[::-1], cfg.af_trim)


# ------------------------------------------------------------------------------ state
def rules_init() -> dict[str, Any]:
    """Fresh per-patient rule state (JSON-serialisable)."""
    return {
        "v": 1,
        "beats": [],          # [[t, label, seg], ...] oldest first, bounded
        "seg": 0,             # continuous-segment counter (bumped on gaps / suspension)
        "from_t": None,       # analysis (re)started at this device time
        "last_beat_t": None,
        "run": [],            # current run of consecutive V beats: [[t, label], ...]
        "active": {},         # source -> {"since": t, "priority": p}
        "since": {},          # source -> t the condition has held since (sustain timers)
        "clean_since": None,  # noise clearing timer
    }


def _iso(t: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def _beats_evidence(beats: list[list[Any]], t_from: float, t_to: float, limit: int = 24) -> list[dict]:
    sel = [b for b in beats if t_from <= b[0] <= t_to][-limit:]
    return [{"t": _iso(b[0]), "label": b[1]} for b in sel]


class _Emitter:
    """Tracks active conditions in ``state['active']`` and records changes."""

    def __init__(self, state: dict[str, Any]):
        self.state = state
        self.out: list[AlarmChange] = []

    def is_active(self, source: str) -> bool:
        return source in self.state["active"]

    def raise_(self, source: str, priority: str, t: float, message: str,
               evidence: dict[str, Any]) -> None:
        cur = self.state["active"].get(source)
        if cur is not None and cur["priority"] == priority:
            return
        self.state["active"][source] = {"since": cur["since"] if cur else t, "priority": priority}
        self.out.append(AlarmChange(source, True, priority, t, message, evidence))

    def clear(self, source: str, t: float, message: str, evidence: dict[str, Any] | None = None) -> None:
        cur = self.state["active"].pop(source, None)
        if cur is None:
            return
        ev = {"active_since": _iso(cur["since"]), "duration_s": round(t - cur["since"], 2)}
        ev.update(evidence or {})
        self.out.append(AlarmChange(source, False, cur["priority"], t, message, ev))


def _held(state: dict[str, Any], key: str, cond: bool, t: float) -> float:
    """Sustain timer: seconds ``cond`` has held continuously up to ``t`` (0 when false)."""
    since = state["since"]
    if not cond:
        since.pop(key, None)
        return 0.0
    since.setdefault(key, t)
    return t - since[key]


# ------------------------------------------------------------------------------ beat rules
def _on_beat(state: dict[str, Any], em: _Emitter, t: float, label: str, cfg: RuleConfig) -> None:
    beats = state["beats"]
    prev_t = state["last_beat_t"]
    from_t = state["from_t"]
    # Pause / asystole that ended with this beat (found retrospectively, e.g. within one chunk).
    known = [v for v in (prev_t, from_t) if v is not None]
    ref = max(known) if known else None
    if ref is not None and t - ref >= cfg.pause_s and not _same_t(state.get("gap_ref"), ref):
        # a pause that ended before the horizon check saw it (e.g. within one chunk)
        _gap_rules(state, em, ref, t, cfg)
        _gap_clear(state, em, t)
    beats.append([t, label, state["seg"]])
    state["last_beat_t"] = t

    # Ventricular tachycardia: run of consecutive V beats above a rate [AHA2017][EC57].
    run = state["run"]
    if label == "V":
        run.append([t, label])
        n = len(run)
        if n >= cfg.vt_min_beats:
            rate = 60.0 * (n - 1) / (run[-1][0] - run[0][0]) if run[-1][0] > run[0][0] else 0.0
            if rate >= cfg.vt_rate_bpm and not em.is_active("ecg.vtach"):
                em.raise_("ecg.vtach", "high", t,
                          f"ventricular tachycardia: {n} consecutive V beats at {rate:.0f} bpm",
                          {"run_beats": n, "rate_bpm": round(rate, 1),
                           "beats": _beats_evidence(beats, run[0][0] - 3.0, t),
                           "rule": f">= {cfg.vt_min_beats} consecutive V at >= "
                                   f"{cfg.vt_rate_bpm:.0f} bpm (AHA 2017; AAMI EC57)"})
    else:
        if em.is_active("ecg.vtach"):
            n = len(run)
            em.clear("ecg.vtach", t, f"VT run ended after {n} V beats",
                     {"run_beats": n, "beats": _beats_evidence(beats, run[0][0] if run else t, t)})
        run.clear()

    # Rate alarms: HR from the mean of recent RR intervals [EC13], sustained [IEC].
    hr = hr_from_beats(beats, t, cfg)
    if hr is not None and not em.is_active("ecg.vfib"):   # chained under VF (see _gap_rules)
        _rate_rule(state, em, t, hr, cfg)

    # Atrial fibrillation: RR irregularity of N/S beats [Dash2009][AHA2017].
    irr = rr_irregularity(beats, cfg)
    if irr is not None:
        irregular = rhythm.af_irregular(irr, cfg.af_nrmssd, cfg.af_cov, cfg.af_she)
        held = _held(state, "afib", irregular, t)
        ev = {k: round(v, 4) if isinstance(v, float) else v for k, v in irr.items()}
        if irregular and held >= cfg.af_sustain_s:
            em.raise_("ecg.afib", "medium", t,
                      f"atrial fibrillation suspected: irregular RR (nRMSSD {irr['nrmssd']:.2f}, "
                      f"CoV {irr['cov']:.2f}, entropy {irr['she']:.2f} over {irr['n']} intervals)",
                      {**ev, "hr_bpm": round(hr, 1) if hr else None,
                       "beats": _beats_evidence(beats, t - 8.0, t),
                       "rule": f"nRMSSD > {cfg.af_nrmssd}, CoV > {cfg.af_cov} and Shannon entropy "
                               f">= {cfg.af_she} of N/S RR over {cfg.af_window} intervals for "
                               f"{cfg.af_sustain_s:.0f} s (Dash 2009)"})
        elif em.is_active("ecg.afib") and (
                (irr["nrmssd"] < cfg.af_nrmssd * cfg.af_clear_factor
                 and irr["cov"] < cfg.af_cov * cfg.af_clear_factor)
                or irr["she"] < cfg.af_she * cfg.af_clear_factor):
            em.clear("ecg.afib", t, "RR regular or organised again", ev)

    # PVC burden: V beats in the last minute.
    w0 = t - cfg.pvc_window_s
    recent = [b for b in beats if b[0] > w0]
    n_v = sum(1 for b in recent if b[1] == "V")
    pvc_pct = 100.0 * n_v / len(recent) if recent else 0.0
    if n_v >= cfg.pvc_per_min:
        if not em.is_active("ecg.pvc_burden"):
            em.raise_("ecg.pvc_burden", "low", t,
                      f"frequent PVCs: {n_v} in the last {cfg.pvc_window_s:.0f} s ({pvc_pct:.0f} %)",
                      {"pvc_per_min": n_v, "pvc_pct": round(pvc_pct, 1),
                       "beats": _beats_evidence(beats, t - 8.0, t),
                       "rule": f">= {cfg.pvc_per_min} V beats per {cfg.pvc_window_s:.0f} s"})
    elif n_v < cfg.pvc_clear_per_min and em.is_active("ecg.pvc_burden"):
        em.clear("ecg.pvc_burden", t, "PVC rate back below limit",
                 {"pvc_per_min": n_v, "pvc_pct": round(pvc_pct, 1)})


def _rate_rule(state: dict[str, Any], em: _Emitter, t: float, hr: float, cfg: RuleConfig) -> None:
    for src, low in (("ecg.brady", True), ("ecg.tachy", False)):
        lim = cfg.brady_bpm if low else cfg.tachy_bpm
        ext = cfg.brady_extreme_bpm if low else cfg.tachy_extreme_bpm
        beyond = hr < lim if low else hr > lim
        back = hr >= lim + cfg.rate_hysteresis_bpm if low else hr <= lim - cfg.rate_hysteresis_bpm
        held = _held(state, src, beyond or (em.is_active(src) and not back), t)
        if beyond and held >= cfg.rate_sustain_s:
            extreme = hr < ext if low else hr > ext
            prio = "high" if extreme else "medium"
            cur = state["active"].get(src)
            # escalate to high, or start; do not de-escalate while active (avoid flapping)
            if cur is None or (prio == "high" and cur["priority"] != "high"):
                name = "bradycardia" if low else "tachycardia"
                em.raise_(src, prio, t, f"{'extreme ' if extreme else ''}{name}: HR {hr:.0f} bpm",
                          {"hr_bpm": round(hr, 1), "limit_bpm": ext if extreme else lim,
                           "sustained_s": round(held, 1),
                           "beats": _beats_evidence(state["beats"], t - 8.0, t),
                           "rule": f"HR {'<' if low else '>'} {lim:.0f} bpm for "
                                   f"{cfg.rate_sustain_s:.0f} s; high beyond {ext:.0f} (IEC 60601-2-27)"})
        elif back and em.is_active(src):
            em.clear(src, t, f"HR {hr:.0f} bpm back within limits", {"hr_bpm": round(hr, 1)})


def _same_t(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < 1e-3


def _gap_clear(state: dict[str, Any], em: _Emitter, t: float) -> None:
    """End pause / asystole: a QRS was detected at ``t``."""
    ref = state.get("gap_ref")
    for src in ("ecg.pause", "ecg.asystole"):
        if em.is_active(src):
            em.clear(src, t, f"{src.split('.')[1]} ended: QRS at {_iso(t)}",
                     {"pause_s": round(t - ref, 2) if ref is not None else None})


def _gap_rules(state: dict[str, Any], em: _Emitter, ref: float, t: float, cfg: RuleConfig) -> None:
    """Pause / asystole when nothing has been detected from ``ref`` up to ``t``.

    Not while a VF alarm is active: in fibrillation the detector finds waves sporadically, and
    pause, asystole and rate alarms from them would only bury the lethal one (monitors chain
    lower rhythm alarms under VF; alarm fatigue, [AHA2017]).
    """
    if em.is_active("ecg.vfib"):
        return
    gap = t - ref
    if gap >= cfg.pause_s:
        state["gap_ref"] = ref
    ev = {"no_beat_since": _iso(ref), "pause_s": round(gap, 2),
          "beats": _beats_evidence(state["beats"], ref - 6.0, ref)}
    if gap >= cfg.pause_s:
        em.raise_("ecg.pause", "medium", ref + cfg.pause_s,
                  f"pause: no QRS for {gap:.1f} s",
                  {**ev, "rule": f"no beat for >= {cfg.pause_s:.0f} s (AHA 2017)"})
    if gap >= cfg.asystole_s:
        em.raise_("ecg.asystole", "high", ref + cfg.asystole_s,
                  f"asystole: no QRS for {gap:.1f} s",
                  {**ev, "rule": f"no beat for >= {cfg.asystole_s:.0f} s (IEC 60601-2-27; AAMI EC13)"})


def _vf_rule(state: dict[str, Any], em: _Emitter, start_t: float, end_t: float,
             quality: dict[str, Any], cfg: RuleConfig) -> None:
    """Ventricular fibrillation / flutter from the signal's VF measures [KD1978][Barro1989]."""
    vf = bool(quality.get("vf"))
    chunk_s = end_t - start_t
    on_s = _held(state, "vf", vf, start_t) + chunk_s      # VF measures true since ... to end_t
    off_s = _held(state, "vf_off", not vf, start_t) + chunk_s
    ev = {k: quality.get(k) for k in ("vf_leak", "vf_conc", "vf_freq_hz")}
    if vf and on_s >= cfg.vf_sustain_s:
        rate = 60.0 * float(quality.get("vf_freq_hz") or 0.0)
        em.raise_("ecg.vfib", "high", end_t,
                  f"ventricular fibrillation / flutter: {rate:.0f} waves/min, no organised QRS",
                  {**ev, "beats": _beats_evidence(state["beats"], end_t - 8.0, end_t),
                   "rule": f"VF-filter leakage < {cfg.vf_leak_max} and spectral concentration "
                           f"> {cfg.vf_conc_min} at >= {60 * cfg.vf_freq_min_hz:.0f}/min over "
                           f"{cfg.vf_window_s:.0f} s, for {cfg.vf_sustain_s:.0f} s (Kuo & "
                           "Dillman 1978; Barro 1989)"})
    elif not vf and em.is_active("ecg.vfib") and off_s >= cfg.vf_clear_s:
        em.clear("ecg.vfib", end_t, "VF waveform no longer present", ev)


#: sustain timers measured on the signal, which run on while beat analysis is suspended
_SIGNAL_TIMERS = ("noise", "vf", "vf_off")


def _trim(state: dict[str, Any], t: float, cfg: RuleConfig) -> None:
    beats = state["beats"]
    cut = t - cfg.keep_beats_s
    i = 0
    while i < len(beats) and beats[i][0] < cut:
        i += 1
    i = max(i, len(beats) - cfg.keep_beats_max)
    if i > 0:
        del beats[:i]


# ------------------------------------------------------------------------------ entry points
def rules_step(state: dict[str, Any], beats: list[tuple[float, str]], *, start_t: float,
               end_t: float, analysed_t: float | None, quality: dict[str, Any],
               last_qrs_t: float | None = None,
               cfg: RuleConfig = DEFAULT_RULES) -> list[AlarmChange]:
    """Advance the rules by one chunk.

    Parameters
    ----------
    state : dict
        From :func:`rules_init`; updated in place.
    beats : list of (t, label)
        Beats confirmed by this chunk (device time POSIX s, AAMI class), oldest first.
    start_t, end_t : float
        Device time span of the chunk.
    analysed_t : float or None
        Device time up to which beat detection is complete (``end_t`` minus the detector's
        emission delay); None while the detector is still learning its thresholds.
    quality : dict
        :func:`ecg_signal_quality` of the rolling signal ending with this chunk, with the
        :func:`vf_measures` of the same signal (without them, no VF alarm).
    last_qrs_t : float, optional
        Device time of the last QRS the detector has confirmed, even if that beat is not yet
        classified (the classifier waits for the next beat's RR); pause and asystole are
        measured from it, so they are not delayed by classification.
    cfg : RuleConfig

    Returns
    -------
    list of AlarmChange
        The changes, in time order per rule.

    Examples
    --------
    >>> st = rules_init()
    >>> q = {"flat": False, "noisy": False, "p2p_uv": 1500.0, "hf_ratio": 0.02}
    >>> vt = [(10.0 + 0.35 * i, "V") for i in range(4)]
    >>> [c.source for c in rules_step(st, vt, start_t=10, end_t=11.5, analysed_t=11.2, quality=q)]
    ['ecg.vtach']
    """
    em = _Emitter(state)
    # --- technical: flat line (leads off) and noise; a VF waveform is not noise
    flat = bool(quality.get("flat"))
    vf = bool(quality.get("vf"))
    unanalysable = bool(quality.get("noisy")) and not vf
    noisy = bool(quality.get("noisy") or quality.get("noisy_inband")) and not vf
    q_ev = {k: quality.get(k) for k in ("p2p_uv", "hf_ratio", "slope_ratio")}
    if flat:
        em.raise_("ecg.leads_off", "medium", end_t,
                  f"leads off / flat line: {quality.get('p2p_uv')} uV peak-to-peak over "
                  f"{cfg.flat_window_s:.0f} s",
                  {**q_ev, "rule": f"peak-to-peak < {cfg.flat_p2p_uv:.0f} uV over "
                                   f"{cfg.flat_window_s:.0f} s (IEC 60601-2-27 leads-off)"})
    elif em.is_active("ecg.leads_off"):
        em.clear("ecg.leads_off", end_t, "ECG signal back", q_ev)
    if noisy:
        state["clean_since"] = None
        state["since"].setdefault("noise", start_t)
        if end_t - state["since"]["noise"] >= cfg.noise_sustain_s:
            # in-band noise is advisory (low); unanalysable escalates an open alarm to medium
            # (re-emitted with the new message) and it stays medium until it clears, so a signal
            # near the 40-150 Hz limit does not flap between the two
            was = state["active"].get("ecg.noise", {}).get("priority")
            em.raise_("ecg.noise", "medium" if unanalysable or was == "medium" else "low", end_t,
                      "ECG unanalysable: noise" if unanalysable
                      else "ECG noisy: analysis continues, its alarms may be false",
                      {**q_ev, "rule": f"HF/LF power > {cfg.noise_hf_ratio}, or in-band median "
                                       f"slope > {cfg.noise_slope_ratio} x QRS slope, for "
                                       f"{cfg.noise_sustain_s:.0f} s"})
    else:
        state["since"].pop("noise", None)
        if state["clean_since"] is None:
            state["clean_since"] = start_t
        if em.is_active("ecg.noise") and end_t - state["clean_since"] >= cfg.noise_clear_s:
            em.clear("ecg.noise", end_t, "ECG analysable again", q_ev)

    # VF from the signal, whatever the noise measures say (coarse VF looks like in-band noise)
    _vf_rule(state, em, start_t, end_t, quality, cfg)
    suspended = flat or unanalysable
    if suspended:
        # No rhythm analysis on this signal; restart continuity when it resumes.
        state["run"] = []
        state["since"] = {k: v for k, v in state["since"].items() if k in _SIGNAL_TIMERS}
        state["from_t"] = None
        state["suspended"] = True
        _trim(state, end_t, cfg)
        return em.out
    if state.get("suspended") or state["from_t"] is None:
        state["suspended"] = False
        state["seg"] += 1
        state["from_t"] = start_t
        state["last_beat_t"] = None

    for t, label in beats:
        if t < state["from_t"]:
            continue
        _on_beat(state, em, float(t), str(label), cfg)

    # Ongoing pause / asystole up to the analysis horizon, from the last QRS detected.
    known = [v for v in (state["last_beat_t"], state["from_t"]) if v is not None]
    if last_qrs_t is not None and last_qrs_t >= state["from_t"]:
        known.append(last_qrs_t)
    ref = max(known) if known else None
    gap_ref = state.get("gap_ref")
    if gap_ref is not None and ref is not None and ref > gap_ref + 1e-3:
        _gap_clear(state, em, ref)
    if analysed_t is not None and ref is not None and analysed_t > ref:
        _gap_rules(state, em, ref, analysed_t, cfg)
    _trim(state, end_t, cfg)
    return em.out


def rules_restart(state: dict[str, Any]) -> None:
    """Break signal continuity (seq gap, device restart): no RR interval spans the break."""
    state["from_t"] = None
    state["run"] = []
    state["since"] = {k: v for k, v in state["since"].items() if k == "noise"}


def feed_check(state: dict[str, Any], *, last_rx_wall: float, now_wall: float,
               last_end_t: float, cfg: RuleConfig = DEFAULT_RULES) -> list[AlarmChange]:
    """Feed-stopped technical alarm, evaluated by the agent's timer on the wall clock.

    Parameters
    ----------
    last_rx_wall : float
        Wall time (POSIX s) the last chunk was received.
    now_wall : float
        Wall time now.
    last_end_t : float
        Device time of the end of the last chunk; the alarm time is that plus the silence.
    """
    em = _Emitter(state)
    silent = now_wall - last_rx_wall
    if silent >= cfg.feed_timeout_s:
        em.raise_("ecg.feed_stopped", "medium", last_end_t + silent,
                  f"no ECG received for {silent:.0f} s",
                  {"silent_s": round(silent, 1), "last_sample": _iso(last_end_t),
                   "rule": f"no chunk for >= {cfg.feed_timeout_s:.0f} s"})
    return em.out


def feed_resumed(state: dict[str, Any], t: float) -> list[AlarmChange]:
    """Clear the feed-stopped alarm when a chunk arrives."""
    em = _Emitter(state)
    if em.is_active("ecg.feed_stopped"):
        em.clear("ecg.feed_stopped", t, "ECG feed resumed")
    return em.out


__all__ = [
    "LATCHED",
    "PHYSIOLOGICAL",
    "RULES_VERSION",
    "TECHNICAL",
    "AlarmChange",
    "RuleConfig",
    "ecg_signal_quality",
    "feed_check",
    "feed_resumed",
    "hr_from_beats",
    "inband_noise",
    "rr_irregularity",
    "rules_init",
    "rules_restart",
    "rules_step",
    "vf_measures",
]
