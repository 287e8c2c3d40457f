"""``streams.labs.agents.ingest_labs`` under Faust's ``test_context()`` (no broker; see
``conftest.py``): a lab result goes into the patient's deterioration features in the
``vitals-state`` table, which the next vitals reading is scored with; a bad one is dead-lettered."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from models.deterioration.live import deterioration_lab, deterioration_step
from models.vitals.scoring import vitals_step
from streams.labs.agents import ingest_labs
from streams.metrics import metrics
from streams.vitals.agents import score_vitals, vitals_state
from wardwatch import topics
from wardwatch.records.labs import labs_validate
from wardwatch.records.vitals import vitals_validate

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def lab(pid: str = "P001", at_s: float = 0.0, **over) -> bytes:
    ts = (T0 + timedelta(seconds=at_s)).isoformat()
    return json.dumps(
        {"patient_id": pid, "ts": ts, "test": "Lactate", "value": 4.2, "unit": "mmol/L", **over}
    ).encode()


def test_a_lab_updates_the_deterioration_features(agents):
    raw = lab()
    before = metrics.counts["labs_processed"]

    async def scenario():
        async with ingest_labs.test_context() as agent:
            event = await agent.put(raw, key=b"P001", partition=1)
            await agents.processed(agent, event)
            return await agents.changelogged(vitals_state, 1)

    [log] = agents.run(scenario())
    expected = json.loads(
        json.dumps(
            {
                "deterioration": deterioration_lab(None, labs_validate(raw, key="P001").to_dict()),
                "partition": 1,  # the record's: the changelog partition, and the idle timer's
            }
        )
    )
    assert vitals_state.data["P001"] == expected
    assert vitals_state.data["P001"]["deterioration"]["features"]["open"] == {"Lactate": [4.2, 1]}
    assert (json.loads(log.key), log.json(), log.partition) == ("P001", expected, 1)
    assert [m.topic for m in agents.broker.sent] == [log.topic]  # nothing else published
    assert metrics.counts["labs_processed"] == before + 1


def test_a_lab_is_acknowledged_only_once_its_state_is_on_the_broker(agents):
    """The lab's state goes to the changelog acknowledged before the record is: left in Faust's
    producer buffer, it could reach the changelog after the next reading's state (sent
    directly), and a worker taking the partition over would restore the older state."""

    async def scenario():
        async with ingest_labs.test_context() as agent:
            agents.broker.hold = True
            event = await agent.put(lab(), key=b"P001", partition=1)
            await agents.until(lambda: len(agents.broker.pending) == 1)
            await asyncio.sleep(0.05)
            held = event.message.acked
            agents.broker.release()
            await agents.processed(agent, event)
            return held

    assert agents.run(scenario()) is False
    [log] = agents.changelog(vitals_state)
    assert log.json() == vitals_state.data["P001"]


@pytest.mark.parametrize(
    ("value", "code", "field"),
    [
        (lab(unit="mg/dL"), "wrong_unit", "unit"),
        (lab(test="Troponin"), "bad_value", "test"),
        (lab(value=99.0), "out_of_range", "value"),
        (lab(pid="P002"), "key_mismatch", "patient_id"),
        (b"\xff\xfe", "malformed", None),
    ],
)
def test_a_bad_lab_is_dead_lettered_once_with_code_field_and_offset(agents, value, code, field):
    before = metrics.counts["labs_deadletter"]

    async def scenario():
        async with ingest_labs.test_context() as agent:
            e0 = await agent.put(lab(), key=b"P001", partition=1)
            e1 = await agent.put(value, key=b"P001", partition=1)
            await agents.processed(agent, e0, e1)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["field"], dl["source_topic"]) == (code, field, topics.LABS)
    assert (dl["partition"], dl["offset"], dl["key"]) == (1, 1, "P001")
    assert base64.b64decode(dl["original_b64"]) == value
    assert vitals_state.data["P001"]["deterioration"]["features"]["open"] == {"Lactate": [4.2, 1]}
    assert metrics.counts["labs_deadletter"] == before + 1


def test_the_next_reading_is_scored_with_the_lab_and_keeps_it(agents):
    """Labs and vitals share the patient's state: a lab arriving between two readings is in the
    state the second reading is scored with, and neither agent overwrites the other's part."""

    def reading(at_s: float) -> bytes:
        return json.dumps(
            {
                "patient_id": "P001",
                "bed": "ICU-01",
                "ts": (T0 + timedelta(seconds=at_s)).isoformat(),
                "hr_bpm": 88,
                "spo2_pct": 95,
                "rr_bpm": 18,
            }
        ).encode()

    r1, r2 = reading(60), reading(120)

    async def scenario():
        async with score_vitals.test_context() as vitals, ingest_labs.test_context() as labs:
            e1 = await vitals.put(r1, key=b"P001")
            await agents.processed(vitals, e1)
            e2 = await labs.put(lab(at_s=90), key=b"P001")
            await agents.processed(labs, e2)
            e3 = await vitals.put(r2, key=b"P001")
            await agents.processed(vitals, e3)

    agents.run(scenario())
    s1, _, p1 = vitals_step({}, vitals_validate(r1, key="P001"), deterioration_step)
    s1["deterioration"] = deterioration_lab(
        s1["deterioration"], labs_validate(lab(at_s=90), key="P001").to_dict()
    )
    s2, _, p2 = vitals_step(s1, vitals_validate(r2, key="P001"), deterioration_step)
    assert agents.points() == json.loads(json.dumps(p1 + p2))
    assert vitals_state.data["P001"] == json.loads(json.dumps({**s2, "partition": 0, "offset": 1}))
    assert vitals_state.data["P001"]["deterioration"]["features"]["open"]["Lactate"] == [4.2, 1]
    assert vitals_state.data["P001"]["n"] == 2
