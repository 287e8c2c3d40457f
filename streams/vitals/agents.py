"""The vitals agent: decode -> validate -> order check -> :func:`vitals_step` -> outputs.

Thin by design: every decision is a pure function (``models.vitals.scoring``, the validators of
``wardwatch.records``); this module only moves data between the topic, the per-patient table
and those functions.

Readings are taken in micro-batches (many patients). A batch's outputs (conditions, its points
as one message per partition: :mod:`streams.outputs`, dead letters) are published and
acknowledged by the broker first; then the patients' new states are kept in the table's memory,
so a state can never be ahead of its outputs (a re-delivered reading would otherwise be a
"duplicate" whose alarm was lost).

Checkpoint (as the ECG agent's, :mod:`streams.checkpoint`): each kept state is written to the
changelog every :data:`CHECKPOINT_S` (``WARDWATCH_VITALS_CHECKPOINT_S``; 0: after every
batch), in :data:`SLICES` slices of patients, one every :data:`CHECKPOINT_SLICE_S`; a reading
stays unacknowledged until its patient's state is written (:class:`streams.delivery.HeldAcks`),
so a commit never passes a state that the next owner of the partition would not recover. A
worker that dies handles the readings since the checkpoint again from it (their outputs go out
again: conditions and points are idempotent downstream). Before it, every reading wrote its
patient's 1.3 KB state: at 2,000 beds 2.6 MB/s, 8x the vitals input. Unlike the ECG step,
:func:`vitals_step` makes a new state and leaves the table's alone, so a batch that fails keeps
nothing and changes nothing: it needs no rewind. The labs and admissions agents write a state
at once (:meth:`~streams.tables.PatientStateTable.write`, with the readings it has taken in),
under the same lock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any

from models.deterioration.live import LiveState, deterioration_step
from models.deterioration.model import load_model
from models.vitals.scoring import VitalsState, vitals_step
from streams.app import app
from streams.checkpoint import due_slices, slice_count, slice_picker, slice_turns, write_kept
from streams.deadletter import deadletter_event, deadletter_output
from streams.delivery import HeldAcks, Output, already_processed, current, publish, run_batches
from streams.metrics import metrics
from streams.outputs import PointBatches
from streams.tables import patient_table, register_patient_states
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
#: seconds between writes of each vitals state to its changelog (0: after every batch)
CHECKPOINT_S = get_settings().vitals_checkpoint_s
CHECKPOINT_SLICE_S = 0.5  #: one slice of the patients' states is written this often
SLICES = slice_count(CHECKPOINT_S, CHECKPOINT_SLICE_S)
STOP_WRITE_S = 15.0  #: longest a stopping worker waits to write the states (then at least once)

# Per-patient vitals state (latest values, NEWS2 alert level), backed by a changelog topic.
vitals_state = patient_table("vitals-state", restorable=True)
# Held from reading a patient's state to keeping it (a batch awaits its outputs in between)
# and by the checkpoint, so a lab or admission for the same patient cannot be overwritten by
# the batch, nor a state written while a batch changes it.
state_lock = asyncio.Lock()
register_patient_states(vitals_state, state_lock)


class _Checkpoints:
    """The readings held until their states' checkpoint, and when each slice is next due."""

    def __init__(self) -> None:
        self.acks = HeldAcks()
        self.turns = slice_turns(time.monotonic(), CHECKPOINT_S, SLICES)


cp = _Checkpoints()


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
        events = current(app, events)  # none from before a rebalance that came meanwhile
        if not events:
            return
        cp.acks.hold(events, await _score_batch(events))
        await _checkpoint_due()


async def _checkpoint(slices: Collection[int] | None = None) -> int:
    """Write the states kept since their last checkpoint, those of ``slices`` (None: all), then
    acknowledge the readings that made them (under :data:`state_lock`); returns how many
    states it wrote."""
    return await write_kept(vitals_state, cp.acks, slice_picker(slices, SLICES), "vitals")


