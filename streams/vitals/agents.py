"""The vitals agent: decode -> validate -> order check -> :func:`vitals_step` -> outputs.

Thin by design: every decision is a pure function (``models.vitals.scoring``, the validators of
``wardwatch.records``); this module only moves data between the topic, the per-patient table
and those functions.

Readings are taken in micro-batches (many patients). A batch's outputs (conditions, its points
as one message per partition: :mod:`streams.outputs`, dead letters) are published and
acknowledged by the broker first; then the patients' states are written to the table, then the
readings are acknowledged, so a commit never passes a reading whose outputs are not on the
broker, and a state can never be ahead of its outputs (a re-delivered reading would otherwise be
a "duplicate" whose alarm was lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from models.deterioration.live import LiveState, deterioration_step
from models.deterioration.model import load_model
from models.vitals.scoring import VitalsState, vitals_step
from streams.app import app
from streams.deadletter import deadletter_event, deadletter_output
from streams.delivery import Output, already_processed, publish, run_batches
from streams.metrics import metrics
from streams.outputs import PointBatches
from streams.tables import patient_table, register_patient_states, settle_on_revocation
from streams.topics import conditions_topic, points_topic, vitals_topic
from wardwatch.logs import log_event, pid_ref
from wardwatch.records.conditions import Condition
from wardwatch.records.errors import InvalidRecord
from wardwatch.records.vitals import VitalsReading, vitals_order_check, vitals_validate
from wardwatch.settings import get_settings
from wardwatch.topics import VITALS

log = logging.getLogger("wardwatch.vitals")

BATCH_MAX = 1000  #: readings per micro-batch
BATCH_WITHIN_S = 0.05  #: longest wait to fill a batch (adds at most this latency)
SIDE_BATCH_MAX = 100  #: labs or admissions per batch (each applied on its own, in order)

# Per-patient vitals state (latest values, NEWS2 alert level), backed by a changelog topic.
vitals_state = patient_table("vitals-state")
# Held from reading a patient's state to writing it back (a batch awaits its outputs in
# between), so a lab or admission for the same patient cannot be overwritten by the batch.
state_lock = asyncio.Lock()
register_patient_states(vitals_state, state_lock)
settle_vitals_on_revocation = settle_on_revocation(state_lock, "vitals-state")


def _deterioration(
    state: LiveState | None,
    reading: VitalsReading,
    news2: object,
) -> tuple[LiveState, list[dict[str, Any]], list[Condition]]:
    """:func:`deterioration_step` with the configured model (``WARDWATCH_DETERIORATION_MODEL``;
    loaded once, then cached)."""
    return deterioration_step(state, reading, news2, model=load_model(get_settings().deterioration_model))


@app.agent(vitals_topic)
async def score_vitals(stream):
    await run_batches(stream, _score_locked, BATCH_MAX, BATCH_WITHIN_S, VITALS)


async def _score_locked(events: list) -> None:
    async with state_lock:
        await _score_batch(events)


async def _score_batch(events: list) -> None:
    """Score a batch; publish its outputs (acknowledged by the broker); then write the patients'
    new states to the table."""
    now = datetime.now(UTC)
    states: dict[str, VitalsState] = {}
    sends: list[Output] = []
    points = PointBatches()
    for event in events:
        msg = event.message
        key = msg.key.decode("utf-8", "replace") if msg.key else None
        try:
            reading = vitals_validate(msg.value, key=key, now=now)
            pid = reading.patient_id
            state = states[pid] if pid in states else vitals_state[pid]
            if already_processed(state, msg.partition, msg.offset):
                metrics.incr("vitals_redelivered")  # its outputs went out before its state
                continue
            vitals_order_check(reading, state.get("last_ts"), state.get("last_reading"))
        except InvalidRecord as e:
            sends.append(deadletter_output(event, e, VITALS, key=key))
            metrics.incr("vitals_deadletter")
            log_event(
                log,
                "reading rejected",
                logging.WARNING,
                reason=e.reason,
                patient=pid_ref(key) if key else "-",
                partition=msg.partition,
                offset=msg.offset,
            )
            continue
        state, conditions, new_points = vitals_step(state, reading, _deterioration)
        state["partition"], state["offset"] = msg.partition, msg.offset
        states[pid] = state
        pkey = pid.encode()
        sends += [(conditions_topic, pkey, c.to_dict()) for c in conditions]
        points.add(msg.partition, new_points)
        metrics.incr("vitals_processed")
    await publish(sends + points.sends(points_topic))
    await vitals_state.write(states)


async def apply_side_input(
    stream,
    validate: Callable[..., Any],
    apply: Callable[[dict, Any], None],
    source_topic: str,
    handle: Callable[[Any, int], Awaitable[bool]] | None = None,
) -> None:
    """Run a side topic of the patient state (labs, admissions) keyed by patient id.

    Each record is validated (``validate(raw, key=, now=)``; ``InvalidRecord`` -> deadletter
    with its reason) and applied to the patient's ``vitals-state`` entry by ``apply(state,
    record)``. The side topic is co-partitioned with ``vitals`` (same key, same partition count),
    so the patient's table shard is local; :data:`state_lock` keeps it from interleaving with a
    vitals batch.

    ``handle(record, partition)``, if given, sees each valid record first; a record it
    returns True for is done (a discharge: :func:`streams.patients.discharge`).
    """
    name = source_topic.replace(".", "_")

    async def each(events: list) -> None:
        for event in events:
            await _apply_side_record(event, validate, apply, source_topic, name, handle)

    await run_batches(stream, each, SIDE_BATCH_MAX, BATCH_WITHIN_S, source_topic)


async def _apply_side_record(
    event: Any,
    validate: Callable[..., Any],
    apply: Callable[[dict, Any], None],
    source_topic: str,
    name: str,
    handle: Callable[[Any, int], Awaitable[bool]] | None,
) -> None:
    """One record of a side topic (see :func:`apply_side_input`)."""
    msg = event.message
    key = msg.key.decode("utf-8", "replace") if msg.key else None
    try:
        record = validate(msg.value, key=key, now=datetime.now(UTC))
    except InvalidRecord as e:
        await deadletter_event(event, e, source_topic, key=key)
        metrics.incr(f"{name}_deadletter")
        log_event(
            log,
            "record rejected",
            logging.WARNING,
            topic=source_topic,
            reason=e.reason,
            patient=pid_ref(key) if key else "-",
            offset=msg.offset,
        )
        return
    if handle is not None and await handle(record, msg.partition):
        metrics.incr(f"{name}_processed")
        return
    async with state_lock:
        state = vitals_state[record.patient_id]
        apply(state, record)
        state["partition"] = msg.partition  # (also for the idle timer of streams.patients)
        # acknowledged before the lock is let go: through Faust's producer buffer
        # (``vitals_state[pid] = state``) it could reach the changelog after the next batch's
        # state, sent directly, and a worker taking over would restore this older one
        await vitals_state.write({record.patient_id: state})
    metrics.incr(f"{name}_processed")
