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
        json.dumps(
            {
                "deterioration": deterioration_admit(None, adm.age_years, adm.sex, adm.admit_ts),
                "partition": 2,  # the record's: the changelog partition, and the idle timer's
            }
        )
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


def discharge_msg(pid: str = "P001", **over) -> bytes:
    ts = (ADMIT + timedelta(hours=5)).isoformat()
    return json.dumps({"patient_id": pid, "discharge_ts": ts, **over}).encode()


def test_a_discharge_resolves_open_alarms_then_drops_the_patients_state(agents):
    """Open alarms are resolved (origin discharge, reason "discharged: ...") and acknowledged by
    the broker before the patient's alerts-open entry becomes its discharge mark and its
    entries of vitals-state and ecg-state are deleted: each on the record's partition. Another
    patient is left alone."""
    from streams.alerts.agents import open_alerts, raise_alerts
    from streams.ecg.agents import ecg_state
    from streams.patients import discharge
    from wardwatch.records.conditions import Condition

    onset = (ADMIT + timedelta(hours=1)).isoformat()
    cond = Condition("P001", "ICU-1", "news2", True, "high", onset, "NEWS2 7 (high)").to_dict()
    other = Condition("P002", "ICU-2", "news2", True, "low", onset, "NEWS2 3 (low)").to_dict()

    async def scenario():
        async with raise_alerts.test_context() as conds:
            events = [await conds.put(c, key=c["patient_id"].encode(), partition=2) for c in (cond, other)]
            await agents.processed(conds, *events)
        vitals_state.data["P001"] = {"partition": 2, "offset": 7, "last_ts": onset}
        ecg_state.data["P001"] = {"partition": 2, "offset": 3}
        async with ingest_admissions.test_context() as agent:
            event = await agent.put(discharge_msg(reason="to ward 7"), key=b"P001", partition=2)
            await agents.processed(agent, event)
        # the same discharge again (a re-delivery): nothing more to resolve
        assert await discharge("P001", 2, ADMIT, "discharged") == 0
        # the mark and the tombstones are on the broker once the discharge returns
        assert all(any(m.value is None for m in agents.changelog(t)) for t in (vitals_state, ecg_state))
        assert any((m.json() or {}).get("discharged_ts") for m in agents.changelog(open_alerts))

    agents.run(scenario())
    resolved = [e for e in agents.values(topics.ALERTS) if e["type"] == "resolved"]
    assert [(e["patient_id"], e["origin"], e["reason"], e["active"]) for e in resolved] == [
        ("P001", "discharge", "discharged: to ward 7", False)
    ]
    assert resolved[0]["ts"] == (ADMIT + timedelta(hours=5)).isoformat()
    assert "P001" not in vitals_state.data and "P001" not in ecg_state.data
    # the later of the two discharges' times (the second one's, ADMIT, is earlier)
    assert open_alerts.data["P001"]["open"] == {}
    assert open_alerts.data["P001"]["discharged_ts"] == (ADMIT + timedelta(hours=5)).isoformat()
    assert open_alerts.data["P002"]["open"]["news2"]["active"]  # another patient untouched
    for table in (vitals_state, ecg_state):
        tombs = [m for m in agents.changelog(table) if json.loads(m.key) == "P001" and m.value is None]
        assert tombs and {m.partition for m in tombs} == {2}
    marks = [m for m in agents.changelog(open_alerts) if "discharged_ts" in (m.json() or {})]
    assert [(json.loads(m.key), m.partition) for m in marks] == [("P001", 2)] * 2  # (discharged twice)
    # the resolution reached the broker before the mark and the first tombstone
    sent = agents.broker.sent
    at = next(i for i, m in enumerate(sent) if m.topic == topics.ALERTS and m.json()["type"] == "resolved")
    assert at < min(i for i, m in enumerate(sent) if m.value is None)
    assert at < min(i for i, m in enumerate(sent) if m in marks)