async def _checkpoint_due() -> None:
    """:func:`_checkpoint` of the slices whose turn has come, if any; a failure (the broker did
    not take the states) leaves the states kept and the readings held for the next attempt."""
    due = due_slices(cp.turns, time.monotonic(), CHECKPOINT_S) if CHECKPOINT_S > 0 else None
    if due is not None and not due:
        return
    try:
        await _checkpoint(due)
    except Exception:
        log.exception("vitals checkpoint failed; the states stay kept and their readings unacknowledged")
        metrics.incr("vitals_checkpoint_errors")


@app.timer(interval=CHECKPOINT_S / SLICES if CHECKPOINT_S > 0 else 0.5)
async def vitals_checkpoint() -> None:
    """The slices' turns when no batch comes to take them (a quiet ward, the end of a feed)."""
    async with state_lock:
        await _checkpoint_due()


@app.on_partitions_revoked.connect
async def vitals_checkpoint_on_revoke(sender: Any, /, *revoked: Any, signal: Any, **kwargs: Any) -> None:
    """A rebalance (Faust sends this once the flow has stopped, before the partitions are
    assigned again): the states go to the broker before any other worker recovers them. If the
    broker does not take them, they go back to the last checkpoint and their readings are let
    go unacknowledged: every partition is read again from its committed offset, by whichever
    worker owns it now, and no state of this worker is written later over its new owner's."""
    async with state_lock:
        try:
            n = await _checkpoint()
        except Exception:  # never crash the worker in a rebalance
            log.exception("vitals checkpoint on revocation failed; the states go back to the last one")
            metrics.incr("vitals_checkpoint_errors")
            vitals_state.restore(())
            cp.acks.rewind()
            dropped = cp.acks.forget_replay(app.consumer)
            log_event(log, "vitals states back to their checkpoint on revocation", dropped=dropped)
            return
    log_event(log, "vitals states written on revocation", states=n)


@app.on_before_shutdown.connect
async def vitals_checkpoint_on_stop(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """A clean stop (the consumer has stopped, the producer not yet): the states kept since the
    last checkpoint are written, so that the worker reading their readings again (their offsets
    were not committed) recognises them as taken in instead of sending their outputs again."""
    try:
        async with asyncio.timeout(STOP_WRITE_S), state_lock:
            n = await _checkpoint()
    except Exception:  # at least once: the readings since the last one are read again
        log.exception(
            "vitals checkpoint on stop failed; the readings since the last one will be handled again"
        )
        return
    log_event(log, "vitals states written on stop", states=n)


async def _score_batch(events: list) -> list[str | None]:
    """Score a batch; publish its outputs (acknowledged by the broker); then keep the patients'
    new states in the table (written at their slice's next checkpoint). Returns the patient of
    each reading whose acknowledgement waits for its state (None: a record that did not
    validate), for :meth:`HeldAcks.hold`. A batch that fails keeps nothing."""
    now = datetime.now(UTC)
    states: dict[str, VitalsState] = {}
    pids: list[str | None] = [None] * len(events)
    sends: list[Output] = []
    points = PointBatches()
    for i, event in enumerate(events):
        msg = event.message
        key = msg.key.decode("utf-8", "replace") if msg.key else None
        try:
            reading = vitals_validate(msg.value, key=key, now=now)
            pid = pids[i] = reading.patient_id  # (a reading read again too: its first copy's
            # state may not be written yet)
            if pid not in states:
                vitals_state.hold([pid])  # as it is now: a failed revocation checkpoint restores it
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
    vitals_state.keep(states)
    return pids


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
        if not current(app, [event]):  # from before a rebalance that came meanwhile
            return
        state = vitals_state[record.patient_id]
        apply(state, record)
        state["partition"] = msg.partition  # (also for the idle timer of streams.patients)
        # acknowledged before the lock is let go: through Faust's producer buffer
        # (``vitals_state[pid] = state``) it could reach the changelog after the next batch's
        # state, sent directly, and a worker taking over would restore this older one
        await vitals_state.write({record.patient_id: state})
    metrics.incr(f"{name}_processed")
