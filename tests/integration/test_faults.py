"""Faults in which nothing may be lost: a killed worker, InfluxDB down."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client import InfluxDBClient

from models.vitals.scoring import NEWS2_STEP_DOWN_HOLD_S
from wardwatch.kafka_io import consume, end_offsets, make_producer, send
from wardwatch.services import influx

pytestmark = pytest.mark.integration

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
HIGH = {**NORMAL, "acvpu": "V", "rr_bpm": 22, "spo2_pct": 93}  # NEWS2 7


def produce(pid: str, readings: list[tuple[datetime, dict]]) -> None:
    p = make_producer()
    for ts, vals in readings:
        send(p, "vitals", pid, {"patient_id": pid, "bed": "F-1", "ts": ts.isoformat(), **vals})
    p.flush()
    p.close()


def alerts_for(pid: str, start, n: int, timeout_s: float = 90) -> list[dict]:
    """Distinct alert events (by event_id, as a subscriber de-duplicates re-deliveries), without
    the escalation timer's (a slow restart can pass a high alarm's re-notification deadline)."""
    out: dict[str, dict] = {}
    for _, key, v in consume(["alerts"], start=start, timeout_s=timeout_s, stop=lambda _: len(out) >= n):
        if key == pid and v.get("origin") != "timer":
            out.setdefault(v["event_id"], v)
    return list(out.values())


def test_killed_worker_recovers_alert_state_from_changelog(start_worker):
    app_id = f"wardwatch-restart-{uuid.uuid4().hex[:6]}"
    pid = f"R-{uuid.uuid4().hex[:6]}"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    w1 = start_worker(["worker"], env={"WARDWATCH_APP_ID": app_id}, ready="Worker ready")
    start = end_offsets(["alerts"])
    produce(pid, [(t0, HIGH)])
    raised = alerts_for(pid, start, 1)
    assert [e["type"] for e in raised] == ["raised"]
    time.sleep(3)  # let the changelog and offsets commit (commit interval 1 s)
    w1.stop(kill=True)  # SIGKILL: no graceful shutdown

    w2 = start_worker(["worker"], env={"WARDWATCH_APP_ID": app_id}, ready="Worker ready")
    try:
        start2 = end_offsets(["alerts"])
        hold = int(NEWS2_STEP_DOWN_HOLD_S)
        produce(
            pid,
            [
                (t0 + timedelta(seconds=1), HIGH),  # still high: no new alert
                (t0 + timedelta(seconds=2), NORMAL),  # lower: hold starts
                (t0 + timedelta(seconds=2 + hold), NORMAL),
            ],
        )  # held: resolved
        alerts_for(pid, start2, 1)  # wait for the first event
        after = alerts_for(pid, start2, 2, timeout_s=5)  # then read all of them once more
        # a re-delivery of the original "raised" (same event_id) is the same alert, not a new one
        after = [e for e in after if e["event_id"] != raised[0]["event_id"]]
        # Without the recovered table the HIGH reading at t0+1 would raise a new alert.
        assert [e["type"] for e in after] == ["resolved"]
        assert after[0]["alert_id"] == raised[0]["alert_id"]  # the same alert, recovered
    finally:
        w2.stop()


def test_influxdb_down_then_back_loses_no_point(stream_worker, services):
    s = services
    pid = f"I-{uuid.uuid4().hex[:6]}"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    assert influx.down(s)
    try:
        produce(pid, [(t0 + timedelta(seconds=i), {**NORMAL, "hr_bpm": 70 + i}) for i in range(20)])
        deadline = time.monotonic() + 60
        while "influx write failed, retrying" not in stream_worker.output():
            assert time.monotonic() < deadline, "sink never saw InfluxDB down"
            time.sleep(0.5)
    finally:
        influx.up(s)
    flux = f'''from(bucket: "{s.influx_bucket}") |> range(start: -2h)
      |> filter(fn: (r) => r._measurement == "vitals" and r._field == "hr_bpm" and r.patient == "{pid}")'''
    values: list = []
    deadline = time.monotonic() + 90
    with InfluxDBClient(url=s.influx_url, token=s.influx_token_value(), org=s.influx_org) as c:
        while time.monotonic() < deadline and len(values) < 20:
            values = [r.get_value() for t in c.query_api().query(flux) for r in t.records]
            time.sleep(1)
    assert values == [70.0 + i for i in range(20)]
    assert stream_worker.alive()


def test_broker_restart_loses_no_alarm(stream_worker, services):
    """Kafka stopped and started under a running worker: the open alert survives (same id, no
    re-raise), readings after the restart are scored and alarm, the worker stays up."""
    from wardwatch.services import kafka

    pid = f"K-{uuid.uuid4().hex[:6]}"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
    start = end_offsets(["alerts"])
    produce(pid, [(t0, {**NORMAL, "acvpu": "C"})])  # single 3 -> raised low
    raised = alerts_for(pid, start, 1)
    assert [(e["type"], e["priority"]) for e in raised] == [("raised", "low")]
    time.sleep(3)  # offsets and changelog committed before the broker goes away

    assert kafka.down(services)
    time.sleep(5)
    assert kafka.up(services) == "started"

    start2 = end_offsets(["alerts"])
    hold = int(NEWS2_STEP_DOWN_HOLD_S)
    produce(
        pid,
        [
            (t0 + timedelta(seconds=1), {**NORMAL, "acvpu": "C"}),  # persists: nothing
            (t0 + timedelta(seconds=2), HIGH),  # escalated high
            (t0 + timedelta(seconds=3), NORMAL),
            (t0 + timedelta(seconds=3 + hold), NORMAL),
        ],
    )  # resolved
    alerts_for(pid, start2, 2, timeout_s=120)
    after = alerts_for(pid, start2, 3, timeout_s=5)
    after = [e for e in after if e["event_id"] != raised[0]["event_id"]]
    assert [(e["type"], e["priority"]) for e in after] == [("escalated", "high"), ("resolved", "high")]
    assert {e["alert_id"] for e in after} == {raised[0]["alert_id"]}
    assert stream_worker.alive()
