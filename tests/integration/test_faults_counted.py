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

from tests.integration.waiting import wait_for
from wardwatch import topics
from wardwatch.influx_read import flux_rows
from wardwatch.kafka_io import (
    client_config,
    committed_offsets,
    end_offsets,
    make_producer,
    send,
    start_group_at_end,
)
from wardwatch.loadtest.expected import expected_from_readings, point_key
from wardwatch.records.points import unpack_points
from wardwatch.services import influx, kafka
from wardwatch.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("quiet_stream_workers")]

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
        self.offsets: list[int] = []  # the offset of each of ``msgs``
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
                            self.offsets.append(m.offset)
                        self.position[tp] = batch[-1].offset + 1
        finally:
            c.close()

    def snapshot(self) -> list[tuple[str, int, float, Any]]:
        with self.lock:
            return list(self.msgs)

    def located(self) -> list[tuple[str, int, int, Any]]:
        """Every message as (topic, partition, offset, value)."""
        with self.lock:
            return [(t, p, o, v) for (t, p, _, v), o in zip(self.msgs, self.offsets, strict=True)]

    def caught_up(self, ends: dict) -> bool:
        with self.lock:
            return all(self.position.get(tp, 0) >= end for tp, end in ends.items())

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


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


def alert_diff(missing: list[dict], extra: list[dict]) -> str:
    """The expected events never delivered and the delivered ones never expected, by patient
    and time: what tells a lost reading, a stale state and a double transition apart."""

    def show(e: dict) -> str:
        return f"{e['patient_id']} {e['ts']} {e['type']} {e['priority']} {e['alert_id']}"

    return (
        f"{len(missing)} expected alert events never delivered, {len(extra)} unexpected:\n"
        + "\n".join(f"  missing  {show(e)}" for e in sorted(missing, key=show)[:20])
        + "\n"
        + "\n".join(f"  extra    {show(e)}" for e in sorted(extra, key=show)[:20])
    )


#: worker log lines that say a record was held back, read again, skipped, failed or dead-lettered
_DELIVERY_LINE = re.compile(r"level=(warning|error).*(wardwatch\.|faust\.)|dead-letter|failed|Traceback")


def lost_trace(rec: Recorder, events: list[dict], workers: list) -> str:
    """For a failed count: each patient of ``events`` (missing or unexpected alert events) with
    every condition of theirs on ``alerts.conditions`` (time and state, with the partition/offset
    of each copy), their dead letters, the alert events delivered for them, and the workers' delivery
    warnings on those conditions' partitions. What tells a condition never produced, one
    produced and never applied, and one dead-lettered apart."""
    pids = {e["patient_id"] for e in events}
    located = rec.located()

    def of(topic: str, pid: str, field: str = "patient_id") -> list[tuple[int, int, dict]]:
        return [
            (p, o, v) for t, p, o, v in located if t == topic and isinstance(v, dict) and v.get(field) == pid
        ]

    out = []
    parts: set[int] = set()
    for pid in sorted(pids):
        conds: dict[tuple, list[str]] = {}
        for p, o, v in of(topics.CONDITIONS, pid):
            conds.setdefault((v["ts"], v["source"], v["active"], v["priority"]), []).append(f"{p}/{o}")
            parts.add(p)
        out.append(f"{pid}: conditions (ts, source, active, priority) at partition/offset:")
        out += [f"    {c} {' '.join(at)}" for c, at in sorted(conds.items())]
        out += [
            f"  dead letter: {d.get('source_topic')} {d.get('partition')}/{d.get('offset')} {d.get('reason')}"
            for _, _, d in of(topics.DEADLETTER, pid, "key")
        ]
        out += [
            f"  event: {e['ts']} {e['type']} {e['priority']} {e['origin']} {e['alert_id']}"
            for _, _, e in of(topics.ALERTS, pid)
        ]
    names = {f"alerts.conditions', partition={p})" for p in parts}
    for i, w in enumerate(workers):
        lines = [
            ln
            for ln in w.output().splitlines()
            if _DELIVERY_LINE.search(ln) and ("alerts.conditions" not in ln or any(n in ln for n in names))
        ]
        out.append(f"worker {i} ({len(lines)} delivery lines):")
        out += [f"    {ln[:300]}" for ln in lines[-40:]]
    return "\n".join(out)


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
    return not behind_end(group, names)


