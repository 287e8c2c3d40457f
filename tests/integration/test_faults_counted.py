"""Faults against the real services, counted (issue #20, part 1).

Each test sends scripted vitals whose alert events and InfluxDB points are known in advance
(:func:`wardwatch.loadtest.expected.expected_from_readings` runs the worker's pure steps over the
same records offline), injects a fault while records are in flight, and counts what was sent,
what was delivered and what was delivered more than once. Alert events are identified by their
deterministic ``event_id`` (a subscriber de-duplicates by it), points by measurement, tags and
time (InfluxDB keeps one point per series and time). Each test prints one summary line
(``pytest -s``). Waits are on conditions; the one fixed wait is the InfluxDB outage itself.

- two workers in one group, one SIGKILLed mid-stream: the survivor takes the partitions and the
  per-patient state over (no re-raise, the same ``alert_id`` escalates and resolves); takeover
  time measured and bounded;
- InfluxDB stopped for 30 s while readings flow (and the worker SIGKILLed during the outage,
  then restarted): every point in InfluxDB, with its values, once;
- the broker SIGKILLed and restarted while the project's (idempotent, ``acks=all``) producer
  sends: every record on the input topic exactly once.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaConsumer

from wardwatch import topics
from wardwatch.influx_read import flux_rows
from wardwatch.kafka_io import client_config, end_offsets, make_producer, send, start_group_at_end
from wardwatch.loadtest.expected import expected_from_readings, point_key
from wardwatch.records.points import unpack_points
from wardwatch.services import influx, kafka
from wardwatch.settings import get_settings

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
LOW = {**NORMAL, "acvpu": "C"}  # a single NEWS2 parameter of 3: low
HIGH = {**NORMAL, "acvpu": "V", "rr_bpm": 22, "spo2_pct": 93}  # NEWS2 7: high

#: The group's session timeout in these tests (the broker's minimum): a killed member's
#: partitions move when it has been silent this long.
SESSION_TIMEOUT_S = 6.0
#: Takeover bound: the session timeout (the coordinator notices the dead member), then the
#: survivor learns of the rebalance at its next heartbeat (a third of the timeout), rejoins,
#: restores the moved changelog partitions (a few hundred records here) and processes the
#: backlog's first batch. 24 s of margin for that on a loaded 2-core machine.
TAKEOVER_BOUND_S = SESSION_TIMEOUT_S + 24.0
ASSIGNED = re.compile(r"Setting newly assigned partitions \{(.*?)\} for group")


def reading(pid: str, ts: datetime, values: dict[str, Any]) -> dict[str, Any]:
    return {"patient_id": pid, "bed": "F-1", "ts": ts.isoformat(), **values}


class Recorder(threading.Thread):
    """Reads ``topics`` from a start marker, keeping every message with its partition and
    broker timestamp (the producer's create time, in seconds)."""

    def __init__(self, start: dict):
        super().__init__(daemon=True)
        self.start_marker = start
        self.msgs: list[tuple[str, int, float, Any]] = []  # topic, partition, ts, value
        self.position: dict = dict(start)
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        import json

        c = KafkaConsumer(**client_config(), enable_auto_commit=False)
        c.assign(list(self.start_marker))
        for tp, off in self.start_marker.items():
            c.seek(tp, off)
        try:
            while not self.halt.is_set():
                for tp, batch in c.poll(timeout_ms=300).items():
                    with self.lock:
                        for m in batch:
                            try:
                                value = json.loads(m.value)
                            except (ValueError, TypeError):
                                value = m.value
                            self.msgs.append((tp.topic, tp.partition, m.timestamp / 1000.0, value))
                        self.position[tp] = batch[-1].offset + 1
        finally:
            c.close()

    def snapshot(self) -> list[tuple[str, int, float, Any]]:
        with self.lock:
            return list(self.msgs)

    def caught_up(self, ends: dict) -> bool:
        with self.lock:
            return all(self.position.get(tp, 0) >= end for tp, end in ends.items())

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def wait_for(check, timeout_s: float, what: str, interval: float = 0.3):
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}"
        time.sleep(interval)


