"""The alert agents: where conditions, operator actions and the clock become alert events.

:mod:`models.alarms.lifecycle` decides; these agents only move data. Conditions (from every
source) and operator actions (``alerts.ack``) are both keyed by patient id, so they share
partitions and the changelog-backed table of open alerts (``alerts-open``); the escalation timer
runs the lifecycle's tick over the open alerts of this worker's active partitions. Every event
goes to ``alerts`` and, as a point, to InfluxDB (the audit trail), acknowledged by the broker
before the state that follows from it is written.

Every state change (condition batch, operator action, timer) is written with
:meth:`~streams.tables.PatientStateTable.write`, acknowledged by the broker before the lock is
let go, so a patient's changelog holds the changes in the order they were made. A change that
went through Faust's producer buffer (``table[key] = value``) could reach the broker after a
later one sent directly, and a worker taking the partition over would restore the older state:
the conditions applied since, already committed, would be lost from it.

Operator actions are trusted only through their user token (``wardwatch.identity.authorize``
with the secret of ``settings.auth_secret_value()``): no token, a bad or expired one ->
dead letter ``unauthenticated``; a role that may not act -> ``forbidden``. A worker without a
configured secret starts, says so once in its log, and dead-letters every action as
``unauthenticated``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from models.alarms.lifecycle import (
    AlertState,
    EscalationPolicy,
    alert_on_action,
    alert_on_condition,
    alert_on_tick,
    alert_points,
    condition_standing,
    discharge_mark_expired,
    from_before_discharge,
)
from streams.app import app
from streams.deadletter import deadletter_event, deadletter_output
from streams.delivery import Output, already_processed, current, publish, run_batches
from streams.metrics import metrics
from streams.tables import active_partitions, patient_table, settle_on_revocation
from streams.topics import alerts_ack_topic, alerts_topic, conditions_in, points_topic
from wardwatch.identity import AuthError, User, authorize
from wardwatch.logs import log_event, pid_ref
from wardwatch.records.actions import AlertAction, action_validate
from wardwatch.records.conditions import Condition
from wardwatch.records.errors import InvalidRecord
from wardwatch.records.wire import decode_json
from wardwatch.settings import get_settings
from wardwatch.topics import ALERTS_ACK, CONDITIONS

log = logging.getLogger("wardwatch.alerts")

_s = get_settings()
POLICY = EscalationPolicy(_s.escalate_high_s, _s.escalate_medium_s, _s.escalate_medium_to_high_after)
TICK_S = _s.alerts_tick_s

# Each value carries its changelog partition (``"partition"``), so the escalation timer can write
# a patient's alerts outside stream iteration, to the partition they came from (a value stored
# before partitions were recorded joins the timer's round at its patient's next condition/action),
# and the offset of the last condition it took in (``"offset"``), so that a re-delivered condition
# is recognised and skipped.
open_alerts = patient_table("alerts-open")
# Held from reading a patient's open alerts to writing them back: the agents and the timer await
# their outputs in between, and must not overwrite each other's change.
alerts_lock = asyncio.Lock()
settle_alerts_on_revocation = settle_on_revocation(alerts_lock, "alerts-open")


class _Auth:
    """The token secret, read once per process (None: acknowledgements cannot be verified)."""

    def __init__(self) -> None:
        self.loaded = False
        self.secret: bytes | None = None
        self.problem = ""

    def get(self) -> bytes | None:
        if not self.loaded:
            self.loaded = True
            try:
                self.secret = get_settings().auth_secret_value()
            except (ValueError, OSError) as e:
                self.problem = f"no auth secret configured on this worker ({e})"
                log_event(
                    log,
                    "alert actions disabled: every acknowledge/silence will be dead-lettered as "
                    "unauthenticated until a secret is configured",
                    logging.WARNING,
                    reason=self.problem,
                )
        return self.secret


auth = _Auth()


@app.task
async def check_auth_secret() -> None:
    """At worker start: read the secret, so a missing one is logged once, before any action."""
    auth.get()


def _sends(patient_id: str, events: list[dict[str, Any]]) -> list[tuple[Any, bytes | None, Any]]:
    key = patient_id.encode()
    return [(alerts_topic, key, ev) for ev in events] + [(points_topic, key, p) for p in alert_points(events)]


def _logged(patient_id: str, events: list[dict[str, Any]]) -> None:
    for ev in events:
        log_event(
            log,
            "alert event",
            type=ev["type"],
            origin=ev["origin"],
            alert_id=ev["alert_id"],
            source=ev["source"],
            priority=ev["priority"],
            patient=pid_ref(patient_id),
        )
    metrics.incr("alert_events", len(events))


async def publish_alert_events(patient_id: str, events: list[dict[str, Any]]) -> None:
    """Alert events and their points, acknowledged by the broker before the caller writes the
    new state: a state ahead of its events would swallow the event on re-delivery."""
    if events:
        await publish(_sends(patient_id, events))
        _logged(patient_id, events)


BATCH_MAX = 500  #: conditions per micro-batch
BATCH_WITHIN_S = 0.05  #: longest wait to fill a batch (adds at most this latency)


@app.agent(conditions_in)
async def raise_alerts(stream):
    await run_batches(stream, _raise_locked, BATCH_MAX, BATCH_WITHIN_S, CONDITIONS)


async def _raise_locked(events: list) -> None:
    async with alerts_lock:
        events = current(app, events)  # none from before a rebalance that came meanwhile
        if events:
            await _raise_batch(events)


async def _raise_batch(events: list) -> None:
    """Apply a batch of conditions (many patients, in order per partition: a condition skipped
    on its way here would move the alarm's onset, and with it its id); publish the alert events
    (acknowledged by the broker); then write the patients' new states."""
    now = datetime.now(UTC)
    states: dict[str, AlertState] = {}
    sends: list[Output] = []
    raised: list[tuple[str, list[dict[str, Any]]]] = []
    for event in events:
        msg = event.message
        try:
            cond = Condition.from_dict(decode_json(msg.value, finite=False))
        except (TypeError, ValueError, KeyError) as e:  # not JSON (InvalidRecord), or not a condition
            bad = e if isinstance(e, InvalidRecord) else InvalidRecord("malformed", f"invalid condition: {e}")
            sends.append(deadletter_output(event, bad, CONDITIONS))
            continue
        pid = cond.patient_id
        current = states[pid] if pid in states else open_alerts[pid]
        passed = already_processed(current, msg.partition, msg.offset)
        if passed:
            standing = condition_standing(current, cond)
            if standing == "applied":
                # re-delivered after a rebalance (offset not committed yet): its events went out
                # before this state was written. Applied again to the state that followed it, a
                # condition of an alarm resolved since would raise that alarm again.
                metrics.incr("conditions_redelivered")
                continue
            # The state is past this offset, yet never took this condition in: a later record
            # of the partition reached it first (a delivery fault). Never skipped in silence.
            _passed_over(event, pid, standing)
            if standing == "late":
                late = InvalidRecord(
                    "out_of_order", "passed over: the alarm state took a later condition of its source first"
                )
                sends.append(deadletter_output(event, late, CONDITIONS))
                continue
        if from_before_discharge(current, cond):
            sends.append(deadletter_output(event, _after_discharge(current, pid, cond), CONDITIONS))
            continue
        state, new_events = alert_on_condition(current, cond, now)
        if cond.reassert and new_events:  # the raise or rise before it was never applied
            metrics.incr("alarms_healed_by_reassertion")
            log_event(
                log,
                "alarm healed by a re-asserted condition",
                logging.WARNING,
                source=cond.source,
                patient=pid_ref(pid),
            )
        state["partition"] = msg.partition
        state["offset"] = int(current["offset"]) if passed else msg.offset  # (passed: the larger)
        states[pid] = state
        if new_events:
            sends += _sends(pid, new_events)
            raised.append((pid, new_events))
    await publish(sends)
    for pid, new_events in raised:
        _logged(pid, new_events)
    await open_alerts.write(states)


def _after_discharge(state: AlertState, patient_id: str, cond: Condition) -> InvalidRecord:
    """Count and log a condition of a stay the patient was discharged from; the reason it is
    dead-lettered with (it raises no alarm)."""
    metrics.incr("conditions_after_discharge")
    log_event(
        log,
        "condition of an ended stay",
        logging.WARNING,
        source=cond.source,
        reassert=cond.reassert,
        patient=pid_ref(patient_id),
    )
    return InvalidRecord(
        "out_of_order",
        f"from {cond.ts}, a stay that ended: the patient was discharged at {state['discharged_ts']};"
        " no alarm is raised",
    )


def _passed_over(event: Any, patient_id: str, standing: str) -> None:
    """Count and log a condition the alarm state's offset is past but never took in: ``late``
    ones are dead-lettered, ``new`` ones (newer than anything of their source) are taken in."""
    metrics.incr(f"conditions_passed_over_{standing}")
    log_event(
        log,
        "condition passed over in delivery",
        logging.ERROR,
        standing=standing,
        patient=pid_ref(patient_id),
        partition=event.message.partition,
        offset=event.message.offset,
    )


#: anything shaped like a user token (wardwatch.identity: "v1." + base64url + "." + base64url)
_TOKEN_LIKE = re.compile(rb"v1\.[A-Za-z0-9_\-.]*")


def _redacted(raw: Any) -> bytes | None:
    """The message with its token blanked (a dead letter must not carry a usable credential);
    in bytes that are not a JSON object (a truncated message, say) every token-shaped run."""
    try:
        obj = json.loads(raw)
    except (ValueError, TypeError):
        obj = None
    if isinstance(obj, dict):
        return json.dumps({**obj, "token": "[redacted]"}).encode() if "token" in obj else None
    return _TOKEN_LIKE.sub(b"[redacted]", raw) if isinstance(raw, bytes) else None


def _verified_user(action: AlertAction) -> User:
    """The user of the action's token if they may take it; else InvalidRecord (see module doc)."""
    secret = auth.get()
    if secret is None:
        raise InvalidRecord("unauthenticated", f"{auth.problem}: the action cannot be verified", "token")
    try:
        return authorize(action.token, action.action, secret, time.time())
    except AuthError as e:
        raise InvalidRecord(e.code, e.message, "token") from None


def _action_time(message: Any) -> datetime:
    """When the operator acted: the message's timestamp (so a re-delivered action yields the same
    event ids), never later than now."""
    now = time.time()
    ts = getattr(message, "timestamp", None)
    return datetime.fromtimestamp(min(ts, now) if isinstance(ts, (int, float)) and ts > 0 else now, UTC)


@app.agent(alerts_ack_topic)
async def act_on_alerts(stream):
    """Operator actions (``wardwatch.records.actions``: the contract), verified by their token."""
    await run_batches(stream, _act_each, BATCH_MAX, BATCH_WITHIN_S, ALERTS_ACK)


async def _act_each(events: list) -> None:
    for event in events:
        await _act(event)


async def _act(event: Any) -> None:
    """One operator action: verified, applied, its events published, then the state written."""
    msg = event.message
    async with alerts_lock:
        if not current(app, [event]):  # from before a rebalance that came meanwhile
            return
        try:
            key = msg.key.decode("utf-8", "replace") if msg.key else None
            action = action_validate(msg.value, key=key)
            user = _verified_user(action)
            state, events = alert_on_action(
                open_alerts[action.patient_id], action, _action_time(msg), user.username, user.name
            )
        except InvalidRecord as e:
            await deadletter_event(event, e, ALERTS_ACK, raw=_redacted(msg.value))
            return
        except ValueError as e:  # no open alert with this id (for this patient)
            unknown = InvalidRecord("bad_value", str(e), "alert_id")
            await deadletter_event(event, unknown, ALERTS_ACK, raw=_redacted(msg.value))
            return
        await publish_alert_events(action.patient_id, events)
        state["partition"] = msg.partition
        await open_alerts.write({action.patient_id: state})


@app.timer(interval=TICK_S)
async def escalate_alerts() -> None:
    """Every ``alerts_tick_s``: deadlines and silences of the open alerts this worker owns."""
    partitions = active_partitions(CONDITIONS)
    if partitions is None:  # not assigned yet (rebalancing)
        return
    try:
        await tick_alerts(datetime.now(UTC), partitions)
    except Exception:
        log.exception("alert escalation tick failed")
        metrics.incr("alert_tick_errors")


async def tick_alerts(now: datetime, partitions: set[int]) -> int:
    """Run the lifecycle's tick over the open alerts of ``partitions`` (a standby copy of another
    worker's partition is left to that worker); publish the events, then write the states; then
    drop the entries of discharged patients whose mark has expired (a tombstone each).
    Returns the number of events."""
    async with alerts_lock:
        changed: dict[str, AlertState] = {}
        events_of: dict[str, list[dict[str, Any]]] = {}
        gone: dict[str, int] = {}  # discharged patients whose mark has expired -> partition
        for pid, st in list(open_alerts.items()):
            if not st or st.get("partition") not in partitions:
                continue
            if discharge_mark_expired(st, now):
                gone[pid] = int(st["partition"])
                continue
            if not st.get("open"):
                continue
            new, events = alert_on_tick(st, pid, now, POLICY)
            if new != st:
                changed[pid] = new
            if events:
                events_of[pid] = events
        if events_of:
            await publish([s for pid, evs in events_of.items() for s in _sends(pid, evs)])
            for pid, evs in events_of.items():
                _logged(pid, evs)
        await open_alerts.write(changed)
        for pid, partition in gone.items():
            await open_alerts.retire(pid, partition)
        return sum(len(e) for e in events_of.values())