def wait_processed(group: str, timeout_s: float = 120.0) -> None:
    """Wait until ``group`` committed ``vitals`` and ``alerts.conditions`` to their end; on a
    timeout, name the partitions left short."""
    names = [topics.VITALS, topics.CONDITIONS]
    try:
        wait_for(lambda: committed_to_end(group, names), timeout_s, "every record processed")
    except AssertionError as e:
        raise AssertionError(f"{e}; committed short of the end: {behind_end(group, names)}") from None


def behind_end(group: str, names: list[str]) -> dict[str, tuple[int | None, int]]:
    """The partitions of ``names`` that ``group`` has not committed up to their end:
    ``"topic/partition" -> (committed, end)``."""
    ends = end_offsets(names)
    got = committed_offsets(group, ends)
    return {f"{tp.topic}/{tp.partition}": (got[tp], end) for tp, end in ends.items() if (got[tp] or 0) < end}


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
            p = make_producer(max_block_ms=150_000)  # a send waits for a restarting broker
            while not self.halt.is_set():
                t_next = time.monotonic() + self.pace_s
                ts = self.t0 + self.round * self.step
                for pid in self.pids:
                    r = reading(pid, ts, self.script(self.round))
                    self.futures.append(send(p, topics.VITALS, pid, r))
                    self.sent.append(r)
                self.round += 1
                time.sleep(max(0.0, t_next - time.monotonic()))
            p.flush(timeout=150)
            p.close()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def stop(self) -> None:
        """Stop, flush, and check that the broker acknowledged every reading."""
        self.halt.set()
        self.join(180)
        assert not self.is_alive(), "the feed did not finish flushing"
        assert self.error is None, self.error
        failed = [f.exception for f in self.futures if f.failed()]
        assert not failed, f"{len(failed)} of {len(self.futures)} sends failed: {failed[:3]}"


CYCLE = 20  #: rounds of one alarm's life in :func:`escalation_script`


def escalation_script(r: int) -> dict[str, Any]:
    """A cycle of ``CYCLE`` rounds, a minute of device time each: low at 0-3 (raised at 0, then
    persisting), high at 4-7 (escalated at 4), then normal: resolved once the lower level has
    held for NEWS2_STEP_DOWN_HOLD_S (300 s, round 13); the next cycle raises a new alarm."""
    c = r % CYCLE
    return LOW if c < 4 else HIGH if c < 8 else NORMAL


def start_workers(start_worker, n: int, env: dict[str, str]) -> list:
    """``n`` stream workers started together, each ready."""
    workers = [start_worker(["worker"], env=env) for _ in range(n)]
    for w in workers:
        w.wait_for("Worker ready", 180)
    return workers


