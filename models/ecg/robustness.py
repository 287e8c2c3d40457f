"""What bedside monitors do to the ECG, and what that does to the streaming ECG path.

Pure perturbations of a record (the dict :func:`models.ecg.evaluate.load_record` returns; signals
in mV): each returns a new record and leaves its input unchanged, and applies to every lead:

* :func:`monitor_filter`: a monitor's "monitoring mode" band-pass (typically 0.5-40 Hz) instead of
  the diagnostic 0.05-150 Hz (MIT-BIH was recorded at 0.1-100 Hz),
* :func:`gain`: another amplitude (lead placement, electrode contact),
* :func:`powerline`: 50/60 Hz mains interference,
* :func:`baseline_wander`: a slow sinusoidal baseline (respiration, movement),
* :func:`noise`: additive white Gaussian (EMG-like, broadband) noise at a given SNR (the noise
  stress test's convention: against the QRS amplitude).

:func:`run` streams the 22 DS1 records through the evaluation itself
(:func:`models.ecg.evaluate.evaluate_records` with the condition as its ``transform``; two-lead
model) once per condition and writes ``artifacts/robustness.json``:
``python -m models.ecg.robustness``.

Caveat: the shipped beat classifiers were trained on these DS1 records, so their VEB/SVEB figures
mean something only as the change from the clean condition on the same records (a lower bound on
the damage on new patients). The QRS detector is not trained; its figures are fair.
"""

# Bandwidth: IEC 60601-2-27 (ECG monitoring equipment) lets a monitor's monitoring mode narrow the
# band (0.5-40 Hz is a common default) against the diagnostic 0.05-150 Hz of the AHA
# recommendations: Kligfield P et al., "Recommendations for the standardization and interpretation
# of the electrocardiogram, part I", Circulation 115(10):1306-1324, 2007.

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal as sps

from models.ecg.evaluate import evaluate_records, record_names, reference_beats

QRS_HALF_S = 0.05  #: s either side of a reference beat where :func:`noise` measures the QRS size

OUT = Path(__file__).resolve().parent / "artifacts" / "robustness.json"
CAVEAT = (
    "The beat classifiers were trained on these DS1 records: VEB/SVEB figures are meaningful only "
    "as the change from 'clean' on the same records (a lower bound on the damage on new patients). "
    "The QRS detector is untrained: its figures are fair."
)


def _leads(rec: dict[str, Any], f: Callable[[np.ndarray, int], np.ndarray]) -> dict[str, Any]:
    """A copy of ``rec`` with ``f(signal, lead_index)`` applied to ``signal`` and ``signal2``."""
    out = dict(rec)
    for i, key in enumerate(("signal", "signal2")):
        if rec.get(key) is not None:
            out[key] = f(np.asarray(rec[key], dtype=float), i)
    return out


def monitor_filter(rec: dict[str, Any], lo: float = 0.5, hi: float = 40.0, order: int = 2) -> dict[str, Any]:
    """Causal Butterworth band-pass ``lo``-``hi`` Hz, as a monitor's monitoring mode applies it.

    ``order`` poles at each edge (``scipy.signal.butter(order, [lo, hi], "bandpass")``), run
    forwards only (a monitor cannot look ahead), started in the steady state of the first sample
    so that the electrode offset does not ring.

    Examples
    --------
    >>> fs = 360.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> rec = {"fs": fs, "signal": np.sin(2 * np.pi * 0.1 * t) + np.sin(2 * np.pi * 10 * t),
    ...        "signal2": None}
    >>> y = monitor_filter(rec)["signal"][int(30 * fs):]
    >>> k = np.abs(np.fft.rfft(y)) / (y.size / 2)            # amplitude per frequency
    >>> f = np.fft.rfftfreq(y.size, 1 / fs)
    >>> round(float(k[np.argmin(abs(f - 0.1))]), 2), round(float(k[np.argmin(abs(f - 10))]), 2)
    (0.04, 1.0)
    """
    sos = sps.butter(order, [lo, hi], btype="bandpass", fs=rec["fs"], output="sos")
    zi = sps.sosfilt_zi(sos)
    return _leads(rec, lambda x, _: sps.sosfilt(sos, x, zi=zi * x[0])[0] if x.size else x)


