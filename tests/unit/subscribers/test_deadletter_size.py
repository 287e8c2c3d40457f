"""A subscriber's dead letter the broker refuses as too large (a deadletter topic smaller than
DEADLETTER_MAX_BYTES) goes again with the event's head instead of being retried forever, which
would hold the subscriber's partition (no alert after it delivered)."""

from __future__ import annotations

import base64
import hashlib
import json
from types import SimpleNamespace

from kafka.errors import MessageSizeTooLargeError

from wardwatch.records.deadletter import KEEP_WHEN_TOO_LARGE
from wardwatch.subscribers import delivery
from wardwatch.subscribers.delivery import DeliveryConfig, DeliveryLoop


class _Sent:
    def get(self, timeout=None):
        return None


def test_a_dead_letter_too_large_goes_with_the_events_head(monkeypatch):
    sent: list[dict] = []

    def send(producer, topic, key, value):
        if len(json.dumps(value)) > 1_000_000:
            raise MessageSizeTooLargeError("too large")
        sent.append(value)
        return _Sent()

    monkeypatch.setattr(delivery, "send", send)
    loop = DeliveryLoop(DeliveryConfig(group_id="g"), SimpleNamespace(name="webhook", host="h"))
    loop._producer = object()

    def never(delay_s):
        raise AssertionError("retried a send that can never succeed")

    loop._wait = never
    value = b"{" + b"x" * 900_000
    m = SimpleNamespace(topic="alerts", partition=0, offset=7, key=b"P1", value=value)
    assert loop._deadletter(m, "malformed: not JSON", {}) == "done"
    (dl,) = sent
    assert base64.b64decode(dl["original_b64"]) == value[:KEEP_WHEN_TOO_LARGE]
    assert (dl["original_truncated"], dl["original_bytes"], dl["offset"]) == (True, len(value), 7)
    assert dl["original_sha256"] == hashlib.sha256(value).hexdigest()
