"""``streams.ecg.agents.analyse_ecg`` under Faust's ``test_context()`` (no broker; see
``conftest.py``): it moves chunks to :func:`models.ecg.step.ecg_step` and the step's outputs to
the broker, dead-letters what does not validate or is out of sequence, and writes the patient's
state once the outputs are on the broker."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from models.ecg.signal_buffer import buffer_decode
from models.ecg.step import ecg_step
from simulators.ecg_synth import synth_ecg
from streams.ecg.agents import analyse_ecg, ecg_state, rt
from wardwatch import topics
from wardwatch.records.ecg import ecg_chunk_dict, ecg_validate

FS = 360.0
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


@pytest.fixture
def ecg_table():
    ecg_state.data.clear()
    ecg_state._held().clear()
    rt.streams.clear()
    yield ecg_state
    ecg_state.data.clear()
    ecg_state._held().clear()
    rt.streams.clear()


def chunks(pid: str = "E001", seconds: int = 6, seed: int = 3) -> list[bytes]:
    """``seconds`` one-second chunks of synthetic sinus rhythm (lead II)."""
    sig, _ = synth_ecg(float(seconds), fs=FS, seed=seed)
    n = int(FS)
    return [
        json.dumps(
            ecg_chunk_dict(pid, "ICU-07", T0 + timedelta(seconds=i), FS, i, "II", sig[i * n : (i + 1) * n])
        ).encode()
        for i in range(seconds)
    ]


def test_chunks_publish_the_step_outputs_and_write_the_state(agents, ecg_table):
    raws = chunks()
    rt.load_classifier()

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            for raw in raws:  # one chunk per batch, as a 1 Hz feed arrives
                event = await agent.put(raw, key=b"E001", partition=2)
                await agents.processed(agent, event)

    agents.run(scenario())
    # the same chunks through the one ECG step, one batch each
    states: dict = {}
    expected = []
    for raw in raws:
        res = ecg_step(states, [ecg_validate(raw, key="E001")], rt, 0.0, partitions=[2])
        assert not res.rejected
        expected += [p for out in res.results for p in out.points]
    got = agents.points()
    assert got == json.loads(json.dumps(expected))
    assert {p["measurement"] for p in got} >= {"ecg_hr"}
    assert agents.sent(topics.DEADLETTER) == []
    st = ecg_state.data["E001"]
    assert st["last"]["seq"] == len(raws) - 1 and st["partition"] == 2
    assert st["beat_stream"] == states["E001"]["beat_stream"]
    # the worker's cache holds the very buffer text the table holds, so the next chunk takes
    # the kept samples instead of decoding the state's rolling buffer again
    kept = rt.streams["E001"]
    assert kept.seq == len(raws) - 1 and kept.signals["buf"][0] is st["buf"]["uv"]
    assert kept.signals["buf"][1].tolist() == buffer_decode(st["buf"]["uv"]).tolist()


def test_bad_and_out_of_sequence_chunks_are_dead_lettered_and_the_good_ones_go_on(agents, ecg_table):
    good = chunks(seconds=3)
    wrong_unit = json.dumps({**json.loads(good[1]), "ecg_mv": [0.1]}).encode()
    cases = [
        (good[0], b"E001"),
        (b"{not json", b"E001"),
        (wrong_unit, b"E001"),
        (good[0], b"E001"),  # the same seq again: a re-delivery
        (good[1], b"E002"),  # keyed as another patient
        (good[1], b"E001"),
        (good[2], b"E001"),
    ]

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            events = []
            for raw, key in cases:
                events.append(await agent.put(raw, key=key, partition=1))
            await agents.processed(agent, *events)
            return events

    events = agents.run(scenario())
    dls = agents.values(topics.DEADLETTER)
    assert [(d["code"], d["field"]) for d in dls] == [
        ("malformed", None),
        ("unknown_field", "ecg_mv"),
        ("duplicate", None),
        ("key_mismatch", "patient_id"),
    ]
    assert [d["offset"] for d in dls] == [events[i].message.offset for i in (1, 2, 3, 4)]
    assert base64.b64decode(dls[0]["original_b64"]) == b"{not json"
    assert all(d["source_topic"] == topics.ECG for d in dls)
    # the three good chunks were analysed in order
    assert ecg_state.data["E001"]["last"]["seq"] == 2


def test_a_redelivered_chunk_is_skipped_not_dead_lettered(agents, ecg_table):
    """Chunks read again after a rebalance (their state written, their offsets not committed)
    are recognised by the partition and offset the state took in last; the same chunk under a
    new offset is still a device duplicate."""
    raws = chunks(seconds=3)

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            first = [await agent.put(raw, key=b"E001", partition=1) for raw in raws]
            await agents.processed(agent, *first)
            n_points = len(agents.sent(topics.POINTS))
            agent.sent_offset = 0  # the partition is read again from offset 0
            again = [await agent.put(raw, key=b"E001", partition=1) for raw in raws]
            await agents.processed(agent, *again)
            assert len(agents.sent(topics.POINTS)) == n_points  # nothing analysed twice
            dup = await agent.put(raws[2], key=b"E001", partition=1)  # offset 3
            await agents.processed(agent, dup)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["offset"]) == ("duplicate", 3)
    assert ecg_state.data["E001"]["last"]["seq"] == 2 and ecg_state.data["E001"]["offset"] == 3


def test_a_chunk_read_again_into_the_batch_that_first_took_it_is_skipped(agents, ecg_table):
    """A partition read again from an earlier offset while a batch fills (a seek back after a
    rebalance) can bring the same records twice into one batch. The states are checked before
    the step takes the batch in, so the second copy must be recognised by its offset within the
    batch, not dead-lettered as "out of order" or "duplicate" (seen in the kill test)."""
    raws = chunks(seconds=3)

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            events = [await agent.put(raw, key=b"E001", partition=1, wait=False) for raw in raws]
            agent.sent_offset = 1  # the partition is read again from offset 1
            events += [await agent.put(raw, key=b"E001", partition=1, wait=False) for raw in raws[1:]]
            await agents.processed(agent, *events)
            return events

    events = agents.run(scenario())
    assert len({id(e) for e in events}) == 5
    assert agents.values(topics.DEADLETTER) == []
    st = ecg_state.data["E001"]
    assert (st["last"]["seq"], st["offset"]) == (2, 2)


def test_a_batch_that_fails_after_the_step_is_handled_again_from_the_states_before_it(
    agents, ecg_table, monkeypatch
):
    """A batch whose handling raises after the step has run (a bug in what follows it) is handled
    again record by record (``run_batches``). Each chunk must then be analysed from its patient's
    state as it was before the failed attempt: a chunk the failed attempt had taken in is not a
    "duplicate" of itself, its outputs go out, and only the chunk that fails alone is
    dead-lettered."""
    import streams.ecg.agents as ecg_agents

    add = ecg_agents.PointBatches.add

    def add_failing_for_e002(self, partition, pts):
        if any(p["tags"]["patient"] == "E002" for p in pts):
            raise RuntimeError("injected after the step")
        return add(self, partition, pts)

    first, second = chunks("E001", seconds=5), chunks("E002", seconds=5, seed=5)
    rt.load_classifier()

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            for a, b in zip(first[:4], second[:4], strict=True):  # past learning: points from now on
                await agents.processed(agent, await agent.put(a, key=b"E001", partition=1))
                await agents.processed(agent, await agent.put(b, key=b"E002", partition=1))
            monkeypatch.setattr(ecg_agents.PointBatches, "add", add_failing_for_e002)
            events = [
                await agent.put(first[4], key=b"E001", partition=1, wait=False),
                await agent.put(second[4], key=b"E002", partition=1, wait=False),
            ]
            await agents.processed(agent, *events)
            return events

    events = agents.run(scenario())
    dls = agents.values(topics.DEADLETTER)
    assert [(d["code"], d["offset"]) for d in dls] == [("processing_error", events[1].message.offset)]
    # E001's last chunk was analysed once, from the state its fourth chunk left
    states: dict = {}
    expected = []
    for raw in first:
        res = ecg_step(states, [ecg_validate(raw, key="E001")], rt, 0.0, partitions=[1])
        expected += [p for out in res.results for p in out.points]
    got = [p for p in agents.points() if p["tags"]["patient"] == "E001"]
    assert len(got) > 1 and got == json.loads(json.dumps(expected))
    st = ecg_state.data["E001"]
    assert st["last"]["seq"] == 4 and st["offset"] == events[0].message.offset


def test_a_failed_batch_leaves_the_table_as_it_was_whatever_way_its_states_came(
    agents, ecg_table, monkeypatch
):
    """The step updates the table's own states in place, so a batch that fails puts them back
    (``PatientStateTable.restore``). A state recovered from the changelog (a newer state than the
    one this worker wrote last) comes back as it was; a patient new to the table stays out of
    it, even with a stale state held from an earlier time in the table."""
    import streams.ecg.agents as ecg_agents

    first = chunks("E001", seconds=5)
    rt.load_classifier()

    def add_failing(self, partition, pts):
        raise RuntimeError("injected after the step")

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            for raw in first[:3]:
                await agents.processed(agent, await agent.put(raw, key=b"E001", partition=1))
            offset = ecg_state.data["E001"]["offset"]
            # then another worker took the fourth chunk in, and this one recovered its state
            recovered: dict = {}
            ecg_step(
                recovered, [ecg_validate(raw, key="E001") for raw in first[:4]], rt, 0.0, partitions=[1] * 4
            )
            recovered = json.loads(json.dumps(recovered["E001"] | {"offset": offset}))  # as Faust reads it
            before = json.dumps(recovered)
            ecg_state.data["E001"] = recovered  # the failed batch updates this very object
            ecg_state._held()["E003"] = ({"stale": True}, b'{"stale":true}')  # E003 left the table since
            monkeypatch.setattr(ecg_agents.PointBatches, "add", add_failing)
            events = [
                await agent.put(first[4], key=b"E001", partition=1, wait=False),
                await agent.put(chunks("E003", seconds=1)[0], key=b"E003", partition=1, wait=False),
            ]
            await agents.processed(agent, *events)
            return json.loads(before), recovered, events

    before, recovered, events = agents.run(scenario())
    dls = agents.values(topics.DEADLETTER)
    assert [(d["code"], d["offset"]) for d in dls] == [("processing_error", e.message.offset) for e in events]
    assert ecg_state.data["E001"] == before and ecg_state.data["E001"] is not recovered
    assert ecg_state.data["E001"]["last"]["seq"] == 3
    assert "E003" not in ecg_state.data


def _handled(pid: str, event) -> bool:
    """Whether ``pid``'s state in the table took in ``event`` (kept, written or not)."""
    return ecg_state.data.get(pid, {}).get("offset") == event.message.offset


