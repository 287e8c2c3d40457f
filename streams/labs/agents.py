"""The labs agent: decode -> validate -> the patient's deterioration feature state.

Lab results share the per-patient state of the vitals agent (the ``vitals-state`` table): both
topics are keyed by patient id with the same partition count, so a patient's vitals and labs are
handled by the same worker and the table shard is local. The agent never awaits between reading
and writing a patient's state, so it cannot interleave with the vitals agent on one patient.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from models.deterioration.live import deterioration_lab
from streams.app import app
from streams.deadletter import deadletter_event
from streams.labs.validate import labs_validate
from streams.metrics import metrics
from streams.topics import labs_topic
from streams.vitals.agents import vitals_state
from streams.vitals.validate import InvalidReading
from wardwatch.logs import log_event, pid_ref
from wardwatch.topics import LABS

log = logging.getLogger("wardwatch.labs")


@app.agent(labs_topic)
async def ingest_labs(stream):
    async for event in stream.events():
        msg = event.message
        key = msg.key.decode("utf-8", "replace") if msg.key else None
        try:
            lab = labs_validate(msg.value, key=key, now=datetime.now(UTC))
        except InvalidReading as e:
            await deadletter_event(event, e.reason, LABS, key=key)
            metrics.incr("labs_deadletter")
            log_event(log, "lab result rejected", logging.WARNING, reason=e.reason,
                      patient=pid_ref(key) if key else "-", offset=msg.offset)
            continue
        state = vitals_state[lab.patient_id]
        state["deterioration"] = deterioration_lab(state.get("deterioration"), lab.to_dict())
        vitals_state[lab.patient_id] = state
        metrics.incr("labs_processed")
