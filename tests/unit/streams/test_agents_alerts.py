"""``streams.alerts.agents`` (``raise_alerts``, ``act_on_alerts``) under Faust's
``test_context()`` (no broker; see ``conftest.py``): conditions and operator actions become the
alert engine's events on ``alerts`` (with their points), the open alerts live in the
``alerts-open`` table, and what cannot be applied is dead-lettered."""

from __future__ import annotations

import base64
import json

from streams.alerts.agents import act_on_alerts, open_alerts, raise_alerts
from streams.alerts.engine import alert_id, alert_on_condition, alert_points
from wardwatch import topics
from wardwatch.records.conditions import Condition

TS = "2026-11-25T12:00:00+00:00"


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
    """The alert engine's state and events for ``conds``, JSON round-tripped."""
    state: dict = {}
    events: list[dict] = []
    for c in conds:
        state, evs = alert_on_condition(state, Condition.from_dict(c))
        events += evs
    return json.loads(json.dumps(state)), json.loads(json.dumps(events))


def action(alert: str, kind: str = "acknowledge", pid: str = "P001") -> bytes:
    return json.dumps({"patient_id": pid, "alert_id": alert, "action": kind, "by": "nurse-7"}).encode()


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
            return seen, await agents.changelogged(open_alerts, 4)

    seen, changelog = agents.run(scenario())
    final_state, events = engine(*conds)
    assert seen == raised_state
    assert [e["type"] for e in events] == ["raised", "escalated", "resolved"]
    assert agents.values(topics.ALERTS) == events
    assert events[0]["alert_id"] == alert_id("P001", "news2", TS)
    assert agents.values(topics.POINTS) == json.loads(json.dumps(alert_points(events)))
    assert {m.key for m in agents.sent(topics.ALERTS) + agents.sent(topics.POINTS)} == {b"P001"}
    assert open_alerts.data["P001"] == final_state == {"open": {}}
    assert {m.partition for m in changelog} == {4}
    assert agents.sent(topics.DEADLETTER) == []


def test_a_malformed_condition_is_dead_lettered(agents):
    bad = {**condition(), "priority": "urgent"}

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
    assert "priority" in dl["reason"]
    assert json.loads(base64.b64decode(dl["original_b64"])) == bad
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
    assert events[2]["by"] == "nurse-7"
    assert [p["tags"]["type"] for p in agents.values(topics.POINTS)] == ["raised", "silenced", "acknowledged"]
    alert = open_alerts.data["P001"]["open"]["news2"]
    assert alert["acknowledged"] is True and alert["silenced_until"] == events[1]["silenced_until"]
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
    assert base64.b64decode(dl["original_b64"]) == bad
    assert [e["type"] for e in agents.values(topics.ALERTS)] == ["raised"]
    assert open_alerts.data["P001"] == state  # not acknowledged
    assert "P002" not in open_alerts.data


def test_an_action_that_cannot_be_applied_is_dead_lettered(agents):
    """Not JSON, an unknown alert id, an unknown action: each one dead letter, code malformed."""
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
    assert [(d["code"], d["offset"]) for d in dls] == [("malformed", 0), ("malformed", 1), ("malformed", 2)]
    assert "no open alert" in dls[1]["reason"] and "unknown action" in dls[2]["reason"]
    assert [base64.b64decode(d["original_b64"]) for d in dls] == bad
    assert [e["type"] for e in agents.values(topics.ALERTS)] == ["raised"]