async def _put_taken_in(agents, agent, raws: list[bytes], partition: int) -> list:
    """Put ``raws`` as E001's chunks on ``partition`` and wait until its state took in the last;
    the events."""
    events = [await agent.put(raw, key=b"E001", partition=partition) for raw in raws]
    await agents.until(lambda: _handled("E001", events[-1]))
    return events


def test_records_are_acknowledged_only_once_their_states_are_written(agents, ecg_table, monkeypatch):
    """With a checkpoint interval, a batch's outputs go out at once and its states stay in memory;
    its records are acknowledged (may be committed) only when the checkpoint has written the
    states they made, so a worker taking the partition over never starts from a state older
    than its committed offset."""
    import streams.ecg.agents as ecg_agents

    monkeypatch.setattr(ecg_agents, "CHECKPOINT_S", 3600.0)
    raws = chunks(seconds=6)
    rt.load_classifier()

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            events = await _put_taken_in(agents, agent, raws, 2)
            before = [e.message.acked for e in events], len(agents.changelog(ecg_state)), len(agents.points())
            async with rt.lock:
                await ecg_agents._checkpoint()
            await agents.processed(agent, *events)
            return before, events

    (acked, written, n_points), events = agents.run(scenario())
    assert acked == [False] * len(raws) and written == 0 and n_points > 0
    [rec] = agents.changelog(ecg_state)
    state = rec.json()
    # the step leaves the detector's encoding to the checkpoint: it writes the live detector
    offline: dict = {}
    for raw in raws:
        ecg_step(offline, [ecg_validate(raw, key="E001")], rt, 0.0, partitions=[2])
    assert state["beat_stream"] == json.loads(json.dumps(offline["E001"]["beat_stream"]))
    assert (state["last"]["seq"], rec.partition) == (len(raws) - 1, 2)
    assert state["offset"] == events[-1].message.offset
    assert len(agents.points()) == n_points  # the checkpoint sends states, no output again
    assert ecg_state.unwritten() == 0 and not rt.acks.held


