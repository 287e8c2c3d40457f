"""The vitals reading a bedside device sends, once validated.

Wire format (JSON object, one per Kafka message, key = patient id)::

    {"patient_id": "P001", "bed": "ICU-01", "ts": "2026-11-25T10:00:00+00:00",
     "hr_bpm": 72, "spo2_pct": 97, "spo2_scale": 1, "rr_bpm": 14,
     "sbp_mmhg": 124, "dbp_mmhg": 78, "temp_c": 36.8, "o2": "air", "acvpu": "A"}

Every measurement is optional (a monitor sends HR/SpO2/RR each second, NIBP every few minutes,
temperature and ACVPU when a nurse records them); at least one must be present. Units are in
the names; other units (``temp_f``, ``spo2`` as a fraction) are rejected, never converted
silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

MEASUREMENTS = ("hr_bpm", "spo2_pct", "rr_bpm", "sbp_mmhg", "dbp_mmhg", "temp_c", "o2", "acvpu")
NUMERIC = ("hr_bpm", "spo2_pct", "rr_bpm", "sbp_mmhg", "dbp_mmhg", "temp_c")


@dataclass(frozen=True)
class VitalsReading:
    patient_id: str
    bed: str
    ts: datetime                   # device time, timezone-aware
    hr_bpm: float | None = None
    spo2_pct: float | None = None
    spo2_scale: int = 1            # NEWS2 SpO2 scale: 1, or 2 for hypercapnic respiratory failure
    rr_bpm: float | None = None
    sbp_mmhg: float | None = None
    dbp_mmhg: float | None = None
    temp_c: float | None = None
    o2: str | None = None          # "air" or "oxygen"
    acvpu: str | None = None       # "A", "C", "V", "P" or "U"

    def measurements(self) -> dict[str, Any]:
        """The measurements this reading carries (None left out)."""
        return {k: getattr(self, k) for k in MEASUREMENTS if getattr(self, k) is not None}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ts"] = self.ts.isoformat()
        return d
