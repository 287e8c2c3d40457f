"""12-lead ECG from a DICOM waveform: leads, lead II beats, heart rate; pure functions.

Leads come from ``ds.waveform_array(0)`` (pydicom applies Channel Sensitivity, Baseline and
Correction Factor, PS3.3 C.10.9.1.4), labelled by each channel's Channel Source Sequence code
meaning and converted to mV from the Channel Sensitivity Units (UCUM ``uV``/``mV``).

Beats: when the ECG model package (:mod:`models.ecg.beats`, :mod:`models.ecg.classify`) is
importable, lead II is run through its ``ECGBeatStream`` (the same streaming QRS detector the
bedside agent uses) and its ``BeatClassifier`` (AAMI N/S/V/F/Q). Otherwise, or if its model
file is missing, a simple Pan-Tompkins-style R-peak detector here gives the heart rate (and the
result says which was used).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from batch.jobs import JobRejected

log = logging.getLogger("wardwatch.batch.image")

_UNIT_TO_MV = {"uv": 1e-3, "mv": 1.0, "v": 1e3}


def ecg_leads(ds: Dataset, group: int = 0) -> tuple[dict[str, np.ndarray], float]:
    """``({lead label: samples in mV}, fs_hz)`` of waveform multiplex group ``group``.

    Raises
    ------
    JobRejected
        ``corrupt_waveform`` when the waveform cannot be decoded.
    """
    try:
        wf = ds.WaveformSequence[group]
        arr = np.asarray(ds.waveform_array(group), dtype=np.float64)
        fs = float(wf.SamplingFrequency)
    except (AttributeError, IndexError, KeyError, ValueError, TypeError) as e:
        raise JobRejected("corrupt_waveform", f"waveform cannot be decoded: {type(e).__name__}") from e
    if fs <= 0 or arr.ndim != 2 or arr.shape[0] < 2:
        raise JobRejected("corrupt_waveform", "waveform has no samples or no sampling rate")
    leads: dict[str, np.ndarray] = {}
    for i, ch in enumerate(wf.ChannelDefinitionSequence):
        label = f"ch{i + 1}"
        with contextlib.suppress(AttributeError, IndexError):
            label = str(ch.ChannelSourceSequence[0].CodeMeaning)
        unit = "uv"
        with contextlib.suppress(AttributeError, IndexError):
            unit = str(ch.ChannelSensitivityUnitsSequence[0].CodeValue).lower()
        leads[_short_lead(label)] = arr[:, i] * _UNIT_TO_MV.get(unit, 1e-3)
    return leads, fs


def _short_lead(label: str) -> str:
    """'Lead I (Einthoven)' -> 'I', 'Lead aVR' -> 'aVR', 'Lead V1' -> 'V1'."""
    s = label.replace("Lead", "").strip()
    return s.split(" (")[0].strip() or label


def r_peaks_simple(x_mv: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices by band-pass (5-15 Hz), derivative, squaring, 150 ms moving
    integration and an adaptive threshold with a 250 ms refractory period (after Pan &
    Tompkins, IEEE TBME 32(3), 1985, simplified to one pass over a whole record)."""
    from scipy.signal import butter, filtfilt, find_peaks

    if x_mv.size < int(fs):
        return np.zeros(0, dtype=int)
    b, a = butter(2, [5.0, 15.0], btype="band", fs=fs)
    y = filtfilt(b, a, x_mv)
    d = np.diff(y, prepend=y[0]) ** 2
    win = max(1, int(0.15 * fs))
    mwi = np.convolve(d, np.ones(win) / win, mode="same")
    thr = 0.3 * np.percentile(mwi, 99)
    peaks, _ = find_peaks(mwi, height=thr, distance=int(0.25 * fs))
    # refine to the largest absolute deflection of the band-passed signal near each peak
    half = int(0.1 * fs)
    out = [max(0, p - half) + int(np.argmax(np.abs(y[max(0, p - half) : p + half]))) for p in peaks]
    return np.unique(np.asarray(out, dtype=int))


