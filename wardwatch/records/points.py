"""Time-series points on their way to InfluxDB.

Agents never talk to InfluxDB directly: they send point dicts to the ``influx.points`` topic
(keyed by patient id) and the one InfluxDB sink agent writes them in batches, retrying until the
write succeeds before its offsets are committed, so a point is never silently dropped.

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
