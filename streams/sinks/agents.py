"""The InfluxDB sink agent (``worker_role`` all or sink: :mod:`streams.worker`)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from streams.app import app
from streams.deadletter import deadletter_output
from streams.delivery import publish, run_batches
from streams.metrics import metrics
from streams.sinks.influx import InfluxWriter
from streams.topics import conditions_topic, points_in
from wardwatch.records.conditions import Condition
from wardwatch.records.errors import InvalidRecord
from wardwatch.records.points import unpack_points
from wardwatch.records.wire import decode_json
from wardwatch.settings import get_settings
from wardwatch.topics import POINTS

log = logging.getLogger("wardwatch.sink")
_s = get_settings()

#: The technical alarm of a sink whose credentials InfluxDB refuses (IEC 60601-1-8 technical
#: alarm condition: the system cannot store, so trends, history and the audit trail stop).
#: Alarms keep flowing through Kafka meanwhile, hence medium, not high. It is keyed to the
#: pseudo-patient below so that it goes through the one alert component like every alarm.
SYSTEM_PATIENT = "wardwatch-system"
STORAGE_SOURCE = "system.storage"


async def storage_alarm(status: int | None) -> None:
    """Raise (``status`` 401/403) or clear (``None``) the "storage unavailable" alarm."""
    active = status is not None
    cond = Condition(
        patient_id=SYSTEM_PATIENT,
        bed="central",
        source=STORAGE_SOURCE,
        active=active,
        priority="medium",
        ts=datetime.now(UTC).isoformat(),
        message=(
            f"Storage unavailable: InfluxDB refuses the sink's token (HTTP {status}); points are held"
            if active
            else "Storage available again"
        ),
        category="technical",
    )
    await publish([(conditions_topic, SYSTEM_PATIENT.encode(), cond.to_dict())])


writer = InfluxWriter(_s, on_refused=storage_alarm)


@app.agent(points_in)
async def write_points(stream):
    """Batches of ``influx.points`` messages (a point or a list of points each) -> InfluxDB, at
    most ``influx_batch_size`` points per write. The messages are acknowledged (their offsets
    committable) only after every point was written or dead-lettered."""
    await run_batches(stream, _write_batch, _s.influx_batch_size, _s.influx_flush_s, POINTS)


async def _write_batch(events: list) -> None:
    """One batch of messages: decoded, written (at most ``influx_batch_size`` points a write)."""
    pairs, letters = [], []
    for event in events:
        try:
            pairs += [(event, p) for p in unpack_points(decode_json(event.message.value, finite=False))]
        except InvalidRecord as e:  # not JSON
            letters.append(deadletter_output(event, e, POINTS))
    if letters:
        await publish(letters)
        metrics.incr("points_rejected", len(letters))
    size = _s.influx_batch_size
    for lo in range(0, len(pairs), size):
        await _write(pairs[lo : lo + size])


async def _write(pairs: list) -> None:
    """Write the points of ``(event, point)`` pairs; dead-letter the rejected ones with the
    partition and offset of the message that carried them."""
    rejected = await writer.write([p for _, p in pairs])
    # the carriers of each point object, in order: two messages can decode to the same object
    # (``null``, small ints), which a dict by id alone would attribute to the last one
    carriers: dict[int, list[Any]] = {}
    for event, p in pairs:
        carriers.setdefault(id(p), []).append(event)
    await publish(
        [
            deadletter_output(carriers[id(p)].pop(0), reason, POINTS, raw=json.dumps(p, default=str).encode())
            for p, reason in rejected
        ]
    )
    metrics.incr("points_written", len(pairs) - len(rejected))
    metrics.incr("points_rejected", len(rejected))


# mode types a receiver as SignalHandlerT, which mypy matches against no async function at all
@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def close_writer(app, **kwargs) -> None:
    await writer.close()
