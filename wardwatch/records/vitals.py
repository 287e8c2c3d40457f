"""The vitals reading a bedside device sends, and its validation: bytes in, a reading out.

Wire format (JSON object, one per Kafka message, key = patient id)::

    {"patient_id": "P001", "bed": "ICU-01", "ts": "2026-11-25T10:00:00+00:00",
     "hr_bpm": 72, "spo2_pct": 97, "spo2_scale": 1, "rr_bpm": 14,
     "sbp_mmhg": 124, "dbp_mmhg": 78, "map_mmhg": 93, "temp_c": 36.8, "o2": "air", "acvpu": "A"}

Every measurement is optional (a monitor sends HR/SpO2/RR each second, NIBP every few minutes,
temperature and ACVPU when a nurse records them); at least one must be present. ``map_mmhg`` is
the mean arterial pressure the device measured (oscillometric NIBP measures the mean directly;
an arterial line integrates it); it is not derived here. Units are in
the names; other units (``temp_f``, ``spo2`` as a fraction) are rejected, never converted
silently.

A value outside the physiological range is an error with a reason, never a silent clamp; a value
in another unit (Fahrenheit, SpO2 as a fraction) is an error naming the unit expected. The
ranges are the limits of what a bedside monitor can report for a living adult (wider than any
alarm limit), e.g. the measurement ranges of IEC 80601-2-30 (NIBP), ISO 80601-2-61 (SpO2) and
ISO 80601-2-56 (clinical thermometers).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from wardwatch.records.errors import InvalidRecord
from wardwatch.records.wire import check_fields, decode_object, number_of, patient_id_of, timestamp_of

MEASUREMENTS = ("hr_bpm", "spo2_pct", "rr_bpm", "sbp_mmhg", "dbp_mmhg", "map_mmhg", "temp_c", "o2", "acvpu")
NUMERIC = ("hr_bpm", "spo2_pct", "rr_bpm", "sbp_mmhg", "dbp_mmhg", "map_mmhg", "temp_c")
#: Levels of consciousness (ACVPU: alert, new confusion, voice, pain, unresponsive), RCP 2017.
ACVPU = ("A", "C", "V", "P", "U")


@dataclass(frozen=True)
class VitalsReading:
    patient_id: str
    bed: str
    ts: datetime  # device time, timezone-aware
    hr_bpm: float | None = None
    spo2_pct: float | None = None
    spo2_scale: int = 1  # NEWS2 SpO2 scale: 1, or 2 for hypercapnic respiratory failure
    rr_bpm: float | None = None
    sbp_mmhg: float | None = None
    dbp_mmhg: float | None = None
    map_mmhg: float | None = None
    temp_c: float | None = None
    o2: str | None = None  # "air" or "oxygen"
    acvpu: str | None = None  # "A", "C", "V", "P" or "U"

    def measurements(self) -> dict[str, Any]:
        """The measurements this reading carries (None left out)."""
        d = self.__dict__  # the fields, read without getattr (twice a reading in the worker)
        return {k: d[k] for k in MEASUREMENTS if d[k] is not None}

    @property
    def ts_iso(self) -> str:
        """``ts.isoformat()``, made once: the state, the deterioration features and the alert
        conditions each want it (~1.6 us a call on the project's machines, three or more
        calls a reading). Kept beside the fields, not as one: equality and ``to_dict`` are
        unchanged. (``functools.cached_property`` takes a lock per read on Python 3.11.)"""
        d = self.__dict__
        iso = d.get("_ts_iso")
        if iso is None:
            iso = d["_ts_iso"] = self.ts.isoformat()
        return iso

    def to_dict(self) -> dict[str, Any]:
        """Every field in declaration order, ``ts`` as ISO text (what ``dataclasses.asdict``
        gives, without its deep copy: every field is an immutable scalar; three calls per
        reading made asdict 7 % of the worker's time under load)."""
        f = self.__dict__
        d = {name: f[name] for name in _FIELD_NAMES}
        d["ts"] = self.ts_iso
        return d


_FIELD_NAMES = tuple(f.name for f in fields(VitalsReading))


# Inclusive physiologically possible ranges (not alarm limits).
RANGES: dict[str, tuple[float, float]] = {
    "hr_bpm": (0, 300),
    "spo2_pct": (0, 100),
    "rr_bpm": (0, 80),
    "sbp_mmhg": (30, 300),
    "dbp_mmhg": (10, 250),
    "map_mmhg": (15, 250),  # the deterioration model's plausibility bound for MAP
    "temp_c": (25.0, 45.0),
}
# Fields in another unit that a device may send by mistake: rejected with the unit expected.
FOREIGN_UNITS = {
    "temp_f": "temp_c (degrees Celsius)",
    "temp": "temp_c (degrees Celsius)",
    "temperature": "temp_c (degrees Celsius)",
    "spo2": "spo2_pct (percent)",
    "hr": "hr_bpm",
    "heart_rate": "hr_bpm",
    "rr": "rr_bpm",
    "resp_rate": "rr_bpm",
    "sbp": "sbp_mmhg",
    "dbp": "dbp_mmhg",
    "sbp_kpa": "sbp_mmhg",
    "dbp_kpa": "dbp_mmhg",
    "map": "map_mmhg",
    "mean_mmhg": "map_mmhg",
}
ALLOWED = {"patient_id", "bed", "ts", "spo2_scale", *MEASUREMENTS}


def vitals_validate(raw: bytes, *, key: str | None = None, now: datetime | None = None) -> VitalsReading:
    """Decode and validate one vitals message.

    Parameters
    ----------
    raw : the message value as received.
    key : the Kafka key (patient id); a record whose ``patient_id`` differs is rejected, since
        it would sit on another patient's partition.
    now : wall-clock time, to reject device timestamps more than 5 minutes in the future.

    Raises
    ------
    InvalidRecord with its code, field and reason.
    """
    obj = decode_object(raw)
    for f, expected in FOREIGN_UNITS.items():
        if f in obj:
            raise InvalidRecord("wrong_unit", f"field {f!r} is not accepted: send {expected}", f)
    check_fields(obj, set(), ALLOWED)

    pid = patient_id_of(obj, key)
    bed = obj.get("bed")
    if not isinstance(bed, str) or not bed.strip():
        raise InvalidRecord("malformed", "bed must be a non-empty string", "bed")

    ts = timestamp_of(obj, "ts", now)

    values = _measurements(obj)
    scale = obj.get("spo2_scale", 1)
    if scale not in (1, 2) or isinstance(scale, bool):
        raise InvalidRecord("bad_value", f"spo2_scale must be 1 or 2, got {scale!r}", "spo2_scale")
    o2 = obj.get("o2")
    if o2 is not None and o2 not in ("air", "oxygen"):
        raise InvalidRecord("bad_value", f"o2 must be 'air' or 'oxygen', got {o2!r}", "o2")
    acvpu = obj.get("acvpu")
    if acvpu is not None and acvpu not in ACVPU:
        raise InvalidRecord("bad_value", f"acvpu must be one of {list(ACVPU)}, got {acvpu!r}", "acvpu")
    if not values and o2 is None and acvpu is None:
        raise InvalidRecord("no_measurement", "reading carries no measurement")

    return VitalsReading(patient_id=pid, bed=bed, ts=ts, spo2_scale=int(scale), o2=o2, acvpu=acvpu, **values)


def _measurements(obj: dict[str, Any]) -> dict[str, float]:
    """The numeric measurements, each in its unit and physiologically possible."""
    values: dict[str, float] = {}
    for name in NUMERIC:
        v = number_of(obj, name)
        if v is None:
            continue
        if name == "spo2_pct" and 0 < v <= 1 and not float(v).is_integer():
            raise InvalidRecord(
                "wrong_unit", f"spo2_pct={v} looks like a fraction: send percent (0-100)", name
            )
        if name == "temp_c" and 77 <= v <= 113:
            raise InvalidRecord("wrong_unit", f"temp_c={v} looks like Fahrenheit: send degrees Celsius", name)
        lo, hi = RANGES[name]
        if not lo <= v <= hi:
            raise InvalidRecord(
                "out_of_range", f"{name}={v} outside the physiological range [{lo}, {hi}]", name
            )
        values[name] = v
    if "sbp_mmhg" in values and "dbp_mmhg" in values and values["dbp_mmhg"] >= values["sbp_mmhg"]:
        raise InvalidRecord(
            "out_of_range",
            f"dbp_mmhg={values['dbp_mmhg']} is not below sbp_mmhg={values['sbp_mmhg']}",
            "dbp_mmhg",
        )
    m = values.get("map_mmhg")
    if m is not None and (
        ("dbp_mmhg" in values and m < values["dbp_mmhg"]) or ("sbp_mmhg" in values and m > values["sbp_mmhg"])
    ):
        raise InvalidRecord(
            "out_of_range",
            f"map_mmhg={m} is not between dbp_mmhg={values.get('dbp_mmhg')} and "
            f"sbp_mmhg={values.get('sbp_mmhg')}",
            "map_mmhg",
        )
    return values


def vitals_order_check(
    reading: VitalsReading, last_ts: str | None, last_reading: dict[str, Any] | None = None
) -> None:
    """Reject a duplicate or out-of-order reading of one patient's stream.

    A reading is in order when its device time is strictly after the last accepted one.
    Same time and same content is a duplicate (a re-delivery); same time with other content is
    a conflict; an earlier time is late/out of order. All three go to the dead-letter topic.
    """
    if last_ts is None:
        return
    prev = datetime.fromisoformat(last_ts)
    if reading.ts > prev:
        return
    if reading.ts == prev:
        if last_reading is not None and last_reading == reading.to_dict():
            raise InvalidRecord("duplicate", "duplicate reading (same device time and content)", "ts")
        raise InvalidRecord("conflicting", "same device time as the last one, other values", "ts")
    lag = (prev - reading.ts).total_seconds()
    raise InvalidRecord("out_of_order", f"{lag:.0f}s older than the last accepted reading", "ts")
