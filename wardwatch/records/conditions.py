"""What an alert source tells the alert component: a condition became active, changed or ended.

Every source of alerts (NEWS2, ECG rhythm and technical alarms, the deterioration model, ...)
sends :class:`Condition` records to the ``alerts.conditions`` topic keyed by patient id, and only
the alert component (``models/alarms/lifecycle.py`` and its agents in ``streams/alerts/``) turns
them into alert events on ``alerts``: ids, raise / escalate / resolve, latching, acknowledgement
and audit live there and nowhere else. A source sends a condition when it becomes active, when its
priority or evidence changes materially, and when it ends (``active=False``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# IEC 60601-1-8 alarm priority vocabulary (high: immediate response; medium: prompt response;
# low: awareness), ordered for escalation comparisons.
PRIORITIES = ("low", "medium", "high")
# Alarm categories: physiological (the patient) vs technical (the equipment / signal).
CATEGORIES = ("physiological", "technical")


@dataclass(frozen=True)
class Condition:
    patient_id: str
    bed: str
    source: str  # the alert kind, e.g. "news2", "ecg.vtach", "ecg.leads_off", "deterioration"
    active: bool
    priority: str  # one of PRIORITIES (ignored when active is False)
    ts: str  # ISO-8601 UTC device time of the reading that triggered this condition
    message: str = ""
    category: str = "physiological"
    latched: bool = False  # a latched alarm stays until acknowledged, even after it ends
    evidence: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # model / rule versions behind it

    def __post_init__(self) -> None:
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, got {self.priority!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}, got {self.category!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Condition:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)
