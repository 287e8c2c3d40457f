"""``wardwatch alerts webhook`` against the real Kafka and a real local HTTP receiver.

The receiver first fails (HTTP 500, then a request it answers too late, then 500s); the subscriber
is SIGKILLed while retrying and its group's committed offsets are checked to be still before every
undelivered event; restarted, it delivers everything once the receiver accepts, dead-letters the
event the receiver refuses with a 422, and is stopped and restarted once more while new events
arrive. A second subscriber whose receiver always answers 503 runs meanwhile in its own group and
holds nothing up. Every request's signature verifies; after de-duplication by event id every
wanted event was delivered, and the filtered ones never.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kafka import TopicPartition

from wardwatch import topics
from wardwatch.kafka_io import committed_offsets, consume, end_offsets, make_producer
from wardwatch.subscribers.signing import EVENT_ID_HEADER, verify_headers

pytestmark = pytest.mark.integration

#: a SIGKILLed subscriber's partitions move after 6 s (the broker's minimum), not the default 30
ENV = {"WARDWATCH_SESSION_TIMEOUT_S": "6"}
SECRET = b"integration-webhook-secret-" + b"x" * 16


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the stalled answer meets a socket the subscriber closed at its timeout: expected


class Receiver:
    """A real HTTP server thread. ``mode``: "failing" (500, then a 2.5 s stall, then 500s),
    "accept" (200, but 422 for a body containing ``refuse-me``) or "down" (503 always)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received = time.time()
                with outer.lock:
                    n = len(outer.requests)
                    status = outer._status(n, body)
                    outer.requests.append(
                        {"headers": dict(self.headers), "body": body, "status": status, "at": received}
                    )
                if status == 0:  # answer after the subscriber's 1 s timeout
                    time.sleep(2.5)
                    status = 500
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _status(self, n: int, body: bytes) -> int:
        if self.mode == "down":
            return 503
        if self.mode == "failing":
            return 0 if n == 1 else 500
        return 422 if b"refuse-me" in body else 200

    def by_status(self, status: int) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["status"] == status]

    def event_ids(self, status: int | None = None) -> list[str]:
        with self.lock:
            return [
                json.loads(r["body"])["event_id"]
                for r in self.requests
                if status is None or r["status"] == status
            ]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_until(cond, timeout_s: float, what: str) -> None:
    t0 = time.monotonic()
    deadline = t0 + timeout_s
    while time.monotonic() < deadline:
        if cond():
            print(f"{what}: {time.monotonic() - t0:.1f}s")
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def committed(group: str) -> dict[TopicPartition, int]:
    """The group's committed offset of every partition of ``alerts`` that has one."""
    got = committed_offsets(group, end_offsets([topics.ALERTS]))
    return {tp: off for tp, off in got.items() if off is not None}


def produce(events: list[dict]) -> dict[str, tuple[TopicPartition, int, bytes]]:
    """Send alert events keyed by patient; return event_id -> (partition, offset, exact bytes)."""
    p = make_producer()
    out = {}
    for ev in events:
        raw = json.dumps(ev, separators=(",", ":")).encode()
        md = p.send(topics.ALERTS, key=ev["patient_id"].encode(), value=raw).get(timeout=30)
        out[ev["event_id"]] = (TopicPartition(md.topic, md.partition), md.offset, raw)
    p.flush()
    p.close()
    return out


def event(run: str, n: int, bed: str, priority: str, message: str = "") -> dict:
    return {
        "event_id": f"{run}-e{n}",
        "alert_id": f"{run}-a{n}",
        "type": "raised",
        "priority": priority,
        "source": "news2",
        "category": "physiological",
        "patient_id": f"{run}-P{bed}",
        "bed": bed,
        "ts": "2026-12-05T04:00:00+00:00",
        "message": message or f"NEWS2 7 on bed {bed}",
    }


