"""HL7 v2 ADT (admit, discharge) <-> our ``admissions`` records (pure).

The hospital's ADT feed says when a patient came and went: ADT^A01 (admit/visit notification)
becomes an admission record (its time numbers the deterioration features' ICU hours; age and sex
feed the ``full`` model), ADT^A03 (discharge/end visit) a discharge record, on which the workers
resolve the patient's open alarms and drop the patient's state (``streams/patients.py``). Both
are validated by the same functions as JSON input (:func:`~wardwatch.records.admissions.
admission_validate`, :func:`~wardwatch.records.admissions.discharge_validate`). Fields (HL7 v2.5
chapter 3, "Patient Administration"):

- patient: PID-3, first repetition, CX.1 (as for ORU^R01: :func:`wardwatch.hl7.pcd01._patient`);
- admission time: PV1-44 (admit date/time), else EVN-6 (event occurred), EVN-2 (recorded), MSH-7;
  discharge time: PV1-45 (discharge date/time), else the same fallbacks. A DTM with its UTC offset
  (none: AE 102, never a guess);
- age: whole years from PID-7 (date of birth, a date: ``YYYYMMDD``) to the admission time;
- sex: PID-8 (table 0001); our admission record takes ``M`` or ``F`` only (the training data has
  no other value), so another value is refused with AE 103 rather than guessed;
- discharge reason: PV1-36 (discharge disposition, CWE: its text, else its code), optional.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import hl7

from wardwatch.hl7.pcd01 import HL7Error, _by_name, _get, _patient, hl7_time
from wardwatch.records.admissions import admission_validate, discharge_validate
from wardwatch.records.errors import InvalidRecord

#: The ADT messages the gateway takes (MSH-9 type and event).
ADT_TAKEN = frozenset({("ADT", "A01"), ("ADT", "A03")})
#: HL7 error (table 0357) for each of our reason codes when an ADT record does not validate.
_HL7_CODE = {"missing_field": 101, "bad_timestamp": 102, "malformed": 102, "bad_value": 103}


@dataclass
class MappedADT:
    """What one ADT message becomes: ``(topic, key, value)`` records, ready to produce."""

    control_id: str
    event: str
    patient_id: str
    admissions: list[dict[str, Any]] = field(default_factory=list)

    def records(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [("admissions", self.patient_id, v) for v in self.admissions]


def map_adt(msg: hl7.Message, control_id: str, event: str, now: datetime | None = None) -> MappedADT:
    """Map one ADT^A01 or ADT^A03 (``event``; MSH already checked) to its ``admissions`` record;
    :class:`HL7Error` for anything it cannot use."""
    segs = _by_name(msg)
    patient = _patient(segs)
    pv1 = segs.get("PV1", [None])[0]
    evn = segs.get("EVN", [None])[0]
    if event == "A01":
        ts = _event_time(msg, pv1, 44, evn)
        record = {
            "patient_id": patient,
            "admit_ts": ts.isoformat(),
            "age_years": _age(segs, ts.date()),
            "sex": _get(segs["PID"][0], 8, 1),
        }
        _valid(admission_validate, record, patient, now)
    else:
        ts = _event_time(msg, pv1, 45, evn)
        record = {"patient_id": patient, "discharge_ts": ts.isoformat()}
        reason = (_get(pv1, 36, 2) or _get(pv1, 36, 1)) if pv1 is not None else ""
        if reason:
            record["reason"] = f"HL7 discharge disposition: {reason}"[:200]
        _valid(discharge_validate, record, patient, now)
    return MappedADT(control_id, event, patient, [record])


def _event_time(msg: hl7.Message, pv1: Any, pv1_field: int, evn: Any) -> datetime:
    """The first of PV1-``pv1_field``, EVN-6, EVN-2 and MSH-7 that is present."""
    for seg, name, n in ((pv1, "PV1", pv1_field), (evn, "EVN", 6), (evn, "EVN", 2), (msg[0], "MSH", 7)):
        value = _get(seg, n, 1) if seg is not None else ""
        if value:
            return hl7_time(value, (name, 1, n))
    raise HL7Error(101, "no event time (PV1, EVN or MSH-7)", code="missing_field", segment="MSH", field_no=7)


def _age(segs: dict[str, list[Any]], on: date) -> int:
    """Whole years from PID-7 (date of birth) to ``on``."""
    value = _get(segs["PID"][0], 7, 1)
    if not value:
        raise HL7Error(101, "PID-7 date of birth missing", code="missing_field", segment="PID", field_no=7)
    try:
        born = datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        raise HL7Error(
            102, f"PID-7 {value[:20]!r} is not a date", code="malformed", segment="PID", field_no=7
        ) from None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _valid(validate: Any, record: dict[str, Any], patient: str, now: datetime | None) -> None:
    try:
        validate(json.dumps(record).encode(), key=patient, now=now)
    except InvalidRecord as e:
        where = {"sex": ("PID", 8), "age_years": ("PID", 7)}.get(e.field or "", ("PV1", None))
        raise HL7Error(
            _HL7_CODE.get(e.code, 207), e.message, code=e.code, segment=where[0], field_no=where[1]
        ) from None
