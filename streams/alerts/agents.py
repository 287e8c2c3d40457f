"""The alert agent: the one place where conditions become alert events.

Conditions (from every source) and operator actions (``alerts.ack``) are both keyed by patient
id, so they share partitions and the changelog-backed table of open alerts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from streams.alerts.engine import alert_on_action, alert_on_condition, alert_points
from streams.app import app
from streams.deadletter import deadletter_event
from streams.delivery import publish
from streams.metrics import metrics
from streams.topics import alerts_ack_topic, alerts_topic, conditions_topic, points_topic
from wardwatch.logs import log_event, pid_ref
from wardwatch.records.conditions import Condition
from wardwatch.records.errors import InvalidRecord
from wardwatch.topics import ALERTS_ACK, CONDITIONS

log = logging.getLogger("wardwatch.alerts")

open_alerts = app.Table("alerts-open", default=dict)
# Held from reading a patient's open alerts to writing them back: both agents await their
# outputs in between, and must not overwrite each other's change.
alerts_lock = asyncio.Lock()


async def _publish(patient_id: str, events: list[dict]) -> None:
    """Alert events and their points, acknowledged by the broker before the caller writes the
    new state: a state ahead of its events would swallow the event on re-delivery."""
    key = patient_id.encode()
    await publish(
        [(alerts_topic, key, ev) for ev in events] + [(points_topic, key, p) for p in alert_points(events)]
    )
    for ev in events:
        log_event(
            log,
            "alert event",
            type=ev["type"],
            alert_id=ev["alert_id"],
            source=ev["source"],
            priority=ev["priority"],
            patient=pid_ref(patient_id),
        )
    metrics.incr("alert_events", len(events))


@app.agent(conditions_topic)
async def raise_alerts(stream):
    async for event in stream.events():
        try:
            cond = Condition.from_dict(event.value)
        except (TypeError, ValueError, KeyError) as e:
            await deadletter_event(
                event,
                InvalidRecord("malformed", f"invalid condition: {e}"),
                CONDITIONS,
                raw=json.dumps(event.value, default=str).encode(),
            )
            continue
        async with alerts_lock:
            state, events = alert_on_condition(open_alerts[cond.patient_id], cond)
            await _publish(cond.patient_id, events)
            open_alerts[cond.patient_id] = state


@app.agent(alerts_ack_topic)
async def act_on_alerts(stream):
    """Operator actions: ``{"patient_id", "alert_id", "action": "acknowledge"|"silence", "by"}``."""
    async for event in stream.events():
        msg = event.message
        async with alerts_lock:
            try:
                action = json.loads(msg.value)
                pid = action["patient_id"]
                if msg.key and msg.key.decode() != pid:
                    raise InvalidRecord("key_mismatch", "message key does not match patient_id", "patient_id")
                state, events = alert_on_action(open_alerts[pid], action, datetime.now(UTC))
            except InvalidRecord as e:
                await deadletter_event(event, e, ALERTS_ACK)
                continue
            except (ValueError, KeyError, TypeError) as e:
                await deadletter_event(
                    event, InvalidRecord("malformed", f"invalid alert action: {e}"), ALERTS_ACK
                )
                continue
            await _publish(pid, events)
            open_alerts[pid] = state
