"""Issue #25: workers SIGKILLed again and again while valid and malformed records flow, the
survivor taking the partitions over through a rebalance each time. Counted against the real
broker: every malformed record reaches ``deadletter`` (by its source topic, partition and
offset), every valid reading is processed (its ``vitals`` point is on ``influx.points``, alone
or in a batch's message), every valid ECG chunk is analysed once into its patient's state (the
points the ECG step gives offline for the same chunks, and none other; no chunk a "duplicate",
"out of order" or after a "gap": the ECG states are written by checkpoint, and a killed
worker's chunks since its last one are handled again from it), and the group's committed
offsets reach the end of every input topic (nothing left behind, no commit stalled).
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from models.ecg.step import ecg_step
from simulators.ecg_synth import synth_ecg
from wardwatch.kafka_io import committed_offsets, consume, end_offsets, make_producer
from wardwatch.loadtest.expected import TIMER_SOURCES, Expected, point_key
from wardwatch.records.ecg import ecg_chunk_dict, ecg_validate
from wardwatch.records.points import point, unpack_points

pytestmark = pytest.mark.integration

CYCLES = int(os.environ.get("WARDWATCH_KILL_CYCLES", "8"))
INPUTS = ["vitals", "ecg", "alerts.ack"]
RATE_PER_S = 120  # records per second on vitals (about a fifth malformed) + a few elsewhere
ECG_PATIENTS, ECG_FS, ECG_MAX_S = 4, 360.0, 600  # valid 1 s chunks, one a second per patient
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


def malformed_vitals(key: str, ts: datetime, kind: int) -> bytes:
    """The five kinds of the issue: not JSON, truncated JSON, Fahrenheit, a word, impossible."""
    base = {"patient_id": key, "bed": "K-1", "ts": ts.isoformat(), **NORMAL}
    if kind == 0:
        return b"not json at all"
    if kind == 1:
        return json.dumps(base).encode()[:30]
    if kind == 2:
        base.pop("temp_c")
        return json.dumps({**base, "temp_f": 98.6}).encode()
    if kind == 3:
        return json.dumps({**base, "hr_bpm": "fast"}).encode()
    return json.dumps({**base, "spo2_pct": 250}).encode()


def point_time_ns(ts: datetime) -> int:
    return point("vitals", {}, {"x": 1}, ts)["time_ns"]


class Feed(threading.Thread):
    """Sends records until stopped, remembering where each one landed."""

    def __init__(self, tag: str, t0: datetime):
        super().__init__(daemon=True)
        self.tag, self.t0 = tag, t0
        self.stop = threading.Event()
        self.sent: list[tuple[str, str, str, int, object]] = []  # kind, topic, key, ts ns, future
        self.error: BaseException | None = None
        self.ecg = {  # each ECG patient's signal, sent a second at a time
            f"C{tag}-{k}": synth_ecg(float(ECG_MAX_S), fs=ECG_FS, seed=k)[0] for k in range(ECG_PATIENTS)
        }
        self.chunks: list[dict] = []  # the valid ECG chunks sent, in order

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def _run(self) -> None:
        rng = random.Random(25)
        p = make_producer()
        n_patients, i = 150, 0
        while not self.stop.is_set():
            t_next = time.monotonic() + 1.0 / RATE_PER_S
            if rng.random() < 0.2:
                key = f"B{self.tag}-{i}"
                value = malformed_vitals(key, self.t0, i % 5)
                self.sent.append(("bad", "vitals", key, 0, p.send("vitals", key=key.encode(), value=value)))
            else:
                pid = f"P{self.tag}-{i % n_patients}"
                ts = self.t0 + timedelta(milliseconds=10 * i)  # each patient's in order, past
                value = json.dumps({"patient_id": pid, "bed": "K-2", "ts": ts.isoformat(), **NORMAL}).encode()
                self.sent.append(
                    ("ok", "vitals", pid, point_time_ns(ts), p.send("vitals", key=pid.encode(), value=value))
                )
            if i % RATE_PER_S == 0 and i // RATE_PER_S < ECG_MAX_S:
                self._send_ecg(p, i // RATE_PER_S)
            if i % 40 == 0:  # the other dead-lettering agents: ECG chunks and operator actions
                key = f"E{self.tag}-{i}"
                self.sent.append(
                    (
                        "bad",
                        "ecg",
                        key,
                        0,
                        p.send("ecg", key=key.encode(), value=b'{"patient_id": "x", "ecg_uv": [1,'),
                    )
                )
                self.sent.append(
                    (
                        "bad",
                        "alerts.ack",
                        key,
                        0,
                        p.send("alerts.ack", key=key.encode(), value=b'{"action": "acknowledge"}'),
                    )
                )
            i += 1
            time.sleep(max(0.0, t_next - time.monotonic()))
        p.flush()
        p.close()

    def _send_ecg(self, p, seq: int) -> None:
        n = int(ECG_FS)
        for pid, sig in self.ecg.items():
            ts = self.t0 + timedelta(seconds=seq)
            chunk = ecg_chunk_dict(pid, "K-3", ts, ECG_FS, seq, "II", sig[seq * n : (seq + 1) * n])
            self.chunks.append(chunk)
            fut = p.send("ecg", key=pid.encode(), value=json.dumps(chunk).encode())
            self.sent.append(("ecg", "ecg", pid, seq, fut))


def expected_ecg_points(chunks: list[dict]) -> set:
    """The point keys the ECG step gives for ``chunks`` offline, each patient's in order (the
    worker's classifier; wall-clock timer alarms left out, as in the load test)."""
    from models.ecg.classify import BeatClassifier

    classifier, exp, states = BeatClassifier(), Expected(), {}
    for c in chunks:
        res = ecg_step(states, [ecg_validate(json.dumps(c), key=c["patient_id"])], classifier, 0.0)
        res.raise_errors()
        for out in res.results:
            exp.add_points(out.points)
    return set(exp.points)