def heart_rate_bpm(peaks: np.ndarray, fs: float) -> float | None:
    """Median-RR heart rate in bpm (None with fewer than two beats)."""
    if peaks.size < 2:
        return None
    return round(60.0 / float(np.median(np.diff(peaks) / fs)), 1)


def lead_ii_beats(lead_ii_mv: np.ndarray, fs: float) -> dict[str, Any]:
    """Beats of lead II: classified by the ECG model when available, else counted here."""
    try:
        from models.ecg.beats import ECGBeatStream
        from models.ecg.classify import BeatClassifier
    except ImportError as e:
        log.info("models.ecg not importable (%s): simple R-peak count", type(e).__name__)
        return _simple(lead_ii_mv, fs, note="models.ecg.pipeline not available")
    stream = ECGBeatStream(fs)
    chunk = int(fs)  # 1 s chunks, as a bedside feed would deliver
    beats = [b for i in range(0, lead_ii_mv.size, chunk) for b in stream.detect(lead_ii_mv[i : i + chunk])]
    # the method name predates the split of models.ecg.pipeline into beats/classify; it is kept
    # so that stored summaries stay comparable
    out: dict[str, Any] = {"method": "models.ecg.pipeline.ECGBeatStream", "n_beats": len(beats)}
    peaks = np.array([b.sample for b in beats], dtype=int)
    out["heart_rate_bpm"] = heart_rate_bpm(peaks, fs)
    try:
        clf = _classifier(BeatClassifier)
    except Exception as e:  # noqa: BLE001 - a missing/broken model file must not fail the job
        out["classifier"] = {"available": False, "error": type(e).__name__}
        return out
    labels, _ = clf.predict(beats, {})
    out["classifier"] = {
        "available": True,
        "name": "BeatClassifier",
        "version": clf.version,
        "classes": list(clf.classes),
    }
    out["beat_counts"] = {c: labels.count(c) for c in clf.classes}
    out["note"] = (
        "a beat is emitted once the next R peak confirms it: the last beat of the "
        "strip has no following RR interval and is not classified"
    )
    return out


_CLF: dict[str, Any] = {}


def _classifier(cls: Any) -> Any:
    """One BeatClassifier per process (loading the TFLite model per job is wasteful)."""
    if "clf" not in _CLF:
        _CLF["clf"] = cls()
    return _CLF["clf"]


def _simple(x: np.ndarray, fs: float, note: str) -> dict[str, Any]:
    peaks = r_peaks_simple(x, fs)
    return {
        "method": "batch.image.ecg.r_peaks_simple",
        "note": note,
        "n_beats": int(peaks.size),
        "heart_rate_bpm": heart_rate_bpm(peaks, fs),
    }


def analyse_ecg(ds: Dataset) -> tuple[dict[str, Any], dict[str, np.ndarray], float]:
    """Outputs for a 12-lead ECG waveform instance: lead summary, lead II beats, heart rate."""
    leads, fs = ecg_leads(ds, 0)
    wf = ds.WaveformSequence[0]
    summary = {
        "fs_hz": fs,
        "duration_s": round(next(iter(leads.values())).size / fs, 3),
        "n_leads": len(leads),
        "leads": list(leads),
        "multiplex_group": str(wf.get("MultiplexGroupLabel", "")),
        "amplitude_range_mv": {
            k: [round(float(v.min()), 3), round(float(v.max()), 3)] for k, v in leads.items()
        },
    }
    lead2 = leads.get("II")
    if lead2 is None:
        summary["lead_ii"] = None
        summary["warning"] = "no lead II in the first multiplex group"
        return summary, leads, fs
    summary["lead_ii"] = lead_ii_beats(lead2, fs)
    simple = r_peaks_simple(lead2, fs)
    summary["lead_ii_check"] = {
        "method": "batch.image.ecg.r_peaks_simple",
        "n_beats": int(simple.size),
        "heart_rate_bpm": heart_rate_bpm(simple, fs),
    }
    return summary, leads, fs
