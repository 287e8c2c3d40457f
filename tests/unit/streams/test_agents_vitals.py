"""``streams.vitals.agents.score_vitals`` under Faust's ``test_context()`` (no broker; see
``conftest.py``): it moves readings to :func:`vitals_step` and the step's outputs to the broker,
dead-letters what does not validate, and writes the state only once the outputs are on the
broker."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from models.deterioration.live import deterioration_step
from models.vitals.scoring import vitals_step
from streams.checkpoint import state_slice
from streams.metrics import metrics
from streams.vitals.agents import score_vitals, vitals_state
from wardwatch import topics
from wardwatch.records.vitals import vitals_validate

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
#: NEWS2 19 (every parameter in its highest band): high clinical risk
SICK = {
    "hr_bpm": 135,
    "spo2_pct": 88,
    "rr_bpm": 28,
    "sbp_mmhg": 88,
    "dbp_mmhg": 50,
    "temp_c": 39.5,
    "o2": "oxygen",
    "acvpu": "V",
}
#: NEWS2 0
WELL = {
    "hr_bpm": 70,
    "spo2_pct": 97,
    "rr_bpm": 16,
    "sbp_mmhg": 120,
    "dbp_mmhg": 80,
    "temp_c": 37.0,
    "o2": "air",
    "acvpu": "A",
}


def reading(pid: str = "P001", at_s: float = 0.0, **values) -> bytes:
    ts = (T0 + timedelta(seconds=at_s)).isoformat()
    return json.dumps({"patient_id": pid, "bed": "ICU-01", "ts": ts, **values}).encode()


def step(state: dict, raw: bytes, pid: str = "P001"):
    """What the agent must publish and store for ``raw``: the pure step, JSON round-tripped."""
    state, conditions, points = vitals_step(state, vitals_validate(raw, key=pid), deterioration_step)
    return json.loads(json.dumps((state, [c.to_dict() for c in conditions], points)))


def test_a_reading_publishes_the_step_outputs_then_writes_the_state(agents):
    raw = reading(**SICK)
    exp_state, exp_conditions, exp_points = step({}, raw)
    before = metrics.counts["vitals_processed"]

    async def scenario():
        async with score_vitals.test_context() as agent:
            event = await agent.put(raw, key=b"P001", partition=3)
            await agents.processed(agent, event)
            return await agents.changelogged(vitals_state, 1)

    changelog = agents.run(scenario())
    conditions = agents.sent(topics.CONDITIONS)
    assert [c.json() for c in conditions] == exp_conditions
    assert [(c["source"], c["priority"], c["active"]) for c in exp_conditions] == [("news2", "high", True)]
    assert exp_conditions[0]["evidence"]["news2"]["score"] == 19
    # the batch's points: one message on the reading's partition, no key (many patients share it)
    [points] = agents.sent(topics.POINTS)
    assert points.json() == {"points": exp_points}
    assert [p["measurement"] for p in exp_points] == ["vitals", "news2", "risk"]
    assert (points.key, points.partition) == (None, 3)
    assert {m.key for m in conditions} == {b"P001"}
    assert agents.sent(topics.DEADLETTER) == []
    # the state, with the partition its reading came from, in the table and its changelog
    assert vitals_state.data["P001"] == {**exp_state, "partition": 3, "offset": 0}
    [log] = changelog
    assert (json.loads(log.key), log.json(), log.partition) == (
        "P001",
        {**exp_state, "partition": 3, "offset": 0},
        3,
    )
    assert metrics.counts["vitals_processed"] == before + 1


def test_a_batch_of_many_patients_and_readings(agents):
    """Readings of two patients in one micro-batch: each patient's readings are folded in order,
    the second one scored on the state the first one left."""
    raws = [reading("P001", 0, **WELL), reading("P002", 0, **WELL), reading("P001", 60, **SICK)]
    s1, c1, p1 = step({}, raws[0], "P001")
    s2, c2, p2 = step({}, raws[1], "P002")
    s3, c3, p3 = step(s1, raws[2], "P001")

    async def scenario():
        async with score_vitals.test_context() as agent:
            events = [
                await agent.put(raw, key=pid.encode(), wait=False)
                for raw, pid in zip(raws, ("P001", "P002", "P001"), strict=True)
            ]
            await agents.processed(agent, *events)

    agents.run(scenario())
    assert agents.values(topics.CONDITIONS) == c1 + c2 + c3 == c3  # only the sick reading alerts
    assert agents.points() == p1 + p2 + p3
    assert vitals_state.data["P001"] == {**s3, "partition": 0, "offset": 2}
    assert vitals_state.data["P002"] == {**s2, "partition": 0, "offset": 1}
    assert vitals_state.data["P001"]["n"] == 2


@pytest.mark.parametrize(
    ("value", "code", "field"),
    [
        (b"not json", "malformed", None),
        (reading(temp_f=99.5), "wrong_unit", "temp_f"),
        (reading(hr_bpm=400), "out_of_range", "hr_bpm"),
        (reading(pid="P002", **WELL), "key_mismatch", "patient_id"),
    ],
)
def test_a_bad_reading_is_dead_lettered_once_with_code_field_and_offset(agents, value, code, field):
    good = reading(**WELL)
    before = metrics.counts["vitals_deadletter"]

    async def scenario():
        async with score_vitals.test_context() as agent:
            e0 = await agent.put(good, key=b"P001", partition=2, wait=False)
            e1 = await agent.put(value, key=b"P001", partition=2, wait=False)
            await agents.processed(agent, e0, e1)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["field"], dl["source_topic"]) == (code, field, topics.VITALS)
    assert (dl["partition"], dl["offset"], dl["key"]) == (2, 1, "P001")
    assert dl["reason"].startswith(f"{code}: ")
    assert base64.b64decode(dl["original_b64"]) == value
    assert [m.key for m in agents.sent(topics.DEADLETTER)] == [b"P001"]
    # the good reading of the same batch went through
    assert agents.points() == step({}, good)[2]
    assert vitals_state.data["P001"]["n"] == 1
    assert metrics.counts["vitals_deadletter"] == before + 1


@pytest.mark.parametrize("same_batch", [True, False])
def test_a_duplicate_reading_is_dead_lettered(agents, same_batch):
    raw = reading(**SICK)

    async def scenario():
        async with score_vitals.test_context() as agent:
            e0 = await agent.put(raw, key=b"P001", wait=False)
            if not same_batch:
                await agents.processed(agent, e0)
            e1 = await agent.put(raw, key=b"P001", wait=False)
            await agents.processed(agent, e0, e1)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["field"], dl["offset"]) == ("duplicate", "ts", 1)
    assert len(agents.values(topics.CONDITIONS)) == 1  # the first one's alert, once
    assert vitals_state.data["P001"]["n"] == 1


def test_a_redelivered_reading_is_skipped_not_dead_lettered(agents):
    """After a rebalance a reading whose state was written but whose offset was not committed
    comes again with its own offset: the state knows it (partition and offset), so it is
    skipped, while the same content under a new offset is still a device duplicate."""
    first, second = reading(at_s=0, **SICK), reading(at_s=60, **WELL)
    before = metrics.counts["vitals_redelivered"]

    async def scenario():
        async with score_vitals.test_context() as agent:
            e0 = await agent.put(first, key=b"P001")
            e1 = await agent.put(second, key=b"P001")
            await agents.processed(agent, e0, e1)
            agent.sent_offset = 0  # the consumer reads the partition again from offset 0
            again = [await agent.put(r, key=b"P001") for r in (first, second)]
            dup = await agent.put(second, key=b"P001")  # a device sending it twice: offset 2
            await agents.processed(agent, *again, dup)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["offset"]) == ("duplicate", 2)
    assert len(agents.values(topics.CONDITIONS)) == 1  # the first reading's alert, once
    assert vitals_state.data["P001"]["n"] == 2 and vitals_state.data["P001"]["offset"] == 1
    assert metrics.counts["vitals_redelivered"] == before + 2


def test_an_earlier_reading_is_dead_lettered_as_out_of_order(agents):
    async def scenario():
        async with score_vitals.test_context() as agent:
            e0 = await agent.put(reading(at_s=60, **WELL), key=b"P001")
            e1 = await agent.put(reading(at_s=0, **WELL), key=b"P001")
            await agents.processed(agent, e0, e1)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["field"], dl["offset"]) == ("out_of_order", "ts", 1)


def test_state_is_written_and_the_reading_acked_only_after_the_broker_acknowledged(agents):
    """While the broker has not acknowledged the batch's outputs, the patient's state is not
    written and the reading is not acknowledged (a commit could otherwise pass it)."""
    raw = reading(**SICK)
    exp_state, exp_conditions, _ = step({}, raw)
    n_out = len(exp_conditions) + 1  # the points go in one message

    async def scenario():
        async with score_vitals.test_context() as agent:
            agents.broker.hold = True
            event = await agent.put(raw, key=b"P001")
            await agents.until(lambda: len(agents.broker.pending) == n_out)
            assert not event.message.acked
            assert "P001" not in vitals_state.data
            assert agents.sent(topics.CONDITIONS) == []
            agents.broker.release()
            await agents.processed(agent, event)

    agents.run(scenario())
    assert vitals_state.data["P001"] == {**exp_state, "partition": 0, "offset": 0}
    assert agents.values(topics.CONDITIONS) == exp_conditions


def test_an_output_the_broker_did_not_acknowledge_is_sent_again(agents):
    raw = reading(**SICK)
    _, exp_conditions, exp_points = step({}, raw)

    async def scenario():
        async with score_vitals.test_context() as agent:
            agents.broker.fail_next = 1
            event = await agent.put(raw, key=b"P001")
            await agents.processed(agent, event)

    agents.run(scenario())
    assert len(agents.broker.failed) == 1
    assert agents.values(topics.CONDITIONS) == exp_conditions  # each output exactly once
    assert agents.points() == exp_points


def test_a_record_the_step_fails_on_is_dead_lettered_and_the_batch_around_it_processed(agents, monkeypatch):
    """A bug in a pure step for one patient (an exception, not bad input): the batch is handled
    again one record at a time, the other patients' readings are processed, the failing reading
    is dead-lettered as processing_error, and the agent keeps running (no crash, nothing
    acknowledged unprocessed)."""
    import streams.vitals.agents as vitals_agents

    def flaky_step(state, r, deterioration=None):
        if r.patient_id == "BUG":
            raise ZeroDivisionError("a bug in a pure step")
        return vitals_step(state, r, deterioration)

    monkeypatch.setattr(vitals_agents, "vitals_step", flaky_step)
    raws = [
        (b"P001", reading("P001", **SICK)),
        (b"BUG", reading("BUG", **SICK)),
        (b"P002", reading("P002", **SICK)),
    ]

    async def scenario():
        async with score_vitals.test_context() as agent:
            events = [await agent.put(raw, key=key, partition=1, wait=False) for key, raw in raws]
            await agents.processed(agent, *events)
            later = await agent.put(reading("P003", **SICK), key=b"P003", partition=1)
            await agents.processed(agent, later)
            assert agent._crash_reason is None

    agents.run(scenario())
    assert sorted(c["patient_id"] for c in agents.values(topics.CONDITIONS)) == ["P001", "P002", "P003"]
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["offset"], dl["key"]) == ("processing_error", 1, "BUG")
    assert "ZeroDivisionError: a bug in a pure step" in dl["reason"]
    assert set(vitals_state.data) == {"P001", "P002", "P003"}


def _taken_in(pid: str, event) -> bool:
    """Whether ``pid``'s state in the table took in ``event``'s reading (kept or written)."""
    st = vitals_state.data.get(pid) or {}
    return st.get("partition") == event.message.partition and st.get("offset", -1) >= event.message.offset


def test_readings_are_acknowledged_only_once_their_states_are_written_by_checkpoint(agents, monkeypatch):
    """With a checkpoint interval, a batch's outputs go out at once and its states stay in
    memory; its readings are acknowledged (may be committed) only when the checkpoint wrote the
    states they made: a checkpoint of one slice acknowledges only its patients' readings, one of
    all the rest. Each state reaches the changelog once, as last kept, on its own partition."""
    import streams.vitals.agents as vitals_agents

    monkeypatch.setattr(vitals_agents, "CHECKPOINT_S", 3600.0)
    monkeypatch.setattr(vitals_agents, "SLICES", 10)
    pids = ("P001", "P002")
    first, second = (state_slice(p, 10) for p in pids)
    assert first != second  # in different slices

    async def scenario():
        async with score_vitals.test_context() as agent:
            events = {
                p: [await agent.put(reading(p, at_s=s, **WELL), key=p.encode(), partition=2) for s in (0, 1)]
                for p in pids
            }
            await agents.until(lambda: all(_taken_in(p, events[p][-1]) for p in pids))
            before = (
                [e.message.acked for p in pids for e in events[p]],
                len(agents.changelog(vitals_state)),
                len(agents.points()),
            )
            async with vitals_agents.state_lock:
                await vitals_agents._checkpoint({first})
            await agents.processed(agent, *events["P001"])
            between = [e.message.acked for e in events["P002"]]
            async with vitals_agents.state_lock:
                await vitals_agents._checkpoint()
            await agents.processed(agent, *(e for p in pids for e in events[p]))
            return before, between, events

    (acked, written, n_points), between, events = agents.run(scenario())
    assert acked == [False] * 4 and written == 0 and between == [False, False]
    assert n_points > 0 and len(agents.points()) == n_points  # out before any checkpoint, once
    log = agents.changelog(vitals_state)
    assert [json.loads(m.key) for m in log] == ["P001", "P002"]
    for m in log:
        pid = json.loads(m.key)
        assert (m.partition, m.json()["offset"]) == (2, events[pid][-1].message.offset)
        assert m.json() == json.loads(json.dumps(vitals_state.data[pid]))
    assert vitals_state.unwritten() == 0 and not vitals_agents.cp.acks.held


@pytest.mark.parametrize("signal", ["vitals_checkpoint_on_revoke", "vitals_checkpoint_on_stop"])
def test_a_revocation_or_a_stop_writes_the_vitals_states_and_acknowledges_their_readings(
    signal, agents, monkeypatch
):
    """A rebalance takes the partitions away (or the worker stops): the states kept since the
    last checkpoint reach the broker before any other worker recovers them, then their readings
    are acknowledged."""
    import streams.vitals.agents as vitals_agents
    from streams.app import app

    monkeypatch.setattr(vitals_agents, "CHECKPOINT_S", 3600.0)

    async def scenario():
        async with score_vitals.test_context() as agent:
            events = [await agent.put(reading(at_s=s, **WELL), key=b"P001", partition=1) for s in (0, 1, 2)]
            await agents.until(lambda: _taken_in("P001", events[-1]))
            assert not any(e.message.acked for e in events) and not agents.changelog(vitals_state)
            await getattr(vitals_agents, signal)(app, set(), signal=None)
            await agents.processed(agent, *events)
            return events

    events = agents.run(scenario())
    [rec] = agents.changelog(vitals_state)
    assert (rec.json()["offset"], rec.partition) == (events[-1].message.offset, 1)


def test_a_revocation_whose_checkpoint_fails_puts_the_states_back_and_lets_the_readings_go(
    agents, monkeypatch
):
    """The broker refuses the states on revocation: they must not be written later, when another
    worker may own their partitions. The table goes back to the last checkpoint (a state
    recovered from the changelog stays as it was, one new since leaves), and the readings since
    are let go unacknowledged, to be read again from the committed offset by the partition's
    owner. Nothing is written."""
    import streams.vitals.agents as vitals_agents
    from streams.app import app

    monkeypatch.setattr(vitals_agents, "CHECKPOINT_S", 3600.0)
    recovered = {"partition": 1, "offset": -1, "bed": "ICU-01"}  # as a changelog recovery leaves it
    vitals_state.data["P001"] = recovered

    async def refused(states):
        raise RuntimeError("the broker refused the states")

    async def scenario():
        async with score_vitals.test_context() as agent:
            events = [
                await agent.put(reading(p, at_s=0, **WELL), key=p.encode(), partition=1)
                for p in ("P001", "P002")
            ]
            await agents.until(
                lambda: all(_taken_in(p, e) for p, e in zip(("P001", "P002"), events, strict=True))
            )
            monkeypatch.setattr(vitals_state, "write", refused)
            await vitals_agents.vitals_checkpoint_on_revoke(app, set(), signal=None)
            return events

    events = agents.run(scenario())
    assert vitals_state.data["P001"] == recovered and "P002" not in vitals_state.data
    assert not any(e.message.acked for e in events) and not agents.changelog(vitals_state)
    assert not vitals_agents.cp.acks.held and not vitals_agents.cp.acks.replay
    assert not any(e.message in app.consumer._unacked_messages for e in events)
    assert vitals_state.unwritten() == 0
