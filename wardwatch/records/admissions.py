"""Validation of admission (ADT) messages: bytes in, an :class:`Admission` out, or a reason.

Wire format (JSON, key = patient id)::

    {"patient_id": "P001", "admit_ts": "2026-11-25T06:00:00+00:00", "age_years": 67, "sex": "F"}

``admit_ts`` is the ICU admission time: it numbers the ICU hours of the deterioration features
(time since admission is a feature of both models; without an admission, hour 1 starts at the
first reading), also when the message is processed after the patient's first readings
(``features_admit`` renumbers the hours);
``age_years`` the age in whole or fractional years (the model was trained on adults, 18-89),
``sex`` "M" or "F" as the PhysioNet/CinC 2019 data records it. Only the ``full`` deterioration
model reads age and sex.

A discharge travels on the same topic (an ADT event of the same patient, so it lands on the
partition that holds the patient's state)::

    {"patient_id": "P001", "discharge_ts": "2026-11-26T10:00:00+00:00", "reason": "to ward 7"}

``reason`` is optional free text (at most 200 characters). The worker resolves the patient's open
alarms (reason "discharged") and drops the patient's state (tombstones on the changelogs).
:func:`adt_validate` reads either kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wardwatch.records.errors import InvalidRecord
from wardwatch.records.wire import check_fields, decode_object, patient_id_of, timestamp_of

FIELDS = {"patient_id", "admit_ts", "age_years", "sex"}
DISCHARGE_FIELDS = {"patient_id", "discharge_ts"}
DISCHARGE_REASON_MAX = 200
AGE_RANGE = (14.0, 120.0)  # adult ICU; set A itself spans 18-89 y (older ages recorded as 89)


@dataclass(frozen=True)
class Discharge:
    patient_id: str
    discharge_ts: datetime
    reason: str = ""


@dataclass(frozen=True)
class Admission:
    patient_id: str
    admit_ts: datetime
    age_years: float
    sex: str


def admission_validate(raw: bytes, *, key: str | None = None, now: datetime | None = None) -> Admission:
    """Decode and validate one ``admissions`` message; raises InvalidRecord with its code and reason.

    Examples
    --------
    >>> admission_validate(b'{"patient_id": "P1", "admit_ts": "2026-11-25T06:00:00+00:00", '
    ...                    b'"age_years": 67, "sex": "F"}').sex
    'F'
    """
    obj: dict[str, Any] = decode_object(raw)
    check_fields(obj, FIELDS, FIELDS)
    pid = patient_id_of(obj, key)
    age = obj["age_years"]
    if isinstance(age, bool) or not isinstance(age, (int, float)):
        raise InvalidRecord("malformed", f"age_years must be a number, got {str(age)[:16]!r}", "age_years")
    if not AGE_RANGE[0] <= age <= AGE_RANGE[1]:
        raise InvalidRecord(
            "out_of_range",
            f"age_years={age} outside [{AGE_RANGE[0]:g}, {AGE_RANGE[1]:g}] "
            "(adults; months or days are not accepted)",
            "age_years",
        )
    if obj["sex"] not in ("M", "F"):
        raise InvalidRecord("bad_value", f"sex must be 'M' or 'F', got {str(obj['sex'])[:8]!r}", "sex")
    ts = timestamp_of(obj, "admit_ts", now)
    return Admission(patient_id=pid, admit_ts=ts, age_years=float(age), sex=obj["sex"])


def discharge_validate(raw: bytes, *, key: str | None = None, now: datetime | None = None) -> Discharge:
    """Decode and validate one discharge message (see the module docstring).

    Examples
    --------
    >>> discharge_validate(b'{"patient_id": "P1", "discharge_ts": "2026-11-26T10:00:00+00:00"}').patient_id
    'P1'
    """
    return _discharge(decode_object(raw), key, now)


def _discharge(obj: dict[str, Any], key: str | None, now: datetime | None) -> Discharge:
    check_fields(obj, DISCHARGE_FIELDS, DISCHARGE_FIELDS | {"reason"})
    pid = patient_id_of(obj, key)
    reason = obj.get("reason", "")
    if not isinstance(reason, str) or len(reason) > DISCHARGE_REASON_MAX:
        raise InvalidRecord(
            "malformed", f"reason must be text of at most {DISCHARGE_REASON_MAX} characters", "reason"
        )
    return Discharge(patient_id=pid, discharge_ts=timestamp_of(obj, "discharge_ts", now), reason=reason)


def adt_validate(raw: bytes, *, key: str | None = None, now: datetime | None = None) -> Admission | Discharge:
    """An ``admissions`` message: a :class:`Discharge` if it has ``discharge_ts``, else an
    :class:`Admission` (each validated as its own kind)."""
    obj = decode_object(raw)
    if "discharge_ts" in obj:
        return _discharge(obj, key, now)
    return admission_validate(raw, key=key, now=now)
