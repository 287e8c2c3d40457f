"""A micro-batch's InfluxDB points, sent as one ``influx.points`` message per input partition
(:func:`wardwatch.records.points.points_message`) instead of one message per point: a vitals
reading makes two or three points and an ECG chunk one or more, and per-message producing was
the worker's largest cost after the agents' own work (issue #18). The sink reads both forms.

The message goes to the partition the inputs came from (the topics are co-partitioned), with no
key: the points of many patients share it. Published with the batch's other outputs through
:func:`streams.delivery.publish`, so the batch's inputs are acknowledged only after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.delivery import Output
from wardwatch.records.points import points_message


class PointBatches:
    """Collects a batch's points by input partition; :meth:`sends` gives the outputs."""

    def __init__(self) -> None:
        self.by_partition: dict[int, list[dict[str, Any]]] = {}

    def add(self, partition: int, points: Iterable[dict[str, Any]]) -> None:
        self.by_partition.setdefault(int(partition), []).extend(points)

    def sends(self, topic: Any) -> list[Output]:
        """``(topic, None, {"points": [...]}, partition)`` for each partition with points."""
        return [(topic, None, points_message(pts), part) for part, pts in self.by_partition.items() if pts]