def alert_events(msgs, pids: set[str]) -> list[dict]:
    """Every alert event of ``pids`` (raw: a re-delivery counts twice), without the escalation
    timer's (wall-clock re-notifications that no record causes)."""
    return [
        v
        for topic, _, _, v in msgs
        if topic == topics.ALERTS
        and isinstance(v, dict)
        and v.get("patient_id") in pids
        and v.get("origin") != "timer"
    ]


def point_keys(msgs, pids: set[str]) -> list[tuple]:
    """Every point of ``pids`` on ``influx.points`` (raw), as :func:`point_key`."""
    return [
        point_key(p)
        for topic, _, _, v in msgs
        if topic == topics.POINTS
        for p in unpack_points(v)
        if isinstance(p, dict)
        and p.get("tags", {}).get("patient") in pids
        and p["tags"].get("origin") != "timer"
    ]


def committed_to_end(group: str, names: list[str]) -> bool:
    """Whether ``group`` committed every partition of ``names`` up to its end (all processed:
    agents acknowledge a record only after its outputs are on the broker)."""
    ends = end_offsets(names)
    c = KafkaConsumer(**client_config(), group_id=group, enable_auto_commit=False)
    try:
        return all((c.committed(tp) or 0) >= end for tp, end in ends.items())
    finally:
        c.close()


def vitals_partitions(worker) -> set[int] | None:
    """The ``vitals`` partitions of the worker's latest assignment (from its log)."""
    found = ASSIGNED.findall(worker.output())
    if not found:
        return None
    return {int(p) for p in re.findall(r"topic='vitals', partition=(\d+)", found[-1])}


def fresh_group(prefix: str) -> str:
    """A consumer group (``WARDWATCH_APP_ID``) of its own that starts at the end of every
    stream topic (nothing earlier tests left there)."""
    group = f"wardwatch-{prefix}-{uuid.uuid4().hex[:6]}"
    topics.ensure_topics(topics.STREAM_TOPICS)
    start_group_at_end(group, list(topics.STREAM_TOPICS))
    return group


class Feed(threading.Thread):
    """Rounds of readings, one per patient per round, every ``pace_s``, until stopped;
    ``script(round)`` gives a round's values and ``t0 + round * step`` its device time."""

    def __init__(self, pids, t0: datetime, script, pace_s: float, step: timedelta, first_round: int = 1):
        super().__init__(daemon=True)
        self.pids, self.t0, self.script, self.pace_s, self.step = pids, t0, script, pace_s, step
        self.round = first_round
        self.sent: list[dict] = []
        self.futures: list = []
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            p = make_producer()
            while not self.halt.is_set():
                t_next = time.monotonic() + self.pace_s
                ts = self.t0 + self.round * self.step
                for pid in self.pids:
                    r = reading(pid, ts, self.script(self.round))
                    self.futures.append(send(p, topics.VITALS, pid, r))
                    self.sent.append(r)
                self.round += 1
                time.sleep(max(0.0, t_next - time.monotonic()))
            p.flush()
            p.close()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def stop(self) -> None:
        self.halt.set()
        self.join(120)
        assert self.error is None, self.error
        for f in self.futures:
            f.get(timeout=60)  # every reading acknowledged by the broker


def escalation_script(r: int) -> dict[str, Any]:
    """Rounds 0-3 low (raised at 0, then persisting), 4-7 high (escalated at 4), then normal:
    resolved once the lower level has held for NEWS2_STEP_DOWN_HOLD_S (300 s of device time,
    round 13 at a minute per round)."""
    return LOW if r < 4 else HIGH if r < 8 else NORMAL


