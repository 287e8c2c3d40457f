"""Per-patient state tables for agents that process micro-batches of many patients.

Faust writes a table change to the changelog partition of the *current event*, which in a batch
of many patients is the wrong one for all but one. :class:`PatientStateTable` writes each
patient's state to the partition its input records come from (``value["partition"]``, set by
the agent), so recovery after a restart or rebalance finds every patient's state with its
partition; it also lets a timer update the table outside stream iteration.
"""

from __future__ import annotations

from typing import Any

from faust import Table

from streams.app import app


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
