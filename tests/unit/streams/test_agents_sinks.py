"""``streams.sinks.agents.write_points`` under Faust's ``test_context()`` (no broker; see
``conftest.py``). No InfluxDB server here: what InfluxDB does with a write (accepts, rejects with
HTTP 400, is unavailable) is tested against the real server in ``tests/integration``. These tests
cover the agent's wiring only: points that cannot become line protocol are dead-lettered without
any request to InfluxDB, and a batch reaches the writer as one line-protocol body (through
``InfluxWriter``'s ``post`` argument, which records the body instead of sending it)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import streams.sinks.agents as sink
from streams.metrics import metrics
from streams.sinks.agents import write_points
from streams.sinks.influx import InfluxWriter, to_line
from wardwatch import topics
from wardwatch.records.points import point, points_message
from wardwatch.settings import get_settings

TS = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GOOD = point("vitals", {"patient": "P001", "bed": "ICU-01"}, {"hr_bpm": 72.0}, TS)
#: no writable field (InfluxDB takes no point without one) / no measurement at all
NO_FIELD = {**GOOD, "fields": {"hr_bpm": None}}
NO_MEASUREMENT = {k: v for k, v in GOOD.items() if k != "measurement"}
#: a message Faust's JSON codec could not decode (it used to drop it before the agent saw it)
NOT_JSON = b'{"measurement": "vitals", "tags": {"patie'


def test_points_that_are_not_json_or_not_line_protocol_are_dead_lettered_without_a_write(agents):
    """The module's own writer, pointed at no server: nothing is sent to InfluxDB (a request
    would be retried until the test times out), each bad point is one dead letter."""
    before = metrics.counts["points_rejected"]

    async def scenario():
        async with write_points.test_context() as agent:
            events = [await agent.put(p, wait=False) for p in (NO_FIELD, NO_MEASUREMENT, NOT_JSON)]
            await agents.processed(agent, *events)

    agents.run(scenario())
    assert sink.writer._client is None  # no InfluxDB client was ever made
    dls = sorted(agents.values(topics.DEADLETTER), key=lambda d: d["offset"])
    assert [(d["code"], d["source_topic"], d["offset"]) for d in dls] == [
        ("malformed", topics.POINTS, i) for i in range(3)
    ]
    assert "no writable field" in dls[0]["reason"] and "measurement" in dls[1]["reason"]
    assert "not JSON" in dls[2]["reason"]
    assert [json.loads(base64.b64decode(d["original_b64"])) for d in dls[:2]] == [NO_FIELD, NO_MEASUREMENT]
    assert base64.b64decode(dls[2]["original_b64"]) == NOT_JSON  # the bytes as they came
    assert metrics.counts["points_rejected"] == before + 3


def test_a_batch_reaches_the_writer_as_one_body_and_bad_points_are_dead_lettered(agents, monkeypatch):
    bodies: list[str] = []

    async def post(body: str) -> None:
        bodies.append(body)

    monkeypatch.setattr(sink, "writer", InfluxWriter(get_settings(), post=post))
    good2 = {**GOOD, "time_ns": GOOD["time_ns"] + 1_000_000_000}
    before = metrics.counts["points_written"]

    async def scenario():
        async with write_points.test_context() as agent:
            events = [await agent.put(p, wait=False) for p in (GOOD, NO_FIELD, good2)]
            await agents.processed(agent, *events)

    agents.run(scenario())
    assert bodies == [f"{to_line(GOOD)}\n{to_line(good2)}"]
    [dl] = agents.values(topics.DEADLETTER)
    assert json.loads(base64.b64decode(dl["original_b64"])) == NO_FIELD
    assert metrics.counts["points_written"] == before + 2


def test_a_message_of_many_points_is_written_with_the_single_ones(agents, monkeypatch):
    """The stream agents send a batch's points as one ``{"points": [...]}`` message; the sink
    writes them with single-point messages in one body, and a bad point of a batch is
    dead-lettered with the partition and offset of the message that carried it."""
    bodies: list[str] = []

    async def post(body: str) -> None:
        bodies.append(body)

    monkeypatch.setattr(sink, "writer", InfluxWriter(get_settings(), post=post))
    good2 = {**GOOD, "time_ns": GOOD["time_ns"] + 1_000_000_000}

    async def scenario():
        async with write_points.test_context() as agent:
            e0 = await agent.put(GOOD, partition=1, wait=False)
            e1 = await agent.put(points_message([good2, NO_FIELD]), partition=1, wait=False)
            await agents.processed(agent, e0, e1)

    agents.run(scenario())
    assert bodies == [f"{to_line(GOOD)}\n{to_line(good2)}"]
    [dl] = agents.values(topics.DEADLETTER)
    where = (dl["source_topic"], dl["partition"], dl["offset"], dl["code"])
    assert where == (topics.POINTS, 1, 1, "malformed")
    assert json.loads(base64.b64decode(dl["original_b64"])) == NO_FIELD


class _Refused(Exception):
    """What the InfluxDB client raises for an HTTP error: an exception with a ``status``."""

    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


def test_refused_credentials_raise_a_storage_alarm_and_hold_the_points(agents, monkeypatch):
    """401/403 is not the points' fault: they are held and retried (not dead-lettered), a
    technical "storage unavailable" condition goes to the alert component, and it clears on the
    first write that succeeds."""
    answers = [_Refused(401), _Refused(403), None]
    bodies: list[str] = []

    async def post(body: str) -> None:
        answer = answers.pop(0)
        if answer is not None:
            raise answer
        bodies.append(body)

    monkeypatch.setattr(
        sink, "writer", InfluxWriter(get_settings(), post=post, on_refused=sink.storage_alarm)
    )

    async def scenario():
        async with write_points.test_context() as agent:
            event = await agent.put(GOOD, wait=False)
            await agents.processed(agent, event)

    agents.run(scenario())
    assert bodies == [to_line(GOOD)]  # written once, after the refusals
    assert agents.values(topics.DEADLETTER) == []
    conds = agents.values(topics.CONDITIONS)
    assert [(c["source"], c["category"], c["active"]) for c in conds] == [
        ("system.storage", "technical", True),
        ("system.storage", "technical", False),
    ]
    assert "HTTP 401" in conds[0]["message"] and conds[0]["patient_id"] == sink.SYSTEM_PATIENT
    assert sink.writer.refused is None