def test_two_workers_one_killed_survivor_takes_partitions_and_state(start_worker, services):
    s = get_settings()
    group = fresh_group("takeover")
    env = {"WARDWATCH_APP_ID": group, "WARDWATCH_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S)}
    workers = [start_worker(["worker"], env=env, ready="Worker ready") for _ in range(2)]
    all_parts = set(range(s.partitions))

    def split() -> bool:
        a, b = (vitals_partitions(w) for w in workers)
        return a is not None and b is not None and bool(a) and bool(b) and a | b == all_parts and not a & b

    wait_for(split, 120, "both workers to own vitals partitions")
    victim, survivor = workers
    victim_parts = vitals_partitions(victim)
    assert victim_parts is not None

    tag = uuid.uuid4().hex[:6]
    pids = [f"TK{tag}-{i}" for i in range(24)]
    pidset = set(pids)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
    rec = Recorder(end_offsets([topics.ALERTS, topics.POINTS]))
    rec.start()
    try:
        # before the kill: every patient's low alarm raised (by both workers)
        p = make_producer()
        first = [reading(pid, t0, escalation_script(0)) for pid in pids]
        partition_of = {
            r["patient_id"]: send(p, topics.VITALS, r["patient_id"], r).get(30).partition for r in first
        }
        p.close()
        assert set(partition_of.values()) == all_parts, "patients on every partition"
        victims = {pid for pid, part in partition_of.items() if part in victim_parts}

        def raised_all() -> bool:
            return {
                e["patient_id"] for e in alert_events(rec.snapshot(), pidset) if e["type"] == "raised"
            } == pidset

        wait_for(raised_all, 60, "the first alarms")
        raised_before = {
            e["patient_id"]: e["alert_id"]
            for e in alert_events(rec.snapshot(), pidset)
            if e["type"] == "raised"
        }

        feed = Feed(pids, t0, escalation_script, pace_s=0.25, step=timedelta(minutes=1))
        feed.start()
        wait_for(lambda: feed.round >= 3, 30, "readings in flight")
        kill_t = time.time()
        victim.stop(kill=True)  # SIGKILL while records are in flight

        def taken_over() -> float | None:
            """Seconds from the kill to the first output from a killed worker's partition."""
            for topic, part, ts, v in rec.snapshot():
                ours = topic == topics.POINTS and part in victim_parts and ts > kill_t
                if ours and any(pt.get("tags", {}).get("patient") in victims for pt in unpack_points(v)):
                    return ts - kill_t
            return None

        takeover_s = wait_for(
            taken_over, 120, "the survivor's first output from the killed worker's partitions"
        )
        wait_for(lambda: feed.round >= 16, 60, "the script to resolve")
        feed.stop()
        assert survivor.alive()

        sent = first + feed.sent
        expected = expected_from_readings(sent, s.deterioration_model)
        wait_for(
            lambda: committed_to_end(group, [topics.VITALS, topics.CONDITIONS]), 120, "every record processed"
        )
        ends = end_offsets([topics.ALERTS, topics.POINTS])
        wait_for(lambda: rec.caught_up(ends), 60, "the recorder to read every output")
    finally:
        rec.stop()

    events = alert_events(rec.snapshot(), pidset)
    by_id = Counter(e["event_id"] for e in events)
    pts = Counter(point_keys(rec.snapshot(), pidset))
    missing, extra = set(expected.alerts) - set(by_id), set(by_id) - set(expected.alerts)
    print(
        f"\n[takeover] workers=2 killed=1 partitions_moved={sorted(victim_parts)} patients={len(pids)} "
        f"(moved {len(victims)}) readings_sent={len(sent)} | alerts expected={len(expected.alerts)} "
        f"delivered_distinct={len(set(by_id) - extra)} unexpected={len(extra)} "
        f"raw={sum(by_id.values())} re-delivered={sum(by_id.values()) - len(by_id)} | points "
        f"expected={len(expected.points)} delivered_distinct={len(set(pts) & set(expected.points))} "
        f"unexpected={len(set(pts) - set(expected.points))} re-delivered={sum(pts.values()) - len(pts)} | "
        f"takeover_s={takeover_s:.1f} (bound {TAKEOVER_BOUND_S:.0f})"
    )
    assert not missing, f"{len(missing)} expected alert events never delivered"
    # an extra event would be a re-raise from lost state (a new alert_id) or a double transition
    extra_events = [(e["type"], e["patient_id"]) for e in events if e["event_id"] in extra]
    assert not extra, f"unexpected alert events: {extra_events[:10]}"
    # the killed worker's patients: one alert each, raised before the kill, escalated and
    # resolved after it by the survivor under the same id
    for pid in victims:
        news2 = [e for e in events if e["patient_id"] == pid and e["source"] == "news2"]
        assert {e["alert_id"] for e in news2} == {raised_before[pid]}
        assert {e["type"] for e in news2} == {"raised", "escalated", "resolved"}
    assert not set(expected.points) - set(pts), "points lost"
    assert takeover_s < TAKEOVER_BOUND_S


def influx_points(pids: set[str], prefix: str, since: datetime) -> dict[tuple, dict[str, Any]]:
    """The points of the patients ``prefix*`` in InfluxDB, by :func:`point_key`, with their fields."""
    s = get_settings()
    flux = f'''from(bucket: "{s.influx_bucket}") |> range(start: {since.isoformat().replace("+00:00", "Z")})
      |> filter(fn: (r) => r.patient =~ /^{prefix}/)'''
    out: dict[tuple, dict[str, Any]] = {}
    for row in flux_rows(flux):
        tags = {k: v for k, v in row.items() if not k.startswith("_") and k not in ("result", "table")}
        t = row["_time"]
        key = point_key(
            {
                "measurement": row["_measurement"],
                "tags": tags,
                "time_ns": int(t.timestamp()) * 10**9 + t.microsecond * 1000,
            }
        )
        out.setdefault(key, {})[row["_field"]] = row["_value"]
    return {k: v for k, v in out.items() if dict(k[1]).get("patient") in pids}


def outage_script(r: int) -> dict[str, Any]:
    """A heart rate that differs every round (each point's value is its own), high at 3-5."""
    return {**(HIGH if 3 <= r < 6 else NORMAL), "hr_bpm": 60 + r}


@pytest.mark.parametrize("kill_worker", [False, True], ids=["outage", "outage+worker-killed"])
def test_influxdb_stopped_30s_every_point_once(start_worker, services, kill_worker):
    s = get_settings()
    group = fresh_group("influx-down")
    env = {"WARDWATCH_APP_ID": group}
    worker = start_worker(["worker"], env=env, ready="Worker ready")
    tag = uuid.uuid4().hex[:6]
    prefix = f"IX{tag}-"
    pids = [f"{prefix}{i}" for i in range(8)]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    outage_s = 30.0
    points_start = end_offsets([topics.POINTS])
    assert influx.down(s)  # a real stop: the server process is gone for the whole outage
    down_at = time.monotonic()
    feed = Feed(pids, t0, outage_script, pace_s=1.0, step=timedelta(seconds=30), first_round=0)
    feed.start()
    try:
        if kill_worker:
            # the sink holds a batch it cannot write; the worker dies holding it
            wait_for(lambda: "influx write failed, retrying" in worker.output(), 60, "the sink to retry")
            worker.stop(kill=True)
            worker = start_worker(["worker"], env=env, ready="Worker ready")
        wait_for(lambda: time.monotonic() - down_at >= outage_s - 8, 60, "most of the outage")
        feed.stop()  # readings flowed for most of the outage
        wait_for(lambda: time.monotonic() - down_at >= outage_s, 60, "the outage's end", interval=0.1)
    finally:
        feed.halt.set()
        influx.up(s)
    up_at = time.monotonic()
    expected = expected_from_readings(feed.sent, s.deterioration_model)
    pidset = set(pids)
    got = wait_for(
        lambda: (
            (g := influx_points(pidset, prefix, t0 - timedelta(minutes=1)))
            and set(expected.points) <= set(g)
            and g
        ),
        90,
        "every point in InfluxDB",
        interval=1.0,
    )
    recovered_s = time.monotonic() - up_at
    wrong = [k for k, p in expected.points.items() if any(got[k].get(f) != v for f, v in p["fields"].items())]
    extra = set(got) - set(expected.points)
    rec = Recorder(points_start)  # what the worker(s) published on influx.points, raw
    rec.start()
    ends = end_offsets([topics.POINTS])
    wait_for(lambda: rec.caught_up(ends), 60, "influx.points read")
    rec.stop()
    raw = Counter(point_keys(rec.snapshot(), pidset))
    print(
        f"\n[influx down {outage_s:.0f}s{' + worker killed' if kill_worker else ''}] "
        f"readings_sent={len(feed.sent)} "
        f"points expected={len(expected.points)} in_influx={len(set(got) & set(expected.points))} "
        f"missing={len(set(expected.points) - set(got))} unexpected={len(extra)} wrong_values={len(wrong)} "
        f"on_topic_raw={sum(raw.values())} re-published={sum(raw.values()) - len(raw)} "
        f"written_within_s={recovered_s:.1f} after InfluxDB came back"
    )
    assert not extra, f"points nobody sent: {sorted(extra)[:5]}"
    assert not wrong, f"points with other values: {wrong[:5]}"
    assert worker.alive()


def test_broker_killed_and_restarted_while_producing_loses_and_duplicates_nothing(services):
    """The project's producer (:func:`wardwatch.kafka_io.make_producer`: idempotent, ``acks=all``)
    sends numbered readings while the broker is SIGKILLed (no controlled shutdown, requests in
    flight) and started again: every record is on ``vitals`` exactly once, in order per key."""
    s = get_settings()
    producer = make_producer()
    assert producer.config["enable_idempotence"] and producer.config["acks"] == -1
    tag = uuid.uuid4().hex[:6]
    pids = [f"BK{tag}-{i}" for i in range(4)]
    start = end_offsets([topics.VITALS])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    n_sent = 0
    futures = []
    errors: list[BaseException] = []
    halt = threading.Event()

    def produce() -> None:
        nonlocal n_sent
        try:
            while not halt.is_set():
                pid = pids[n_sent % len(pids)]
                r = reading(pid, t0 + timedelta(seconds=n_sent), {**NORMAL, "hr_bpm": 60 + n_sent % 50})
                futures.append(send(producer, topics.VITALS, pid, {**r, "seq": n_sent}))
                n_sent += 1
                time.sleep(0.01)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(e)

    sender = threading.Thread(target=produce, daemon=True)
    sender.start()
    try:
        wait_for(lambda: n_sent >= 200, 30, "records in flight")
        killed_at = time.monotonic()
        assert kafka.down(s, kill=True)  # SIGKILL: no controlled shutdown, no flush
        wait_for(lambda: kafka.pid(s) is None, 10, "the broker to die")
        assert kafka.up(s) == "started"
        restarted_s = time.monotonic() - killed_at
        n_at_restart = n_sent
        wait_for(lambda: n_sent >= n_at_restart + 200, 60, "records after the restart")
    finally:
        halt.set()
        sender.join(30)
    producer.flush(timeout=120)
    assert not errors, errors
    failed = [f.exception for f in futures if f.failed()]
    assert not failed, f"{len(failed)} sends failed: {failed[:3]}"
    producer.close()

    seqs: Counter = Counter()
    order_ok = True
    last: dict[str, int] = {}
    ends = end_offsets([topics.VITALS])
    rec = Recorder(start)
    rec.start()
    wait_for(lambda: rec.caught_up(ends), 60, "vitals read")
    rec.stop()
    for _, _, _, v in rec.snapshot():
        if isinstance(v, dict) and v.get("patient_id") in pids:
            seqs[v["seq"]] += 1
            order_ok &= v["seq"] > last.get(v["patient_id"], -1)
            last[v["patient_id"]] = v["seq"]
    missing = set(range(n_sent)) - set(seqs)
    dups = {k: c for k, c in seqs.items() if c > 1}
    print(
        f"\n[broker SIGKILL] sent={n_sent} on_topic={sum(seqs.values())} distinct={len(seqs)} "
        f"missing={len(missing)} duplicated={len(dups)} broker_back_after_s={restarted_s:.1f}"
    )
    assert not missing, f"{len(missing)} records lost: {sorted(missing)[:10]}"
    assert not dups, f"{len(dups)} records duplicated: {sorted(dups)[:10]}"
    assert order_ok, "a key's records out of order"