def test_a_condition_of_the_ended_stay_raises_no_ghost_alarm(agents):
    """After a discharge, conditions from its time or before (an ECG worker behind), a
    re-assertion too, are dead-lettered (``out_of_order``, with the discharge time) and raise
    nothing; the first active condition after the discharge is a readmission: a new alarm, and
    the mark is gone. A patient whose mark is an hour old leaves the table at the alert
    timer's next tick (a tombstone); a younger mark stays."""
    from models.alarms.lifecycle import DISCHARGE_MARK_S
    from streams.alerts.agents import open_alerts, raise_alerts, tick_alerts
    from wardwatch.records.conditions import Condition

    out = ADMIT + timedelta(hours=5)  # discharge_msg's time

    def cond(pid: str, minutes: float, **over) -> dict:
        ts = (out + timedelta(minutes=minutes)).isoformat()
        return Condition(pid, "ICU-1", "ecg.vtach", True, "high", ts, "VT", **over).to_dict()

    async def scenario():
        async with ingest_admissions.test_context() as adm:
            events = [await adm.put(discharge_msg(p), key=p.encode(), partition=2) for p in ("P001", "P002")]
            await agents.processed(adm, *events)
        async with raise_alerts.test_context() as conds:
            late = [cond("P001", -0.5), cond("P001", 0), cond("P001", -0.2, reassert=True)]
            events = [await conds.put(c, key=b"P001", partition=2) for c in late]
            await agents.processed(conds, *events)
            assert not agents.values(topics.ALERTS) and "discharged_ts" in open_alerts.data["P001"]
            readmitted = await conds.put(cond("P001", 2), key=b"P001", partition=2)
            await agents.processed(conds, readmitted)
        open_alerts.data["P002"]["discharged_ts"] = (out - timedelta(seconds=DISCHARGE_MARK_S)).isoformat()
        assert await tick_alerts(out, {2}) == 0

    agents.run(scenario())
    letters = agents.values(topics.DEADLETTER)
    assert [(d["code"], d["source_topic"], d["offset"]) for d in letters] == [
        ("out_of_order", topics.CONDITIONS, i) for i in range(3)
    ]
    assert all(out.isoformat() in d["reason"] for d in letters)
    [raised] = agents.values(topics.ALERTS)
    assert (raised["type"], raised["source"], raised["ts"]) == ("raised", "ecg.vtach", cond("P001", 2)["ts"])
    assert "discharged_ts" not in open_alerts.data["P001"] and open_alerts.data["P001"]["open"]["ecg.vtach"]
    # P002's mark was an hour old at the tick: gone, with a tombstone on its partition
    assert "P002" not in open_alerts.data
    tombs = [m for m in agents.changelog(open_alerts) if m.value is None]
    assert [(json.loads(m.key), m.partition) for m in tombs] == [("P002", 2)]


def test_idle_patients_are_evicted_after_the_idle_time(agents, monkeypatch):
    """The timer's step: a patient whose vitals/ECG state did not change for the idle time is
    evicted like a discharge (reason "idle: ..."); one with a new reading, or on a partition
    this worker does not own, stays."""
    from streams import patients
    from streams.ecg.agents import ecg_state

    monkeypatch.setattr(patients, "IDLE_S", 3600.0)
    monkeypatch.setattr(patients.idle, "seen", {})
    vitals_state.data["P001"] = {"partition": 1, "offset": 4}
    vitals_state.data["P002"] = {"partition": 1, "offset": 9}
    ecg_state.data["P003"] = {"partition": 3, "offset": 2}  # not this worker's partition

    async def scenario():
        first = await patients.evict_idle(1000.0, {1})
        vitals_state.data["P002"] = {"partition": 1, "offset": 10}  # a new reading
        second = await patients.evict_idle(1000.0 + 3600.0, {1})
        await agents.until(lambda: any(m.value is None for m in agents.changelog(vitals_state)))
        return first, second

    first, second = agents.run(scenario())
    assert (first, second) == ([], ["P001"])
    assert "P001" not in vitals_state.data and "P002" in vitals_state.data and "P003" in ecg_state.data
    assert [m.partition for m in agents.changelog(vitals_state) if m.value is None] == [1]


def test_an_ecg_worker_of_its_own_drops_a_discharged_patients_ecg_state(agents):
    """``--role ecg`` (:mod:`streams.ecg.discharges`): a discharge on ``admissions`` drops the
    patient's ECG state (a tombstone on the record's partition) and its live detector; an
    admission, or a record the ward's agent dead-letters, changes nothing here."""
    from streams.ecg.agents import ecg_state, rt
    from streams.ecg.discharges import drop_discharged_ecg

    ecg_state.data["P001"] = {"partition": 2, "offset": 3}
    ecg_state.data["P002"] = {"partition": 2, "offset": 5}
    rt.streams["P001"] = rt.streams["P002"] = object()  # stand-ins for live detectors

    async def scenario():
        async with drop_discharged_ecg.test_context() as agent:
            events = [
                await agent.put(admission("P002"), key=b"P002", partition=2),
                await agent.put(b"{not json", key=b"P002", partition=2),
                await agent.put(discharge_msg(), key=b"P001", partition=2),
            ]
            await agents.processed(agent, *events)
        await agents.until(lambda: any(m.value is None for m in agents.changelog(ecg_state)))

    try:
        agents.run(scenario())
        assert "P001" not in ecg_state.data and "P001" not in rt.streams
        assert ecg_state.data["P002"] == {"partition": 2, "offset": 5} and "P002" in rt.streams
        tombs = [m for m in agents.changelog(ecg_state) if m.value is None]
        assert [(json.loads(m.key), m.partition) for m in tombs] == [("P001", 2)]
        assert not agents.values(topics.DEADLETTER)  # the ward's admissions agent dead-letters
    finally:
        rt.streams.clear()
        ecg_state.data.clear()
