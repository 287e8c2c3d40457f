"""The alarm lifecycle: conditions, operator actions and clock ticks in, alert events out (pure).

Every source of alarms (NEWS2, the deterioration model, ECG rhythm and technical alarms) sends
:class:`~wardwatch.records.conditions.Condition` records; this module alone decides what
subscribers see, through three functions of a patient's state:

- :func:`alert_on_condition` (a source's condition became active, changed or ended),
- :func:`alert_on_action` (a verified operator acknowledged or silenced an alarm),
- :func:`alert_on_tick` (the clock: escalation deadlines and the end of a silence),

each returning the new state and the events that describe every change, in order. Priorities are
IEC 60601-1-8's (high / medium / low). Per patient the state keeps one open alert per source::

    {"open": {"news2": {"alert_id", "priority", "onset_ts", "active", "latched", "acknowledged",
                        "silenced_until", "message", "category", "bed",
                        "notified_at", "level", "rule_escalated"}, ...}}

Events (``type``; ``origin`` says what caused it: ``condition``, ``operator``, ``timer``, or
``discharge``: the patient was discharged or evicted idle, see :func:`alert_on_discharge`):

  raised         a condition became active: a new alert id
  escalated      the priority rose: the condition's own priority rose (origin condition), or the
                 escalation rule raised it after unacknowledged deadlines (origin timer)
  deescalated    the condition's priority fell (not below a rule escalation still unacknowledged)
  reactivated    the condition of a latched, unacknowledged alarm became active again
  latched        a latched alarm's condition ended; the alarm stays until acknowledged
                 (IEC 60601-1-8 6.7 latching alarm signals: lethal arrhythmias latch)
  renotified     a high or medium alarm was not acknowledged within its deadline (``level``: how
                 many deadlines in a row)
  acknowledged   an operator acknowledged it (``by``, ``by_name`` from the verified token)
  silenced       an operator paused its re-notification until ``silenced_until``
  silence_ended  the silence ran out while the alarm was still open and unacknowledged
  resolved       the condition ended (or a latched alarm was acknowledged after it ended, or the
                 patient was discharged: origin discharge)

A source may re-assert an active condition unchanged (``cond.reassert``: NEWS2, the
deterioration model and the ECG alarms, every minute of device time while active). It raises or
escalates only what the state missed (a raise or rise lost on its way; the event's ``reason``
says so) and never lowers, reactivates or resolves an alarm.

A discharge resolves every open alert and leaves a mark (``discharged_ts``): a condition of the
ended stay that arrives afterwards (device time at or before the mark) raises nothing, and the
first active condition after it (a readmission) ends the mark (:func:`from_before_discharge`).

Every event carries the alert's lifecycle state after it (``priority``, ``active``,
``acknowledged``, ``silenced_until``, ``level``) and a ``reason``: the audit trail's *why*.

Timing. Deadlines run on the wall clock of the worker, from ``notified_at``: when the alarm was
last notified (raised, escalated by its condition, re-notified, or its silence ended), never from
device time. A tick at ``now`` re-notifies an open alarm that is high or medium, not acknowledged,
not silenced and ``now >= notified_at + deadline``; the event is stamped with the deadline itself
and the next deadline counts from it (or from ``now`` if more than a whole deadline was missed, as
after a worker outage, so that an outage does not release a burst). A silence suppresses
re-notification until ``silenced_until``; the first tick at or after it emits ``silence_ended``
(stamped ``silenced_until``) and the deadline restarts there: the end of a silence is a
notification. An acknowledgement ends re-notification and any silence; a later rise of the
condition's priority needs a new acknowledgement.

Ids are deterministic: ``alert_id`` hashes patient, source and onset time; ``event_id`` hashes the
alert id, event type, event time and priority. Timer events are stamped with the deadline or the
silence's end, so a tick repeated after a crash (events published, state not written) yields the
same ids, which subscribers de-duplicate.
"""

from __future__ import annotations

import hashlib
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from wardwatch.records.actions import AlertAction
from wardwatch.records.conditions import PRIORITIES, Condition
from wardwatch.records.points import point

EVENT_TYPES = (
    "raised",
    "escalated",
    "deescalated",
    "reactivated",
    "latched",
    "renotified",
    "acknowledged",
    "silenced",
    "silence_ended",
    "resolved",
)
ORIGINS = ("condition", "operator", "timer")


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
    notified_at: str  # wall clock (ISO-8601 UTC) of the last notification
    level: int  # deadlines passed unacknowledged since the last notification by a condition
    rule_escalated: bool  # the escalation rule raised the priority (held until acknowledged)


