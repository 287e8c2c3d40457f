"""Per-patient state tables for agents that process micro-batches of many patients, and the
checkpoint that writes their changelog.

Faust writes a table change to the changelog partition of the *current event*, which in a batch
of many patients is the wrong one for all but one. :class:`PatientStateTable` writes each
patient's state to the partition its input records come from (``value["partition"]``, set by
the agent), so recovery after a restart or rebalance finds every patient's state with its
partition; it also lets a timer update the table outside stream iteration.

:class:`Checkpoint`: the vitals and ECG agents see every patient once a second, so writing the
changelog per batch meant one changelog record per input record (for ECG, ~40 KB of JSON each).
They keep a batch's states in the local table only and hold its input records unacknowledged;
every ``settings.state_checkpoint_s`` the checkpoint writes each changed patient's state to the
changelog once, waits for the broker, and only then acknowledges the records it covers. So a
commit never passes a record whose state is not on the changelog, and (the outputs of a batch
being published before its states are even kept locally) a state on the changelog is never
ahead of its outputs. After a crash the records since the last checkpoint are processed again:
their outputs go out again with the same ids (at least once), nothing is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from faust import Table

from streams.app import app
from streams.delivery import Output, publish
from streams.metrics import metrics


class PatientStateTable(Table):
    """A table whose values carry their own changelog partition (``value["partition"]``)."""

    def on_key_set(self, key: Any, value: Any) -> None:
        part = value.get("partition") if isinstance(value, dict) else None
        if part is None:
            super().on_key_set(key, value)
            return
        self.send_changelog(int(part), key, value)
        self._maybe_set_key_ttl(key, int(part))
        self._sensor_on_set(self, key, value)

    def retire(self, key: Any, partition: int) -> None:
        """Delete ``key`` (tombstone on its changelog partition) outside stream iteration."""
        self.send_changelog(int(partition), key, value=None, value_serializer="raw")
        self.data.pop(key, None)
        self._sensor_on_del(self, key)

    def keep(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Set ``states`` in this worker's copy only: their changelog records are written by a
        :class:`Checkpoint`."""
        for key, value in states.items():
            self.data[key] = value

    def changelog_outputs(self, keys: Iterable[str], partitions: set[int]) -> list[Output]:
        """The changelog records of the current states of ``keys`` whose partition is in
        ``partitions``, as :func:`streams.delivery.publish` outputs (keys still in the table;
        a retired one is gone)."""
        topic, out = _Changelog(self), list[Output]()
        for key in keys:
            value = self.data.get(key)
            if isinstance(value, dict) and value.get("partition") in partitions:
                out.append((topic, key, value, int(value["partition"])))
        return out


class _Changelog:
    """A table's changelog topic as a :func:`streams.delivery.publish` destination: keys and
    values encoded with the table's serializers, as Faust's own changelog records are, and handed
    straight to the producer (Faust's per-message send path costs ~0.5 ms a record; a checkpoint
    of 2,000 patients would stall the agent for a second)."""

    def __init__(self, table: PatientStateTable) -> None:
        self.table = table
        self.topic = table.changelog_topic.get_topic_name()

    async def send(self, *, key: Any, value: Any, partition: int | None) -> Any:
        t, ser = self.table, self.table.app.serializers
        k = ser.dumps_key(t.key_type, key, serializer=t.key_serializer)
        v = ser.dumps_value(t.value_type, value, serializer=t.value_serializer)
        return await t.app.producer.send(self.topic, k, v, partition, None, None)


def patient_table(name: str) -> PatientStateTable:
    """A per-patient state table (``default=dict``, string keys) registered with the app."""
    table = PatientStateTable(app, name=name, default=dict, key_type=str, beacon=app.tables.beacon)
    app.tables.add(table)
    return table


def active_partitions(topic: str) -> set[int] | None:
    """The partitions of ``topic`` this worker owns now (None while it is being rebalanced)."""
    try:
        actives = app.assignor.assigned_actives()
    except Exception:  # noqa: BLE001 - not assigned yet (rebalancing)
        return None
    return {tp.partition for tp in actives if tp.topic == topic}


class Checkpoint:
    """A batching agent's states and input records since its last checkpoint (module doc).

    The agent calls :meth:`took` after a batch's outputs were acknowledged (the events are held:
    their Faust reference count keeps them from being acknowledged when the agent asks for the
    next batch), then :meth:`save` when :meth:`due`; a timer calls it too, so an idle stream is
    committed. Both run under the agent's lock.
    """

    def __init__(self, table: PatientStateTable, source_topic: str, every_s: float) -> None:
        self.table, self.source_topic, self.every_s = table, source_topic, every_s
        self.changed: set[str] = set()
        self.held: list[tuple[Any, Any]] = []  # (stream, event)
        self.saved_s = time.monotonic()
        #: the source partitions this worker owns now (None: being rebalanced); the unit tests'
        #: harness, which has no consumer group, replaces it
        self.owned: Callable[[], set[int] | None] = lambda: active_partitions(source_topic)

    @staticmethod
    def hold(events: Iterable[Any]) -> None:
        """Keep ``events`` from being acknowledged until :meth:`save` (call before the batch is
        processed: an agent that crashes mid-batch then acknowledges none of it)."""
        for event in events:
            event.message.incref()

    def took(self, stream: Any, events: Iterable[Any], states: Mapping[str, Mapping[str, Any]]) -> None:
        """A batch is done: its ``states`` go to the local table, its held ``events`` wait."""
        self.table.keep(states)
        self.changed.update(states)
        self.held.extend((stream, e) for e in events)

    def due(self) -> bool:
        return bool(self.held) and time.monotonic() - self.saved_s >= self.every_s

    async def save(self) -> int:
        """Write the changed states of the partitions this worker still owns to the changelog
        (acknowledged by the broker), then acknowledge their held records. Records of a
        partition that moved away are dropped unacknowledged (its new owner reads them again
        from the last commit, with the state of the last checkpoint). Returns the states
        written; nothing is done while the worker is being rebalanced. Records fetched in an
        earlier consumer generation (before a rebalance) are dropped the same way."""
        partitions = self.owned()
        if partitions is None:
            return 0
        outputs = self.table.changelog_outputs(self.changed, partitions)
        await publish(outputs)
        generation = getattr(app, "consumer_generation_id", None)
        for stream, event in self.held:
            msg = event.message
            # a record fetched before a rebalance is dropped too, even if its partition came
            # back: the new generation reads it again from the last commit (with the state the
            # table then holds), so its acknowledgement must not commit past that reading
            if msg.partition in partitions and getattr(msg, "generation_id", None) in (None, generation):
                await stream.ack(event)
        metrics.incr(f"{self.table.name}_checkpointed", len(outputs))
        self.changed.clear()
        self.held.clear()
        self.saved_s = time.monotonic()
        return len(outputs)

    async def save_if_due(self) -> int:
        return await self.save() if self.due() else 0