@pytest.mark.parametrize("written", ["all", "one slice"])
def test_a_failed_batch_after_unwritten_ones_handles_them_again_from_the_checkpoint(
    written, agents, ecg_table, monkeypatch
):
    """A batch fails while the states of the batches before it are not yet written: every state
    kept since its checkpoint goes back to it (also of a patient not in the failed batch) and
    the records since are handled again, before the failed one's records one by one. Nothing is
    lost or dead-lettered: each chunk is analysed once into the state (outputs of the batches
    handled again go out twice: at least once).

    ``one slice``: the checkpoint wrote only E001's slice of the states. Only E001's records are
    acknowledged by it; E002's and E003's stay held and are handled again from no state."""
    import streams.ecg.agents as ecg_agents

    monkeypatch.setattr(ecg_agents, "CHECKPOINT_S", 3600.0)
    monkeypatch.setattr(ecg_agents, "SLICES", 10)
    assert len({ecg_agents._slice(p) for p in ("E001", "E002", "E003")}) == 3
    slices = None if written == "all" else {ecg_agents._slice("E001")}
    put: dict[str, list] = {"E001": [], "E002": [], "E003": []}
    add = ecg_agents.PointBatches.add
    failures = []

    def add_failing_once(self, partition, pts):
        if failing and not failures and any(p["tags"]["patient"] == "E002" for p in pts):
            failures.append(1)
            raise RuntimeError("injected after the step")
        return add(self, partition, pts)

    monkeypatch.setattr(ecg_agents.PointBatches, "add", add_failing_once)
    failing = False
    feeds = {pid: chunks(pid, seconds=5, seed=seed) for pid, seed in (("E001", 3), ("E002", 5), ("E003", 7))}
    rt.load_classifier()

    async def scenario():
        nonlocal failing
        async with analyse_ecg.test_context() as agent:
            for i in range(4):
                for pid in ("E001", "E002", "E003"):
                    event = await agent.put(feeds[pid][i], key=pid.encode(), partition=1)
                    put[pid].append(event)
                    await agents.until(lambda pid=pid, event=event: _handled(pid, event))
                if i == 1:
                    async with rt.lock:
                        await ecg_agents._checkpoint(slices)  # chunks 0-1 written, 2-3 kept only
                    held = {e.message.offset for batch in rt.acks.held for e, _ in batch}
                    assert held == {
                        e.message.offset for p in ("E002", "E003") if slices is not None for e in put[p]
                    }
                    await agents.processed(agent, *put["E001"])
            failing = True
            last = [
                await agent.put(feeds["E001"][4], key=b"E001", partition=1, wait=False),
                await agent.put(feeds["E002"][4], key=b"E002", partition=1, wait=False),
            ]
            await agents.until(lambda: _handled("E001", last[0]) and _handled("E002", last[1]))
            async with rt.lock:
                await ecg_agents._checkpoint()
            await agents.processed(agent, *last)

    agents.run(scenario())
    assert failures == [1]
    assert agents.values(topics.DEADLETTER) == []
    for pid, n in (("E001", 5), ("E002", 5), ("E003", 4)):
        assert ecg_state.data[pid]["last"]["seq"] == n - 1
        states: dict = {}
        expected = []
        for raw in feeds[pid][:n]:
            res = ecg_step(states, [ecg_validate(raw, key=pid)], rt, 0.0, partitions=[1])
            expected += [p for out in res.results for p in out.points]
        got = [p for p in agents.points() if p["tags"]["patient"] == pid]
        once = list({json.dumps(p, sort_keys=True): p for p in got}.values())
        assert once and once == json.loads(json.dumps(expected))
    assert ecg_state.unwritten() == 0 and not rt.acks.held and not rt.acks.replay


