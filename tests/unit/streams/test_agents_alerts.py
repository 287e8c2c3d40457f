"""``streams.alerts.agents`` (``raise_alerts``, ``act_on_alerts``, the escalation timer's
``tick_alerts``) under Faust's ``test_context()`` (no broker; see ``conftest.py``): conditions,
verified operator actions and the clock become the alarm lifecycle's events on ``alerts`` (with
their points), the open alerts live in the ``alerts-open`` table, and what cannot be applied, or
comes without a valid user token, is dead-lettered."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from models.alarms.lifecycle import alert_id, alert_on_condition, alert_points
from streams.alerts import agents as alert_agents
from streams.alerts.agents import act_on_alerts, open_alerts, raise_alerts, tick_alerts
from streams.metrics import metrics
from wardwatch import topics
from wardwatch.identity import User, issue_token
from wardwatch.records.conditions import Condition

TS = "2026-11-25T12:00:00+00:00"
SECRET = b"s" * 32
NURSE = User("nurse-7", "Nora Seven", "nurse")


@pytest.fixture(autouse=True)
def secret(auth_secret):
    """The worker's token secret, as if configured (conftest.py)."""
    assert auth_secret == SECRET


def token(user: User = NURSE, secret: bytes = SECRET, ttl_s: float = 600) -> str:
    return issue_token(user, secret, time.time(), ttl_s)


def condition(
    active: bool = True, priority: str = "medium", ts: str = TS, source: str = "news2", pid: str = "P001"
) -> dict:
    return Condition(
        patient_id=pid,
        bed="ICU-01",
        source=source,
        active=active,
        priority=priority,
        ts=ts,
        message=f"{source} {priority}",
        evidence={"news2": {"score": 6}},
    ).to_dict()


def engine(*conds: dict) -> tuple[dict, list[dict]]:
    """The lifecycle's state and events for ``conds``, JSON round-tripped."""
    state: dict = {}
    events: list[dict] = []
    for c in conds:
        state, evs = alert_on_condition(state, Condition.from_dict(c), datetime.now(UTC))
        events += evs
    return json.loads(json.dumps(state)), json.loads(json.dumps(events))


def lifecycle(state: dict) -> dict:
    """A state without its wall-clock notification times and changelog partition."""
    return {
        src: {k: v for k, v in a.items() if k != "notified_at"}
        for src, a in (state.get("open") or {}).items()
    }


def action(
    alert: str, kind: str = "acknowledge", pid: str = "P001", tok: str | None = "valid", **extra
) -> bytes:
    msg = {"patient_id": pid, "alert_id": alert, "action": kind, **extra}
    if tok is not None:
        msg["token"] = token() if tok == "valid" else tok
    return json.dumps(msg).encode()


def redacted(raw: bytes) -> bytes:
    """A message as its dead letter keeps it: the user token blanked."""
    return json.dumps({**json.loads(raw), "token": "[redacted]"}).encode()


def test_conditions_become_the_engines_alert_events(agents):
    """Raise, a re-delivered condition (silent), escalate, resolve: exactly the engine's events,
    with their points, keyed by patient; the open alerts in the table after each."""
    conds = [
        condition(),
        condition(),
        condition(priority="high", ts="2026-11-25T12:01:00+00:00"),
        condition(active=False, ts="2026-11-25T12:20:00+00:00"),
    ]
    raised_state, _ = engine(conds[0])

    async def scenario():
        async with raise_alerts.test_context() as agent:
            e0 = await agent.put(conds[0], key=b"P001", partition=4)
            await agents.processed(agent, e0)
            seen = json.loads(json.dumps(open_alerts.data["P001"]))
            events = [await agent.put(c, key=b"P001", partition=4) for c in conds[1:]]
            await agents.processed(agent, *events)
            # one change per batch: the last one holds the last condition's offset
            await agents.until(lambda: (c := agents.changelog(open_alerts)) and c[-1].json()["offset"] == 3)
            return seen, agents.changelog(open_alerts)

    seen, changelog = agents.run(scenario())
    final_state, events = engine(*conds)
    assert lifecycle(seen) == lifecycle(raised_state) and seen["partition"] == 4
    assert [e["type"] for e in events] == ["raised", "escalated", "resolved"]
    assert agents.values(topics.ALERTS) == events
    assert events[0]["alert_id"] == alert_id("P001", "news2", TS)
    assert agents.values(topics.POINTS) == json.loads(json.dumps(alert_points(events)))
    assert {m.key for m in agents.sent(topics.ALERTS) + agents.sent(topics.POINTS)} == {b"P001"}
    assert open_alerts.data["P001"] == {**final_state, "partition": 4, "offset": 3}
    assert final_state["open"] == {}
    assert {m.partition for m in changelog} == {4}
    assert agents.sent(topics.DEADLETTER) == []


