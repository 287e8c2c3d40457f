"""Scripted vitals through the real Kafka broker and the real Faust worker into real InfluxDB."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from models.vitals.scoring import NEWS2_STEP_DOWN_HOLD_S
from wardwatch.kafka_io import consume, end_offsets, make_producer, send

pytestmark = pytest.mark.integration

HOLD = int(NEWS2_STEP_DOWN_HOLD_S)

NORMAL = {
    "hr_bpm": 72,
    "spo2_pct": 97,
    "rr_bpm": 14,
    "sbp_mmhg": 124,
    "dbp_mmhg": 78,
    "temp_c": 36.8,
    "o2": "air",
    "acvpu": "A",
}


def reading(pid: str, t: datetime, **changes):
    return {"patient_id": pid, "bed": f"bed-{pid[-4:]}", "ts": t.isoformat(), **NORMAL, **changes}


def collect(start, want, timeout_s=60.0):
    """Read alerts/deadletter after ``start`` until ``want(events)`` holds or time runs out."""
    got: list[tuple[str, str, dict]] = []
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    for topic, key, value in consume(["alerts", "deadletter"], start=start, timeout_s=timeout_s):
        if topic == "alerts":  # subscribers de-duplicate re-delivered events by event_id
            if value["event_id"] in seen:
                continue
            seen.add(value["event_id"])
        got.append((topic, key, value))
        if want(got) or time.monotonic() > deadline:
            break
    return got


def test_a_rejected_record_near_the_size_limit_is_dead_lettered_whole(stream_worker):
    """A 900 kB reading that is not JSON: its dead letter (base64, ~1.2 MB) is over Faust's
    default 1 MB producer limit, which once made the worker retry it forever and stop that
    partition. It is dead-lettered whole, and the reading after it on its partition raises its
    alarm: nothing stalls on one bad record."""
    import base64

    pid = f"BIG-{uuid.uuid4().hex[:6]}"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    start = end_offsets(["alerts", "deadletter"])
    big = b"x" * 900_000
    p = make_producer()
    send(p, "vitals", pid, big)
    send(p, "vitals", pid, reading(pid, t0, acvpu="C"))  # a single 3 after it: raised
    p.flush()

    got = collect(start, lambda g: {tp for tp, k, _ in g if k == pid} >= {"alerts", "deadletter"}, 90)
    types = [v["type"] for tp, k, v in got if tp == "alerts" and k == pid]
    assert types[:1] == ["raised"], "the reading after the big record was not processed"
    (dead,) = [v for tp, k, v in got if tp == "deadletter" and k == pid]
    assert dead["code"] == "malformed"
    assert base64.b64decode(dead["original_b64"]) == big
    assert stream_worker.alive()


def test_scripted_vitals_give_exact_alerts_deadletters_and_points(stream_worker, services):
    run = uuid.uuid4().hex[:6]
    a, b = f"A-{run}", f"B-{run}"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    t = lambda s: t0 + timedelta(seconds=s)  # noqa: E731
    start = end_offsets(["alerts", "deadletter"])
    p = make_producer()
    script = [
        (a, reading(a, t(0))),  # NEWS2 0
        (a, reading(a, t(1), acvpu="C")),  # single 3 -> raised low
        (a, reading(a, t(2), acvpu="C")),  # persists: nothing
        (a, b"{broken json"),  # deadletter
        (a, reading(a, t(3), acvpu="C", rr_bpm=22, hr_bpm=115, temp_c=38.5)),  # 8 -> escalated high
        (a, reading(a, t(2), acvpu="C")),  # out of order -> deadletter
        (a, reading(a, t(3), acvpu="C", rr_bpm=22, hr_bpm=115, temp_c=38.5)),  # duplicate -> deadletter
        (a, reading(a, t(4))),  # back to 0: held (hysteresis)
        (a, reading(a, t(4 + HOLD))),  # 0 for the hold -> resolved
        (b, reading(b, t(0), hr_bpm=95, rr_bpm=22, temp_c=38.5, sbp_mmhg=105)),  # 5 -> raised medium
        (b, {**reading(b, t(1)), "temp_f": 98.6}),  # wrong unit -> deadletter
        (b, reading(b, t(2), hr_bpm=400)),  # impossible -> deadletter
        (b, reading(b, t(3))),  # held
        (b, reading(b, t(3 + HOLD))),  # resolved
    ]
    for key, value in script:
        send(p, "vitals", key, value)
    p.flush()

    def done(got):
        alerts = [v for tp, k, v in got if tp == "alerts" and k in (a, b)]
        dead = [v for tp, k, v in got if tp == "deadletter" and k in (a, b)]
        return len(alerts) >= 5 and len(dead) >= 5

    got = collect(start, done, timeout_s=90)
    alerts = {
        pid: [(v["type"], v["priority"]) for tp, k, v in got if tp == "alerts" and k == pid] for pid in (a, b)
    }
    assert alerts[a] == [("raised", "low"), ("escalated", "high"), ("resolved", "high")]
    assert alerts[b] == [("raised", "medium"), ("resolved", "medium")]
    ev = next(v for tp, k, v in got if tp == "alerts" and k == a and v["type"] == "escalated")
    assert ev["evidence"]["news2"]["score"] == 8
    assert ev["evidence"]["scored_components"] == {"rr": 2, "hr": 2, "consciousness": 3, "temp": 1}
    assert ev["evidence"]["reading"]["hr_bpm"] == 115
    assert ev["versions"] == {"news2": "news2-rcp-2017"}
    ids = {v["alert_id"] for tp, k, v in got if tp == "alerts" and k == a}
    assert len(ids) == 1

    dead = sorted((v["code"], v["field"] or "") for tp, k, v in got if tp == "deadletter" and k in (a, b))
    assert dead == sorted(
        [
            ("malformed", ""),
            ("out_of_order", "ts"),
            ("duplicate", "ts"),
            ("wrong_unit", "temp_f"),
            ("out_of_range", "hr_bpm"),
        ]
    )
    reasons = {v["code"]: v["reason"] for tp, k, v in got if tp == "deadletter" and k in (a, b)}
    assert "temp_f" in reasons["wrong_unit"] and "hr_bpm=400.0" in reasons["out_of_range"]
    broken = next(v for tp, k, v in got if tp == "deadletter" and k in (a, b) and v["code"] == "malformed")
    import base64

    assert base64.b64decode(broken["original_b64"]) == b"{broken json"
    assert stream_worker.alive()

    # Every good reading and its NEWS2 score is queryable with Flux.
    from influxdb_client import InfluxDBClient

    s = services
    flux = f'''from(bucket: "{s.influx_bucket}") |> range(start: -1h)
      |> filter(fn: (r) => r._measurement == "news2" and r._field == "score" and r.patient == "{a}")'''
    deadline = time.monotonic() + 30
    scores: list = []
    with InfluxDBClient(url=s.influx_url, token=s.influx_token_value(), org=s.influx_org) as c:
        while time.monotonic() < deadline:
            scores = [r.get_value() for tab in c.query_api().query(flux) for r in tab.records]
            if len(scores) >= 6:
                break
            time.sleep(1)
        assert scores == [0, 3, 3, 8, 0, 0]
        flux_alerts = f'''from(bucket: "{s.influx_bucket}") |> range(start: -1h)
          |> filter(fn: (r) => r._measurement == "alerts" and r._field == "alert_id"
                               and r.patient == "{b}")'''
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            kinds = sorted(r.values["type"] for tab in c.query_api().query(flux_alerts) for r in tab.records)
            if len(kinds) >= 2:
                break
            time.sleep(1)
        assert kinds == ["raised", "resolved"]
        bed = [r.values["bed"] for tab in c.query_api().query(flux) for r in tab.records]
        assert set(bed) == {f"bed-{a[-4:]}"}
