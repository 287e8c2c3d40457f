"""A laboratory result as the ``labs`` topic carries it (one per message, key = patient id),
and its validation.

Wire format (JSON)::

    {"patient_id": "P001", "ts": "2026-11-25T10:42:00+00:00", "test": "Lactate",
     "value": 2.6, "unit": "mmol/L"}

``test`` is one of the PhysioNet/CinC 2019 laboratory names (Reyna et al., Crit Care Med 2020)
and ``unit`` must be exactly the unit the deterioration model was trained with
(:data:`LABS`): a result in another unit is rejected with a reason,
never converted silently. ``ts`` is the specimen collection time (timezone-aware), which places
the result in the patient's ICU-hour bucket. The deterioration features take
``LabResult.to_dict()`` directly (``features_update``); the ``labs`` and ``full`` models use
them, the deployed vitals-only model ignores them.

A result must name a test the deterioration model knows, in exactly the unit it was trained with;
a value in another unit is rejected with the unit expected, never converted. ``LAB_RANGES`` are
limits of what a laboratory can report for a living adult (far wider than reference intervals):
a value outside them is a unit mix-up or a typing error (FiO2 40 is percent, not a fraction;
glucose 6 may be mmol/L, not mg/dL - that one cannot be told from the number, so only
impossible values are caught).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from wardwatch.records.errors import InvalidRecord
from wardwatch.records.wire import check_fields, decode_object, patient_id_of, timestamp_of

# Challenge laboratory columns and their units (Reyna 2020, Table 1 of the challenge data
# description). EtCO2 is not used (no monitor field carries it).
LABS: dict[str, str] = {
    "BaseExcess": "mmol/L",
    "HCO3": "mmol/L",
    "FiO2": "fraction",
    "pH": "pH",
    "PaCO2": "mmHg",
    "SaO2": "%",
    "AST": "IU/L",
    "BUN": "mg/dL",
    "Alkalinephos": "IU/L",
    "Calcium": "mg/dL",
    "Chloride": "mmol/L",
    "Creatinine": "mg/dL",
    "Bilirubin_direct": "mg/dL",
    "Glucose": "mg/dL",
    "Lactate": "mmol/L",
    "Magnesium": "mmol/dL",
    "Phosphate": "mg/dL",
    "Potassium": "mmol/L",
    "Bilirubin_total": "mg/dL",
    "TroponinI": "ng/mL",
    "Hct": "%",
    "Hgb": "g/dL",
    "PTT": "s",
    "WBC": "10^3/uL",
    "Fibrinogen": "mg/dL",
    "Platelets": "10^3/uL",
}


@dataclass(frozen=True)
class LabResult:
    patient_id: str
    ts: datetime  # specimen collection time, timezone-aware
    test: str  # e.g. "Lactate", "WBC", "Creatinine" (see LABS)
    value: float
    unit: str  # must equal LABS[test]

    def __post_init__(self) -> None:
        if self.test not in LABS:
            raise ValueError(f"unknown lab test {self.test!r}; valid: {sorted(LABS)}")
        if self.unit != LABS[self.test]:
            raise ValueError(f"{self.test} must be in {LABS[self.test]!r}, got {self.unit!r}")
        if self.ts.tzinfo is None:
            raise ValueError("ts must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ts"] = self.ts.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabResult:
        return cls(
            patient_id=str(d["patient_id"]),
            ts=datetime.fromisoformat(d["ts"]),
            test=str(d["test"]),
            value=float(d["value"]),
            unit=str(d["unit"]),
        )


# Inclusive limits per test (in the LABS units); values outside cannot be a real result.
LAB_RANGES: dict[str, tuple[float, float]] = {
    "BaseExcess": (-40, 40),
    "HCO3": (1, 60),
    "FiO2": (0.21, 1.0),
    "pH": (6.5, 8.0),
    "PaCO2": (5, 200),
    "SaO2": (10, 100),
    "AST": (0, 20000),
    "BUN": (0, 300),
    "Alkalinephos": (0, 5000),
    "Calcium": (1, 25),
    "Chloride": (50, 160),
    "Creatinine": (0.05, 30),
    "Bilirubin_direct": (0, 50),
    "Glucose": (5, 3000),
    "Lactate": (0, 40),
    "Magnesium": (0.1, 15),
    "Phosphate": (0.1, 25),
    "Potassium": (1, 12),
    "Bilirubin_total": (0, 80),
    "TroponinI": (0, 500),
    "Hct": (5, 75),
    "Hgb": (1, 25),
    "PTT": (10, 250),
    "WBC": (0, 500),
    "Fibrinogen": (10, 2000),
    "Platelets": (1, 3000),
}
assert set(LAB_RANGES) == set(LABS), "every model lab needs a plausibility range"
FIELDS = {"patient_id", "ts", "test", "value", "unit"}


def labs_validate(raw: bytes, *, key: str | None = None, now: datetime | None = None) -> LabResult:
    """Decode and validate one ``labs`` message.

    Parameters
    ----------
    raw : the message value as received.
    key : the Kafka key (patient id); a result whose ``patient_id`` differs is rejected.
    now : wall-clock time, to reject collection times more than 5 minutes in the future.

    Raises
    ------
    InvalidRecord with its code, field and reason (the dead-letter record carries them).

    Examples
    --------
    >>> labs_validate(b'{"patient_id": "P1", "ts": "2026-11-25T10:00:00+00:00", '
    ...               b'"test": "Lactate", "value": 2.6, "unit": "mmol/L"}').value
    2.6
    """
    obj: dict[str, Any] = decode_object(raw)
    check_fields(obj, FIELDS, FIELDS)
    pid = patient_id_of(obj, key)
    test, unit, value = obj["test"], obj["unit"], obj["value"]
    if not isinstance(test, str) or test not in LABS:
        raise InvalidRecord(
            "bad_value", f"unknown lab test {str(test)[:32]!r}; valid: {sorted(LABS)}", "test"
        )
    if unit != LABS[test]:
        raise InvalidRecord(
            "wrong_unit", f"{test} must be sent in {LABS[test]!r}, got {str(unit)[:16]!r}", "unit"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRecord("malformed", f"value must be a number, got {str(value)[:16]!r}", "value")
    lo, hi = LAB_RANGES[test]
    if not lo <= value <= hi:
        raise InvalidRecord(
            "out_of_range", f"{test}={value} {unit} outside the possible range [{lo}, {hi}]", "value"
        )
    ts = timestamp_of(obj, "ts", now)
    return LabResult(patient_id=pid, ts=ts, test=test, value=float(value), unit=unit)