def test_a_redelivered_condition_does_not_raise_a_resolved_alarm_again(agents):
    """After a rebalance, conditions whose events and state went out but whose offsets were not
    committed come again with their own offsets. Found by the broker-SIGKILL fault test: applied
    again to the state that followed them, the "high" condition of an alarm resolved since
    raised it again (a new alert_id) and the inactive one resolved that. The state records the
    offset of the last condition it took in, so they are skipped; the next one is applied."""
    conds = [
        condition(),
        condition(priority="high", ts="2026-11-25T12:01:00+00:00"),
        condition(active=False, ts="2026-11-25T12:20:00+00:00"),
    ]
    later = condition(ts="2026-11-25T13:00:00+00:00")

    async def scenario():
        async with raise_alerts.test_context() as agent:
            first = [await agent.put(c, key=b"P001", partition=2) for c in conds]
            await agents.processed(agent, *first)
            agent.sent_offset = 1  # the consumer reads the partition again from offset 1
            again = [await agent.put(c, key=b"P001", partition=2) for c in conds[1:]]
            nxt = await agent.put(later, key=b"P001", partition=2)  # offset 3: new
            await agents.processed(agent, *again, nxt)

    agents.run(scenario())
    events = agents.values(topics.ALERTS)
    assert [e["type"] for e in events] == ["raised", "escalated", "resolved", "raised"]
    assert events[-1]["alert_id"] == alert_id("P001", "news2", later["ts"])
    assert open_alerts.data["P001"]["offset"] == 3


def test_a_condition_the_state_passed_over_is_dead_lettered_or_taken_in_never_skipped(agents):
    """The state's offset is past conditions it never took in (a later record of the partition
    reached it first: a delivery fault). Skipped as "re-delivered", the news2 alarm's rise would
    be lost and its resolution shown at the lower priority (the takeover test's failure at stop
    46). Such a condition is never skipped in silence: one older than what its source already
    applied is dead-lettered (``out_of_order``), one newer (another source's) is taken in; a true
    re-delivery (applied) stays silent."""
    low = condition(priority="low")
    high = condition(priority="high", ts="2026-11-25T12:01:00+00:00")
    ended = condition(active=False, ts="2026-11-25T12:20:00+00:00")
    other = condition(source="deterioration", priority="medium", ts="2026-11-25T12:02:00+00:00")
    later = condition(ts="2026-11-25T13:00:00+00:00")
    # the state after the raise (offset 0) and the resolution (offset 3), taken in first
    state, _ = engine(low, ended)
    before = metrics.counts.copy()

    async def scenario():
        open_alerts.data["P001"] = {**state, "partition": 2, "offset": 3}
        async with raise_alerts.test_context() as agent:
            put = [await agent.put(c, key=b"P001", partition=2) for c in (low, high, other, ended)]
            nxt = await agent.put(later, key=b"P001", partition=2)  # offset 4: past the state
            await agents.processed(agent, *put, nxt)

    agents.run(scenario())
    events = agents.values(topics.ALERTS)
    # the deterioration condition raised its alarm; the news2 rise is dead-lettered, not applied
    assert [(e["type"], e["source"]) for e in events] == [("raised", "deterioration"), ("raised", "news2")]
    dead = agents.values(topics.DEADLETTER)
    assert [(d["offset"], d["reason"].split(":")[0]) for d in dead] == [(1, "out_of_order")]
    assert "passed over" in dead[0]["reason"]
    assert metrics.counts["conditions_passed_over_late"] - before.get("conditions_passed_over_late", 0) == 1
    assert metrics.counts["conditions_passed_over_new"] - before.get("conditions_passed_over_new", 0) == 1
    # the low raise (offset 0) and the resolution (offset 3) were applied: silent re-deliveries
    assert metrics.counts["conditions_redelivered"] - before.get("conditions_redelivered", 0) == 2
    assert open_alerts.data["P001"]["offset"] == 4


