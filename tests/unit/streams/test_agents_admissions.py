"""``streams.admissions.agents.ingest_admissions`` under Faust's ``test_context()`` (no broker;
see ``conftest.py``): age, sex and ICU admission time go into the patient's deterioration state
in ``vitals-state``; a bad admission is dead-lettered."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from models.deterioration.live import deterioration_admit
from streams.admissions.agents import ingest_admissions
from streams.metrics import metrics
from streams.vitals.agents import vitals_state
from wardwatch import topics
from wardwatch.records.admissions import admission_validate

ADMIT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)


def admission(pid: str = "P001", **over) -> bytes:
    return json.dumps(
        {"patient_id": pid, "admit_ts": ADMIT.isoformat(), "age_years": 67, "sex": "F", **over}
    ).encode()


def test_an_admission_sets_age_sex_and_admission_time(agents):
    raw = admission()
    before = metrics.counts["admissions_processed"]

    async def scenario():
        async with ingest_admissions.test_context() as agent:
            event = await agent.put(raw, key=b"P001", partition=2)
            await agents.processed(agent, event)
            return await agents.changelogged(vitals_state, 1)

    [log] = agents.run(scenario())
    adm = admission_validate(raw, key="P001")
    expected = json.loads(
        json.dumps({"deterioration": deterioration_admit(None, adm.age_years, adm.sex, adm.admit_ts)})
    )
    assert vitals_state.data["P001"] == expected
    features = expected["deterioration"]["features"]
    assert (features["age"], features["male"]) == (67.0, 0.0)
    assert (json.loads(log.key), log.json(), log.partition) == ("P001", expected, 2)
    assert [m.topic for m in agents.broker.sent] == [log.topic]
    assert metrics.counts["admissions_processed"] == before + 1


@pytest.mark.parametrize(
    ("value", "code", "field"),
    [
        (admission(sex="X"), "bad_value", "sex"),
        (admission(age_years=0.5), "out_of_range", "age_years"),
        (admission(ward="ICU"), "unknown_field", "ward"),
        (admission(pid="P002"), "key_mismatch", "patient_id"),
    ],
)
def test_a_bad_admission_is_dead_lettered_once_with_code_field_and_offset(agents, value, code, field):
    async def scenario():
        async with ingest_admissions.test_context() as agent:
            event = await agent.put(value, key=b"P001", partition=2)
            await agents.processed(agent, event)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["field"], dl["source_topic"]) == (code, field, topics.ADMISSIONS)
    assert (dl["partition"], dl["offset"], dl["key"]) == (2, 0, "P001")
    assert base64.b64decode(dl["original_b64"]) == value
    assert "P001" not in vitals_state.data