def gain(rec: dict[str, Any], k: float) -> dict[str, Any]:
    """Every lead times ``k`` (the same heart seen at another amplitude)."""
    return _leads(rec, lambda x, _: k * x)


def _sine(rec: dict[str, Any], amp_mv: float, hz: float, phase: float) -> dict[str, Any]:
    def add(x: np.ndarray, _: int) -> np.ndarray:
        out: np.ndarray = x + amp_mv * np.sin(2 * np.pi * hz * np.arange(x.size) / rec["fs"] + phase)
        return out

    return _leads(rec, add)


def powerline(
    rec: dict[str, Any], hz: float = 60.0, amp_mv: float = 0.1, phase: float = 0.0
) -> dict[str, Any]:
    """Mains interference: a ``hz`` sine of amplitude (peak) ``amp_mv`` added to every lead."""
    return _sine(rec, amp_mv, hz, phase)


def baseline_wander(
    rec: dict[str, Any], amp_mv: float = 0.5, hz: float = 0.3, phase: float = 0.0
) -> dict[str, Any]:
    """Baseline wander (respiration): a ``hz`` sine of amplitude (peak) ``amp_mv`` on every lead."""
    return _sine(rec, amp_mv, hz, phase)


def noise(rec: dict[str, Any], snr_db: float = 12.0, seed: int = 0) -> dict[str, Any]:
    """White Gaussian (broadband, EMG-like) noise at ``snr_db`` on every lead; seeded (lead 1's
    noise, then lead 2's, from ``numpy.random.default_rng(seed)``).

    The SNR follows the ECG noise stress test's convention (PhysioNet ``nst``; Moody, Muldrow &
    Mark, Computers in Cardiology 1984): the signal power is that of a sine with the QRS
    peak-to-peak amplitude, ``A**2 / 8``, where ``A`` is the lead's median peak-to-peak within
    +-:data:`QRS_HALF_S` of the reference beats; the noise power is its variance. So the noise is
    set by the QRS size, not by whatever else the record holds (artefacts, flutter).

    Examples
    --------
    >>> t = np.arange(36000)
    >>> beats = np.arange(180, 36000, 300)
    >>> x = sum(np.exp(-((t - b) / 4.0) ** 2) for b in beats)       # 1 mV spikes
    >>> rec = {"fs": 360.0, "signal": x, "signal2": None, "ann_sample": beats,
    ...        "ann_symbol": ["N"] * beats.size}
    >>> n = noise(rec, snr_db=12)["signal"] - x
    >>> round(float(10 * np.log10((1.0 ** 2 / 8) / np.var(n))), 1)
    12.0
    """
    beats, _ = reference_beats(rec)
    if beats.size == 0:
        raise ValueError("noise() measures the QRS amplitude at the reference beats; the record has none")
    rng = np.random.default_rng(seed)
    draws = {
        i: rng.standard_normal(rec[k].size)
        for i, k in enumerate(("signal", "signal2"))
        if rec.get(k) is not None
    }
    half = max(1, int(round(QRS_HALF_S * rec["fs"])))

    def add(x: np.ndarray, i: int) -> np.ndarray:
        a = np.median([np.ptp(x[max(b - half, 0) : b + half + 1]) for b in beats if b < x.size])
        out: np.ndarray = x + a / np.sqrt(8 * 10 ** (snr_db / 10)) * draws[i]
        return out

    return _leads(rec, add)