class AlertState(TypedDict, total=False):
    """A patient's alert state (a Faust table value; ``{}`` for a patient with none yet)."""

    open: dict[str, OpenAlert]  # source -> its open alert
    partition: int  # set by the agent: the changelog partition (the engine ignores it)
    offset: int  # set by the agent: the last condition's offset (re-delivery check; ignored here)
    applied: dict[str, list[str]]  # source -> keys of its last conditions (see alert_on_condition)
    discharged_ts: str  # the patient's last discharge, until readmitted (see alert_on_discharge)


@dataclass(frozen=True)
class EscalationPolicy:
    """Per-priority acknowledgement deadlines and the priority-raise rule.

    IEC 60601-1-8 (Table 1) defines the priorities by how soon harm can follow (high: immediate,
    medium: prompt, low: delayed) and requires no escalation times; the hospital's alarm policy
    (The Joint Commission NPSG.06.01.01) sets them. The defaults (``wardwatch.settings``:
    high 60 s, medium 300 s, medium raised to high after 2 deadlines) are this project's starting
    values, not a standard's: one minute unanswered is already a missed "immediate" response; five
    minutes is a missed "prompt" one; two such misses make it a high-priority matter.
    Low-priority alarms (awareness) never escalate.
    """

    high_s: float = 60.0
    medium_s: float = 300.0
    medium_to_high_after: int = 2  # 0: a medium alarm is re-notified but never raised

    def __post_init__(self) -> None:
        if not (self.high_s > 0 and self.medium_s > 0):
            raise ValueError("escalation deadlines must be > 0 s")
        if self.medium_to_high_after < 0:
            raise ValueError("medium_to_high_after must be >= 0")

    def deadline_s(self, priority: str) -> float | None:
        """The acknowledgement deadline of ``priority`` (None: it does not escalate)."""
        return {"high": self.high_s, "medium": self.medium_s}.get(priority)

    def raised_priority(self, priority: str, level: int) -> str | None:
        """The priority an alarm at ``priority`` rises to after ``level`` missed deadlines."""
        if priority == "medium" and 0 < self.medium_to_high_after <= level:
            return "high"
        return None


Events = list[dict[str, Any]]


