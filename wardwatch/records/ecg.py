"""The ECG chunk a bedside device sends, its validation and its sequence check (pure).

Wire format (one JSON object per Kafka message on topic ``ecg``, key = patient id, UTF-8)::

    {"patient_id": "P001", "bed": "ICU-01",
     "ts": "2026-11-25T10:00:00.000000+00:00",   # device time of the FIRST sample, ISO-8601, tz
     "fs_hz": 360,                               # sampling rate in Hz
     "seq": 42,                                  # chunk sequence number: 0, 1, 2, ... per stream
     "lead": "MLII",                             # lead the samples come from
     "ecg_uv": [-12, -10, ..., 35],              # samples, integer microvolts
     "lead2": "V1", "ecg2_uv": [3, 4, ..., -8]}  # OPTIONAL second lead, same samples' times

One message carries about one second of one lead (``fs_hz`` samples; at most
:data:`MAX_CHUNK_S` seconds). Samples are integers in microvolts (units in the name: a device
sending millivolts or ADC units must convert; a float sample is rejected, never rounded).
A monitor with more than one lead may add a second one (``lead2`` + ``ecg2_uv``, sample-aligned
with ``ecg_uv``: the same number of samples): beats are still detected on ``lead``, and the beat
classifier then also reads the second lead's morphology (a two-lead model; see
``models/ecg/MODEL_CARD.md``).

What is rejected (sent to ``deadletter`` with the reason and the original bytes), by
:func:`ecg_validate` (stateless) and :func:`ecg_sequence_check` (against the stream's last
accepted chunk):

====================  =============================================================
reason code           meaning
====================  =============================================================
malformed             not UTF-8 JSON, not an object, NaN/Infinity, wrong field types
missing_field         a required field is absent
unknown_field         a field not in the format (e.g. ``ecg_mv``: wrong unit)
key_mismatch          Kafka key differs from ``patient_id`` (wrong partition)
bad_timestamp         ``ts`` not ISO-8601, without timezone, or far in the future
bad_fs                ``fs_hz`` outside :data:`FS_RANGE_HZ`
unknown_lead          ``lead`` (or ``lead2``) not in :data:`LEADS`, or ``lead2`` equal to ``lead``
lead2_mismatch        only one of ``lead2`` / ``ecg2_uv``, or ``ecg2_uv`` not as long as ``ecg_uv``
empty_chunk           ``ecg_uv`` has no samples
chunk_too_long        more than :data:`MAX_CHUNK_S` seconds in one message
amplitude_impossible  a sample beyond +-:data:`MAX_ABS_UV` (not an ECG)
fs_mismatch           ``fs_hz`` differs from the stream's rate without a restart
duplicate             ``seq`` equal to the last accepted one (a re-delivery)
out_of_order          ``seq`` below the last accepted one (late chunk)
====================  =============================================================

A *gap* (``seq`` jumps ahead) is not a rejection: the chunk is analysed, the missing seconds
are reported (the agent sends a ``seq_gap`` record to ``deadletter`` with ``detail.missing`` and
``detail.processed = true``, see :class:`SeqVerdict`) and signal continuity (QRS detector, RR
intervals) restarts, because no beat or RR interval may be inferred across missing signal.
A ``seq`` that falls back to 0 with a later device time is a device restart (new stream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from wardwatch.records.errors import InvalidRecord
from wardwatch.records.wire import decode_object, patient_id_of, timestamp_of

REQUIRED = ("patient_id", "bed", "ts", "fs_hz", "seq", "lead", "ecg_uv")
OPTIONAL = ("lead2", "ecg2_uv")
#: Accepted sampling rates (Hz). Diagnostic/monitoring ECG: 100 Hz is the lowest rate at which
#: QRS morphology survives; 1 kHz covers pacemaker-spike capable front ends.
FS_RANGE_HZ = (100.0, 1000.0)
#: Longest chunk accepted in one message (seconds). Bedside feeds send ~1 s.
MAX_CHUNK_S = 5.0
#: Largest plausible sample magnitude (uV). IEC 60601-2-27 requires an input dynamic range of
#: +-5 mV; twice that is beyond any surface ECG, so a larger value is a unit or device error.
MAX_ABS_UV = 10_000
#: Leads a monitor may send: limb, augmented, precordial, and the modified limb leads of
#: Holter / MIT-BIH recordings.
LEADS = frozenset(
    {
        "I",
        "II",
        "III",
        "aVR",
        "aVL",
        "aVF",
        "V1",
        "V2",
        "V3",
        "V4",
        "V5",
        "V6",
        "MLI",
        "MLII",
        "MLIII",
        "MV1",
        "MV2",
        "MV3",
        "MV4",
        "MV5",
        "MV6",
    }
)
#: A device clock more than this ahead of the receiving worker is wrong.
MAX_FUTURE = timedelta(days=1)


@dataclass(frozen=True)
class ECGChunk:
    """One validated chunk of single-lead ECG.

    Attributes
    ----------
    ts : datetime
        Device time of the first sample (timezone-aware).
    ecg_uv : numpy.ndarray
        int32 samples in microvolts.
    """

    patient_id: str
    bed: str
    ts: datetime
    fs_hz: float
    seq: int
    lead: str
    ecg_uv: np.ndarray
    lead2: str | None = None
    ecg2_uv: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.ecg_uv.size)

    @property
    def duration_s(self) -> float:
        """Chunk duration in seconds."""
        return self.n / self.fs_hz

    @property
    def t0(self) -> float:
        """Device time of the first sample, POSIX seconds."""
        return self.ts.timestamp()

    @property
    def end_t(self) -> float:
        """Device time just after the last sample, POSIX seconds."""
        return self.t0 + self.duration_s

    def ecg_mv(self) -> np.ndarray:
        """Samples in millivolts (float64), what the QRS detector and classifier take."""
        return self.ecg_uv.astype(np.float64) / 1000.0

    def ecg2_mv(self) -> np.ndarray | None:
        """Second-lead samples in millivolts, None when the chunk has one lead."""
        return None if self.ecg2_uv is None else self.ecg2_uv.astype(np.float64) / 1000.0

    def to_dict(self) -> dict[str, Any]:
        """The wire format (round-trips through :func:`ecg_validate`)."""
        d = {
            "patient_id": self.patient_id,
            "bed": self.bed,
            "ts": self.ts.isoformat(),
            "fs_hz": self.fs_hz,
            "seq": self.seq,
            "lead": self.lead,
            "ecg_uv": self.ecg_uv.astype(int).tolist(),
        }
        if self.ecg2_uv is not None:
            d.update(lead2=self.lead2, ecg2_uv=self.ecg2_uv.astype(int).tolist())
        return d


def ecg_validate(raw: bytes | str, *, key: str | None = None, now: datetime | None = None) -> ECGChunk:
    """Decode and validate one ECG chunk (stateless checks).

    Parameters
    ----------
    raw : bytes or str
        The Kafka message value.
    key : str, optional
        The Kafka key; a chunk whose ``patient_id`` differs is rejected (it sits on another
        patient's partition, so its order is not guaranteed).
    now : datetime, optional
        Receiving wall-clock time, to reject device times more than :data:`MAX_FUTURE` ahead.

    Returns
    -------
    ECGChunk

    Raises
    ------
    InvalidRecord
        With one of the codes of :data:`wardwatch.records.errors.CODES`.

    Examples
    --------
    >>> import json
    >>> raw = json.dumps({"patient_id": "P1", "bed": "B1", "ts": "2026-01-01T00:00:00+00:00",
    ...                   "fs_hz": 360, "seq": 0, "lead": "II", "ecg_uv": [0, 5, 12] * 120})
    >>> ecg_validate(raw).n
    360
    """
    obj = decode_object(raw)
    missing = [f for f in REQUIRED if f not in obj]
    if missing:
        raise InvalidRecord("missing_field", f"missing {missing}", missing[0])
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        hint = (
            " (samples must be ecg_uv, integer microvolts)"
            if any(u.startswith("ecg") for u in unknown)
            else ""
        )
        raise InvalidRecord("unknown_field", f"unknown fields {unknown}{hint}", unknown[0])

    pid = patient_id_of(obj, key)
    bed = obj["bed"]
    if not isinstance(bed, str) or not bed.strip() or len(bed) > 64:
        raise InvalidRecord("malformed", "bed must be a non-empty string (<= 64 chars)", "bed")
    ts = timestamp_of(obj, "ts", now, MAX_FUTURE)

    fs = obj["fs_hz"]
    if isinstance(fs, bool) or not isinstance(fs, (int, float)) or not math.isfinite(fs):
        raise InvalidRecord("malformed", "fs_hz must be a number", "fs_hz")
    if not FS_RANGE_HZ[0] <= fs <= FS_RANGE_HZ[1]:
        raise InvalidRecord("bad_fs", f"fs_hz={fs} outside {FS_RANGE_HZ} Hz", "fs_hz")

    seq = obj["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidRecord("malformed", "seq must be a non-negative integer", "seq")

    lead, arr, lead2, arr2 = _leads(obj, fs)
    return ECGChunk(
        patient_id=pid,
        bed=bed,
        ts=ts,
        fs_hz=float(fs),
        seq=seq,
        lead=lead,
        ecg_uv=arr,
        lead2=lead2,
        ecg2_uv=arr2,
    )


def _leads(obj: dict[str, Any], fs: float) -> tuple[str, np.ndarray, str | None, np.ndarray | None]:
    """The lead(s) and their samples: ``(lead, ecg_uv, lead2, ecg2_uv)``."""
    lead = obj["lead"]
    if not isinstance(lead, str):
        raise InvalidRecord("malformed", "lead must be a string", "lead")
    if lead not in LEADS:
        raise InvalidRecord("unknown_lead", f"lead {lead[:16]!r} not in {sorted(LEADS)}", "lead")

    arr = _samples(obj["ecg_uv"], "ecg_uv", fs)
    lead2, arr2 = obj.get("lead2"), obj.get("ecg2_uv")
    if (lead2 is None) != (arr2 is None):
        raise InvalidRecord("lead2_mismatch", "lead2 and ecg2_uv come together", "lead2")
    if lead2 is not None:
        if not isinstance(lead2, str):
            raise InvalidRecord("malformed", "lead2 must be a string", "lead2")
        if lead2 not in LEADS or lead2 == lead:
            raise InvalidRecord(
                "unknown_lead", f"lead2 {lead2[:16]!r} not in {sorted(LEADS)} or equal to lead", "lead2"
            )
        arr2 = _samples(arr2, "ecg2_uv", fs)
        if arr2.size != arr.size:
            raise InvalidRecord(
                "lead2_mismatch", f"ecg2_uv has {arr2.size} samples, ecg_uv {arr.size}", "ecg2_uv"
            )
    return lead, arr, lead2, arr2


def _samples(samples: Any, name: str, fs: float) -> np.ndarray:
    """One lead's samples: a non-empty list of integer microvolts, at most MAX_CHUNK_S long."""
    if not isinstance(samples, list):
        raise InvalidRecord("malformed", f"{name} must be a list of integers", name)
    if not samples:
        raise InvalidRecord("empty_chunk", f"{name} has no samples", name)
    if len(samples) > MAX_CHUNK_S * fs:
        raise InvalidRecord(
            "chunk_too_long", f"{len(samples)} samples = {len(samples) / fs:.1f} s > {MAX_CHUNK_S} s", name
        )
    if set(map(type, samples)) != {int}:  # exactly int: bool is an int subclass
        raise InvalidRecord("malformed", f"{name} must hold integers (microvolts), not floats", name)
    try:
        arr = np.asarray(samples, dtype=np.int64)
    except OverflowError:  # an integer beyond 64 bits (JSON allows any size)
        raise InvalidRecord(
            "amplitude_impossible", f"{name} holds an integer beyond 64 bits (send microvolts)", name
        ) from None
    # max and min rather than abs: abs of the smallest int64 is itself negative
    peak = max(int(arr.max()), -int(arr.min()))
    if peak > MAX_ABS_UV:
        raise InvalidRecord(
            "amplitude_impossible", f"|{name}| up to {peak} uV > {MAX_ABS_UV} uV (send microvolts)", name
        )
    return arr.astype(np.int32)


@dataclass(frozen=True)
class SeqVerdict:
    """Outcome of :func:`ecg_sequence_check` for an accepted chunk.

    Attributes
    ----------
    kind : str
        ``"first"`` (no previous chunk), ``"next"`` (contiguous), ``"gap"`` (``missing`` chunks
        were never received) or ``"restart"`` (the device restarted its sequence).
    missing : int
        Number of missing chunks for a gap, else 0.
    """

    kind: str
    missing: int = 0

    @property
    def continuous(self) -> bool:
        """True when the signal continues the previous chunk without a break."""
        return self.kind == "next"


def ecg_sequence_check(chunk: ECGChunk, last: dict[str, Any] | None) -> SeqVerdict:
    """Check a chunk against the stream's last accepted chunk.

    Parameters
    ----------
    chunk : ECGChunk
    last : dict or None
        ``{"seq": int, "end_t": float (POSIX s), "fs_hz": float}`` of the last accepted chunk.

    Returns
    -------
    SeqVerdict

    Raises
    ------
    InvalidRecord
        ``duplicate``, ``out_of_order`` or ``fs_mismatch``.
    """
    if not last:
        return SeqVerdict("first")
    last_seq = int(last["seq"])
    restart = chunk.seq < last_seq and chunk.seq == 0 and chunk.t0 >= float(last["end_t"]) - 0.5
    if restart:
        return SeqVerdict("restart")
    if chunk.seq == last_seq:
        raise InvalidRecord("duplicate", f"seq {chunk.seq} already received")
    if chunk.seq < last_seq:
        raise InvalidRecord("out_of_order", f"seq {chunk.seq} after seq {last_seq}")
    if float(last["fs_hz"]) != chunk.fs_hz:
        raise InvalidRecord(
            "fs_mismatch", f"fs_hz={chunk.fs_hz:g} but this stream runs at {last['fs_hz']:g} Hz"
        )
    if chunk.seq == last_seq + 1:
        return SeqVerdict("next")
    return SeqVerdict("gap", missing=chunk.seq - last_seq - 1)


def ecg_chunk_dict(
    patient_id: str,
    bed: str,
    ts: datetime,
    fs_hz: float,
    seq: int,
    lead: str,
    ecg_uv: np.ndarray | list[int],
    lead2: str | None = None,
    ecg2_uv: np.ndarray | list[int] | None = None,
) -> dict[str, Any]:
    """Build one wire-format message (used by the simulators).

    Parameters
    ----------
    ecg_uv : array-like of int
        Samples in microvolts; converted with ``int()`` (callers round first).
    lead2, ecg2_uv : optional
        A second lead and its samples (sent only when both are given).
    """
    if ts.tzinfo is None:
        raise ValueError("ts must be timezone-aware")
    two = lead2 is not None and ecg2_uv is not None
    return ECGChunk(
        patient_id=patient_id,
        bed=bed,
        ts=ts,
        fs_hz=fs_hz,
        seq=int(seq),
        lead=lead,
        ecg_uv=np.asarray(ecg_uv).astype(np.int64),
        lead2=lead2 if two else None,
        ecg2_uv=np.asarray(ecg2_uv).astype(np.int64) if two else None,
    ).to_dict()


__all__ = [
    "LEADS",
    "MAX_ABS_UV",
    "ECGChunk",
    "SeqVerdict",
    "ecg_chunk_dict",
    "ecg_sequence_check",
    "ecg_validate",
]
