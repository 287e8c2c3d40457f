"""What an alarm change becomes downstream: the alert ``Condition`` and the ``ecg_alarms`` point."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from models.ecg.alarms.state import RULES_VERSION, AlarmChange, iso
from wardwatch.records.conditions import Condition
from wardwatch.records.points import point


def alarm_condition(
    change: AlarmChange, patient_id: str, bed: str, versions: dict[str, str], strip_path: str | None = None
) -> Condition:
    """The :class:`Condition` the alert component receives for one alarm change."""
    evidence = dict(change.evidence)
    if strip_path:
        evidence["strip_png"] = strip_path
    return Condition(
        patient_id=patient_id,
        bed=bed,
        source=change.source,
        active=change.active,
        priority=change.priority,
        ts=iso(change.t),
        message=change.message,
        category=change.category,
        latched=change.latched,
        evidence=evidence,
        versions={"ecg_rules": RULES_VERSION, **versions},
        reassert=change.reassert,
    )


#: Numeric evidence fields copied into the ``ecg_alarms`` point when present.
EVIDENCE_FIELDS = (
    "rate_bpm",
    "run_beats",
    "hr_bpm",
    "pause_s",
    "nrmssd",
    "cov",
    "she",
    "pvc_per_min",
    "pvc_pct",
    "p2p_uv",
    "hf_ratio",
    "silent_s",
    "duration_s",
    "vf_leak",
    "vf_conc",
    "vf_freq_hz",
)


def alarm_point(
    change: AlarmChange, patient_id: str, bed: str, strip_path: str | None = None
) -> dict[str, Any]:
    """The ``ecg_alarms`` InfluxDB point for one alarm change: the evidence as fields.

    Tags ``patient``, ``bed``, ``source``, ``priority``, ``category``; fields ``active`` (1/0),
    ``message``, the numeric evidence (:data:`EVIDENCE_FIELDS`) and ``strip_png``.
    """
    fields: dict[str, Any] = {"active": int(change.active), "message": change.message[:500]}
    for k in EVIDENCE_FIELDS:
        v = change.evidence.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            fields[k] = float(v)
    if strip_path:
        fields["strip_png"] = strip_path
    point_: dict[str, Any] = point(
        "ecg_alarms",
        {
            "patient": patient_id,
            "bed": bed,
            "source": change.source,
            "priority": change.priority,
            "category": change.category,
        },
        fields,
        datetime.fromtimestamp(change.t, tz=UTC),
    )
    return point_


__all__ = ["EVIDENCE_FIELDS", "alarm_condition", "alarm_point"]