@pytest.fixture(scope="module")
def kill_run(start_worker, services):
    """One run: two workers, one SIGKILLed every few seconds (``CYCLES`` kills) while the feed
    flows; then everything the pipeline published for it, counted."""
    app_id = f"wardwatch-kill-{uuid.uuid4().hex[:6]}"
    env = {"WARDWATCH_APP_ID": app_id, "WARDWATCH_SESSION_TIMEOUT_S": "6"}
    workers = [start_worker(["worker"], env=env, ready="Worker ready") for _ in range(2)]
    start = end_offsets(["deadletter", "influx.points"])
    tag = uuid.uuid4().hex[:6]
    feed = Feed(tag, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))
    feed.start()
    try:
        for cycle in range(CYCLES):
            time.sleep(2.0)  # both workers busy with the feed
            victim = workers[cycle % 2]
            victim.stop(kill=True)  # SIGKILL mid-stream: records in flight
            # the replacement joins while the survivor still owns everything until the dead
            # member's session expires: the feed goes on through both rebalances
            workers[cycle % 2] = start_worker(["worker"], env=env, ready="Worker ready")
            assert workers[(cycle + 1) % 2].alive()
    finally:
        feed.stop.set()
        feed.join(60)
    assert feed.error is None, feed.error

    expected_bad: dict[tuple[str, int, int], str] = {}  # (topic, partition, offset) -> key
    ok_times: set[tuple[str, int]] = set()  # (patient, device time ns)
    ok_where: dict[tuple[str, int], tuple[int, int]] = {}  # -> (partition, offset)
    ecg_where: dict[tuple[str, int, int], int] = {}  # (patient, partition, offset) -> seq
    for kind, topic, key, ts_ns, fut in feed.sent:
        md = fut.get(timeout=30)
        if kind == "ecg":
            ecg_where[(key, md.partition, md.offset)] = ts_ns  # the chunk's seq
            continue
        if kind == "bad":
            expected_bad[(topic, md.partition, md.offset)] = key
        else:
            ok_times.add((key, ts_ns))
            ok_where[(key, ts_ns)] = (md.partition, md.offset)

    ecg_expected = expected_ecg_points(feed.chunks)
    dead: Counter = Counter()
    dead_reasons: dict[tuple[str, int, int], set[str]] = {}
    points: set[tuple[str, int]] = set()
    rejected_ok: dict[tuple[str, int], str] = {}  # valid readings dead-lettered (diagnostics)
    ecg_points: set = set()
    ecg_rejected: list[str] = []  # valid ECG chunks dead-lettered

    def complete(_seen) -> bool:
        return set(expected_bad) <= set(dead) and ok_times <= points and ecg_expected <= ecg_points

    for topic, _key, v in consume(["deadletter", "influx.points"], start=start, timeout_s=150, stop=complete):
        if not isinstance(v, dict):
            continue
        if topic == "deadletter" and v.get("source_topic") in INPUTS:
            k = (v["source_topic"], v["partition"], v["offset"])
            if k in expected_bad:
                assert v["key"] == expected_bad[k]
                dead[k] += 1
                dead_reasons.setdefault(k, set()).add(v["reason"])
            elif v["key"].startswith(f"C{tag}"):
                sent_seq = ecg_where.get((v["key"], v["partition"], v["offset"]), "never sent there")
                ecg_rejected.append(f"{v['reason']} (at {v['partition']}/{v['offset']}: sent seq {sent_seq})")
            elif v["key"].startswith(f"P{tag}"):
                raw = json.loads(base64.b64decode(v["original_b64"]))
                ts_ns = point_time_ns(datetime.fromisoformat(raw["ts"]))
                rejected_ok[(v["key"], ts_ns)] = v["reason"].split(":")[0]
        elif topic == "influx.points":  # one point, or a batch of them (streams/outputs.py)
            for pt in unpack_points(v):
                pid = pt.get("tags", {}).get("patient", "")
                if pt.get("measurement") == "vitals" and pid.startswith(f"P{tag}"):
                    points.add((pid, pt["time_ns"]))
                elif pid.startswith(f"C{tag}") and pt["tags"].get("source") not in TIMER_SOURCES:
                    ecg_points.add(point_key(pt))
    print(
        f"\nkills={CYCLES} malformed={len(expected_bad)} dead-lettered={len(dead)} "
        f"re-delivered={sum(c - 1 for c in dead.values())} valid={len(ok_times)} "
        f"processed={len(ok_times & points)} ecg_chunks={len(feed.chunks)} "
        f"ecg_points={len(ecg_expected & ecg_points)}/{len(ecg_expected)}"
    )
    yield {
        "app_id": app_id,
        "workers": workers,
        "expected_bad": expected_bad,
        "dead": dead,
        "dead_reasons": dead_reasons,
        "ok_times": ok_times,
        "ok_where": ok_where,
        "points": points,
        "rejected_ok": rejected_ok,
        "ecg_expected": ecg_expected,
        "ecg_points": ecg_points,
        "ecg_rejected": ecg_rejected,
    }
    for w in workers:
        w.stop()


