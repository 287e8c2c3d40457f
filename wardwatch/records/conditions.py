"""What an alert source tells the alert component: a condition became active, changed or ended.

Every source of alerts (NEWS2, ECG rhythm and technical alarms, the deterioration model, ...)
sends :class:`Condition` records to the ``alerts.conditions`` topic keyed by patient id, and only
the alert component (``models/alarms/lifecycle.py`` and its agents in ``streams/alerts/``) turns
them into alert events on ``alerts``: ids, raise / escalate / resolve, latching, acknowledgement
and audit live there and nowhere else. A source sends a condition when it becomes active, when its
priority or evidence changes materially, and when it ends (``active=False``). A source may also
re-assert an active condition unchanged (``reassert=True``, every :data:`REASSERT_S` of device time):
it changes nothing unless the alert component missed the condition's rise, which it then heals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from wardwatch.records.errors import InvalidRecord

# IEC 60601-1-8 alarm priority vocabulary (high: immediate response; medium: prompt response;
# low: awareness), ordered for escalation comparisons.
PRIORITIES = ("low", "medium", "high")
# Alarm categories: physiological (the patient) vs technical (the equipment / signal).
CATEGORIES = ("physiological", "technical")
#: seconds of device time after which a source re-asserts an active condition it has not sent
#: since (``Condition.reassert``): a raise or rise lost on its way heals within this long. A
#: choice of this project, not a standard's; the lifecycle treats re-assertions as no-ops
#: unless the state missed the change.
REASSERT_S = 60.0


_TYPES: dict[str, type] = {
    "patient_id": str,
    "bed": str,
    "source": str,
    "active": bool,
    "priority": str,
    "ts": str,
    "message": str,
    "category": str,
    "latched": bool,
    "evidence": dict,
    "versions": dict,
    "reassert": bool,
}
_NON_EMPTY = ("patient_id", "source")


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
    # the source's level unchanged, sent again (see the module doc): heals a missed rise only
    reassert: bool = False

    def __post_init__(self) -> None:
        for name, kind in _TYPES.items():
            value = getattr(self, name)
            if not isinstance(value, kind) or (name in _NON_EMPTY and not str(value).strip()):
                raise InvalidRecord("malformed", f"condition field {name} must be a {kind.__name__}", name)
        try:
            if datetime.fromisoformat(self.ts).tzinfo is None:
                raise ValueError("no timezone")
        except ValueError as e:
            raise InvalidRecord(
                "bad_timestamp", f"condition ts is not ISO-8601 with a timezone: {e}", "ts"
            ) from e
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, got {self.priority!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}, got {self.category!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Condition:
        """The condition a decoded message describes; raises :class:`InvalidRecord` (a
        ``ValueError``) for a missing or ill-typed field, so an agent dead-letters it."""
        if not isinstance(d, dict):
            raise InvalidRecord("malformed", "a condition is a JSON object")
        missing = [k for k in ("patient_id", "bed", "source", "active", "priority", "ts") if k not in d]
        if missing:
            raise InvalidRecord("missing_field", f"condition lacks {missing}", missing[0])
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)