#: name -> (what it is, the perturbation); "clean" first, the reference for every change
CONDITIONS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "clean": ("MIT-BIH as recorded (0.1-100 Hz)", lambda r: r),
    "monitor_filter": (
        "causal Butterworth 0.5-40 Hz, 2 poles per edge",
        partial(monitor_filter, lo=0.5, hi=40.0),
    ),
    "gain_0.5": ("amplitude x 0.5", partial(gain, k=0.5)),
    "gain_2.0": ("amplitude x 2.0", partial(gain, k=2.0)),
    "powerline_60hz": ("60 Hz sine, 0.1 mV amplitude", partial(powerline, hz=60.0, amp_mv=0.1)),
    "baseline_wander": ("0.3 Hz sine, 0.5 mV amplitude", partial(baseline_wander, amp_mv=0.5, hz=0.3)),
    "noise_12db": (
        "white Gaussian noise, 12 dB SNR (nst convention, seed 0)",
        partial(noise, snr_db=12.0, seed=0),
    ),
    "filter_noise_12db": (
        "the 12 dB noise, then the 0.5-40 Hz monitor filter (as a monitor in monitoring mode delivers noise)",
        lambda r: monitor_filter(noise(r, snr_db=12.0, seed=0), lo=0.5, hi=40.0),
    ),
    # stress points beyond the usual: a low-voltage ECG (QRS < 0.5 mV), heavy noise
    "gain_0.25": ("amplitude x 0.25", partial(gain, k=0.25)),
    "noise_6db": (
        "white Gaussian noise, 6 dB SNR (nst convention, seed 0)",
        partial(noise, snr_db=6.0, seed=0),
    ),
}


def _advance(bar: Any, task: Any, condition: str, record: str) -> None:
    """Progress: one record of one condition done."""
    bar.update(task, advance=1, description=f"{condition} {record}")


def run(
    records_dir: str | Path,
    out: str | Path | None = OUT,
    conditions: list[str] | None = None,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Evaluate every record under every condition (two-lead model, 1 s chunks, EC57 scoring).

    Parameters
    ----------
    records_dir : str or Path, optional
        WFDB records with ``.atr``; default the DS1 folder (``WARDWATCH_MITDB_DS1``).
    out : str or Path or None
        JSON file to write (default ``artifacts/robustness.json``); None writes nothing.
    conditions : list of str, optional
        Names from :data:`CONDITIONS` (default all).
    max_seconds : float, optional
        Only the first seconds of each record (quick checks).

    Returns
    -------
    dict
        ``{"conditions": {name: {"description", "qrs", "veb", "sveb", "records"}}, ...}``.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    records_dir = Path(records_dir)
    names = record_names(records_dir)
    conds = conditions or list(CONDITIONS)
    unknown = sorted(set(conds) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"unknown condition(s) {unknown}; valid: {list(CONDITIONS)}")
    ev: dict[str, dict[str, Any]] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task("robustness", total=len(names) * len(conds))
        for c in conds:
            bar.update(task, description=c)
            ev[c] = evaluate_records(
                records_dir,
                max_seconds=max_seconds,
                leads=2,
                transform=CONDITIONS[c][1],
                on_record=partial(_advance, bar, task, c),
            )
    counts = ("tp", "fn", "fp")  # per record: the raw EC57 counts (evaluate_records adds Se/+P)
    result = {
        "caveat": CAVEAT,
        "command": "python -m models.ecg.robustness",
        "records": names,
        "max_seconds": max_seconds,
        "model_version": ev[conds[0]]["model_version"],
        "scoring": "AAMI EC57 beat-by-beat, 150 ms window; first/last 1 s and VF episodes excluded; "
        "1 s chunks, both leads (two-lead model)",
        "conditions": {
            c: {
                "description": CONDITIONS[c][0],
                **{k: ev[c][k] for k in ("qrs", "veb", "sveb")},
                "records": {
                    name: {k: {n: r[k][n] for n in counts} for k in ("qrs", "veb", "sveb")}
                    for name, r in ev[c]["records"].items()
                },
            }
            for c in conds
        },
    }
    if out is not None:
        Path(out).write_text(json.dumps(result, indent=1) + "\n")
    return result


def main() -> None:
    """``python -m models.ecg.robustness --records DIR [--out FILE] [--conditions ...]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=Path, required=True, help="WFDB records (e.g. DS1)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--conditions", nargs="*", choices=list(CONDITIONS), default=None)
    ap.add_argument("--max-seconds", type=float, default=None)
    a = ap.parse_args()
    r = run(a.records, a.out, a.conditions, a.max_seconds)
    for c, v in r["conditions"].items():
        q, ve, sv = v["qrs"], v["veb"], v["sveb"]
        print(
            f"{c:16s} QRS {q['se']}/{q['ppv']} (tp {q['tp']} fp {q['fp']} fn {q['fn']})  "
            f"VEB {ve['se']}/{ve['ppv']}  SVEB {sv['se']}/{sv['ppv']}"
        )


if __name__ == "__main__":
    main()