def test_two_workers_one_killed_survivor_takes_partitions_and_state(start_worker, services):
    """Two workers in one group; one SIGKILLed while readings are in flight. The survivor takes
    its partitions with the patients' vitals and alert state (no alarm raised again, the alarm
    raised before the kill escalates and resolves under its id), then a replacement joins (the
    partitions move again, state with them) while the readings go on. Every expected alert
    event and point delivered, none that was not expected."""
    s = get_settings()
    group = fresh_group("takeover")
    env = {"WARDWATCH_APP_ID": group, "WARDWATCH_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S)}
    workers = start_workers(start_worker, 2, env)
    all_parts = set(range(s.partitions))
    victim, survivor = workers
    replacement = None

    def split() -> bool:
        a, b = (vitals_partitions(w) for w in workers)
        return bool(a) and bool(b) and a | b == all_parts and not a & b  # type: ignore[operator]

    tag = uuid.uuid4().hex[:6]
    pids = [f"TK{tag}-{i}" for i in range(24)]
    pidset = set(pids)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    # the group's own changelog: only this group's workers write it, to the input's partition
    changelog = f"{group}-vitals-state-changelog"
    rec = Recorder(
        end_offsets([topics.ALERTS, topics.POINTS, changelog, topics.CONDITIONS, topics.DEADLETTER])
    )
    rec.start()
    try:
        wait_for(split, 120, "both workers to own vitals partitions")
        victim_parts = vitals_partitions(victim) or set()
        # before the kill: every patient's low alarm raised (by both workers)
        p = make_producer()
        first = [reading(pid, t0, escalation_script(0)) for pid in pids]
        partition_of = {
            r["patient_id"]: send(p, topics.VITALS, r["patient_id"], r).get(30).partition for r in first
        }
        p.close()
        assert set(partition_of.values()) == all_parts, "patients on every partition"
        victims = {pid for pid, part in partition_of.items() if part in victim_parts}

        def raised() -> dict[str, str]:
            return {
                e["patient_id"]: e["alert_id"]
                for e in alert_events(rec.snapshot(), pidset)
                if e["type"] == "raised"
            }

        raised_before = wait_for(lambda: (r := raised()).keys() == pidset and r, 60, "the first alarms")

        feed = Feed(pids, t0, escalation_script, pace_s=0.25, step=timedelta(minutes=1))
        feed.start()
        wait_for(lambda: feed.round >= 3, 30, "readings in flight")
        kill_t = time.time()
        victim.stop(kill=True)  # SIGKILL while records are in flight

        def taken_over() -> float | None:
            """Seconds from the kill to the first state the group wrote on a moved partition."""
            moved = [
                ts
                for t, part, ts, _ in rec.snapshot()
                if t == changelog and part in victim_parts and ts > kill_t
            ]
            return min(moved) - kill_t if moved else None

        takeover_s = wait_for(
            taken_over, 120, "the survivor's first output from the killed worker's partitions"
        )
        # a replacement joins while the readings go on: the partitions move once more
        replacement = start_worker(["worker"], env=env, ready="Worker ready")
        wait_for(lambda: vitals_partitions(replacement), 120, "the replacement to own partitions")
        joined_round = feed.round
        wait_for(lambda: feed.round >= max(joined_round + CYCLE, 2 * CYCLE), 120, "a cycle after the rejoin")
        feed.stop()
        assert survivor.alive() and replacement.alive()

        sent = first + feed.sent
        expected = expected_from_readings(sent, s.deterioration_model)
        wait_processed(group)
        ends = end_offsets([topics.ALERTS, topics.POINTS])
        wait_for(lambda: rec.caught_up(ends), 60, "the recorder to read every output")
    finally:
        rec.stop()
        for w in (*workers, replacement):
            if w is not None:
                w.stop()

    events = alert_events(rec.snapshot(), pidset)
    by_id = Counter(e["event_id"] for e in events)
    pts = Counter(point_keys(rec.snapshot(), pidset))
    missing, extra = set(expected.alerts) - set(by_id), set(by_id) - set(expected.alerts)
    print(
        f"\n[takeover] workers=2 killed=1 rejoined=1 partitions_moved={sorted(victim_parts)} "
        f"patients={len(pids)} "
        f"(moved {len(victims)}) readings_sent={len(sent)} | alerts expected={len(expected.alerts)} "
        f"delivered_distinct={len(set(by_id) - extra)} unexpected={len(extra)} "
        f"raw={sum(by_id.values())} re-delivered={sum(by_id.values()) - len(by_id)} | points "
        f"expected={len(expected.points)} delivered_distinct={len(set(pts) & set(expected.points))} "
        f"unexpected={len(set(pts) - set(expected.points))} re-delivered={sum(pts.values()) - len(pts)} | "
        f"takeover_s={takeover_s:.1f} (bound {TAKEOVER_BOUND_S:.0f})"
    )
    # an extra event would be a re-raise from lost state (a new alert_id) or a double transition
    if missing or extra:
        lost = [expected.alerts[i][0] for i in missing]
        unexpected = [e for e in events if e["event_id"] in extra]
        running = [w for w in (*workers, replacement) if w is not None]
        try:
            trace = lost_trace(rec, lost + unexpected, running)
        except Exception as e:  # noqa: BLE001 - the count's failure must not be hidden by its report's
            trace = f"(no trace: {type(e).__name__}: {e})"
        pytest.fail(alert_diff(lost, unexpected) + "\n" + trace)
    # the killed worker's patients: the alarm raised before the kill escalated and resolved
    # after it (by the survivor) under the same id
    for pid in victims:
        first_alarm = [e for e in events if e["alert_id"] == raised_before[pid]]
        assert {e["type"] for e in first_alarm} == {"raised", "escalated", "resolved"}
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
    group = fresh_group("influx-down")
    env = {"WARDWATCH_APP_ID": group, "WARDWATCH_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S)}
    workers = [start_worker(["worker"], env=env, ready="Worker ready")]
    try:
        _influx_outage(workers, start_worker, env, kill_worker)
    finally:
        for w in workers:
            w.stop()


def _influx_outage(workers: list, start_worker, env: dict[str, str], kill_worker: bool) -> None:
    """Readings for most of a 30 s InfluxDB outage (``kill_worker``: the worker SIGKILLed while
    its sink holds points it cannot write, a new one started), then InfluxDB back: every
    expected point in InfluxDB with its values, and nothing else."""
    s = get_settings()
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
            wait_for(lambda: "influx write failed, retrying" in workers[0].output(), 60, "the sink to retry")
            workers[0].stop(kill=True)
            workers.append(start_worker(["worker"], env=env, ready="Worker ready"))
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
    assert workers[-1].alive()


def test_broker_killed_and_restarted_while_producing_loses_and_duplicates_nothing(start_worker, services):
    """The project's producer (:func:`wardwatch.kafka_io.make_producer`: idempotent, ``acks=all``)
    sends scripted readings while the broker is SIGKILLed (no controlled shutdown, requests in
    flight) and started again, a worker consuming throughout: every reading is on ``vitals``
    exactly once and in order, and the worker survives and delivers every expected alert event
    (open alarms carry on under their ids: nothing raised again)."""
    s = get_settings()
    probe = make_producer()
    assert probe.config["enable_idempotence"] and probe.config["acks"] == -1
    probe.close()
    group = fresh_group("broker-kill")
    env = {"WARDWATCH_APP_ID": group, "WARDWATCH_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S)}
    worker = start_worker(["worker"], env=env, ready="Worker ready")
    tag = uuid.uuid4().hex[:6]
    pids = [f"BK{tag}-{i}" for i in range(4)]
    pidset = set(pids)
    start = end_offsets([topics.VITALS, topics.ALERTS])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    feed = Feed(pids, t0, escalation_script, pace_s=0.04, step=timedelta(minutes=1), first_round=0)
    try:
        feed.start()
        wait_for(lambda: feed.round >= 50, 30, "records in flight")
        killed_at = time.monotonic()
        assert kafka.down(s, kill=True)  # SIGKILL: no controlled shutdown, no flush
        assert kafka.pid(s) is None
        assert kafka.up(s) == "started"
        restarted_s = time.monotonic() - killed_at
        at_restart = feed.round
        wait_for(lambda: feed.round >= at_restart + CYCLE, 60, "records after the restart")
        feed.stop()
        expected = expected_from_readings(feed.sent, s.deterioration_model)
        wait_processed(group)
        assert worker.alive()
    finally:
        feed.halt.set()
        worker.stop()

    rec = Recorder(start)
    rec.start()
    ends = end_offsets([topics.VITALS, topics.ALERTS])
    wait_for(lambda: rec.caught_up(ends), 60, "vitals and alerts read")
    rec.stop()
    on_topic: Counter = Counter()
    in_order, last = True, {}
    for topic, _, _, v in rec.snapshot():
        if topic == topics.VITALS and isinstance(v, dict) and v.get("patient_id") in pidset:
            on_topic[(v["patient_id"], v["ts"])] += 1
            in_order &= v["ts"] > last.get(v["patient_id"], "")
            last[v["patient_id"]] = v["ts"]
    sent = Counter((r["patient_id"], r["ts"]) for r in feed.sent)
    missing, dups = set(sent) - set(on_topic), {k: c for k, c in on_topic.items() if c > 1}
    evs = alert_events(rec.snapshot(), pidset)
    events = Counter(e["event_id"] for e in evs)
    print(
        f"\n[broker SIGKILL] readings sent={len(feed.sent)} on_topic={sum(on_topic.values())} "
        f"distinct={len(on_topic)} missing={len(missing)} duplicated={len(dups)} "
        f"broker_back_after_s={restarted_s:.1f} | alerts expected={len(expected.alerts)} "
        f"delivered_distinct={len(set(events) & set(expected.alerts))} "
        f"unexpected={len(set(events) - set(expected.alerts))} "
        f"re-delivered={sum(events.values()) - len(events)}"
    )
    assert len(sent) == len(feed.sent), "each reading is unique (patient, time)"
    assert not missing, f"{len(missing)} readings lost: {sorted(missing)[:5]}"
    assert not dups, f"{len(dups)} readings duplicated: {sorted(dups)[:5]}"
    assert in_order, "a patient's readings out of order"
    assert not set(expected.alerts) - set(events), "alert events lost"
    extra = [(e["type"], e["priority"], e["alert_id"]) for e in evs if e["event_id"] not in expected.alerts]
    assert not extra, f"unexpected alert events (re-raised?): {extra[:10]}"
