"""The alarm lifecycle through the real Kafka broker, a real worker and the real InfluxDB.

One medium alarm on a worker with short deadlines (medium 2 s, raised to high after one missed
deadline, high 5 s): raised; escalated by the timer to high; silenced for 5 s by a nurse through
``wardwatch alerts ack`` (no re-notification while silenced, although the 5 s deadline passes in
it unless the CLI took that long); the silence ends by itself; re-notified 5 s later; acks with
no token, a forged token and a viewer's token are dead-lettered (unauthenticated,
unauthenticated, forbidden); the nurse acknowledges it (the event says who); nothing more from
the timer; the condition ends: resolved; and ``wardwatch alerts history`` prints the whole trail
from InfluxDB.

The worker runs in a consumer group of its own that starts at the end of every topic. If the
session's stream worker runs too, it sees the same conditions and actions with the default (long)
deadlines: its copies of condition and operator events are tolerated (the assertions look for the
events this worker must produce), and it cannot produce timer events within this test.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wardwatch import topics
from wardwatch.identity import User, add_user, issue_token
from wardwatch.kafka_io import consume, end_offsets, make_producer, send, start_group_at_end
from wardwatch.records.conditions import Condition
from wardwatch.settings import get_settings

WARDWATCH = str(Path(sys.executable).with_name("wardwatch"))
ENV = {
    "WARDWATCH_ESCALATE_MEDIUM_S": "2",
    "WARDWATCH_ESCALATE_HIGH_S": "5",
    "WARDWATCH_ESCALATE_MEDIUM_TO_HIGH_AFTER": "1",
    "WARDWATCH_ALERTS_TICK_S": "0.2",
}


def high(trail: Trail, kind: str | None = None, origin: str | None = None) -> list[dict]:
    """This worker's events once it raised the alarm to high (see the module doc)."""
    return [e for e in trail.events(kind, origin) if e["priority"] == "high"]


def ts(e: dict) -> datetime:
    return datetime.fromisoformat(e["ts"])


class Trail:
    """Everything on ``alerts`` and ``deadletter`` for one patient since ``start`` (alert events
    de-duplicated by event_id, as a subscriber does)."""

    def __init__(self, pid: str):
        self.pid = pid
        self.start = end_offsets([topics.ALERTS, topics.DEADLETTER])
        self.alerts: dict[str, dict] = {}
        self.dead: dict[int, dict] = {}

    def wait(self, done, timeout_s: float = 60.0) -> None:
        """Read until ``done(self)`` holds (AssertionError with what was seen if it never does)."""
        deadline = time.monotonic() + timeout_s
        for topic, key, v in consume(
            [topics.ALERTS, topics.DEADLETTER],
            start=self.start,
            timeout_s=timeout_s,
            stop=lambda _: done(self) or time.monotonic() > deadline,
        ):
            if key != self.pid or not isinstance(v, dict):
                continue
            if topic == topics.ALERTS:
                self.alerts.setdefault(v["event_id"], v)
            elif v.get("source_topic") == topics.ALERTS_ACK:
                self.dead.setdefault(v["offset"], v)
        assert done(self), f"timed out; events: {[(e['type'], e['origin']) for e in self.events()]}"

    def events(self, kind: str | None = None, origin: str | None = None) -> list[dict]:
        evs = sorted(self.alerts.values(), key=ts)
        return [
            e
            for e in evs
            if (kind is None or e["type"] == kind) and (origin is None or e["origin"] == origin)
        ]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "220"}  # a wide terminal, so the table's cells are not wrapped
    return subprocess.run(
        [WARDWATCH, *args], capture_output=True, text=True, timeout=60, check=False, env=env
    )


