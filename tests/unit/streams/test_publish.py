"""``streams.delivery.publish`` and what an agent does with an output the broker can never take
(one that cannot be serialised, one too large): raised at once as ``Undeliverable``, never
retried, so one such record cannot hold its partition; the record is dead-lettered and the
records after it go on. (Retried outputs: test_agents_vitals.py.)"""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from streams.delivery import Undeliverable, publish
from streams.topics import conditions_topic
from streams.vitals.agents import score_vitals, vitals_state
from tests.unit.streams.test_agents_vitals import SICK, reading
from wardwatch import topics
from wardwatch.records.deadletter import KEEP_WHEN_TOO_LARGE


def test_an_output_the_codec_refuses_raises_before_anything_is_sent(agents):
    outs = [(conditions_topic, b"P1", {"n": 1}), (conditions_topic, b"P1", {"n": 2**70})]  # orjson: 64 bits
    with pytest.raises(Undeliverable, match="cannot serialise"):
        agents.run(publish(outs))
    assert agents.broker.sent == []


def test_an_output_too_large_raises_at_once_instead_of_being_retried(agents):
    agents.broker.max_request_size = 1000
    t0 = time.monotonic()
    with pytest.raises(Undeliverable, match="MessageSizeTooLargeError"):
        agents.run(publish([(conditions_topic, b"P1", {"x": "y" * 2000})]))
    assert time.monotonic() - t0 < 1.0  # the first retry would wait 0.2 s, the last 5 s, forever
    assert agents.values(topics.CONDITIONS) == []


def test_a_dead_letter_too_large_goes_with_the_records_head_and_the_partition_goes_on(agents):
    """A 900 kB message that is not JSON: its dead letter (base64, 1.2 MB) is over the producer's
    limit (here Faust's default 1,000,000 bytes; the worker's own is larger, see
    wardwatch.topics.DEADLETTER_MAX_BYTES). It goes with the record's first bytes, its size and
    hash; the reading behind it on the same partition is processed."""
    agents.broker.max_request_size = 1_000_000
    big = bytes(range(256)) * 3500  # 896,000 bytes

    async def scenario():
        async with score_vitals.test_context() as agent:
            events = [
                await agent.put(big, key=b"P001", partition=0, wait=False),
                await agent.put(reading("P001", **SICK), key=b"P001", partition=0, wait=False),
            ]
            await agents.processed(agent, *events)
            assert agent._crash_reason is None

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["offset"], dl["key"], dl["source_topic"]) == ("undeliverable", 0, "P001", "vitals")
    assert "MessageSizeTooLargeError" in dl["reason"]
    assert base64.b64decode(dl["original_b64"]) == big[:KEEP_WHEN_TOO_LARGE]
    assert (dl["original_truncated"], dl["original_bytes"]) == (True, len(big))
    assert dl["original_sha256"] == hashlib.sha256(big).hexdigest()
    # the batch's first attempt sent the reading's condition beside the refused dead letter, and
    # handling the records one by one sends it again: at least once, as publish says
    assert {c["patient_id"] for c in agents.values(topics.CONDITIONS)} == {"P001"}
    assert vitals_state.data["P001"]["offset"] == 1


def test_a_dead_letter_within_the_limit_carries_its_record_whole(agents):
    agents.broker.max_request_size = 2_000_000
    big = b"x" * 900_000

    async def scenario():
        async with score_vitals.test_context() as agent:
            await agents.processed(agent, await agent.put(big, key=b"P001", partition=0))

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert dl["code"] == "malformed" and "original_truncated" not in dl
    assert base64.b64decode(dl["original_b64"]) == big
