"""A laboratory result as the ``labs`` topic carries it (one result per message, key = patient id).

Wire format (JSON)::

    {"patient_id": "P001", "ts": "2026-11-25T10:42:00+00:00", "test": "Lactate",
     "value": 2.6, "unit": "mmol/L"}

``test`` is one of the PhysioNet/CinC 2019 laboratory names (Reyna et al., Crit Care Med 2020)
and ``unit`` must be exactly the unit the deterioration model was trained with
(``models.deterioration.features.LABS``): a result in another unit is rejected with a reason,
never converted silently. ``ts`` is the specimen collection time (timezone-aware), which places
the result in the patient's ICU-hour bucket. The deterioration features take
``LabResult.to_dict()`` directly (``features_update``); only the ``full`` model uses labs, the
deployed vitals-only model ignores them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from models.deterioration.features import LABS


@dataclass(frozen=True)
class LabResult:
    patient_id: str
    ts: datetime          # specimen collection time, timezone-aware
    test: str             # e.g. "Lactate", "WBC", "Creatinine" (see LABS)
    value: float
    unit: str             # must equal LABS[test]

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
        return cls(patient_id=str(d["patient_id"]), ts=datetime.fromisoformat(d["ts"]),
                   test=str(d["test"]), value=float(d["value"]), unit=str(d["unit"]))
