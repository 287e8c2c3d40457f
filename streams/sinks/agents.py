"""The InfluxDB sink agent and the pipeline-metrics timer."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from streams.app import app
from streams.delivery import publish
from streams.metrics import metrics
from streams.sinks.influx import InfluxWriter
from streams.topics import deadletter_topic, points_topic
from wardwatch.logs import log_event
from wardwatch.records.deadletter import deadletter_record
from wardwatch.records.points import point
from wardwatch.settings import get_settings
from wardwatch.topics import POINTS

log = logging.getLogger("wardwatch.sink")
_s = get_settings()
writer = InfluxWriter(_s)


@app.agent(points_topic)
async def write_points(stream):
    """Batches of points -> InfluxDB. Offsets commit only after the batch is written."""
    async for batch in stream.take(_s.influx_batch_size, within=_s.influx_flush_s):
        rejected = await writer.write(batch)
        await publish(
            [
                (
                    deadletter_topic,
                    None,
                    deadletter_record(reason, POINTS, json.dumps(p, default=str).encode()),
                )
                for p, reason in rejected
            ]
        )
        metrics.incr("points_written", len(batch) - len(rejected))
        metrics.incr("points_rejected", len(rejected))


@app.timer(interval=10.0)
async def report_pipeline_metrics():
    counts = metrics.snapshot()
    if not counts:
        return
    counts["influx_retries"] = writer.retries
    await publish(
        [
            (
                points_topic,
                None,
                point("pipeline", {"host": metrics.host, "app": _s.app_id}, counts, datetime.now(UTC)),
            )
        ]
    )
    log_event(log, "pipeline", **counts)


# mode types a receiver as SignalHandlerT, which mypy matches against no async function at all
@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def close_writer(app, **kwargs) -> None:
    await writer.close()
