"""The provisioned Grafana dashboard's Flux queries run on the real InfluxDB (Grafana's
dashboard variables substituted as Grafana would), and those over the vitals path return data."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from influxdb_client import InfluxDBClient

from streams.sinks.influx import InfluxWriter
from wardwatch.records.points import point

pytestmark = pytest.mark.integration
DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "dashboards" / "ward.json"


def test_dashboard_queries_execute(services):
    s = services
    now = datetime.now(UTC).replace(microsecond=0)
    tags = {"patient": f"G-{uuid.uuid4().hex[:6]}", "bed": "G-1"}
    pts = [
        point("vitals", tags, {"hr_bpm": 80.0, "spo2_pct": 97.0}, now - timedelta(seconds=30)),
        point("news2", tags, {"score": 2}, now - timedelta(seconds=30)),
    ]

    async def write():
        w = InfluxWriter(s)
        try:
            assert await w.write(pts) == []
        finally:
            await w.close()

    asyncio.run(write())
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert panels
    returned = {}
    with InfluxDBClient(url=s.influx_url, token=s.influx_token_value(), org=s.influx_org) as c:
        for panel in panels:
            for target in panel["targets"]:
                q = (
                    target["query"]
                    .replace("v.defaultBucket", json.dumps(s.influx_bucket))
                    .replace("v.timeRangeStart", "-1h")
                    .replace("v.timeRangeStop", "now()")
                )
                tables = c.query_api().query(q)  # raises on a Flux error
                returned[panel["title"]] = sum(len(t.records) for t in tables)
    assert returned["NEWS2 by bed"] >= 1 and returned["Heart rate by bed"] >= 1
