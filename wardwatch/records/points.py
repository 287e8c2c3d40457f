"""Time-series points on their way to InfluxDB.

Agents never talk to InfluxDB directly: they send point dicts to the ``influx.points`` topic
and the one InfluxDB sink agent writes them in batches, retrying until the write succeeds before
its offsets are committed, so a point is never silently dropped. A message carries one point
(keyed by patient id) or a batch, ``{"points": [point, ...]}`` (:func:`points_message`: the
stream agents send one per micro-batch and input partition, so a reading's points are not one
Kafka message each); :func:`unpack_points` reads either.

Measurements (tags ``patient`` and ``bed`` on every per-patient series): ``vitals``, ``news2``,
``risk``, ``ecg_hr``, ``beats``, ``ecg_alarms``, ``alerts``, ``batch_job`` and the workers'
``pipeline*`` series; each one's tags, fields and writer are listed in ``grafana/README.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def point(
    measurement: str, tags: dict[str, str], fields: dict[str, Any], ts: datetime | str
) -> dict[str, Any]:
    """A point as a plain dict: ``time_ns`` integer nanoseconds since the epoch (UTC)."""
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is None:
        raise ValueError("point timestamps must be timezone-aware")
    fields = {k: v for k, v in fields.items() if v is not None}
    if not fields:
        raise ValueError(f"point {measurement!r} has no fields")
    time_ns = int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000
    return {
        "measurement": measurement,
        "tags": {k: str(v) for k, v in tags.items()},
        "fields": fields,
        "time_ns": time_ns,
    }


def points_message(points: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``influx.points`` message carrying many points (read back by :func:`unpack_points`)."""
    return {"points": points}


def unpack_points(value: Any) -> list[Any]:
    """The points of one ``influx.points`` message: a batch's list, or the single point.

    >>> unpack_points({"points": [{"measurement": "a"}, {"measurement": "b"}]})
    [{'measurement': 'a'}, {'measurement': 'b'}]
    >>> unpack_points({"measurement": "a"})
    [{'measurement': 'a'}]
    """
    if isinstance(value, dict) and "measurement" not in value and isinstance(value.get("points"), list):
        return list(value["points"])
    return [value]