@pytest.mark.parametrize("signal", ["ecg_checkpoint_on_revoke", "ecg_checkpoint_on_stop"])
def test_a_revocation_or_a_stop_writes_the_states_and_acknowledges_their_records(
    signal, agents, ecg_table, monkeypatch
):
    """A rebalance takes the partitions away (or the worker stops): the states kept since the last
    checkpoint reach the broker before any other worker recovers them, and their records are
    acknowledged."""
    import streams.ecg.agents as ecg_agents
    from streams.app import app

    monkeypatch.setattr(ecg_agents, "CHECKPOINT_S", 3600.0)
    raws = chunks(seconds=2)

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            events = await _put_taken_in(agents, agent, raws, 3)
            assert not any(e.message.acked for e in events) and not agents.changelog(ecg_state)
            await getattr(ecg_agents, signal)(app, set(), signal=None)
            await agents.processed(agent, *events)
            return events

    events = agents.run(scenario())
    [rec] = agents.changelog(ecg_state)
    assert (rec.json()["offset"], rec.partition) == (events[-1].message.offset, 3)


def test_a_feed_stopped_alarm_keeps_the_detector_for_the_next_chunk(agents, ecg_table, monkeypatch):
    """The feed-stopped timer drops a silent patient's live detector after raising its alarm;
    the state then holds the detector's encoding (the step leaves it to whoever stores the state
    or drops the live one), so the chunk after the silence continues the same detector stream:
    its points are those of the offline step over the same chunks."""
    from faust.types import TP

    import streams.ecg.agents as ecg_agents
    from streams.app import app

    monkeypatch.setattr(ecg_agents, "CHECKPOINT_S", 3600.0)
    raws = chunks(seconds=8)
    rt.load_classifier()

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            events = await _put_taken_in(agents, agent, raws[:6], 1)
            ecg_state.data["E001"]["rx_wall"] -= 120.0  # silent for two minutes
            monkeypatch.setattr(app.assignor, "assigned_actives", lambda: {TP(topics.ECG, 1)})
            await ecg_agents._feed_watch()
            assert "E001" not in rt.streams
            events += await _put_taken_in(agents, agent, raws[6:], 1)
            async with rt.lock:
                await ecg_agents._checkpoint()
            await agents.processed(agent, *events)

    agents.run(scenario())
    alarms = [v for v in agents.values(topics.CONDITIONS) if v["source"] == "ecg.feed_stopped"]
    assert [a["active"] for a in alarms] == [True, False]  # raised by the timer, cleared by the chunk
    states: dict = {}
    expected = []
    for raw in raws:
        res = ecg_step(states, [ecg_validate(raw, key="E001")], rt, 0.0, partitions=[1])
        expected += [p for out in res.results for p in out.points]
    got = [p for p in agents.points() if p["tags"].get("source") != "ecg.feed_stopped"]
    assert len(got) > 2 and got == json.loads(json.dumps(expected))


