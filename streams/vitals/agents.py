"""The vitals agent: decode -> validate -> order check -> NEWS2 -> conditions and points.

Thin by design: every decision is a pure function in ``streams/vitals/``; this module only moves
data between the topic, the per-patient table and those functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from models.deterioration.live import deterioration_step
from streams.app import app
from streams.deadletter import deadletter_event
from streams.metrics import metrics
from streams.topics import conditions_topic, points_topic, vitals_topic
from streams.vitals.scoring import (
    news2_condition,
    news2_from_state,
    vitals_points,
    vitals_state_update,
)
from streams.vitals.validate import InvalidReading, vitals_order_check, vitals_validate
from wardwatch.logs import log_event, pid_ref
from wardwatch.topics import VITALS

log = logging.getLogger("wardwatch.vitals")

# Per-patient vitals state (latest values, NEWS2 alert level), backed by a changelog topic.
vitals_state = app.Table("vitals-state", default=dict)


async def _deadletter(reason: str, event, key: str | None) -> None:
    await deadletter_event(event, reason, VITALS, key=key)
    metrics.incr("vitals_deadletter")
    log_event(log, "reading rejected", logging.WARNING, reason=reason,
              patient=pid_ref(key) if key else "-", offset=event.message.offset)


@app.agent(vitals_topic)
async def score_vitals(stream):
    async for event in stream.events():
        msg = event.message
        key = msg.key.decode("utf-8", "replace") if msg.key else None
        try:
            reading = vitals_validate(msg.value, key=key, now=datetime.now(UTC))
            state = vitals_state[reading.patient_id]
            vitals_order_check(reading, state.get("last_ts"), state.get("last_reading"))
        except InvalidReading as e:
            await _deadletter(e.reason, event, key)
            continue
        state = vitals_state_update(state, reading)
        result = news2_from_state(state, reading.ts)
        level, lower_since, condition = news2_condition(
            reading, result, state.get("news2_level", "none"), state.get("news2_lower_since"))
        state["news2_level"], state["news2_lower_since"] = level, lower_since
        conditions = [condition] if condition else []
        points = vitals_points(reading, result)
        # Further per-reading scorers (e.g. the deterioration model) plug in here.
        state["deterioration"], det_points, det_conditions = deterioration_step(
            state.get("deterioration"), reading, result)
        points = [*points, *det_points]
        conditions += det_conditions
        vitals_state[reading.patient_id] = state
        pkey = reading.patient_id.encode()
        # send_soon: buffered; Faust flushes the producer before it commits offsets, so a
        # reading's outputs are on the broker before the reading counts as processed.
        for c in conditions:
            conditions_topic.send_soon(key=pkey, value=c.to_dict())
        for p in points:
            points_topic.send_soon(key=pkey, value=p)
        metrics.incr("vitals_processed")


async def apply_side_input(stream, validate: Callable[..., Any],
                           apply: Callable[[dict, Any], None], source_topic: str) -> None:
    """Run a side topic of the patient state (labs, admissions) keyed by patient id.

    Each record is validated (``validate(raw, key=, now=)``; ``InvalidReading`` -> deadletter
    with its reason) and applied to the patient's ``vitals-state`` entry by ``apply(state,
    record)``. The side topic is co-partitioned with ``vitals`` (same key, same partition count),
    so the patient's table shard is local; nothing awaits between reading and writing the state,
    so it cannot interleave with the vitals agent on one patient.
    """
    name = source_topic.replace(".", "_")
    async for event in stream.events():
        msg = event.message
        key = msg.key.decode("utf-8", "replace") if msg.key else None
        try:
            record = validate(msg.value, key=key, now=datetime.now(UTC))
        except InvalidReading as e:
            await deadletter_event(event, e.reason, source_topic, key=key)
            metrics.incr(f"{name}_deadletter")
            log_event(log, "record rejected", logging.WARNING, topic=source_topic, reason=e.reason,
                      patient=pid_ref(key) if key else "-", offset=msg.offset)
            continue
        state = vitals_state[record.patient_id]
        apply(state, record)
        vitals_state[record.patient_id] = state
        metrics.incr(f"{name}_processed")
