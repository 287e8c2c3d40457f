"""Replay WFDB records (e.g. MIT-BIH) as live bedside ECG feeds on the ``ecg`` topic.

One bed per record; with more beds than records the records are reused (each bed is its own
patient id). The lead sent is ``MLII`` when the record has it (the lead the beat classifier is
trained on; MIT-BIH record 114 stores it second), else channel 0; the record's other lead goes
in the same chunks as the second lead (``lead2``/``ecg2_uv``: V1 in most MIT-BIH records), for the
two-lead beat model. Samples are converted from physical millivolts to integer microvolts.

Device timestamps start at the replay start (or ``start``) and advance with the signal, so at
``speed`` 10 the device clocks run ten times faster than the wall clock, as a recorded feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from simulators.ecg_feed import BedFeed, PlayStats, play


def load_feed(
    path: Path | str, patient_id: str, bed: str, start_s: float = 0.0, seconds: float | None = None
) -> BedFeed:
    """Read one WFDB record into a :class:`BedFeed`.

    Parameters
    ----------
    path : path without extension, e.g. ``.../mitdb-ds1/207``.
    start_s : float
        Start this many seconds into the record.
    seconds : float, optional
        Read at most this many seconds.
    """
    import wfdb

    from models.ecg.evaluate import record_leads

    hdr = wfdb.rdheader(str(path))
    chans = [c for c in record_leads(hdr.sig_name) if c is not None]  # first (+ second) lead
    fs = float(hdr.fs)
    sampfrom = round(start_s * fs)
    sampto = hdr.sig_len if seconds is None else min(hdr.sig_len, sampfrom + round(seconds * fs))
    if sampfrom >= sampto:
        raise ValueError(f"start_s={start_s} is past the end of {path}")
    rec = wfdb.rdrecord(str(path), channels=chans, sampfrom=sampfrom, sampto=sampto)
    uv = []
    for j in range(len(chans)):
        units = (rec.units[j] or "mV").lower()
        scale = {"mv": 1000.0, "uv": 1.0, "v": 1e6}.get(units)
        if scale is None:
            raise ValueError(f"{path}: unknown signal unit {rec.units[j]!r}")
        uv.append(np.round(np.nan_to_num(rec.p_signal[:, j] * scale)).astype(np.int32))
    truth: list[tuple[int, str]] = []
    try:
        ann = wfdb.rdann(str(path), "atr", sampfrom=sampfrom, sampto=sampto)
        truth = [(int(s) - sampfrom, sym) for s, sym in zip(ann.sample, ann.symbol, strict=True)]
    except FileNotFoundError:
        pass
    two = len(chans) > 1
    return BedFeed(
        patient_id=patient_id,
        bed=bed,
        fs_hz=fs,
        lead=rec.sig_name[0],
        signal_uv=uv[0],
        truth=truth,
        source=f"wfdb:{Path(path).name}",
        lead2=rec.sig_name[1] if two else None,
        signal2_uv=uv[1] if two else None,
    )


def replay_feeds(
    records_dir: Path | str,
    beds: int | None = None,
    *,
    only: Sequence[str] | None = None,
    start_s: float = 0.0,
    seconds: float | None = None,
    prefix: str = "MITDB",
) -> list[BedFeed]:
    """Load the feeds for a replay.

    Parameters
    ----------
    records_dir : directory of WFDB records.
    beds : int, optional
        Number of beds (default: one per record).
    only : record names to use (default: all in the directory).
    prefix : str
        Patient ids are ``f"{prefix}-{record}-{i:03d}"``, beds ``f"ECG-{i + 1:03d}"``.
    """
    from models.ecg.evaluate import record_names

    names = list(only) if only else record_names(records_dir, annotated=False)
    n = beds or len(names)
    cache: dict[str, BedFeed] = {}
    feeds = []
    for i in range(n):
        name = names[i % len(names)]
        if name not in cache:
            cache[name] = load_feed(Path(records_dir) / name, "", "", start_s, seconds)
        f = cache[name]
        feeds.append(
            BedFeed(
                patient_id=f"{prefix}-{name}-{i:03d}",
                bed=f"ECG-{i + 1:03d}",
                fs_hz=f.fs_hz,
                lead=f.lead,
                signal_uv=f.signal_uv,
                truth=f.truth,
                source=f.source,
                lead2=f.lead2,
                signal2_uv=f.signal2_uv,
            )
        )
    return feeds


def replay_ecg(
    records_dir: Path | str,
    *,
    speed: float = 1.0,
    beds: int | None = None,
    seconds: float | None = None,
    start_s: float = 0.0,
    only: Sequence[str] | None = None,
    prefix: str = "MITDB",
    start: datetime | None = None,
) -> PlayStats:
    """Replay records as live feeds (what ``wardwatch replay ecg`` runs).

    Parameters
    ----------
    speed : float
        1.0 real time; larger is faster; 0 = as fast as possible.
    seconds : float, optional
        Seconds of each record to replay (from ``start_s``).
    """
    feeds = replay_feeds(records_dir, beds, only=only, start_s=start_s, seconds=seconds, prefix=prefix)
    return play(feeds, speed=speed, seconds=seconds, start=start)


__all__ = ["load_feed", "replay_ecg", "replay_feeds"]
