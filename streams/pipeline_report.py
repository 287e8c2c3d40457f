"""The pipeline-metrics timer of every worker, whatever its role (:mod:`streams.worker`): every
10 s this process's counters, their deltas and rates, its share of the group's lag and the stage
latencies, as points (``pipeline*`` measurements, see ``grafana/README.md``) and a log line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from streams.app import app
from streams.delivery import publish
from streams.metrics import consumer_lag, metrics
from streams.topics import points_topic
from wardwatch.logs import log_event
from wardwatch.records.points import point
from wardwatch.settings import get_settings

log = logging.getLogger("wardwatch.pipeline")
_s = get_settings()


@app.timer(interval=10.0)
async def report_pipeline_metrics():
    counts = metrics.snapshot()
    if not counts:
        return
    now, tags = datetime.now(UTC), {"host": metrics.host, "app": _s.worker_group}
    deltas, interval_s = metrics.deltas(counts, now.timestamp())
    rates = {k: round(v / interval_s, 3) for k, v in deltas.items()} if interval_s > 0 else {}
    pts = [point("pipeline", tags, counts, now), point("pipeline_delta", tags, deltas, now)]
    pts += [point("pipeline_rate", tags, rates, now)] if rates else []
    # this worker's share of the group's lag, and the stage latencies since the last report
    pts += [
        point("pipeline_lag", {**tags, "topic": t}, {"lag": n}, now)
        for t, n in consumer_lag(app.consumer).items()
    ]
    pts += [
        point("pipeline_latency", {**tags, "stage": k}, v, now) for k, v in metrics.latency_report().items()
    ]
    await publish([(points_topic, None, p) for p in pts])
    log_event(log, "pipeline", **counts)