def test_alarm_lifecycle_escalation_silence_auth_and_history(services, start_worker, tmp_path):
    s = get_settings()
    pw = tmp_path / "password"
    pw.write_text("correct horse battery\n")
    r = cli("users", "add", "anna", "--role", "nurse", "--name", "Anna Berg", "--password-file", str(pw))
    assert r.returncode == 0, r.stderr
    viewer = add_user(s.users_path, "vic", "viewer password", "viewer", "Vic Viewer")

    group = f"wardwatch-alarms-{uuid.uuid4().hex[:8]}"
    topics.ensure_topics(topics.STREAM_TOPICS)
    start_group_at_end(group, list(topics.STREAM_TOPICS))
    worker = start_worker(["worker"], env={"WARDWATCH_APP_ID": group, **ENV}, ready="Worker ready")
    try:
        pid = f"ALM-{uuid.uuid4().hex[:8]}"
        trail = Trail(pid)
        p = make_producer()
        onset = datetime.now(UTC)
        cond = Condition(pid, "ICU-9", "news2", True, "medium", onset.isoformat(), "NEWS2 6 (medium)")
        send(p, topics.CONDITIONS, pid, cond.to_dict()).get(timeout=30)

        # raised, then escalated by the timer to high after the medium deadline (2 s)
        trail.wait(lambda t: t.events("escalated", "timer"))
        [raised] = trail.events("raised")
        [esc] = trail.events("escalated", "timer")
        aid = raised["alert_id"]
        assert (esc["alert_id"], esc["priority"], esc["level"]) == (aid, "high", 1)
        assert 2.0 <= (ts(esc) - ts(raised)).total_seconds() < 6.0  # from the worker's notification
        assert "raised to high" in esc["reason"]

        # silence for 5 s through the CLI: no re-notification while silenced
        login = ("--user", "anna", "--password-file", str(pw))
        r = cli("alerts", "ack", pid, aid, "--silence", "5", *login, "--reason", "at the bedside")
        assert r.returncode == 0, r.stderr
        assert "as anna (Anna Berg)" in r.stdout
        # the answer it waited for (the session's own stream worker, if running, answers too, for
        # its copy of the alarm still at medium: this worker's events are the high ones)
        assert "silenced" in r.stdout and "by anna" in r.stdout
        trail.wait(lambda t: high(t, "silence_ended"))
        [sil] = high(trail, "silenced")
        [ended] = high(trail, "silence_ended")
        trail.wait(lambda t: [e for e in t.events("renotified") if ts(e) > ts(ended)])
        renot = next(e for e in trail.events("renotified") if ts(e) > ts(ended))
        assert (sil["by"], sil["by_name"], sil["reason"], sil["duration_s"]) == (
            "anna",
            "Anna Berg",
            "at the bedside",
            5,
        )
        assert ended["ts"] == sil["silenced_until"]  # the silence ended when it said
        assert ts(renot) == ts(ended) + timedelta(seconds=5)  # the deadline restarted there
        assert [e for e in high(trail, origin="timer") if ts(sil) < ts(e) < ts(ended)] == []

        # acks without a valid user token, or from a role that may not, are dead-lettered
        forged = issue_token(User("anna", "Anna Berg", "nurse"), b"x" * 32, time.time(), 600)
        bad = [
            {"patient_id": pid, "alert_id": aid, "action": "acknowledge", "by": "anna"},
            {"patient_id": pid, "alert_id": aid, "action": "acknowledge", "token": forged},
            {
                "patient_id": pid,
                "alert_id": aid,
                "action": "acknowledge",
                "token": issue_token(viewer, s.auth_secret_value(), time.time(), 600),
            },
        ]
        for msg in bad:
            send(p, topics.ALERTS_ACK, pid, msg).get(timeout=30)
        p.close()
        trail.wait(lambda t: len({d["code"] + d["reason"] for d in t.dead.values()}) >= 3)
        codes = sorted({(d["code"], d["field"]) for d in trail.dead.values()})
        assert codes == [("forbidden", "token"), ("unauthenticated", "token")]
        originals = [base64.b64decode(d["original_b64"]) for d in trail.dead.values()]
        assert not [o for o in originals if forged.encode() in o]  # no token kept in a dead letter
        assert not trail.events("acknowledged")

        # the nurse acknowledges: the event says who; the timer stops
        vic_pw = tmp_path / "vic"
        vic_pw.write_text("viewer password\n")
        r = cli("alerts", "ack", pid, aid, "--user", "vic", "--password-file", str(vic_pw))
        assert r.returncode == 1 and "rejected by the alert component: forbidden" in r.stderr, r.stderr
        r = cli("alerts", "ack", pid, aid, *login, "--reason", "NEWS2 reviewed")
        assert r.returncode == 0, r.stderr
        assert "acknowledged" in r.stdout and "by anna" in r.stdout
        trail.wait(lambda t: [e for e in t.events("acknowledged") if e["priority"] == "high"])
        ack = next(e for e in trail.events("acknowledged") if e["priority"] == "high")
        assert (ack["by"], ack["by_name"], ack["reason"], ack["origin"]) == (
            "anna",
            "Anna Berg",
            "NEWS2 reviewed",
            "operator",
        )
        n_timer = len(high(trail, origin="timer"))
        time.sleep(6.0)  # longer than the high deadline

        # the condition ends: resolved
        p = make_producer()
        end = Condition(pid, "ICU-9", "news2", False, "medium", datetime.now(UTC).isoformat(), "NEWS2 2")
        send(p, topics.CONDITIONS, pid, end.to_dict()).get(timeout=30)
        p.close()
        trail.wait(lambda t: t.events("resolved"))
        assert len(high(trail, origin="timer")) == n_timer  # nothing after the acknowledgement

        # the audit trail from InfluxDB
        want = {"raised", "escalated", "silenced", "silence_ended", "renotified", "acknowledged", "resolved"}
        deadline, rows = time.monotonic() + 30, []
        while time.monotonic() < deadline:
            r = cli("alerts", "history", "--patient", pid, "--since", "1h", "--json")
            assert r.returncode == 0, r.stderr
            rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
            if want <= {x["type"] for x in rows}:
                break
            time.sleep(1.0)
        assert want <= {x["type"] for x in rows}, rows
        assert [x["time"] for x in rows] == sorted(x["time"] for x in rows)
        acks = [x for x in rows if x["type"] == "acknowledged" and x["priority"] == "high"]
        assert acks and acks[0]["by"] == "anna" and acks[0]["reason"] == "NEWS2 reviewed"
        assert next(x for x in rows if x["type"] == "escalated")["origin"] == "timer"
        human = cli("alerts", "history", "--patient", pid, "--since", "1h")
        assert human.returncode == 0 and "Anna Berg" in human.stdout
    finally:
        worker.stop()


