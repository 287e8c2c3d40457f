"""The alert component: conditions and operator actions in, alert events out (pure).

Every source of alerts sends :class:`~wardwatch.records.conditions.Condition` records; this module
alone decides what subscribers see. Per patient it keeps the open alerts, one per source::

    {"open": {"news2": {"alert_id", "priority", "onset_ts", "active", "latched",
                        "acknowledged", "silenced_until", "message", "category"}, ...}}

Events (``type``):
  raised        a condition became active (new alert id)
  escalated     an open alert's priority rose (same alert id)
  resolved      the condition ended (non-latched), or a latched alert was acknowledged after its
                condition ended
  latched       a latched alarm's condition ended; it stays until acknowledged (IEC 60601-1-8
                6.7 latching alarm signals)
  acknowledged  an operator acknowledged the alert
  silenced      an operator paused the audible signal for a time (alarm still shown)

Ids are deterministic: ``alert_id`` hashes patient, source and onset time; ``event_id`` hashes the
alert id, event type, event time and priority. A re-delivered condition therefore yields either
nothing (the state already has it) or an event with the same ids, which subscribers de-duplicate.
"""

from __future__ import annotations

import hashlib
from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any, TypedDict

from wardwatch.records.conditions import PRIORITIES, Condition
from wardwatch.records.points import point

ACTIONS = ("acknowledge", "silence")


class OpenAlert(TypedDict):
    """One open alert of a patient (a plain JSON-serialisable dict)."""

    alert_id: str
    priority: str
    onset_ts: str
    active: bool
    latched: bool
    acknowledged: bool
    silenced_until: str | None
    message: str
    category: str
    bed: str


class AlertState(TypedDict, total=False):
    """A patient's alert state (a Faust table value; ``{}`` for a patient with none yet)."""

    open: dict[str, OpenAlert]  # source -> its open alert


def _h(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def alert_id(patient_id: str, source: str, onset_ts: str) -> str:
    return "al-" + _h(patient_id, source, onset_ts)


def _event(
    kind: str,
    alert: OpenAlert,
    patient_id: str,
    bed: str,
    source: str,
    ts: str,
    cond: Condition | None = None,
    **extra: Any,
) -> dict[str, Any]:
    ev = {
        "event_id": "ev-" + _h(alert["alert_id"], kind, ts, alert["priority"]),
        "alert_id": alert["alert_id"],
        "type": kind,
        "patient_id": patient_id,
        "bed": bed,
        "source": source,
        "category": alert.get("category", "physiological"),
        "priority": alert["priority"],
        "latched": alert.get("latched", False),
        "onset_ts": alert["onset_ts"],
        "ts": ts,
        "message": cond.message if cond is not None else alert.get("message", ""),
        "evidence": cond.evidence if cond is not None else {},
        "versions": cond.versions if cond is not None else {},
    }
    ev.update(extra)
    return ev


def alert_on_condition(
    state: AlertState,
    cond: Condition,
) -> tuple[AlertState, list[dict[str, Any]]]:
    """Apply one condition to a patient's alert state; return the new state and events."""
    state = deepcopy(state) if state else {}
    open_ = state.setdefault("open", {})
    cur = open_.get(cond.source)
    events: list[dict[str, Any]] = []
    if cond.active:
        if cur is None:
            cur = {
                "alert_id": alert_id(cond.patient_id, cond.source, cond.ts),
                "priority": cond.priority,
                "onset_ts": cond.ts,
                "active": True,
                "latched": cond.latched,
                "acknowledged": False,
                "silenced_until": None,
                "message": cond.message,
                "category": cond.category,
                "bed": cond.bed,
            }
            open_[cond.source] = cur
            events.append(_event("raised", cur, cond.patient_id, cond.bed, cond.source, cond.ts, cond))
        else:
            rising = PRIORITIES.index(cond.priority) > PRIORITIES.index(cur["priority"])
            cur.update({"active": True, "message": cond.message, "latched": cur["latched"] or cond.latched})
            if rising:
                cur["priority"] = cond.priority
                cur["acknowledged"] = False  # a higher-priority alarm needs a new acknowledgement
                events.append(_event("escalated", cur, cond.patient_id, cond.bed, cond.source, cond.ts, cond))
            else:
                cur["priority"] = cond.priority  # de-escalation is silent; the alert stays open
    elif cur is not None and cur["active"]:
        if cur["latched"] and not cur["acknowledged"]:
            cur["active"] = False
            events.append(_event("latched", cur, cond.patient_id, cond.bed, cond.source, cond.ts, cond))
        else:
            del open_[cond.source]
            events.append(_event("resolved", cur, cond.patient_id, cond.bed, cond.source, cond.ts, cond))
    return state, events


def alert_on_action(
    state: AlertState, action: dict[str, Any], now: datetime
) -> tuple[AlertState, list[dict[str, Any]]]:
    """Apply an operator action ``{"alert_id", "action", "by", "duration_s"?}``.

    Raises ValueError for an unknown action or alert id (the caller dead-letters it).
    """
    kind = action.get("action")
    if kind not in ACTIONS:
        raise ValueError(f"unknown action {kind!r}: expected one of {ACTIONS}")
    state = deepcopy(state) if state else {}
    open_ = state.setdefault("open", {})
    found = [(src, a) for src, a in open_.items() if a["alert_id"] == action.get("alert_id")]
    if not found:
        raise ValueError(f"no open alert {action.get('alert_id')!r} for this patient")
    source, cur = found[0]
    ts = now.isoformat()
    by = str(action.get("by", ""))
    pid = action["patient_id"]
    events: list[dict[str, Any]] = []
    if kind == "acknowledge":
        cur["acknowledged"] = True
        events.append(_event("acknowledged", cur, pid, cur.get("bed", ""), source, ts, by=by))
        if not cur["active"]:
            del open_[source]
            events.append(_event("resolved", cur, pid, cur.get("bed", ""), source, ts, by=by))
    else:
        duration = float(action.get("duration_s", 120))
        if not 0 < duration <= 600:
            raise ValueError("silence duration_s must be in (0, 600]")
        cur["silenced_until"] = (now + timedelta(seconds=duration)).isoformat()
        events.append(
            _event(
                "silenced",
                cur,
                pid,
                cur.get("bed", ""),
                source,
                ts,
                by=by,
                silenced_until=cur["silenced_until"],
            )
        )
    return state, events


def alert_points(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """InfluxDB points for alert events (measurement ``alerts``)."""
    return [
        point(
            "alerts",
            {
                "patient": e["patient_id"],
                "bed": e["bed"],
                "source": e["source"],
                "priority": e["priority"],
                "type": e["type"],
                "category": e["category"],
            },
            {"alert_id": e["alert_id"], "event_id": e["event_id"], "message": e["message"][:500], "value": 1},
            e["ts"],
        )
        for e in events
    ]
