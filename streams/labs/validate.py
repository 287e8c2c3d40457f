"""Validation of laboratory results: bytes in, a :class:`LabResult` out, or a clear reason.

A result must name a test the deterioration model knows, in exactly the unit it was trained with
(``models.deterioration.features.LABS``); a value in another unit is rejected with the unit
expected, never converted. ``LAB_RANGES`` are limits of what a laboratory can report for a living
adult (far wider than reference intervals): a value outside them is a unit mix-up or a typing
error (FiO2 40 is percent, not a fraction; glucose 6 may be mmol/L, not mg/dL - that one cannot
be told from the number, so only impossible values are caught).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.deterioration.features import LABS
from streams.labs.records import LabResult
from streams.vitals.validate import (
    InvalidReading,
    check_fields,
    patient_id_of,
    timestamp_of,
    vitals_decode,
)

# Inclusive limits per test (in the LABS units); values outside cannot be a real result.
LAB_RANGES: dict[str, tuple[float, float]] = {
    "BaseExcess": (-40, 40), "HCO3": (1, 60), "FiO2": (0.21, 1.0), "pH": (6.5, 8.0),
    "PaCO2": (5, 200), "SaO2": (10, 100), "AST": (0, 20000), "BUN": (0, 300),
    "Alkalinephos": (0, 5000), "Calcium": (1, 25), "Chloride": (50, 160),
    "Creatinine": (0.05, 30), "Bilirubin_direct": (0, 50), "Glucose": (5, 3000),
    "Lactate": (0, 40), "Magnesium": (0.1, 15), "Phosphate": (0.1, 25), "Potassium": (1, 12),
    "Bilirubin_total": (0, 80), "TroponinI": (0, 500), "Hct": (5, 75), "Hgb": (1, 25),
    "PTT": (10, 250), "WBC": (0, 500), "Fibrinogen": (10, 2000), "Platelets": (1, 3000),
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
    InvalidReading with the reason (the dead-letter record carries it).

    Examples
    --------
    >>> labs_validate(b'{"patient_id": "P1", "ts": "2026-11-25T10:00:00+00:00", '
    ...               b'"test": "Lactate", "value": 2.6, "unit": "mmol/L"}').value
    2.6
    """
    obj: dict[str, Any] = vitals_decode(raw)
    check_fields(obj, FIELDS, FIELDS)
    pid = patient_id_of(obj, key)
    test, unit, value = obj["test"], obj["unit"], obj["value"]
    if not isinstance(test, str) or test not in LABS:
        raise InvalidReading(f"unknown lab test {str(test)[:32]!r}; valid: {sorted(LABS)}", "test")
    if unit != LABS[test]:
        raise InvalidReading(f"{test} must be sent in {LABS[test]!r}, got {str(unit)[:16]!r}", "unit")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidReading(f"value must be a number, got {str(value)[:16]!r}", "value")
    lo, hi = LAB_RANGES[test]
    if not lo <= value <= hi:
        raise InvalidReading(f"{test}={value} {unit} outside the possible range [{lo}, {hi}]",
                             "value")
    ts = timestamp_of(obj, "ts", now)
    return LabResult(patient_id=pid, ts=ts, test=test, value=float(value), unit=unit)
