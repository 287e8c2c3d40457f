"""Evaluate the streaming ECG pipeline on WFDB records (AAMI EC57 beat-by-beat statistics).

``evaluate_records`` runs exactly what the Faust agent runs: chunked :class:`ECGBeatStream`
(1 s chunks) and a batched :class:`BeatClassifier` over every record in a folder that has an
``.atr`` reference annotation file.

Scoring (what is excluded, stated once): beats within the first and last 1 s of a record and
inside ventricular flutter/fibrillation episodes (``[`` ... ``]``) are not scored, as AAMI EC57 /
``bxb`` exclude VF; the 150 ms match window of EC57 is used. The first 5 minutes are *not*
excluded (EC57's learning period applies to rhythm statistics, and our detector learns in 2 s).
VEB and SVEB statistics follow EC57 / de Chazal 2004: a reference V (S) beat matched by a beat
labelled V (S) is a TP; a detected beat labelled V (S) whose match is not V (S) — or that matches
no reference beat — is a FP; Q reference beats are not counted against +P.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal as sps

from models.ecg.aami import aami_class
from models.ecg.beats import BeatCandidate, ECGBeatStream
from models.ecg.classify import BeatClassifier
from models.ecg.metrics import beats_match, class_counts, scoring_mask, se_ppv, vf_intervals

log = logging.getLogger(__name__)

CHUNK_S = 1.0  #: chunk length used for evaluation, seconds (as the replay simulator sends)


def record_leads(sig_name: list[str]) -> tuple[int, int | None]:
    """Channels of a WFDB record to stream: the first lead (MLII when present, the lead the beat
    classifiers were trained on; MIT-BIH 114 stores it second, else channel 0) and the second
    lead (the next other channel, V1 in most MIT-BIH records; None for a one-lead record)."""
    ch = sig_name.index("MLII") if "MLII" in sig_name else 0
    return ch, next((i for i in range(len(sig_name)) if i != ch), None)


def record_names(records_dir: str | Path, annotated: bool = True) -> list[str]:
    """Sorted names of the WFDB records in a folder: those with a header and ``.atr``
    annotations, or with ``annotated=False`` every header (a replay needs no annotations).

    Raises FileNotFoundError when there is none.
    """
    d = Path(records_dir)
    names = sorted(p.stem for p in d.glob("*.hea") if not annotated or p.with_suffix(".atr").exists())
    if not names:
        what = "WFDB records with .atr annotations" if annotated else "WFDB records (*.hea)"
        raise FileNotFoundError(f"no {what} in {d}")
    return names


def load_record(path: str | Path, max_seconds: float | None = None) -> dict[str, Any]:
    """Read a WFDB record and its ``atr`` annotations; pick lead MLII when present.

    Parameters
    ----------
    path : str or Path
        Record path without extension.
    max_seconds : float, optional
        Read only the first seconds of the record.

    Returns
    -------
    dict
        ``signal`` (mV, 1-D), ``fs``, ``lead``, ``ann_sample``, ``ann_symbol``, ``name``, and
        the record's other lead as ``signal2`` / ``lead2`` (None for a one-lead record).
    """
    import wfdb

    path = str(path)
    fs = float(wfdb.rdheader(path).fs)
    sampto = int(max_seconds * fs) if max_seconds else None
    rec = wfdb.rdrecord(path, sampto=sampto)
    ann = wfdb.rdann(path, "atr", sampto=sampto)
    ch, ch2 = record_leads(rec.sig_name)
    x = rec.p_signal[:, ch].astype(float)
    x = np.nan_to_num(x, nan=0.0)
    return {
        "name": Path(path).name,
        "signal": x,
        "fs": float(rec.fs),
        "lead": rec.sig_name[ch],
        "signal2": None if ch2 is None else np.nan_to_num(rec.p_signal[:, ch2].astype(float), nan=0.0),
        "lead2": None if ch2 is None else rec.sig_name[ch2],
        "ann_sample": np.asarray(ann.sample, dtype=np.int64),
        "ann_symbol": list(ann.symbol),
    }


def resample_record(rec: dict[str, Any], fs_new: float) -> dict[str, Any]:
    """A record (as :func:`load_record` returns it) resampled to ``fs_new`` Hz, as a monitor
    streaming at that rate would deliver it.

    The signal(s) go through :func:`scipy.signal.resample_poly` with up/down the reduced ratio
    of the two rates (its polyphase FIR anti-aliases when the rate goes down); the reference
    annotation samples become ``round(sample * fs_new / fs)`` (kept inside the new signal). The
    input record is not changed.

    Parameters
    ----------
    rec : dict
        ``signal``, ``fs``, ``ann_sample`` and optionally ``signal2`` (None or as long as
        ``signal``); other keys are copied.
    fs_new : float
        Target sampling rate in Hz (> 0).

    Returns
    -------
    dict
        The same keys with ``signal``/``signal2`` at ``fs_new``, ``fs = fs_new`` and the
        mapped ``ann_sample``.

    Raises
    ------
    ValueError
        If ``fs_new`` is not a positive finite number.

    Examples
    --------
    >>> import numpy as np
    >>> rec = {"signal": np.zeros(3600), "signal2": None, "fs": 360.0,
    ...        "ann_sample": np.array([0, 360, 1001, 3599]), "ann_symbol": list("NNVN")}
    >>> r = resample_record(rec, 250)
    >>> r["fs"], r["signal"].size, r["ann_sample"].tolist(), r["ann_symbol"]
    (250.0, 2500, [0, 250, 695, 2499], ['N', 'N', 'V', 'N'])
    """
    fs_new = float(fs_new)
    if not (np.isfinite(fs_new) and fs_new > 0):
        raise ValueError(f"resample rate must be a positive number of Hz, got {fs_new:g}")
    fs = float(rec["fs"])
    ratio = Fraction(fs_new).limit_denominator(1000) / Fraction(fs).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    out = dict(rec)
    out["fs"] = fs_new
    if up == down:
        return out
    out["signal"] = sps.resample_poly(np.asarray(rec["signal"], dtype=float), up, down)
    if rec.get("signal2") is not None:
        out["signal2"] = sps.resample_poly(np.asarray(rec["signal2"], dtype=float), up, down)
    ann = np.rint(np.asarray(rec["ann_sample"], dtype=np.int64) * (fs_new / fs)).astype(np.int64)
    out["ann_sample"] = np.clip(ann, 0, max(out["signal"].size - 1, 0))
    return out


def stream_record(
    signal: np.ndarray, fs: float, chunk_s: float = CHUNK_S, signal2: np.ndarray | None = None
) -> list[BeatCandidate]:
    """Run a whole record through :class:`ECGBeatStream` in chunks; return every beat.

    With ``signal2`` every chunk also carries the second lead (beats then have ``wave2``).
    """
    s = ECGBeatStream(fs)
    n = max(1, int(round(chunk_s * fs)))
    out: list[BeatCandidate] = []
    for i in range(0, len(signal), n):
        out.extend(s.detect(signal[i : i + n], None if signal2 is None else signal2[i : i + n]))
    return out


def reference_beats(rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Reference beat samples and AAMI labels (non-beat annotations dropped)."""
    keep = [i for i, s in enumerate(rec["ann_symbol"]) if aami_class(s) is not None]
    return rec["ann_sample"][keep], np.array([aami_class(rec["ann_symbol"][i]) for i in keep])