def test_every_valid_reading_is_processed(kill_run):
    missing = sorted(kill_run["ok_times"] - kill_run["points"])
    why = Counter(kill_run["rejected_ok"].get(m, "never dead-lettered") for m in missing)
    where = sorted(kill_run["ok_where"][m] for m in missing)
    assert not missing, f"{len(missing)} valid readings lost ({dict(why)}) at {where[:20]}"


def test_every_valid_ecg_chunk_is_analysed_once_into_its_state(kill_run):
    """The points of every chunk, as the step gives them offline over the same chunks in order,
    and no other (a chunk analysed from a state other than its predecessor's, e.g. a checkpoint
    older than the committed offset, would give other beats); no valid chunk dead-lettered."""
    exp, got = kill_run["ecg_expected"], kill_run["ecg_points"]
    assert len(exp) > 100
    missing, extra = sorted(exp - got), sorted(got - exp)

    def around(points: set, key: tuple) -> list:
        """The patient's points within 3 s of ``key``'s time: what the pipeline gave instead."""
        return sorted((m, t) for m, tags, t in points if tags == key[1] and abs(t - key[2]) < 3e9)

    assert not missing and not extra, (
        f"{len(missing)} ECG points missing {missing[:5]}, {len(extra)} extra {extra[:5]}; "
        f"around the first missing, expected {around(exp, (missing or extra)[0])}, "
        f"published {around(got, (missing or extra)[0])}; "
        f"chunks dead-lettered {kill_run['ecg_rejected'][:10]}"
    )
    logs = [
        ln[-300:]
        for w in kill_run["workers"]
        for ln in w.output().splitlines()
        if ("ecg" in ln and ("reason=out_of_order" in ln or "reason=duplicate" in ln or "failed" in ln))
        or "revocation" in ln
        or ("wardwatch.delivery" in ln and "'ecg'" in ln)
    ]
    assert not kill_run["ecg_rejected"], "\n".join(kill_run["ecg_rejected"] + logs[-40:])


def test_every_malformed_record_is_dead_lettered(kill_run):
    missing = sorted(set(kill_run["expected_bad"]) - set(kill_run["dead"]))
    assert not missing, f"{len(missing)} malformed records never dead-lettered: {missing[:10]}"


def test_a_redelivered_dead_letter_is_the_same_dead_letter(kill_run):
    """Delivery is at least once: a record re-read after a kill is dead-lettered again. Each
    dead letter names its source (topic, partition, offset), so a reader de-duplicates by that
    identity, and a re-delivered one carries the same reason as the first."""
    differing = {k: r for k, r in kill_run["dead_reasons"].items() if len(r) != 1}
    assert not differing, f"re-delivered dead letters with other reasons: {list(differing.items())[:5]}"


def test_no_valid_reading_is_dead_lettered(kill_run):
    """A reading re-delivered after a kill is recognised by the partition and offset its
    patient's state took in last, and skipped: it is not a "duplicate" or "out of order" dead
    letter (its outputs were published before that state was written)."""
    why = Counter(kill_run["rejected_ok"].values())
    assert not kill_run["rejected_ok"], (
        f"{len(kill_run['rejected_ok'])} valid readings dead-lettered: {dict(why)}"
    )


def test_committed_offsets_reach_the_end_of_every_input(kill_run):
    """Nothing left behind and no commit stalled by the stricter commit rule; the workers
    stay up."""
    ends = end_offsets(INPUTS)
    deadline = time.monotonic() + 60
    while True:
        got = committed_offsets(kill_run["app_id"], ends)
        behind = {tp: (got[tp], end) for tp, end in ends.items() if (got[tp] or 0) < end}
        if not behind or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not behind, f"committed offsets short of the end: {behind}\n" + "\n".join(
        ln[-300:]
        for w in kill_run["workers"]
        for ln in w.output().splitlines()
        if (
            "wardwatch.delivery" in ln
            and any(f"'{tp.topic}', partition={tp.partition}" in ln for tp in behind)
        )
        or "checkpoint failed" in ln  # a state write that failed holds its records back
        or "records failed" in ln
    )
    assert all(w.alive() for w in kill_run["workers"])
