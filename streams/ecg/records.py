"""The ECG chunk a bedside device sends, its validation and its sequence check.

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

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

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
LEADS = frozenset({"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
                   "MLI", "MLII", "MLIII", "MV1", "MV2", "MV3", "MV4", "MV5", "MV6"})
#: A device clock more than this ahead of the receiving worker is wrong.
MAX_FUTURE = timedelta(days=1)

REASONS = ("malformed", "missing_field", "unknown_field", "key_mismatch", "bad_timestamp",
           "bad_fs", "unknown_lead", "lead2_mismatch", "empty_chunk", "chunk_too_long",
           "amplitude_impossible",
           "fs_mismatch", "duplicate", "out_of_order")


class InvalidChunk(ValueError):
    """A chunk that goes to the dead-letter topic.

    Parameters
    ----------
    code : str
        One of :data:`REASONS`.
    message : str
        Human-readable detail (no sample values, no patient id).
    """

    def __init__(self, code: str, message: str):
        if code not in REASONS:
            raise ValueError(f"unknown reason code {code!r}; valid: {REASONS}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        """``"<code>: <message>"``, the dead-letter ``reason`` field."""
        return f"{self.code}: {self.message}"


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
        d = {"patient_id": self.patient_id, "bed": self.bed, "ts": self.ts.isoformat(),
             "fs_hz": self.fs_hz, "seq": self.seq, "lead": self.lead,
             "ecg_uv": self.ecg_uv.astype(int).tolist()}
        if self.ecg2_uv is not None:
            d.update(lead2=self.lead2, ecg2_uv=self.ecg2_uv.astype(int).tolist())
        return d


def _reject_constant(name: str) -> float:
    raise InvalidChunk("malformed", f"non-finite number {name}")


def ecg_decode(raw: bytes | str) -> dict[str, Any]:
    """Parse one message as a JSON object.

    Raises
    ------
    InvalidChunk
        ``malformed`` for bytes that are not a UTF-8 JSON object.
    """
    try:
        obj = json.loads(raw, parse_constant=_reject_constant)
    except InvalidChunk:
        raise
    except (ValueError, UnicodeDecodeError, TypeError) as e:
        raise InvalidChunk("malformed", f"not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidChunk("malformed", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def ecg_validate(raw: bytes | str, *, key: str | None = None,
                 now: datetime | None = None) -> ECGChunk:
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
    InvalidChunk
        With one of :data:`REASONS`.

    Examples
    --------
    >>> from simulators.ecg_synth import synth_ecg
    >>> sig, _ = synth_ecg(2.0, fs=360.0, seed=1)
    >>> raw = json.dumps({"patient_id": "P1", "bed": "B1", "ts": "2026-01-01T00:00:00+00:00",
    ...                   "fs_hz": 360, "seq": 0, "lead": "II", "ecg_uv": sig[:360].tolist()})
    >>> ecg_validate(raw).n
    360
    """
    obj = ecg_decode(raw)
    missing = [f for f in REQUIRED if f not in obj]
    if missing:
        raise InvalidChunk("missing_field", f"missing {missing}")
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        hint = " (samples must be ecg_uv, integer microvolts)" if any(
            u.startswith("ecg") for u in unknown) else ""
        raise InvalidChunk("unknown_field", f"unknown fields {unknown}{hint}")

    pid, bed = obj["patient_id"], obj["bed"]
    if not isinstance(pid, str) or not pid.strip() or len(pid) > 64:
        raise InvalidChunk("malformed", "patient_id must be a non-empty string (<= 64 chars)")
    if key is not None and key != pid:
        raise InvalidChunk("key_mismatch", "message key does not match patient_id")
    if not isinstance(bed, str) or not bed.strip() or len(bed) > 64:
        raise InvalidChunk("malformed", "bed must be a non-empty string (<= 64 chars)")

    ts_raw = obj["ts"]
    if not isinstance(ts_raw, str):
        raise InvalidChunk("bad_timestamp", "ts must be an ISO-8601 string")
    try:
        ts = datetime.fromisoformat(ts_raw)
    except ValueError:
        raise InvalidChunk("bad_timestamp", f"ts is not ISO-8601: {ts_raw[:40]!r}") from None
    if ts.tzinfo is None:
        raise InvalidChunk("bad_timestamp", "ts has no timezone")
    if now is not None and ts - now > MAX_FUTURE:
        raise InvalidChunk("bad_timestamp",
                           f"ts is {(ts - now).total_seconds():.0f} s ahead of the receiver")

    fs = obj["fs_hz"]
    if isinstance(fs, bool) or not isinstance(fs, (int, float)) or not math.isfinite(fs):
        raise InvalidChunk("malformed", "fs_hz must be a number")
    if not FS_RANGE_HZ[0] <= fs <= FS_RANGE_HZ[1]:
        raise InvalidChunk("bad_fs", f"fs_hz={fs} outside {FS_RANGE_HZ} Hz")

    seq = obj["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidChunk("malformed", "seq must be a non-negative integer")

    lead = obj["lead"]
    if not isinstance(lead, str):
        raise InvalidChunk("malformed", "lead must be a string")
    if lead not in LEADS:
        raise InvalidChunk("unknown_lead", f"lead {lead[:16]!r} not in {sorted(LEADS)}")

    arr = _samples(obj["ecg_uv"], "ecg_uv", fs)
    lead2, arr2 = obj.get("lead2"), obj.get("ecg2_uv")
    if (lead2 is None) != (arr2 is None):
        raise InvalidChunk("lead2_mismatch", "lead2 and ecg2_uv come together")
    if lead2 is not None:
        if not isinstance(lead2, str):
            raise InvalidChunk("malformed", "lead2 must be a string")
        if lead2 not in LEADS or lead2 == lead:
            raise InvalidChunk("unknown_lead", f"lead2 {lead2[:16]!r} not in {sorted(LEADS)} "
                                               "or equal to lead")
        arr2 = _samples(arr2, "ecg2_uv", fs)
        if arr2.size != arr.size:
            raise InvalidChunk("lead2_mismatch", f"ecg2_uv has {arr2.size} samples, ecg_uv {arr.size}")
    return ECGChunk(patient_id=pid, bed=bed, ts=ts, fs_hz=float(fs), seq=seq, lead=lead,
                    ecg_uv=arr, lead2=lead2, ecg2_uv=arr2)


def _samples(samples: Any, name: str, fs: float) -> np.ndarray:
    """One lead's samples: a non-empty list of integer microvolts, at most MAX_CHUNK_S long."""
    if not isinstance(samples, list):
        raise InvalidChunk("malformed", f"{name} must be a list of integers")
    if not samples:
        raise InvalidChunk("empty_chunk", f"{name} has no samples")
    if len(samples) > MAX_CHUNK_S * fs:
        raise InvalidChunk("chunk_too_long",
                           f"{len(samples)} samples = {len(samples) / fs:.1f} s > {MAX_CHUNK_S} s")
    if not all(type(v) is int for v in samples):
        raise InvalidChunk("malformed", f"{name} must hold integers (microvolts), not floats")
    arr = np.asarray(samples, dtype=np.int64)
    peak = int(np.abs(arr).max())
    if peak > MAX_ABS_UV:
        raise InvalidChunk("amplitude_impossible",
                           f"|{name}| up to {peak} uV > {MAX_ABS_UV} uV (send microvolts)")
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
    InvalidChunk
        ``duplicate``, ``out_of_order`` or ``fs_mismatch``.
    """
    if not last:
        return SeqVerdict("first")
    last_seq = int(last["seq"])
    restart = chunk.seq < last_seq and chunk.seq == 0 and chunk.t0 >= float(last["end_t"]) - 0.5
    if restart:
        return SeqVerdict("restart")
    if chunk.seq == last_seq:
        raise InvalidChunk("duplicate", f"seq {chunk.seq} already received")
    if chunk.seq < last_seq:
        raise InvalidChunk("out_of_order", f"seq {chunk.seq} after seq {last_seq}")
    if float(last["fs_hz"]) != chunk.fs_hz:
        raise InvalidChunk("fs_mismatch",
                           f"fs_hz={chunk.fs_hz:g} but this stream runs at {last['fs_hz']:g} Hz")
    if chunk.seq == last_seq + 1:
        return SeqVerdict("next")
    return SeqVerdict("gap", missing=chunk.seq - last_seq - 1)


def ecg_chunk_dict(patient_id: str, bed: str, ts: datetime, fs_hz: float, seq: int, lead: str,
                   ecg_uv: np.ndarray | list[int], lead2: str | None = None,
                   ecg2_uv: np.ndarray | list[int] | None = None) -> dict[str, Any]:
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
    return ECGChunk(patient_id=patient_id, bed=bed, ts=ts, fs_hz=fs_hz, seq=int(seq), lead=lead,
                    ecg_uv=np.asarray(ecg_uv).astype(np.int64),
                    lead2=lead2 if two else None,
                    ecg2_uv=np.asarray(ecg2_uv).astype(np.int64) if two else None).to_dict()


__all__ = [
    "LEADS",
    "MAX_ABS_UV",
    "REASONS",
    "ECGChunk",
    "InvalidChunk",
    "SeqVerdict",
    "ecg_chunk_dict",
    "ecg_decode",
    "ecg_sequence_check",
    "ecg_validate",
]
