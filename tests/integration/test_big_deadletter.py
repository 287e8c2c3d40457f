"""A rejected record as big as the broker lets in is dead-lettered whole, and the records after
it on its partition go on (issue #25's rule: nothing stalls on one bad record)."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from wardwatch.kafka_io import consume, end_offsets, make_producer, send

pytestmark = pytest.mark.integration


def test_a_rejected_record_near_the_size_limit_is_dead_lettered_whole(stream_worker):
    run = uuid.uuid4().hex[:6]
    pid = f"BIG-{run}"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    start = end_offsets(["alerts", "deadletter"])
    big = b"x" * 900_000  # not JSON; its dead letter (base64) is ~1.2 MB
    p = make_producer()
    send(p, "vitals", pid, big)
    reading = {
        "patient_id": pid,
        "bed": "b1",
        "ts": t0.isoformat(),
        "hr_bpm": 72,
        "spo2_pct": 97,
        "rr_bpm": 14,
        "sbp_mmhg": 124,
        "dbp_mmhg": 78,
        "temp_c": 36.8,
        "o2": "air",
        "acvpu": "C",
    }
    send(p, "vitals", pid, reading)  # a single 3 after it: raised
    p.flush()

    got: dict[str, list[dict]] = {"alerts": [], "deadletter": []}
    deadline = time.monotonic() + 90
    for topic, key, value in consume(["alerts", "deadletter"], start=start, timeout_s=90):
        if key == pid:
            got[topic].append(value)
        if (got["alerts"] and got["deadletter"]) or time.monotonic() > deadline:
            break
    types = [a["type"] for a in got["alerts"]]
    assert types[:1] == ["raised"], "the reading after the big record was not processed"
    (dead,) = got["deadletter"]
    assert dead["code"] == "malformed"
    assert base64.b64decode(dead["original_b64"]) == big
    assert stream_worker.alive()