def test_a_reasserted_condition_heals_a_lost_rise_and_is_counted(agents):
    """The rise to high never came (lost on its way); the source's re-assertion escalates the
    alarm, counted (``alarms_healed_by_reassertion``) and logged; a re-assertion the state
    already has changes nothing."""
    low = condition(priority="low")
    same = {**condition(priority="low", ts="2026-11-25T12:01:00+00:00"), "reassert": True}
    high = {**condition(priority="high", ts="2026-11-25T12:02:00+00:00"), "reassert": True}
    before = metrics.counts["alarms_healed_by_reassertion"]

    async def scenario():
        async with raise_alerts.test_context() as agent:
            put = [await agent.put(c, key=b"P001", partition=1) for c in (low, same, high)]
            await agents.processed(agent, *put)

    agents.run(scenario())
    events = agents.values(topics.ALERTS)
    assert [(e["type"], e["priority"]) for e in events] == [("raised", "low"), ("escalated", "high")]
    assert events[1]["alert_id"] == events[0]["alert_id"] and "re-asserted" in events[1]["reason"]
    assert metrics.counts["alarms_healed_by_reassertion"] == before + 1


@pytest.mark.parametrize(
    "bad, said",
    [
        (json.dumps({**condition(), "priority": "urgent"}).encode(), "priority"),
        (b'{"patient_id": "P001", "sou', "not JSON"),  # truncated: Faust's JSON codec dropped it
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_a_malformed_condition_is_dead_lettered_with_its_bytes(agents, bad, said):
    async def scenario():
        async with raise_alerts.test_context() as agent:
            e0 = await agent.put(bad, key=b"P001", partition=1)
            e1 = await agent.put(condition(), key=b"P001", partition=1)
            await agents.processed(agent, e0, e1)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["source_topic"], dl["partition"], dl["offset"]) == (
        "malformed",
        topics.CONDITIONS,
        1,
        0,
    )
    assert said in dl["reason"]
    assert base64.b64decode(dl["original_b64"]) == bad
    assert [e["type"] for e in agents.values(topics.ALERTS)] == ["raised"]  # the next one


def test_an_operator_action_on_an_open_alert(agents):
    aid = alert_id("P001", "news2", TS)

    async def scenario():
        async with raise_alerts.test_context() as conds, act_on_alerts.test_context() as acts:
            e0 = await conds.put(condition(), key=b"P001")
            await agents.processed(conds, e0)
            e1 = await acts.put(action(aid, "silence"), key=b"P001")
            e2 = await acts.put(action(aid), key=b"P001")
            await agents.processed(acts, e1, e2)

    agents.run(scenario())
    events = agents.values(topics.ALERTS)
    assert [(e["type"], e["alert_id"]) for e in events] == [
        ("raised", aid),
        ("silenced", aid),
        ("acknowledged", aid),
    ]
    assert (events[1]["by"], events[2]["by"], events[2]["by_name"]) == ("nurse-7", "nurse-7", "Nora Seven")
    assert [p["tags"]["type"] for p in agents.values(topics.POINTS)] == ["raised", "silenced", "acknowledged"]
    alert = open_alerts.data["P001"]["open"]["news2"]
    assert alert["acknowledged"] is True and alert["silenced_until"] is None  # the ack ends the silence
    assert events[1]["silenced_until"] is not None
    assert agents.sent(topics.DEADLETTER) == []


def test_an_action_whose_key_is_another_patient_is_dead_lettered(agents):
    aid = alert_id("P001", "news2", TS)
    bad = action(aid)

    async def scenario():
        async with raise_alerts.test_context() as conds, act_on_alerts.test_context() as acts:
            e0 = await conds.put(condition(), key=b"P001")
            await agents.processed(conds, e0)
            state = json.loads(json.dumps(open_alerts.data["P001"]))
            e1 = await acts.put(bad, key=b"P002", partition=5)
            await agents.processed(acts, e1)
            return state

    state = agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert (dl["code"], dl["field"], dl["source_topic"]) == ("key_mismatch", "patient_id", topics.ALERTS_ACK)
    assert (dl["partition"], dl["offset"], dl["key"]) == (5, 0, "P002")
    assert base64.b64decode(dl["original_b64"]) == redacted(bad)
    assert [e["type"] for e in agents.values(topics.ALERTS)] == ["raised"]
    assert open_alerts.data["P001"] == state  # not acknowledged
    assert "P002" not in open_alerts.data


def test_an_action_that_cannot_be_applied_is_dead_lettered(agents):
    """Not JSON, an unknown alert id, an unknown action: each one dead letter with its code; the
    user token is blanked in the dead letter's copy of the message."""
    aid = alert_id("P001", "news2", TS)
    bad = [b"{not json", action("al-0000"), action(aid, "mute")]

    async def scenario():
        async with raise_alerts.test_context() as conds, act_on_alerts.test_context() as acts:
            e0 = await conds.put(condition(), key=b"P001")
            await agents.processed(conds, e0)
            events = [await acts.put(b, key=b"P001") for b in bad]
            await agents.processed(acts, *events)

    agents.run(scenario())
    dls = agents.values(topics.DEADLETTER)
    assert [(d["code"], d["field"], d["offset"]) for d in dls] == [
        ("malformed", None, 0),
        ("bad_value", "alert_id", 1),
        ("bad_value", "action", 2),
    ]
    assert "no open alert" in dls[1]["reason"] and "action must be one of" in dls[2]["reason"]
    assert [base64.b64decode(d["original_b64"]) for d in dls] == [bad[0], redacted(bad[1]), redacted(bad[2])]
    assert [e["type"] for e in agents.values(topics.ALERTS)] == ["raised"]


def test_actions_without_a_valid_token_or_role_are_dead_lettered(agents):
    """No token, a forged one (another secret), an expired one, a viewer's: unauthenticated x3,
    forbidden; the alert stays unacknowledged; then the nurse's token acknowledges it."""
    aid = alert_id("P001", "news2", TS)
    bad = [
        action(aid, tok=None),
        action(aid, tok=token(secret=b"f" * 32)),
        action(aid, tok=issue_token(NURSE, SECRET, time.time() - 100, 10)),
        action(aid, tok=token(User("vic", "Vic", "viewer"))),
    ]
    good = action(aid, reason="patient reviewed")

    async def scenario():
        async with raise_alerts.test_context() as conds, act_on_alerts.test_context() as acts:
            e0 = await conds.put(condition(), key=b"P001")
            await agents.processed(conds, e0)
            events = [await acts.put(b, key=b"P001") for b in [*bad, good]]
            await agents.processed(acts, *events)

    agents.run(scenario())
    dls = agents.values(topics.DEADLETTER)
    assert [(d["code"], d["field"]) for d in dls] == [("unauthenticated", "token")] * 3 + [
        ("forbidden", "token")
    ]
    assert "signature" in dls[1]["reason"] and "expired" in dls[2]["reason"] and "viewer" in dls[3]["reason"]
    assert all(b"[redacted]" in base64.b64decode(d["original_b64"]) for d in dls[1:])
    events = agents.values(topics.ALERTS)
    assert [(e["type"], e.get("by"), e.get("reason")) for e in events[1:]] == [
        ("acknowledged", "nurse-7", "patient reviewed")
    ]


def test_a_worker_without_a_secret_rejects_every_action(agents):
    aid = alert_id("P001", "news2", TS)
    alert_agents.auth.secret, alert_agents.auth.problem = None, "no auth secret configured on this worker (x)"

    async def scenario():
        async with raise_alerts.test_context() as conds, act_on_alerts.test_context() as acts:
            e0 = await conds.put(condition(), key=b"P001")
            await agents.processed(conds, e0)
            e1 = await acts.put(action(aid), key=b"P001")
            await agents.processed(acts, e1)

    agents.run(scenario())
    [dl] = agents.values(topics.DEADLETTER)
    assert dl["code"] == "unauthenticated" and "no auth secret configured" in dl["reason"]
    assert [e["type"] for e in agents.values(topics.ALERTS)] == ["raised"]


def test_the_timer_renotifies_on_the_partitions_this_worker_owns(agents):
    """tick_alerts: a high alarm past its deadline is re-notified, a silenced one is not until its
    silence ends; a patient on a partition this worker does not own is left alone; the states are
    written (with their partition) after the events were acknowledged, and are on the broker
    when the tick returns."""
    aid = alert_id("P001", "news2", TS)

    async def scenario():
        async with raise_alerts.test_context() as conds, act_on_alerts.test_context() as acts:
            e0 = await conds.put(condition(priority="high"), key=b"P001", partition=2)
            e1 = await conds.put(condition(priority="high", pid="P002"), key=b"P002", partition=3)
            e2 = await conds.put(condition(priority="high", pid="P003"), key=b"P003", partition=2)
            await agents.processed(conds, e0, e1, e2)
            e3 = await acts.put(
                action(alert_id("P003", "news2", TS), "silence", pid="P003", duration_s=300),
                key=b"P003",
                partition=2,
            )
            await agents.processed(acts, e3)
            n_log = len(agents.changelog(open_alerts))
            notified = datetime.fromisoformat(open_alerts.data["P001"]["open"]["news2"]["notified_at"])
            quiet = await tick_alerts(notified + timedelta(seconds=30), {2})
            n1 = await tick_alerts(notified + timedelta(seconds=61), {2})
            # on the broker when the tick returns (not left in the producer buffer, where a
            # later change sent directly could overtake it on the changelog)
            written = agents.changelog(open_alerts)[n_log:]
            again = await tick_alerts(notified + timedelta(seconds=62), {2})
            return quiet, n1, again, notified, written

    quiet, n1, again, notified, written = agents.run(scenario())
    assert (quiet, n1, again) == (0, 1, 0)
    assert [(m.key, m.json()["open"]["news2"]["level"]) for m in written] == [(b'"P001"', 1)]
    timer = [e for e in agents.values(topics.ALERTS) if e["origin"] == "timer"]
    assert [(e["type"], e["patient_id"], e["alert_id"], e["level"]) for e in timer] == [
        ("renotified", "P001", aid, 1)
    ]
    assert timer[0]["ts"] == (notified + timedelta(seconds=60)).isoformat()
    assert [p["tags"]["origin"] for p in agents.values(topics.POINTS)][-1] == "timer"
    st = open_alerts.data["P001"]
    assert st["partition"] == 2 and st["open"]["news2"]["level"] == 1
    assert open_alerts.data["P002"]["open"]["news2"]["level"] == 0  # partition 3: not ours
    assert open_alerts.data["P003"]["open"]["news2"]["silenced_until"] is not None
    assert [m.partition for m in agents.changelog(open_alerts) if m.key == b'"P001"'] == [2, 2]  # raise, tick
