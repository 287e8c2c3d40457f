"""Validation of bedside vitals: bytes in, a :class:`VitalsReading` out, or a clear reason.

A value outside the physiological range is an error with a reason, never a silent clamp; a value
in another unit (Fahrenheit, SpO2 as a fraction) is an error naming the unit expected. The
ranges are the limits of what a bedside monitor can report for a living adult (wider than any
alarm limit), e.g. the measurement ranges of IEC 80601-2-30 (NIBP), ISO 80601-2-61 (SpO2) and
ISO 80601-2-56 (clinical thermometers).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from streams.vitals.news2 import ACVPU
from streams.vitals.records import MEASUREMENTS, NUMERIC, VitalsReading

# Inclusive physiologically possible ranges (not alarm limits).
RANGES: dict[str, tuple[float, float]] = {
    "hr_bpm": (0, 300),
    "spo2_pct": (0, 100),
    "rr_bpm": (0, 80),
    "sbp_mmhg": (30, 300),
    "dbp_mmhg": (10, 250),
    "temp_c": (25.0, 45.0),
}
# Fields in another unit that a device may send by mistake: rejected with the unit expected.
FOREIGN_UNITS = {
    "temp_f": "temp_c (degrees Celsius)", "temp": "temp_c (degrees Celsius)",
    "temperature": "temp_c (degrees Celsius)", "spo2": "spo2_pct (percent)",
    "hr": "hr_bpm", "heart_rate": "hr_bpm", "rr": "rr_bpm", "resp_rate": "rr_bpm",
    "sbp": "sbp_mmhg", "dbp": "dbp_mmhg", "sbp_kpa": "sbp_mmhg", "dbp_kpa": "dbp_mmhg",
}
ALLOWED = {"patient_id", "bed", "ts", "spo2_scale", *MEASUREMENTS}
MAX_FUTURE = timedelta(minutes=5)


class InvalidReading(ValueError):
    """A reading that must go to the dead-letter topic; ``reason`` says why."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _reject_constant(name: str) -> float:
    raise InvalidReading(f"non-finite number {name} is not a measurement")


def vitals_decode(raw: bytes) -> dict[str, Any]:
    """Parse one message as a JSON object (NaN and Infinity are rejected)."""
    try:
        obj = json.loads(raw, parse_constant=_reject_constant)
    except InvalidReading:
        raise
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidReading(f"malformed JSON: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidReading(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def check_fields(obj: dict[str, Any], required: set[str], allowed: set[str]) -> None:
    """Reject a record missing a required field or carrying an unknown one."""
    missing = sorted(required - set(obj))
    if missing:
        raise InvalidReading(f"missing fields {missing}", missing[0])
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InvalidReading(f"unknown fields {unknown}", unknown[0])


def patient_id_of(obj: dict[str, Any], key: str | None) -> str:
    """The record's ``patient_id``: a non-empty string of at most 64 characters that equals the
    Kafka key (a record keyed otherwise would sit on another patient's partition)."""
    pid = obj.get("patient_id")
    if not isinstance(pid, str) or not pid.strip() or len(pid) > 64:
        raise InvalidReading("patient_id must be a non-empty string of at most 64 characters",
                             "patient_id")
    if key is not None and key != pid:
        raise InvalidReading("message key does not match patient_id", "patient_id")
    return pid


def timestamp_of(obj: dict[str, Any], field: str, now: datetime | None) -> datetime:
    """``obj[field]`` as a timezone-aware datetime, at most 5 minutes after ``now``."""
    raw = obj.get(field)
    if not isinstance(raw, str):
        raise InvalidReading(f"{field} must be an ISO-8601 timestamp string", field)
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidReading(f"{field} is not ISO-8601: {raw[:40]!r}", field) from None
    if ts.tzinfo is None:
        raise InvalidReading(f"{field} has no timezone (time must be UTC or carry an offset)", field)
    if now is not None and ts - now > MAX_FUTURE:
        raise InvalidReading(f"{field} is {(ts - now).total_seconds():.0f}s in the future", field)
    return ts


def _number(obj: dict[str, Any], name: str) -> float | None:
    v = obj.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidReading(f"{name} must be a number, got {v!r}", name)
    if not math.isfinite(v):
        raise InvalidReading(f"{name} is not finite", name)
    return float(v)


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
    InvalidReading with the reason.
    """
    obj = vitals_decode(raw)
    for f, expected in FOREIGN_UNITS.items():
        if f in obj:
            raise InvalidReading(f"field {f!r} is not accepted: send {expected}", f)
    check_fields(obj, set(), ALLOWED)

    pid = patient_id_of(obj, key)
    bed = obj.get("bed")
    if not isinstance(bed, str) or not bed.strip():
        raise InvalidReading("bed must be a non-empty string", "bed")

    ts = timestamp_of(obj, "ts", now)

    values: dict[str, Any] = {}
    for name in NUMERIC:
        v = _number(obj, name)
        if v is None:
            continue
        if name == "spo2_pct" and 0 < v <= 1 and not float(v).is_integer():
            raise InvalidReading(f"spo2_pct={v} looks like a fraction: send percent (0-100)", name)
        if name == "temp_c" and 77 <= v <= 113:
            raise InvalidReading(f"temp_c={v} looks like Fahrenheit: send degrees Celsius", name)
        lo, hi = RANGES[name]
        if not lo <= v <= hi:
            raise InvalidReading(f"{name}={v} outside the physiological range [{lo}, {hi}]", name)
        values[name] = v
    if "sbp_mmhg" in values and "dbp_mmhg" in values and values["dbp_mmhg"] >= values["sbp_mmhg"]:
        raise InvalidReading(
            f"dbp_mmhg={values['dbp_mmhg']} is not below sbp_mmhg={values['sbp_mmhg']}", "dbp_mmhg")

    scale = obj.get("spo2_scale", 1)
    if scale not in (1, 2) or isinstance(scale, bool):
        raise InvalidReading(f"spo2_scale must be 1 or 2, got {scale!r}", "spo2_scale")
    o2 = obj.get("o2")
    if o2 is not None and o2 not in ("air", "oxygen"):
        raise InvalidReading(f"o2 must be 'air' or 'oxygen', got {o2!r}", "o2")
    acvpu = obj.get("acvpu")
    if acvpu is not None and acvpu not in ACVPU:
        raise InvalidReading(f"acvpu must be one of {list(ACVPU)}, got {acvpu!r}", "acvpu")
    if not values and o2 is None and acvpu is None:
        raise InvalidReading("reading carries no measurement")

    return VitalsReading(patient_id=pid, bed=bed, ts=ts, spo2_scale=int(scale), o2=o2,
                         acvpu=acvpu, **values)


def vitals_order_check(reading: VitalsReading, last_ts: str | None,
                       last_reading: dict[str, Any] | None = None) -> None:
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
            raise InvalidReading("duplicate reading (same device time and content)", "ts")
        raise InvalidReading("conflicting reading: same device time as the last one, other values", "ts")
    lag = (prev - reading.ts).total_seconds()
    raise InvalidReading(f"out of order: {lag:.0f}s older than the last accepted reading", "ts")


__all__ = ["InvalidReading", "RANGES", "vitals_decode", "vitals_order_check", "vitals_validate"]
