"""Per-patient state tables for agents that process micro-batches of many patients.

Faust writes a table change to the changelog partition of the *current event*, which in a batch
of many patients is the wrong one for all but one. :class:`PatientStateTable` writes each
patient's state to the partition its input records come from (``value["partition"]``, set by
the agent), so recovery after a restart or rebalance finds every patient's state with its
partition; it also lets a timer update the table outside stream iteration.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from faust import Table

from streams.app import app
from streams.delivery import publish
from streams.metrics import metrics
from wardwatch.logs import log_event
from wardwatch.settings import get_settings

log = logging.getLogger("wardwatch.tables")

#: longest a rebalance waits for a batch that is writing states (its publish retries for as long
#: as the broker refuses; past this the rebalance goes on, as it did before)
REVOKE_WAIT_S = 10.0


class PatientStateTable(Table):
    """A table whose values carry their own changelog partition (``value["partition"]``).

    ``restorable`` (set by :func:`patient_table`): for an agent whose pure step updates the
    states it is given in place. The table keeps each state's changelog bytes as last written
    (no extra encoding: :meth:`write` encodes them anyway), :meth:`hold` makes sure it has them
    for the states a batch is about to update, and :meth:`restore` puts those states back as
    they were when the batch fails before its states are written. A batch handled again then
    starts from the states before it, as a worker restoring from the changelog would.

    A restorable table can also be written by checkpoint: :meth:`keep` puts a batch's states
    in memory only, and :meth:`checkpoint` writes the states kept since their last one (what a
    worker taking the partitions over would recover), all or some keys' (a checkpoint in
    slices). Between checkpoints a state's held bytes stay those of its last checkpoint, so
    :meth:`restore` puts every state kept since back to it (the caller then handles the records
    since each one's checkpoint again)."""

    restorable: bool = False

    def _held(self) -> dict[str, tuple[Any, bytes | None]]:
        """Per key: (the state object as last written or held, its changelog bytes)."""
        return self.__dict__.setdefault("_held_states", {})

    def _kept(self) -> dict[str, Any]:
        """The states kept in memory since the last checkpoint (:meth:`keep`), per key."""
        return self.__dict__.setdefault("_kept_states", {})

    def _dump(self, value: Any) -> bytes | None:
        """The changelog record's value, as :func:`publish` serialises it."""
        topic: Any = self.changelog_topic
        return topic.prepare_value(value, None, None, None)[0]

    def _load(self, raw: bytes | None) -> Any:
        """A value read back as Faust's recovery reads the changelog record."""
        topic: Any = self.changelog_topic
        return self.app.serializers.loads_value(None, raw, serializer=topic.value_serializer)

    def hold(self, keys: Iterable[str]) -> None:
        """Before a batch updates the states of ``keys`` in place: make sure each state the
        table has is held as it is now (encoded afresh only if it is not the object last
        written, e.g. one recovered from the changelog)."""
        held, kept = self._held(), self._kept()
        for key in keys:
            if key in kept:
                continue  # what is held (or not) is its state at the last checkpoint
            value = self.data.get(key)
            if value is None:
                held.pop(key, None)  # nothing to put back: the state is the batch's own
            elif key not in held or held[key][0] is not value:
                held[key] = (value, self._dump(value))

    def restore(self, keys: Iterable[str]) -> None:
        """Put the states of ``keys``, and every state kept since the last checkpoint, back as
        :meth:`hold` or :meth:`write` last saw them (each a new object, decoded from its bytes).
        A kept state with nothing held was new since the checkpoint and leaves the table; any
        other key the table held nothing for is left alone: its state, if any, was made by the
        failed batch and never reached the table."""
        held, kept = self._held(), self._kept()
        for key in {*keys, *kept}:
            if key in held:
                value = self._load(held[key][1])
                held[key] = (value, held[key][1])
                self.data[key] = value
            elif key in kept:
                self.data.pop(key, None)
        kept.clear()

    def keep(self, states: Mapping[str, Any]) -> None:
        """A batch's states, in memory until the next :meth:`checkpoint` (a restorable table)."""
        self.data.update(states)
        self._kept().update(states)

    def unwritten(self) -> int:
        """How many states were kept since the last checkpoint."""
        return len(self._kept())

    async def checkpoint(self, due: Callable[[str], bool] | None = None) -> int:
        """Write the states kept since their last checkpoint whose key ``due`` picks (None:
        every one) (:meth:`write`); returns how many. A state changed meanwhile by
        :meth:`keep` or :meth:`write` is written as the table has it."""
        kept = self._kept()
        keys = [k for k in kept if due is None or due(k)]
        if not keys:
            return 0
        states = {k: self.data[k] for k in keys if k in self.data}
        await self.write(states)
        for k in keys:
            kept.pop(k, None)
        return len(states)

    def on_key_set(self, key: Any, value: Any) -> None:
        """``table[key] = value``: refused for a state with a partition of its own. Its changelog
        record would go through Faust's producer buffer, and could reach the broker after a later
        state written directly (:meth:`write`); a worker taking the partition over would then
        restore the older one. Agents write with :meth:`write` (acknowledged, in order)."""
        if isinstance(value, dict) and value.get("partition") is not None:
            raise TypeError(f"{self.name}: a patient's state is written with await table.write(...)")
        super().on_key_set(key, value)

    async def write(self, states: Mapping[str, Any]) -> None:
        """Write many patients' states at once (those with a ``"partition"``): their changelog
        records in one :func:`publish`, acknowledged by the broker, then the table's memory.

        Assigning ``table[key] = state`` queues the changelog record in Faust's producer buffer,
        which sends one record at a time; with more than 100 queued, Faust stops delivering
        records to every agent until it has drained (its ``wait_until_ebb``). A batch writes
        hundreds of states: at 2,000 beds that stalled the fetch loop ~400 times in 40 s,
        for 0.04-0.1 s each, about half of the worker's time. Here the states go out as one
        batch of sends, and once this returns they are on the broker (a commit of the records
        that made them never runs ahead of the states)."""
        placed = {k: v for k, v in states.items() if v.get("partition") is not None}
        sent = await publish([(self.changelog_topic, k, v, int(v["partition"])) for k, v in placed.items()])
        for key, value in states.items():
            if key in placed:
                self.data[key] = value
                self._sensor_on_set(self, key, value)
            else:  # no partition of its own (took in no record): Faust's route
                self[key] = value
        if self.restorable:
            held = self._held()
            held.update((k, (v, raw)) for (k, v), raw in zip(placed.items(), sent, strict=True))
            for key in states.keys() - placed.keys():
                held.pop(key, None)  # held afresh when a batch next takes it
            if len(held) > 2 * len(self.data) + 64:  # keys gone from the table (retired, moved)
                kept = self._kept()  # (a kept state's held bytes are its last checkpoint's)
                for k in [k for k, (v, _) in held.items() if k not in kept and self.data.get(k) is not v]:
                    del held[k]

    async def retire(self, key: Any, partition: int) -> None:
        """Delete ``key``: its tombstone on its changelog partition, acknowledged by the broker
        (as :meth:`write`, so that it keeps its place among the key's changes), then memory."""
        await publish([(self.changelog_topic, key, None, int(partition))])
        self.data.pop(key, None)
        self._held().pop(key, None)
        self._kept().pop(key, None)
        self._sensor_on_del(self, key)


def changelog_config(segment_mb: int) -> dict[str, str]:
    """The topic config a state changelog is created with (``changelog_segment_mb``).

    >>> changelog_config(64)
    {'segment.bytes': '67108864'}
    """
    return {"segment.bytes": str(segment_mb * 1024 * 1024)}


def patient_table(name: str, restorable: bool = False) -> PatientStateTable:
    """A per-patient state table (``default=dict``, string keys) registered with the app
    (``restorable``: see :class:`PatientStateTable`)."""
    table = PatientStateTable(
        app,
        name=name,
        default=dict,
        key_type=str,
        beacon=app.tables.beacon,
        extra_topic_configs=changelog_config(get_settings().changelog_segment_mb),
    )
    table.restorable = restorable
    app.tables.add(table)
    return table


@dataclass(frozen=True)
class PatientStates:
    """A domain's per-patient state table, the lock its agent holds while it updates it, and what
    drops the patient's process-local caches (the ECG agent's live detectors)."""

    table: PatientStateTable
    lock: asyncio.Lock
    forget: Callable[[str], Any] | None = None


#: The per-patient data states of this worker (vitals, ECG), each registered by the agent module
#: that owns it (:func:`register_patient_states`): a discharge or an idle patient drops them
#: all (:mod:`streams.patients`; in a worker without the ward's agents, :mod:`streams.ecg.discharges`),
#: whichever of them this worker's role runs.
PATIENT_STATES: list[PatientStates] = []


def register_patient_states(
    table: PatientStateTable, lock: asyncio.Lock, forget: Callable[[str], Any] | None = None
) -> None:
    PATIENT_STATES.append(PatientStates(table, lock, forget))


async def retire_patient(patient_id: str, partition: int) -> None:
    """Drop ``patient_id`` from every registered state table (a tombstone on ``partition``) and
    its process-local caches, each under its agent's lock."""
    for ps in PATIENT_STATES:
        async with ps.lock:
            await ps.table.retire(patient_id, partition)
            if ps.forget is not None:
                ps.forget(patient_id)


def active_partitions(topic: str) -> set[int] | None:
    """The partitions of ``topic`` this worker owns now (None while it is being rebalanced)."""
    try:
        actives = app.assignor.assigned_actives()
    except Exception:  # noqa: BLE001 - not assigned yet (rebalancing)
        return None
    return {tp.partition for tp in actives if tp.topic == topic}


def settle_on_revocation(lock: asyncio.Lock, name: str) -> Callable[..., Any]:
    """Make every rebalance wait (at most :data:`REVOKE_WAIT_S`) until no batch holds ``lock``,
    the lock its agent holds from reading its patients' states to writing them; returns the
    handler (connected to ``app.on_partitions_revoked``).

    The app does not wait for the batches in flight when partitions are revoked
    (``stream_wait_empty=False``: Faust's wait would drain every buffered record). A batch that
    writes its states after its partition's new owner has recovered the changelog leaves them
    after that owner's own: the owner does not read them, but a worker recovering the partition
    later would restore them, older than what was processed since. Faust sends this signal once
    the flow has stopped (no new batch starts) and before the partitions are assigned again, as
    the ECG agent's checkpoint on revocation does for its states."""

    async def settle(sender: Any, /, *revoked: Any, signal: Any = None, **kwargs: Any) -> None:
        try:
            async with asyncio.timeout(REVOKE_WAIT_S), lock:
                pass
        except TimeoutError:
            metrics.incr("revoke_wait_timeouts")
            log_event(log, "rebalance went on while a batch was writing states", logging.WARNING, table=name)

    app.on_partitions_revoked.connect(settle)
    return settle
