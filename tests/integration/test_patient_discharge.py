"""Bounded per-patient state against the real services (issue #20): ``wardwatch patients
discharge`` resolves the patient's open alarm (subscribers see it close), tombstones the
patient's vitals state and leaves only the discharge mark in its alert state; a late reading of
the ended stay raises no alarm (its condition is dead-lettered), and a reading after the discharge
starts from nothing (a new alarm id). A patient with no data for
``WARDWATCH_PATIENT_IDLE_EVICT_H`` is evicted the same way by the worker's timer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wardwatch import topics
from wardwatch.kafka_io import consume, end_offsets, make_producer, send, start_group_at_end

# the session's other stream workers would re-feed copies of this patient's conditions after the
# discharge (see the fixture)
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("quiet_stream_workers")]

WARDWATCH = str(Path(sys.executable).with_name("wardwatch"))
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
LOW = {**NORMAL, "acvpu": "C"}  # a single parameter of 3
IDLE_H = 0.005  # 18 s


def produce(pid: str, ts: datetime, values: dict) -> None:
    p = make_producer()
    send(p, topics.VITALS, pid, {"patient_id": pid, "bed": "D-1", "ts": ts.isoformat(), **values}).get(30)
    p.close()


class Watch:
    """Alert events (de-duplicated by event_id), dead letters, and the patients whose
    alerts-open entry became a discharge mark and whose vitals-state entry a tombstone, since
    the start."""

    def __init__(self, group: str):
        self.alerts_log, self.vitals_log = (f"{group}-{t}-changelog" for t in ("alerts-open", "vitals-state"))
        self.topics = [topics.ALERTS, topics.DEADLETTER, self.alerts_log, self.vitals_log]
        self.start = end_offsets(self.topics)
        self.events: dict[str, dict] = {}
        self.letters: dict[tuple, dict] = {}  # (source topic, partition, offset) -> dead letter
        self.closed: set[tuple[str, str]] = set()  # (changelog, key)

    def wait(self, done, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        for topic, key, v in consume(
            self.topics, start=self.start, timeout_s=timeout_s, stop=lambda _: done(self)
        ):
            if topic == topics.ALERTS and isinstance(v, dict) and v.get("origin") != "timer":
                self.events.setdefault(v["event_id"], v)
            elif topic == topics.DEADLETTER and isinstance(v, dict):
                self.letters[v.get("source_topic"), v.get("partition"), v.get("offset")] = v
            elif (topic == self.vitals_log and v is None) or (
                topic == self.alerts_log and isinstance(v, dict) and v.get("discharged_ts")
            ):
                self.closed.add((topic, key.strip('"')))
        assert done(self), f"not seen within {timeout_s:.0f}s: {sorted(self.seen())} {sorted(self.closed)}"
        assert time.monotonic() <= deadline + 5

    def of(self, pid: str) -> list[dict]:
        return [e for e in self.events.values() if e["patient_id"] == pid]

    def seen(self) -> list[tuple]:
        return [(e["patient_id"], e["type"], e["origin"]) for e in self.events.values()]

    def dropped(self, pid: str) -> bool:
        return all((c, pid) in self.closed for c in (self.alerts_log, self.vitals_log))

    def letters_of(self, pid: str) -> list[dict]:
        return [d for d in self.letters.values() if d.get("key") == pid]


def test_discharge_and_idle_eviction_resolve_alarms_and_drop_state(start_worker, services):
    group = f"wardwatch-discharge-{uuid.uuid4().hex[:6]}"
    topics.ensure_topics(topics.STREAM_TOPICS)
    start_group_at_end(group, list(topics.STREAM_TOPICS))
    env = {"WARDWATCH_APP_ID": group, "WARDWATCH_PATIENT_IDLE_EVICT_H": str(IDLE_H)}
    worker = start_worker(["worker"], env=env, ready="Worker ready")
    try:
        tag = uuid.uuid4().hex[:6]
        a, b = f"DA{tag}", f"DB{tag}"
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        watch = Watch(group)
        produce(a, t0, HIGH)
        produce(b, t0, LOW)
        watch.wait(lambda w: len(w.of(a)) == 1 and len(w.of(b)) == 1)
        [raised] = watch.of(a)

        r = subprocess.run(
            [WARDWATCH, "patients", "discharge", a, "--reason", "to ward 7"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        assert r.returncode == 0, r.stderr
        watch.wait(lambda w: len(w.of(a)) == 2 and w.dropped(a))
        resolved = [e for e in watch.of(a) if e["type"] == "resolved"]
        assert [(e["alert_id"], e["origin"], e["reason"]) for e in resolved] == [
            (raised["alert_id"], "discharge", "discharged: to ward 7")
        ]

        # a late reading of the ended stay (a device's buffer sent after the discharge): its
        # NEWS2 condition raises no ghost alarm, it is dead-lettered with the discharge's time
        produce(a, t0 + timedelta(minutes=5), LOW)
        watch.wait(lambda w: len(w.letters_of(a)) == 1)
        [late] = watch.letters_of(a)
        assert (late["code"], late["source_topic"]) == ("out_of_order", topics.CONDITIONS)
        assert "discharged at" in late["reason"]

        # readmitted: a reading after the discharge raises a new alarm (its level rises from
        # the late reading's, which started the new state)
        produce(a, datetime.now(UTC).replace(microsecond=0), HIGH)
        watch.wait(lambda w: len(w.of(a)) == 3)
        again = [e for e in watch.of(a) if e["type"] == "raised" and e["event_id"] != raised["event_id"]]
        assert len(again) == 1 and again[0]["alert_id"] != raised["alert_id"]
        assert again[0]["priority"] == "high" and len(watch.letters_of(a)) == 1

        # b sent nothing more: evicted by the idle timer (18 s), its alarm resolved first
        watch.wait(lambda w: len(w.of(b)) == 2 and w.dropped(b), timeout_s=120)
        [idle] = [e for e in watch.of(b) if e["type"] == "resolved"]
        assert idle["origin"] == "discharge" and idle["reason"].startswith("idle: no data for")
        assert worker.alive()
    finally:
        worker.stop()
