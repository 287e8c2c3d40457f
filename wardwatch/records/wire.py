"""JSON decoding and the field checks every record's validation shares (pure).

Each raises :class:`~wardwatch.records.errors.InvalidRecord` with its code and field.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import orjson

from wardwatch.records.errors import InvalidRecord

#: A device clock this far ahead of the receiving worker is wrong (vitals, labs, admissions).
MAX_FUTURE = timedelta(minutes=5)


def _reject_constant(name: str) -> float:
    raise InvalidRecord("malformed", f"non-finite number {name}")


#: one decoder for every finite parse (``json.loads`` with ``parse_constant`` builds a new one
#: per call, ~2 us of a ~10 us vitals record)
_FINITE = json.JSONDecoder(parse_constant=_reject_constant)


#: every digit to "0", "-" to itself, every other byte to " ": an integer literal that may be
#: beyond 64 bits, which orjson reads as a float where ``json`` reads an int, is then a run of
#: 20 digits (``_LONG``; 2**64 has 20) or "-" and 19 digits (``_LONG_NEG``; -2**63 has 19).
#: Shorter literals fit in 64 bits, which orjson reads exactly (probed with orjson 3.13: it
#: reads -2**63 and 2**64 - 1 as ints, one beyond either as a float): so InfluxDB points'
#: 19-digit nanosecond times take the fast path. A C scan, ~0.3 us a record, where a regular
#: expression took ~2.4 us.
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2D if b == 0x2D else 0x20 for b in range(256))
_LONG = b"0" * 20
_LONG_NEG = b"-" + b"0" * 19
_SLOW = object()  #: :func:`_fast`'s "ask json"


def _fast(raw: bytes | bytearray | str) -> Any:
    """orjson's parse of ``raw`` when it is certainly the one ``json`` gives, else ``_SLOW``.

    orjson (C, ~1 us a vitals record against ~4 us) refuses everything it does not read exactly
    as ``json`` does (NaN, Infinity, 1e400, lone surrogates, a BOM, other encodings) *except*
    integer literals beyond 64 bits, which it reads as floats: input with a run of 20 digits, or
    "-" and 19, takes the ``json`` path. A refusal is not final: the ``json`` path decides, with its message.
    """
    scan = (raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw).translate(_DIGITS)
    if _LONG in scan or _LONG_NEG in scan:
        return _SLOW
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _SLOW


def _int64(text: str) -> int:
    """An integer the JSON codec that writes the outputs can write again (orjson, Faust's codec
    where it is installed, refuses integers outside the signed and unsigned 64-bit ranges: such
    a value, echoed into an output, failed every send and stalled its partition)."""
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise InvalidRecord("malformed", "integer beyond 64 bits")
    return value


def decode_json(raw: bytes | str, *, finite: bool = True) -> Any:
    """Parse one message as JSON; ``finite=False`` reads NaN and Infinity as Python's own
    ``json`` does (what Faust's JSON codec handed the agents of the internal topics), and
    refuses integers beyond 64 bits (:func:`_int64`).

    >>> decode_json(b'{"n": 18446744073709551616}', finite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    wardwatch.records.errors.InvalidRecord: malformed: integer beyond 64 bits

    >>> decode_json(b'[1, 2]')
    [1, 2]
    >>> decode_json(b'{"a": 1')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    wardwatch.records.errors.InvalidRecord: malformed: not JSON: Expecting ',' delimiter...
    """
    if isinstance(raw, (bytes, bytearray, str)):
        value = _fast(raw)
        if value is not _SLOW:
            return value
    try:
        if not finite:
            return json.loads(raw, parse_int=_int64)
        if isinstance(raw, (bytes, bytearray)):  # as json.loads reads bytes
            raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
        if not isinstance(raw, str):
            raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(raw).__name__}")
        if raw.startswith("\ufeff"):
            raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
        return _FINITE.decode(raw)
    except InvalidRecord:
        raise
    except (ValueError, UnicodeDecodeError, TypeError) as e:
        raise InvalidRecord("malformed", f"not JSON: {e}") from None


def decode_object(raw: bytes | str) -> dict[str, Any]:
    """Parse one message as a JSON object (NaN and Infinity are rejected).

    Examples
    --------
    >>> decode_object(b'{"hr_bpm": 72}')
    {'hr_bpm': 72}
    >>> decode_object(b'[1]')
    Traceback (most recent call last):
    ...
    wardwatch.records.errors.InvalidRecord: malformed: expected a JSON object, got list
    """
    obj = decode_json(raw)
    if not isinstance(obj, dict):
        raise InvalidRecord("malformed", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def check_fields(obj: dict[str, Any], required: set[str], allowed: set[str]) -> None:
    """Reject a record missing a required field or carrying an unknown one."""
    missing = sorted(required - set(obj))
    if missing:
        raise InvalidRecord("missing_field", f"missing fields {missing}", missing[0])
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InvalidRecord("unknown_field", f"unknown fields {unknown}", unknown[0])


def patient_id_of(obj: dict[str, Any], key: str | None) -> str:
    """The record's ``patient_id``: a non-empty string of at most 64 characters that equals the
    Kafka key (a record keyed otherwise would sit on another patient's partition)."""
    pid = obj.get("patient_id")
    if not isinstance(pid, str) or not pid.strip() or len(pid) > 64:
        raise InvalidRecord(
            "malformed", "patient_id must be a non-empty string of at most 64 characters", "patient_id"
        )
    if key is not None and key != pid:
        raise InvalidRecord("key_mismatch", "message key does not match patient_id", "patient_id")
    return pid


def timestamp_of(
    obj: dict[str, Any], field: str, now: datetime | None, max_future: timedelta = MAX_FUTURE
) -> datetime:
    """``obj[field]`` as a timezone-aware datetime, at most ``max_future`` after ``now``."""
    raw = obj.get(field)
    if not isinstance(raw, str):
        raise InvalidRecord("bad_timestamp", f"{field} must be an ISO-8601 timestamp string", field)
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRecord("bad_timestamp", f"{field} is not ISO-8601: {raw[:40]!r}", field) from None
    if ts.tzinfo is None:
        raise InvalidRecord(
            "bad_timestamp", f"{field} has no timezone (time must be UTC or carry an offset)", field
        )
    if now is not None and ts - now > max_future:
        raise InvalidRecord(
            "bad_timestamp", f"{field} is {(ts - now).total_seconds():.0f}s in the future", field
        )
    return ts


def number_of(obj: dict[str, Any], name: str) -> float | None:
    """``obj[name]`` as a finite float, None when absent; a bool or string is malformed."""
    v = obj.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidRecord("malformed", f"{name} must be a number, got {str(v)[:16]!r}", name)
    if not math.isfinite(v):
        raise InvalidRecord("malformed", f"{name} is not finite", name)
    return float(v)