def test_webhook_delivers_every_event_once_signed_across_failures_and_restarts(start_worker, tmp_path):
    run = uuid.uuid4().hex[:8]
    bed1, bed2, other = f"WH{run}-1", f"WH{run}-2", f"WH{run}-9"
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_bytes(SECRET + b"\n")
    group, stuck_group = f"wh-test-{run}", f"wh-stuck-{run}"
    receiver, down = Receiver("failing"), Receiver("down")

    def args(url: str, grp: str) -> list[str]:
        return [
            "alerts", "webhook", "--url", url, "--secret-file", str(secret_file),
            "--priority", "high,medium", "--bed", f"{bed1},{bed2}", "--group", grp,
            "--from-beginning", "--timeout", "1", "--backoff", "0.2", "--max-backoff", "1",
        ]  # fmt: skip

    from wardwatch.topics import ensure_topics

    ensure_topics((topics.ALERTS, topics.DEADLETTER))
    dl_start = end_offsets([topics.DEADLETTER])
    sent = produce(
        [
            event(run, 1, bed1, "high"),
            event(run, 2, bed1, "low"),  # filtered: priority
            event(run, 3, bed2, "medium"),
        ]
    )
    try:
        sub = start_worker(args(receiver.url, group), env=ENV, ready="webhook.assigned", timeout=60)
        stuck = start_worker(args(down.url, stuck_group), env=ENV, ready="webhook.assigned", timeout=60)

        # phase 1: 500, a timeout, 500s; the subscriber retries with backoff and commits nothing
        # past the event it is trying
        wait_until(lambda: len(receiver.requests) >= 4, 30, "four failed attempts")
        assert [r["status"] for r in receiver.requests[:2]] == [500, 0]  # 0: answered too late
        assert len(set(receiver.event_ids())) == 1  # the later event waits behind the failing one
        sub.stop(kill=True)  # SIGKILL in the middle of retrying
        offsets = committed(group)
        for eid in (f"{run}-e1", f"{run}-e3"):
            tp, off, _ = sent[eid]
            assert offsets.get(tp, 0) <= off, f"{eid} committed before any 2xx"
        attempts_before_restart = len(receiver.requests)

        # phase 2: the receiver accepts; more events arrive, one of which it refuses
        receiver.mode = "accept"
        sent |= produce(
            [
                event(run, 4, bed2, "high"),
                event(run, 5, bed1, "high", "refuse-me"),  # 422: dead letter, then go on
                event(run, 6, other, "high"),  # filtered: bed
            ]
        )
        sub = start_worker(args(receiver.url, group), env=ENV, ready="webhook.assigned", timeout=60)
        wanted_so_far = {f"{run}-e{n}" for n in (1, 3, 4)}
        wait_until(
            lambda: wanted_so_far <= set(receiver.event_ids(200)) and receiver.by_status(422),
            60,
            "delivery after the restart",
        )
        sub.stop()  # SIGTERM: a graceful stop between events

        # phase 3: events arrive while the subscriber is down; the next run takes them up
        sent |= produce([event(run, n, bed1 if n % 2 else bed2, "high") for n in range(7, 11)])
        sub = start_worker(args(receiver.url, group), env=ENV, ready="webhook.assigned", timeout=60)
        wanted = wanted_so_far | {f"{run}-e{n}" for n in range(7, 11)}
        wait_until(lambda: wanted <= set(receiver.event_ids(200)), 60, "delivery after the second restart")

        # every wanted event delivered (once after de-dup by event id); the filtered never sent
        delivered = receiver.event_ids(200)
        assert set(delivered) == wanted
        assert not {f"{run}-e2", f"{run}-e6"} & set(receiver.event_ids())
        # the refused event: one attempt, then a dead letter with the reason
        assert receiver.event_ids(422) == [f"{run}-e5"]
        assert receiver.event_ids().count(f"{run}-e5") == 1

        def refused(v) -> bool:
            return isinstance(v, dict) and (v.get("detail") or {}).get("event_id") == f"{run}-e5"

        dls = [
            v
            for _, _, v in consume(
                [topics.DEADLETTER],
                start=dl_start,
                timeout_s=20,
                stop=lambda seen: any(refused(v) for _, v in seen),
            )
            if refused(v)
        ]
        assert dls, "no dead letter for the refused event"
        dl = dls[0]
        assert dl["code"] == "rejected" and "HTTP 422" in dl["reason"]
        assert (dl["source_topic"], dl["partition"], dl["offset"]) == (
            topics.ALERTS,
            sent[f"{run}-e5"][0].partition,
            sent[f"{run}-e5"][1],
        )

        # every request: the exact bytes from Kafka, signed, verifiable within the window
        for r in receiver.requests:
            ev = json.loads(r["body"])
            assert r["body"] == sent[ev["event_id"]][2]
            assert verify_headers(SECRET, r["body"], r["headers"], now=r["at"]) > 0
            headers = {k.lower(): v for k, v in r["headers"].items()}  # HTTP names: any case
            assert headers[EVENT_ID_HEADER.lower()] == ev["event_id"]

        # offsets: committed past every event of ours, once handled
        def all_committed() -> bool:
            offsets = committed(group)
            return all(offsets.get(tp, 0) > off for tp, off, _ in sent.values())

        wait_until(all_committed, 20, "offsets committed past every handled event")

        # the stuck subscriber: its receiver never accepted; it kept retrying, committed nothing
        # past its first wanted event, and the other subscriber was not held up by it
        assert down.requests and not down.by_status(200)
        assert stuck.alive()
        stuck_offsets = committed(stuck_group)
        assert all(stuck_offsets.get(sent[e][0], 0) <= sent[e][1] for e in wanted)
        print(
            f"attempts before the kill: {attempts_before_restart}; requests: {len(receiver.requests)}; "
            f"deliveries: {len(delivered)} for {len(wanted)} events; stuck receiver attempts: "
            f"{len(down.requests)}"
        )
    finally:
        receiver.close()
        down.close()