def test_the_slices_of_the_states_are_written_in_turn_and_keep_their_turns_after_a_stall(monkeypatch):
    """Each slice comes due once per checkpoint interval, one at a time, spread over the
    interval; slices that came due together during a long batch go back to their own turns."""
    import streams.ecg.agents as ecg_agents

    monkeypatch.setattr(ecg_agents, "CHECKPOINT_S", 5.0)
    monkeypatch.setattr(ecg_agents, "SLICES", 10)
    monkeypatch.setattr(rt, "turns", ecg_agents._turns(0.0))
    seen: dict[int, list[float]] = {i: [] for i in range(10)}

    def run(start: float, stop: float) -> list[set[int]]:
        dues = []
        for k in range(round((stop - start) / 0.05)):
            now = start + k * 0.05
            due = ecg_agents._due(now)
            for i in due:
                seen[i].append(now)
            dues.append(due)
        return dues

    assert max(len(d) for d in run(0.0, 20.25)) == 1
    assert all(len(times) == 4 for times in seen.values())  # every 5 s each
    firsts = sorted(times[0] for times in seen.values())
    assert [round(b - a, 2) for a, b in itertools.pairwise(firsts)] == [0.5] * 9
    stalled = ecg_agents._due(22.3)  # a batch took 2.3 s
    assert stalled == {0, 1, 2, 3}  # their turns at 20.5, 21, 21.5 and 22 s
    assert max(len(d) for d in run(22.35, 40.0)) == 1  # each back to its own turn
    with monkeypatch.context() as m:
        m.setattr(ecg_agents, "CHECKPOINT_S", 0.0)
        assert ecg_agents._due(40.0) == set(range(10))  # no interval: every batch writes all