def test_a_worker_without_a_secret_starts_says_so_once_and_rejects_acks(services, start_worker):
    """No token secret configured: the worker still starts and works, logs once that actions are
    disabled, and dead-letters an acknowledgement (even with a well-formed token) as
    unauthenticated with that reason."""
    group = f"wardwatch-nosecret-{uuid.uuid4().hex[:8]}"
    topics.ensure_topics(topics.STREAM_TOPICS)
    start_group_at_end(group, list(topics.STREAM_TOPICS))
    env = {"WARDWATCH_APP_ID": group, "WARDWATCH_AUTH_SECRET_FILE": "", "WARDWATCH_AUTH_SECRET": ""}
    worker = start_worker(["worker"], env=env, ready="Worker ready")
    try:
        pid = f"NOS-{uuid.uuid4().hex[:8]}"
        trail = Trail(pid)
        p = make_producer()
        cond = Condition(pid, "ICU-8", "news2", True, "high", datetime.now(UTC).isoformat(), "NEWS2 8")
        send(p, topics.CONDITIONS, pid, cond.to_dict()).get(timeout=30)
        trail.wait(lambda t: t.events("raised"))
        aid = trail.events("raised")[0]["alert_id"]
        tok = issue_token(
            User("anna", "Anna Berg", "nurse"), get_settings().auth_secret_value(), time.time(), 600
        )
        send(
            p,
            topics.ALERTS_ACK,
            pid,
            {"patient_id": pid, "alert_id": aid, "action": "acknowledge", "token": tok},
        )
        p.close()
        trail.wait(lambda t: any("no auth secret configured" in d["reason"] for d in t.dead.values()))
        dl = next(d for d in trail.dead.values() if "no auth secret configured" in d["reason"])
        assert dl["code"] == "unauthenticated"
        assert worker.output().count("alert actions disabled") == 1
    finally:
        worker.stop()