def label_candidates(rec: dict[str, Any], beats: list[BeatCandidate]) -> tuple[np.ndarray, np.ndarray]:
    """AAMI reference label of each detected beat ('' when unmatched) and the scored mask."""
    ref, lab = reference_beats(rec)
    det = np.array([b.sample for b in beats], dtype=np.int64)
    _, t2r = beats_match(ref, det, rec["fs"])
    y = np.array([lab[j] if j >= 0 else "" for j in t2r])
    mask = scoring_mask(
        det, len(rec["signal"]), rec["fs"], vf_intervals(rec["ann_sample"], rec["ann_symbol"])
    )
    return y, mask


def score_record(rec: dict[str, Any], samples: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """EC57 beat-by-beat counts for one record (QRS, VEB, SVEB) and the confusion matrix."""
    fs, n = rec["fs"], len(rec["signal"])
    ex = vf_intervals(rec["ann_sample"], rec["ann_symbol"])
    ref, lab = reference_beats(rec)
    rm = scoring_mask(ref, n, fs, ex)
    ref, lab = ref[rm], lab[rm]
    det = np.asarray(samples, dtype=np.int64)
    pred = np.asarray(labels, dtype=object)
    dm = scoring_mask(det, n, fs, ex)
    det, pred = det[dm], pred[dm].astype(str) if dm.any() else np.array([], dtype=str)
    r2t, t2r = beats_match(ref, det, fs)
    qrs = {"tp": int(np.sum(r2t >= 0)), "fn": int(np.sum(r2t < 0)), "fp": int(np.sum(t2r < 0))}
    det_ref = np.array([lab[i] if i >= 0 else "" for i in t2r], dtype=str)
    classes = ["N", "S", "V", "F", "Q"]
    conf = [
        [
            int(
                np.sum(
                    (lab == a)
                    & np.array([r2t[i] >= 0 and pred[r2t[i]] == b for i in range(len(ref))], dtype=bool)
                )
            )
            for b in classes
        ]
        for a in classes
    ]
    return {
        "qrs": qrs,
        "veb": class_counts(det_ref, pred, "V", n_ref=int(np.sum(lab == "V"))),
        "sveb": class_counts(det_ref, pred, "S", n_ref=int(np.sum(lab == "S"))),
        "confusion": {"rows_ref_cols_pred": classes, "matrix": conf},
    }


def gross_stats(c: dict[str, int]) -> dict[str, Any]:
    """Se and +P (%, 3 decimals; None when undefined) with the ``tp``/``fn``/``fp`` counts."""
    out: dict[str, Any] = dict(se_ppv(c["tp"], c["fn"], c["fp"]))
    out.update(c)
    return {
        k: (None if isinstance(v, float) and np.isnan(v) else (round(v, 3) if isinstance(v, float) else v))
        for k, v in out.items()
    }


def evaluate_records(
    records_dir: str | Path,
    write_annotations_dir: str | Path | None = None,
    model_path: str | Path | None = None,
    chunk_s: float = CHUNK_S,
    max_seconds: float | None = None,
    leads: int = 2,
    resample_hz: float | None = None,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    on_record: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the streaming detector + classifier over every WFDB record with ``.atr`` in a folder.

    Parameters
    ----------
    records_dir : str or Path
        Folder with ``<name>.hea``, ``.dat`` and ``.atr`` files.
    write_annotations_dir : str or Path, optional
        When given, write ``<name>.wwd`` WFDB annotation files (detected beats, AAMI symbols).
    model_path : str or Path, optional
        A single-lead TFLite model to evaluate alone (every beat goes to it); by default the
        committed single- and two-lead models.
    chunk_s : float
        Chunk length fed to the stream, seconds.
    max_seconds : float, optional
        Evaluate only the first seconds of each record (quick checks, tests).
    leads : int
        2 (default): stream a record's second lead too, so beats go to the two-lead model as on
        a two-lead monitor; 1: the first lead only (the single-lead model).
    resample_hz : float, optional
        Resample every record to this rate first (:func:`resample_record`), to measure the
        stream at a monitor's sampling rate; by default each record's own rate.
    transform : callable, optional
        Applied to every record (the dict :func:`load_record` returns, after ``resample_hz``)
        before it is streamed and scored; returns the record to use, e.g. a signal condition
        from :data:`models.ecg.robustness.CONDITIONS`. Scoring uses the returned record's
        ``fs`` and ``ann_sample``.
    on_record : callable, optional
        Called with each record's name once it is scored (e.g. to advance a progress bar).

    Returns
    -------
    dict
        ``{"qrs": {"se","ppv","tp","fp","fn"}, "veb": {"se","ppv",...}, "sveb": {...},
        "records": {name: {...}}, "model_version": ..., "scoring": ...}``; percentages.
    """
    records_dir = Path(records_dir)
    names = record_names(records_dir)
    if leads not in (1, 2):
        raise ValueError(f"leads must be 1 or 2, got {leads}")
    if resample_hz is not None and not (np.isfinite(resample_hz) and resample_hz > 0):
        raise ValueError(f"resample rate must be a positive number of Hz, got {resample_hz:g}")
    steps: list[Callable[[dict[str, Any]], dict[str, Any]]] = (
        [partial(resample_record, fs_new=resample_hz)] if resample_hz is not None else []
    )
    steps += [transform] if transform is not None else []
    clf = BeatClassifier(model_path, model2_path=None if leads == 2 and model_path is None else False)
    tot = {k: {"tp": 0, "fn": 0, "fp": 0} for k in ("qrs", "veb", "sveb")}
    per: dict[str, Any] = {}
    conf_tot = np.zeros((5, 5), dtype=int)
    for name in names:
        rec = load_record(records_dir / name, max_seconds)
        for step in steps:
            rec = step(rec)
        beats = stream_record(rec["signal"], rec["fs"], chunk_s, rec["signal2"] if leads == 2 else None)
        labels, _ = clf.predict(beats, {}) if beats else ([], None)
        samples = np.array([b.sample for b in beats], dtype=np.int64)
        sc = score_record(rec, samples, labels)
        for k in tot:
            for c in ("tp", "fn", "fp"):
                tot[k][c] += sc[k][c]
        conf_tot += np.array(sc["confusion"]["matrix"])
        per[name] = {
            "fs": rec["fs"],
            "lead": rec["lead"],
            "lead2": rec["lead2"] if leads == 2 else None,
            "beats_detected": len(beats),
            "beats_two_lead": sum(b.wave2 is not None for b in beats),
            **{k: gross_stats(sc[k]) for k in ("qrs", "veb", "sveb")},
            "confusion": sc["confusion"],
        }
        log.info(
            "record %s: qrs %s veb %s sveb %s", name, per[name]["qrs"], per[name]["veb"], per[name]["sveb"]
        )
        if write_annotations_dir is not None:
            _write_wwd(Path(write_annotations_dir), name, rec["fs"], samples, labels)
        if on_record is not None:
            on_record(name)
    return {
        "qrs": gross_stats(tot["qrs"]),
        "veb": gross_stats(tot["veb"]),
        "sveb": gross_stats(tot["sveb"]),
        "confusion": {"rows_ref_cols_pred": ["N", "S", "V", "F", "Q"], "matrix": conf_tot.tolist()},
        "records": per,
        "model_version": clf.version,
        "scoring": (
            "AAMI EC57 beat-by-beat, 150 ms window; first/last 1 s and VF episodes excluded; "
            f"chunk_s={chunk_s:g}"
            + (f"; records resampled to {resample_hz:g} Hz" if resample_hz is not None else "")
        ),
    }


def _write_wwd(out_dir: Path, name: str, fs: float, samples: np.ndarray, labels: list[str]) -> None:
    import wfdb

    out_dir.mkdir(parents=True, exist_ok=True)
    if len(samples) == 0:
        log.warning("record %s: no beats detected, no annotation file written", name)
        return
    wfdb.wrann(
        name, "wwd", np.asarray(samples, dtype=np.int64), symbol=list(labels), fs=fs, write_dir=str(out_dir)
    )