def test_batches_to_handle_again_are_handled_by_the_timer_when_no_batch_comes(agents, ecg_table, monkeypatch):
    """A batch cancelled at the end of a feed puts the unwritten states back to the checkpoint
    and the records since to be handled again; no batch comes after it, so the checkpoint timer
    handles them (else they would stay held and their partition's commit stalled): each chunk
    once into the state, and then written and acknowledged."""
    import streams.ecg.agents as ecg_agents

    monkeypatch.setattr(ecg_agents, "CHECKPOINT_S", 3600.0)
    raws = chunks(seconds=4)
    rt.load_classifier()

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            events = await _put_taken_in(agents, agent, raws, 2)
            async with rt.lock:
                ecg_agents._rewind(())  # what a batch cancelled after these leaves
            assert rt.acks.replay and "E001" not in ecg_state.data
            monkeypatch.setattr(ecg_agents, "CHECKPOINT_S", 0.0)  # every slice due at the next turn
            await ecg_agents._turn()  # the checkpoint timer's turn
            assert not rt.acks.replay and not rt.acks.held
            await agents.processed(agent, *events)
            return events

    events = agents.run(scenario())
    [rec] = agents.changelog(ecg_state)
    assert (rec.json()["last"]["seq"], rec.json()["offset"]) == (len(raws) - 1, events[-1].message.offset)
    assert agents.values(topics.DEADLETTER) == []


def test_a_reasserted_alarm_is_a_condition_only(agents):
    """An alarm still on, sent again (``AlarmChange.reassert``): its condition goes to
    ``alerts.conditions`` marked ``reassert``; no ``ecg_alarms`` point, no strip, and the alarm
    change counter does not move (it counts changes)."""
    from models.ecg.alarms import AlarmChange
    from streams.ecg import agents as ecg_agents
    from streams.metrics import metrics
    from streams.outputs import PointBatches

    again = AlarmChange("ecg.tachy", True, "medium", 1_700_000_060.0, "HR 135", {}, reassert=True)
    sends: list = []
    points = PointBatches()
    before = metrics.counts.copy()
    agents.run(ecg_agents._emit(sends, points, 2, "E001", "BED-1", [again], None))
    assert [(t.get_topic_name(), k, v["source"], v["reassert"]) for t, k, v in sends] == [
        (topics.CONDITIONS, b"E001", "ecg.tachy", True)
    ]
    assert points.sends(topics.POINTS) == []
    assert metrics.counts["ecg_reassertions"] == before.get("ecg_reassertions", 0) + 1
    assert metrics.counts["ecg_conditions"] == before.get("ecg_conditions", 0)


def test_a_batch_that_waited_through_a_rebalance_is_not_handled_and_is_read_again(
    agents, ecg_table, monkeypatch
):
    """Stop 51's kill test: a batch taken from the stream waits for the agent's lock, which the
    revocation handler holds while it writes the states; the rebalance assigns the partitions
    anew (a new consumer generation) before the batch gets the lock. Handled then, its chunks
    would go into states that the table's recovery puts back from the changelog (the chunk and
    the live detector's continuity lost). The batch is not handled: no output, no state, its
    records unacknowledged. Read again in the new generation (the seek to the committed
    offset), the chunks are handled once, as a single pass would."""
    import asyncio

    from faust.agents.agent import AgentTestWrapper

    from streams.app import app

    delivered = AgentTestWrapper.to_message

    def fetched_now(self, *args, **kwargs):  # a worker's fetcher stamps its generation
        message = delivered(self, *args, **kwargs)
        message.generation_id = app.consumer_generation_id
        return message

    monkeypatch.setattr(AgentTestWrapper, "to_message", fetched_now)
    raws = chunks(seconds=3)

    async def scenario():
        async with analyse_ecg.test_context() as agent:
            async with rt.lock:  # the revocation handler writing the states
                taken = [await agent.put(raw, key=b"E001", partition=1) for raw in raws]
                await asyncio.sleep(0.3)  # the batch is taken and waits for the lock
                monkeypatch.setattr(app, "consumer_generation_id", app.consumer_generation_id + 1)
            await asyncio.sleep(0.3)
            assert not any(e.message.acked for e in taken)
            assert agents.sent(topics.POINTS) == [] and "E001" not in ecg_state.data
            agent.sent_offset = 0  # the seek to the committed offset reads them again
            again = [await agent.put(raw, key=b"E001", partition=1) for raw in raws]
            await agents.processed(agent, *again)
            assert not any(e.message.acked for e in taken)

    agents.run(scenario())
    assert ecg_state.data["E001"]["last"]["seq"] == 2 and ecg_state.data["E001"]["offset"] == 2
    states: dict = {}
    expected = [
        p
        for raw in raws
        for out in ecg_step(states, [ecg_validate(raw, key="E001")], rt, 0.0).results
        for p in out.points
    ]
    assert agents.points() == expected