def _h(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def alert_id(patient_id: str, source: str, onset_ts: str) -> str:
    return "al-" + _h(patient_id, source, onset_ts)


def _rank(priority: str) -> int:
    return PRIORITIES.index(priority)


def _event(
    kind: str,
    origin: str,
    alert: OpenAlert,
    patient_id: str,
    source: str,
    ts: str,
    reason: str,
    cond: Condition | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "event_id": "ev-" + _h(alert["alert_id"], kind, ts, alert["priority"]),
        "alert_id": alert["alert_id"],
        "type": kind,
        "origin": origin,
        "patient_id": patient_id,
        "bed": alert.get("bed", ""),
        "source": source,
        "category": alert.get("category", "physiological"),
        "priority": alert["priority"],
        "latched": alert.get("latched", False),
        "active": alert["active"],
        "acknowledged": alert["acknowledged"],
        "silenced_until": alert.get("silenced_until"),
        "level": alert.get("level", 0),
        "onset_ts": alert["onset_ts"],
        "ts": ts,
        "message": cond.message if cond is not None else alert.get("message", ""),
        "reason": reason,
        "evidence": cond.evidence if cond is not None else {},
        "versions": cond.versions if cond is not None else {},
    }
    ev.update(extra or {})
    return ev


def _open_state(state: AlertState) -> tuple[AlertState, dict[str, OpenAlert]]:
    new: AlertState = deepcopy(state) if state else {}
    return new, new.setdefault("open", {})


#: conditions remembered per source to recognise one already applied
APPLIED_KEEP = 32


def condition_key(cond: Condition) -> str:
    """What makes a condition the same condition: its source's device time, activity and
    priority (a step that runs again over the same input emits exactly these again)."""
    return f"{cond.ts}|{int(cond.active)}|{cond.priority}"


def condition_standing(state: AlertState, cond: Condition) -> str:
    """Where ``cond`` stands among the conditions of its source that ``state`` took in:
    ``"applied"`` (its :func:`condition_key` is among the last :data:`APPLIED_KEEP`), ``"late"``
    (not applied, and older than the newest of them: taken in now, it would act on an alarm
    that has moved on) or ``"new"``.

    Examples
    --------
    >>> c = Condition("P1", "B1", "news2", True, "high", "2026-01-01T00:05:00+00:00")
    >>> condition_standing({}, c)
    'new'
    >>> condition_standing({"applied": {"news2": ["2026-01-01T00:09:00+00:00|0|low"]}}, c)
    'late'
    """
    keys = _applied_keys(state, cond.source)
    if condition_key(cond) in keys:
        return "applied"
    ts = datetime.fromisoformat(cond.ts)
    return "late" if any(datetime.fromisoformat(k.split("|", 1)[0]) > ts for k in keys) else "new"


def _applied_keys(state: AlertState, source: str) -> list[str]:
    """The :func:`condition_key` of the last conditions of ``source`` the state took in."""
    return (state or {}).get("applied", {}).get(source, [])


def alert_on_condition(state: AlertState, cond: Condition, now: datetime) -> tuple[AlertState, Events]:
    """Apply one condition to a patient's alert state; return the new state and its events.

    ``now`` is the worker's wall clock (when the alarm is notified); event times are the
    condition's device time ``cond.ts``. A condition already applied (same
    :func:`condition_key`, among the last :data:`APPLIED_KEEP` of its source) changes nothing:
    a stream worker that dies re-processes its input since its last state checkpoint and
    publishes those conditions again, as new records; applied once more to a state that has
    moved on, an old one would raise, escalate or resolve the wrong alarm. Nor does one from
    before the patient's discharge (:func:`from_before_discharge`); an active one after it
    ends the discharge mark (a readmission).
    """
    if condition_key(cond) in _applied_keys(state, cond.source):  # no time parsed on this path
        return state, []
    if from_before_discharge(state, cond):
        return state, []
    new, events = _apply_condition(state, cond, now)
    if cond.active:  # a source active after the discharge: the patient was readmitted
        new.pop("discharged_ts", None)
    applied = new.setdefault("applied", {}).setdefault(cond.source, [])
    applied.append(condition_key(cond))
    del applied[:-APPLIED_KEEP]
    return new, events


def _apply_condition(state: AlertState, cond: Condition, now: datetime) -> tuple[AlertState, Events]:
    state, open_ = _open_state(state)
    cur = open_.get(cond.source)
    if cond.reassert:
        return state, _apply_reassertion(open_, cur, cond, now)
    if cond.active:
        if cur is None:
            open_[cond.source] = cur = _new_alert(cond, now)
            why = "condition became active"
            return state, [
                _event("raised", "condition", cur, cond.patient_id, cond.source, cond.ts, why, cond)
            ]
        return state, _update_active(cur, cond, now)
    if cur is None or not cur["active"]:
        return state, []  # nothing open, or a latched alarm already waiting for acknowledgement
    if cur["latched"] and not cur["acknowledged"]:
        cur["active"] = False
        why = "condition ended; latched until acknowledged"
        return state, [_event("latched", "condition", cur, cond.patient_id, cond.source, cond.ts, why, cond)]
    del open_[cond.source]
    cur["active"] = False
    return state, [
        _event("resolved", "condition", cur, cond.patient_id, cond.source, cond.ts, "condition ended", cond)
    ]


#: added to the reason of an event a re-assertion caused
MISSED = "; re-asserted by its source: the change before it was never applied"


def _apply_reassertion(
    open_: dict[str, OpenAlert], cur: OpenAlert | None, cond: Condition, now: datetime
) -> Events:
    """A source's unchanged active level, sent again (``cond.reassert``): it raises or
    escalates only what the state missed (the condition's raise or rise was lost on its way),
    and never lowers, reactivates or resolves an alarm (a rule escalation, a latched alarm, an
    acknowledgement all stand)."""
    if not cond.active:
        return []
    if cur is None:
        open_[cond.source] = cur = _new_alert(cond, now)
        why = "condition active" + MISSED
        return [_event("raised", "condition", cur, cond.patient_id, cond.source, cond.ts, why, cond)]
    if cur["active"] and _rank(cond.priority) > _rank(cur["priority"]):
        return [{**e, "reason": e["reason"] + MISSED} for e in _update_active(cur, cond, now)]
    return []


def _new_alert(cond: Condition, now: datetime) -> OpenAlert:
    return {
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
        "notified_at": now.isoformat(),
        "level": 0,
        "rule_escalated": False,
    }


def _update_active(cur: OpenAlert, cond: Condition, now: datetime) -> Events:
    """An active condition for an open alert: rise, fall, re-activation or a quiet update."""
    was_active = cur["active"]
    cur.update({"active": True, "message": cond.message, "latched": cur["latched"] or cond.latched})
    pid, src, ts = cond.patient_id, cond.source, cond.ts
    if _rank(cond.priority) > _rank(cur["priority"]):
        # A higher priority is a new notification: it needs a new acknowledgement and is not
        # covered by a silence given at the lower one.
        cur.update(
            {
                "priority": cond.priority,
                "acknowledged": False,
                "silenced_until": None,
                "notified_at": now.isoformat(),
                "level": 0,
                "rule_escalated": False,
            }
        )
        return [
            _event("escalated", "condition", cur, pid, src, ts, f"condition rose to {cond.priority}", cond)
        ]
    if _rank(cond.priority) < _rank(cur["priority"]) and not (
        cur.get("rule_escalated", False) and not cur["acknowledged"]
    ):
        cur["priority"] = cond.priority
        cur["rule_escalated"] = False
        return [
            _event("deescalated", "condition", cur, pid, src, ts, f"condition fell to {cond.priority}", cond)
        ]
    if not was_active:
        why = "condition active again before the latched alarm was acknowledged"
        return [_event("reactivated", "condition", cur, pid, src, ts, why, cond)]
    return []  # same priority (or held by an unacknowledged rule escalation): no change to show


def alert_on_action(
    state: AlertState, action: AlertAction, now: datetime, by: str, by_name: str = ""
) -> tuple[AlertState, Events]:
    """Apply an operator's action, taken by the verified user ``by`` at ``now``.

    Acting on an alarm already acknowledged changes nothing and yields no event. Raises
    ValueError when the patient has no open alert ``action.alert_id`` (the caller dead-letters).
    """
    state, open_ = _open_state(state)
    found = [(src, a) for src, a in open_.items() if a["alert_id"] == action.alert_id]
    if not found:
        raise ValueError(f"no open alert {action.alert_id!r} for this patient")
    source, cur = found[0]
    if cur["acknowledged"]:
        return state, []
    ts, pid = now.isoformat(), action.patient_id
    who: dict[str, Any] = {"by": by, "by_name": by_name or by}
    if action.action == "acknowledge":
        cur.update({"acknowledged": True, "silenced_until": None, "rule_escalated": False})
        events = [_event("acknowledged", "operator", cur, pid, source, ts, action.reason, extra=who)]
        if not cur["active"]:
            del open_[source]
            events.append(
                _event(
                    "resolved",
                    "operator",
                    cur,
                    pid,
                    source,
                    ts,
                    "acknowledged after its condition ended",
                    extra=who,
                )
            )
        return state, events
    if action.action != "silence" or action.duration_s is None:
        raise ValueError(f"unknown action {action.action!r}")
    until = (now + timedelta(seconds=action.duration_s)).isoformat()
    if cur["silenced_until"] == until:
        return state, []  # the same silence again (a re-delivered action)
    cur["silenced_until"] = until
    return state, [
        _event(
            "silenced",
            "operator",
            cur,
            pid,
            source,
            ts,
            action.reason,
            extra={"duration_s": action.duration_s, **who},
        )
    ]


def alert_on_discharge(state: AlertState, patient_id: str, ts: str, reason: str) -> tuple[AlertState, Events]:
    """The patient left the unit (a discharge, or the worker evicting an idle patient): every open
    alert is resolved, whatever its state (active, latched, unacknowledged, silenced), so that
    subscribers see it close; ``reason`` says why ("discharged: ...", "idle: ..."). The events
    are stamped ``ts`` (the discharge's time), origin ``discharge``. Returns the state with no
    open alert and the discharge mark ``discharged_ts`` (the later of ``ts`` and an earlier
    mark): the conditions of the ended stay still on their way (:func:`from_before_discharge`)
    then raise nothing.

    Examples
    --------
    >>> alert_on_discharge({}, "P1", "2026-11-26T10:00:00+00:00", "discharged")
    ({'open': {}, 'discharged_ts': '2026-11-26T10:00:00+00:00'}, [])
    """
    state, open_ = _open_state(state)
    events = []
    for source, cur in sorted(open_.items()):
        cur["active"] = False
        events.append(_event("resolved", "discharge", cur, patient_id, source, ts, reason))
    open_.clear()
    mark = state.get("discharged_ts")
    if mark is None or datetime.fromisoformat(ts) > datetime.fromisoformat(mark):
        state["discharged_ts"] = ts
    return state, events


#: how long after its time (on the worker's clock) a discharge mark is kept; a condition of the
#: ended stay later than this (a worker down for over an hour) would raise its alarm again
DISCHARGE_MARK_S = 3600.0


def from_before_discharge(state: AlertState, cond: Condition) -> bool:
    """Whether ``cond`` belongs to a stay the patient was discharged from: ``state`` carries a
    discharge mark (:func:`alert_on_discharge`) and the condition's device time is the mark's
    or earlier. Such conditions reach the alert agent after the discharge when a worker is
    behind (the ECG worker drops its state only when it reads the discharge; a late reading);
    taken in, one would raise a "ghost" alarm for a patient no longer on the unit, open until
    the patient's next discharge or eviction. A re-assertion later than the mark is taken in:
    its source is still sending data of this patient after the discharge (and a readmitted
    patient whose source's state a late record of the ended stay started is alarmed by it).

    Examples
    --------
    >>> st, _ = alert_on_discharge({}, "P1", "2026-01-01T10:00:00+00:00", "discharged")
    >>> late = Condition("P1", "B1", "ecg.vtach", True, "high", "2026-01-01T09:59:58+00:00")
    >>> after = Condition("P1", "B1", "news2", True, "high", "2026-01-01T10:30:00+00:00")
    >>> from_before_discharge(st, late), from_before_discharge(st, after), from_before_discharge({}, late)
    (True, False, False)
    """
    mark = (state or {}).get("discharged_ts")
    if mark is None:
        return False
    return datetime.fromisoformat(cond.ts) <= datetime.fromisoformat(mark)


def discharge_mark_expired(state: AlertState, now: datetime, keep_s: float = DISCHARGE_MARK_S) -> bool:
    """Whether ``state`` is only a discharge mark (no open alert) at least ``keep_s`` old at
    ``now``: the patient's entry can go.

    Examples
    --------
    >>> st, _ = alert_on_discharge({}, "P1", "2026-01-01T10:00:00+00:00", "discharged")
    >>> [discharge_mark_expired(st, datetime.fromisoformat(t)) for t in
    ...  ("2026-01-01T10:59:59+00:00", "2026-01-01T11:00:00+00:00")]
    [False, True]
    """
    mark = (state or {}).get("discharged_ts")
    if mark is None or state.get("open"):
        return False
    return (now - datetime.fromisoformat(mark)).total_seconds() >= keep_s


def alert_on_tick(
    state: AlertState, patient_id: str, now: datetime, policy: EscalationPolicy
) -> tuple[AlertState, Events]:
    """The clock at ``now`` (wall): end silences that ran out, re-notify and escalate alarms not
    acknowledged within their deadline (see the module doc for the exact timing)."""
    if not state or not state.get("open"):
        return state, []
    state, open_ = _open_state(state)
    events: Events = []
    for source, cur in open_.items():
        events += _tick_one(cur, patient_id, source, now, policy)
    return state, events


def _tick_one(cur: OpenAlert, pid: str, source: str, now: datetime, policy: EscalationPolicy) -> Events:
    if "notified_at" not in cur:  # an alert stored before deadlines existed: count from now
        cur.update({"notified_at": now.isoformat(), "level": 0, "rule_escalated": False})
    if cur["acknowledged"]:
        return []
    if cur["silenced_until"] is not None:
        until = datetime.fromisoformat(cur["silenced_until"])
        if now < until:
            return []
        cur.update({"silenced_until": None, "notified_at": until.isoformat()})
        return [_event("silence_ended", "timer", cur, pid, source, until.isoformat(), "silence ran out")]
    deadline = policy.deadline_s(cur["priority"])
    if deadline is None:
        return []
    due = datetime.fromisoformat(cur["notified_at"]) + timedelta(seconds=deadline)
    if now < due:
        return []
    old = cur["priority"]
    cur["level"] = cur.get("level", 0) + 1
    cur["notified_at"] = (due if (now - due).total_seconds() < deadline else now).isoformat()
    why = f"not acknowledged within {deadline:g} s ({cur['level']} deadline(s) missed at {old})"
    raised = policy.raised_priority(old, cur["level"])
    if raised is not None:
        cur.update({"priority": raised, "rule_escalated": True})
        return [_event("escalated", "timer", cur, pid, source, due.isoformat(), f"{why}: raised to {raised}")]
    return [_event("renotified", "timer", cur, pid, source, due.isoformat(), why)]


def alert_points(events: Events) -> list[dict[str, Any]]:
    """InfluxDB points for alert events (measurement ``alerts``): the audit trail.

    Tags: patient, bed, source, priority, type, category, origin; fields: alert_id, event_id,
    message, reason, level, value (1) and, when present, by, by_name, silenced_until.
    """
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
                "origin": e.get("origin", "condition"),
            },
            {
                "alert_id": e["alert_id"],
                "event_id": e["event_id"],
                "message": e["message"][:500],
                "reason": str(e.get("reason", ""))[:500],
                "level": int(e.get("level", 0)),
                "by": e.get("by"),
                "by_name": e.get("by_name"),
                "silenced_until": e.get("silenced_until"),
                "value": 1,
            },
            e["ts"],
        )
        for e in events
    ]
