"""The InfluxDB writer against the real server: good points land, bad ones come back with the
server's reason (for the dead-letter topic) and do not take the good ones down with them."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest
from influxdb_client import InfluxDBClient

from streams.sinks.influx import InfluxWriter, to_line
from wardwatch.records.points import point

pytestmark = pytest.mark.integration


def test_type_conflict_is_rejected_alone(services):
    s = services
    pid = f"S-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).replace(microsecond=0)
    good = [
        point(
            "sinktest",
            {"patient": pid, "bed": "X"},
            {"hr_bpm": 60.0 + i},
            datetime.fromtimestamp(now.timestamp() - 10 + i, UTC),
        )
        for i in range(5)
    ]
    asyncio.run(_write(s, good[:1]))  # hr_bpm is now a float field in this shard
    bad = point("sinktest", {"patient": pid, "bed": "X"}, {"hr_bpm": "sixty"}, now)
    writer = InfluxWriter(s)
    rejected = asyncio.run(_write(s, [*good[1:], bad], writer))
    assert [p for p, _ in rejected] == [bad]
    assert rejected[0][1].code == "rejected"
    assert "HTTP 400" in rejected[0][1].reason and "conflict" in rejected[0][1].reason
    flux = f'''from(bucket: "{s.influx_bucket}") |> range(start: -1h)
      |> filter(fn: (r) => r._measurement == "sinktest" and r.patient == "{pid}")'''
    with InfluxDBClient(url=s.influx_url, token=s.influx_token_value(), org=s.influx_org) as c:
        deadline = time.monotonic() + 20
        while True:
            values = [r.get_value() for t in c.query_api().query(flux) for r in t.records]
            if len(values) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert values == [60.0, 61.0, 62.0, 63.0, 64.0]


async def _write(s, pts, writer=None):
    w = writer or InfluxWriter(s)
    try:
        return await w.write(pts)
    finally:
        await w.close()


def test_points_that_cannot_be_encoded_are_rejected_without_a_request(services):
    p = {"measurement": "x", "tags": {}, "fields": {}, "time_ns": 0}
    with pytest.raises(ValueError):
        to_line(p)
    rejected = asyncio.run(_write(services, [p]))
    assert rejected and rejected[0][1].code == "malformed" and "not a valid point" in rejected[0][1].reason
