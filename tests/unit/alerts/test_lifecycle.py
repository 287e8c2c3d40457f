"""The alarm lifecycle (models.alarms.lifecycle): examples of each transition, then properties over
random sequences of conditions, operator actions and clock ticks (hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from models.alarms.lifecycle import (
    APPLIED_KEEP,
    DISCHARGE_MARK_S,
    EVENT_TYPES,
    MISSED,
    EscalationPolicy,
    alert_on_action,
    alert_on_condition,
    alert_on_discharge,
    alert_on_tick,
    alert_points,
    condition_standing,
    discharge_mark_expired,
    from_before_discharge,
)
from wardwatch.records.actions import AlertAction
from wardwatch.records.conditions import Condition

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = EscalationPolicy(high_s=60, medium_s=300, medium_to_high_after=2)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def cond(active=True, priority="medium", t=0.0, source="news2", latched=False, reassert=False):
    return Condition(
        patient_id="P1",
        bed="B1",
        source=source,
        active=active,
        priority=priority,
        ts=at(t).isoformat(),
        message="m",
        latched=latched,
        evidence={"x": 1},
        reassert=reassert,
    )


def act(alert_id, kind="acknowledge", duration_s=None, reason=""):
    if kind == "silence" and duration_s is None:
        duration_s = 120.0
    return AlertAction("P1", alert_id, kind, "tok", duration_s, reason)


def run(*conds):
    state, out = {}, []
    for c in conds:
        state, evs = alert_on_condition(state, c, datetime.fromisoformat(c.ts))
        out += evs
    return state, out


def types(evs):
    return [e["type"] for e in evs]


def test_raise_once_escalate_deescalate_resolve():
    state, evs = run(
        cond(),
        cond(t=1),
        cond(priority="high", t=2),
        cond(priority="medium", t=3),
        cond(active=False, t=4),
    )
    assert types(evs) == ["raised", "escalated", "deescalated", "resolved"]
    assert len({e["alert_id"] for e in evs}) == 1
    assert [e["priority"] for e in evs] == ["medium", "high", "medium", "medium"]
    assert [e["origin"] for e in evs] == ["condition"] * 4
    assert evs[-1]["active"] is False and state["open"] == {}


def test_ids_are_deterministic_and_redelivery_is_silent():
    _, a = run(cond())
    _, b = run(cond())
    assert a[0]["alert_id"] == b[0]["alert_id"] and a[0]["event_id"] == b[0]["event_id"]
    _, c = run(cond(t=3600))
    assert c[0]["alert_id"] != a[0]["alert_id"]
    _, d = run(cond(), cond())  # same condition delivered twice
    assert len(d) == 1


def test_sources_are_independent():
    _, evs = run(cond(source="news2"), cond(source="ecg.vtach", priority="high"))
    assert [e["source"] for e in evs] == ["news2", "ecg.vtach"]
    assert evs[0]["alert_id"] != evs[1]["alert_id"]


def test_latched_alarm_stays_until_acknowledged_and_may_reactivate():
    state, evs = run(
        cond(source="ecg.vtach", priority="high", latched=True),
        cond(source="ecg.vtach", active=False, priority="high", latched=True, t=5),
        cond(source="ecg.vtach", active=False, priority="high", latched=True, t=6),  # still ended
        cond(source="ecg.vtach", priority="high", latched=True, t=7),
        cond(source="ecg.vtach", active=False, priority="high", latched=True, t=8),
    )
    assert types(evs) == ["raised", "latched", "reactivated", "latched"]
    aid = evs[0]["alert_id"]
    assert state["open"]["ecg.vtach"]["active"] is False  # latched: still open
    # a latched alarm not acknowledged keeps escalating (re-notified at high)
    state, ticked = alert_on_tick(state, "P1", at(61), POLICY)
    assert types(ticked) == ["renotified"]
    state, evs2 = alert_on_action(state, act(aid, reason="VT seen, crash cart"), at(70), "anna", "Anna Berg")
    assert types(evs2) == ["acknowledged", "resolved"]
    assert evs2[0]["by"] == "anna" and evs2[0]["by_name"] == "Anna Berg" and evs2[1]["by"] == "anna"
    assert evs2[0]["reason"] == "VT seen, crash cart" and state["open"] == {}


def test_acknowledged_active_latched_alarm_resolves_when_its_condition_ends():
    state, evs = run(cond(latched=True))
    aid = evs[0]["alert_id"]
    state, a = alert_on_action(state, act(aid), at(5), "anna")
    assert types(a) == ["acknowledged"] and a[0]["by_name"] == "anna"
    state, again = alert_on_action(state, act(aid), at(6), "ben")
    assert again == []  # already acknowledged: nothing changes
    state, r = alert_on_condition(state, cond(active=False, t=60), at(60))
    assert types(r) == ["resolved"]


def test_silence_suppresses_renotification_and_ends_by_itself():
    state, evs = run(cond(priority="high"))
    aid = evs[0]["alert_id"]
    state, s = alert_on_action(state, act(aid, "silence", 90), at(30), "anna")
    assert types(s) == ["silenced"] and s[0]["silenced_until"] == at(120).isoformat()
    assert s[0]["duration_s"] == 90
    for t in (60, 61, 119.9):  # the high deadline (60 s) passes while silenced: nothing
        state, quiet = alert_on_tick(state, "P1", at(t), POLICY)
        assert quiet == []
    state, ended = alert_on_tick(state, "P1", at(121), POLICY)
    assert types(ended) == ["silence_ended"] and ended[0]["ts"] == at(120).isoformat()
    assert ended[0]["origin"] == "timer" and ended[0]["silenced_until"] is None
    state, none = alert_on_tick(state, "P1", at(179), POLICY)
    assert none == []  # the deadline restarts at the end of the silence
    state, renot = alert_on_tick(state, "P1", at(180), POLICY)
    assert types(renot) == ["renotified"] and renot[0]["ts"] == at(180).isoformat()


def test_high_alarm_renotified_at_each_deadline_until_acknowledged():
    state, evs = run(cond(priority="high"))
    aid = evs[0]["alert_id"]
    out = []
    for t in range(0, 200, 1):
        state, e = alert_on_tick(state, "P1", at(t + 0.5), POLICY)
        out += e
    assert [(e["type"], e["ts"], e["level"]) for e in out] == [
        ("renotified", at(60).isoformat(), 1),
        ("renotified", at(120).isoformat(), 2),
        ("renotified", at(180).isoformat(), 3),
    ]
    assert len({e["event_id"] for e in out}) == 3
    state, _ = alert_on_action(state, act(aid), at(200), "anna")
    state, after = alert_on_tick(state, "P1", at(10_000), POLICY)
    assert after == []


def test_medium_alarm_is_raised_to_high_after_two_missed_deadlines_and_held_until_acknowledged():
    state, evs = run(cond(priority="medium"))
    aid = evs[0]["alert_id"]
    state, r1 = alert_on_tick(state, "P1", at(300), POLICY)
    state, r2 = alert_on_tick(state, "P1", at(600), POLICY)
    assert [(e["type"], e["priority"], e["origin"]) for e in r1 + r2] == [
        ("renotified", "medium", "timer"),
        ("escalated", "high", "timer"),
    ]
    assert "raised to high" in r2[0]["reason"]
    state, r3 = alert_on_tick(state, "P1", at(660), POLICY)  # now at the high deadline
    assert [(e["type"], e["priority"], e["level"]) for e in r3] == [("renotified", "high", 3)]
    # the condition stepping down does not undo an unacknowledged rule escalation
    state, held = alert_on_condition(state, cond(priority="low", t=670), at(670))
    assert held == [] and state["open"]["news2"]["priority"] == "high"
    state, _ = alert_on_action(state, act(aid), at(680), "anna")
    state, down = alert_on_condition(state, cond(priority="low", t=690), at(690))
    assert [(e["type"], e["priority"]) for e in down] == [("deescalated", "low")]


def test_low_alarms_never_escalate_and_the_rule_can_be_off():
    state, _ = run(cond(priority="low"))
    state, e = alert_on_tick(state, "P1", at(100_000), POLICY)
    assert e == []
    never = EscalationPolicy(high_s=60, medium_s=300, medium_to_high_after=0)
    state, _ = run(cond(priority="medium"))
    for t in (300, 600, 900):
        state, e = alert_on_tick(state, "P1", at(t), never)
        assert [(x["type"], x["priority"]) for x in e] == [("renotified", "medium")]


def test_a_long_outage_gives_one_renotification_not_a_burst():
    state, _ = run(cond(priority="high"))
    state, e1 = alert_on_tick(state, "P1", at(3600), POLICY)  # the worker was down for an hour
    state, e2 = alert_on_tick(state, "P1", at(3601), POLICY)
    assert types(e1) == ["renotified"] and e2 == []
    state, e3 = alert_on_tick(state, "P1", at(3660), POLICY)
    assert types(e3) == ["renotified"]


def test_a_rise_needs_a_new_acknowledgement_and_ends_a_silence():
    state, evs = run(cond(priority="medium"))
    aid = evs[0]["alert_id"]
    state, _ = alert_on_action(state, act(aid, "silence", 600), at(10), "anna")
    state, up = alert_on_condition(state, cond(priority="high", t=20), at(20))
    assert [(e["type"], e["silenced_until"], e["acknowledged"]) for e in up] == [("escalated", None, False)]
    state, e = alert_on_tick(state, "P1", at(80), POLICY)
    assert types(e) == ["renotified"]


def test_unknown_alert_raises():
    with pytest.raises(ValueError, match="no open alert"):
        alert_on_action({}, act("al-x"), T0, "anna")


def test_condition_validates_priority():
    with pytest.raises(ValueError, match="priority"):
        cond(priority="urgent")


def test_policy_validates():
    with pytest.raises(ValueError):
        EscalationPolicy(high_s=0)
    with pytest.raises(ValueError):
        EscalationPolicy(medium_to_high_after=-1)


def test_alert_points_carry_who_when_why():
    state, evs = run(cond())
    state, a = alert_on_action(state, act(evs[0]["alert_id"], reason="seen"), at(5), "anna", "Anna Berg")
    p_raise, p_ack = alert_points(evs + a)
    assert p_raise["measurement"] == "alerts" and p_raise["tags"]["type"] == "raised"
    assert p_raise["tags"]["patient"] == "P1" and p_raise["fields"]["alert_id"] == evs[0]["alert_id"]
    assert p_raise["tags"]["origin"] == "condition" and "by" not in p_raise["fields"]
    assert p_ack["tags"]["origin"] == "operator"
    fields = p_ack["fields"]
    assert (fields["by"], fields["by_name"], fields["reason"]) == ("anna", "Anna Berg", "seen")
    assert p_ack["time_ns"] == int(at(5).timestamp()) * 10**9


def test_state_is_json_serialisable():
    state, evs = run(cond(priority="high"))
    state, _ = alert_on_action(state, act(evs[0]["alert_id"], "silence", 30), at(1), "anna")
    assert json.loads(json.dumps(state)) == state


# ---------------------------------------------------------------------------------------------
# Properties over random sequences.

SOURCES = ("news2", "ecg.vtach")
op = st.one_of(
    st.tuples(
        st.just("cond"),
        st.sampled_from(SOURCES),
        st.booleans(),
        st.sampled_from(("low", "medium", "high")),
    ),
    st.tuples(st.just("ack"), st.sampled_from(SOURCES)),
    st.tuples(st.just("silence"), st.sampled_from(SOURCES), st.sampled_from((1.0, 59.0, 60.0, 600.0))),
    st.tuples(st.just("tick")),
)
# Time moves on between steps, as a device's clock does between readings (an alert id hashes its
# onset time: two onsets at one device time would be one alert).
step = st.tuples(st.sampled_from((0.5, 1.0, 30.0, 59.0, 60.0, 61.0, 299.0, 300.0, 700.0)), op)


def projection(state):
    """The lifecycle state a subscriber must be able to follow from the events, per source."""
    return {
        src: (
            a["alert_id"],
            a["priority"],
            a["active"],
            a["acknowledged"],
            a["silenced_until"],
            a["level"],
        )
        for src, a in (state.get("open") or {}).items()
    }


def apply(state, op_, now):
    kind = op_[0]
    if kind == "cond":
        _, src, active, prio = op_
        c = Condition("P1", "B1", src, active, prio, now.isoformat(), "m", latched=src == "ecg.vtach")
        return alert_on_condition(state, c, now)
    if kind == "tick":
        return alert_on_tick(state, "P1", now, POLICY)
    cur = (state.get("open") or {}).get(op_[1])
    if cur is None:
        with pytest.raises(ValueError):
            alert_on_action(state, act("al-none"), now, "anna")
        return state, []
    action = act(cur["alert_id"]) if kind == "ack" else act(cur["alert_id"], "silence", op_[2])
    return alert_on_action(state, action, now, "anna")


@settings(max_examples=400, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_lifecycle_properties(steps):
    state, t = {}, 0.0
    raised_ids: set[str] = set()
    for dt, op_ in steps:
        t += dt
        now = at(t)
        before = projection(state)
        open_before = json.loads(json.dumps(state.get("open") or {}))
        state, events = apply(state, op_, now)
        after = projection(state)
        assert all(e["type"] in EVENT_TYPES for e in events)
        for e in events:
            event(f"{e['origin']} {e['type']}")  # --hypothesis-show-statistics: what was covered

        # every state change has its event, and no event without a change
        assert (before != after) == bool(events), (op_, before, after, events)
        for src in set(before) | set(after):
            if before.get(src) == after.get(src):
                assert not [e for e in events if e["source"] == src]
                continue
            last = [e for e in events if e["source"] == src][-1]
            if src in after:  # the last event shows the new state
                aid, prio, active, acked, silenced, level = after[src]
                assert (
                    last["alert_id"],
                    last["priority"],
                    last["active"],
                    last["acknowledged"],
                    last["silenced_until"],
                    last["level"],
                ) == (aid, prio, active, acked, silenced, level)
            else:
                assert last["type"] == "resolved" and last["alert_id"] == before[src][0]

        # no duplicate raise: only for a source with nothing open, once per alert id
        for e in events:
            if e["type"] == "raised":
                assert e["source"] not in before and e["alert_id"] not in raised_ids
                raised_ids.add(e["alert_id"])

        if op_[0] != "tick":
            assert not [e for e in events if e["origin"] == "timer"]
            continue
        # the clock: exactly the alarms whose deadline or silence has come
        for src, a in open_before.items():
            evs = [e for e in events if e["source"] == src]
            if a["acknowledged"]:
                assert evs == []
            elif a["silenced_until"] is not None:
                until = datetime.fromisoformat(a["silenced_until"])
                if now < until:
                    assert evs == []  # never while silenced
                else:  # ends when it says
                    assert [(e["type"], e["ts"]) for e in evs] == [("silence_ended", until.isoformat())]
            else:
                deadline = POLICY.deadline_s(a["priority"])
                notified = datetime.fromisoformat(a["notified_at"])
                due = None if deadline is None else notified + timedelta(seconds=deadline)
                if due is None or now < due:
                    assert evs == []
                else:  # at the first tick at or after the deadline, stamped with it
                    [e] = evs
                    assert e["ts"] == due.isoformat() and e["level"] == a["level"] + 1
                    assert e["type"] == ("escalated" if e["priority"] != a["priority"] else "renotified")


def test_an_alert_stored_before_deadlines_existed_is_carried_on():
    """State written by the previous engine (no notified_at / level / rule_escalated): conditions
    still apply, and the first tick starts its deadline."""
    state, _ = run(cond(priority="high"))
    for k in ("notified_at", "level", "rule_escalated"):
        del state["open"]["news2"][k]
    state, down = alert_on_condition(state, cond(priority="medium", t=5), at(5))
    assert types(down) == ["deescalated"]
    state, first = alert_on_tick(state, "P1", at(10), POLICY)
    assert first == [] and state["open"]["news2"]["notified_at"] == at(10).isoformat()
    state, later = alert_on_tick(state, "P1", at(310), POLICY)
    assert types(later) == ["renotified"]


def test_a_discharge_resolves_every_open_alert_whatever_its_state():
    """Active, latched-and-unacknowledged, silenced: each resolved once (origin discharge, the
    discharge's time and reason); the state is left empty; discharging again yields nothing."""
    state, _ = alert_on_condition({}, cond(priority="high"), at(0))
    state, _ = alert_on_condition(state, cond(priority="high", source="ecg.vf", latched=True), at(1))
    state, _ = alert_on_condition(state, cond(active=False, source="ecg.vf", t=2), at(2))  # latched
    before = json.loads(json.dumps(state))
    ts = at(60).isoformat()
    after, events = alert_on_discharge(state, "P1", ts, "discharged: to ward 7")
    assert state == before  # the input is not changed
    assert sorted((e["source"], e["type"], e["origin"], e["active"]) for e in events) == [
        ("ecg.vf", "resolved", "discharge", False),
        ("news2", "resolved", "discharge", False),
    ]
    assert {e["ts"] for e in events} == {ts} and {e["reason"] for e in events} == {"discharged: to ward 7"}
    assert {e["alert_id"] for e in events} == {a["alert_id"] for a in before["open"].values()}
    assert set(EVENT_TYPES) >= {e["type"] for e in events}
    assert after["open"] == {}
    again, none = alert_on_discharge(after, "P1", ts, "discharged")
    assert again["open"] == {} and none == []


def test_after_a_discharge_only_a_readmission_raises_and_the_mark_expires():
    """The discharge mark (no ghost alarm from a stay that ended): a condition at or before the
    discharge, a re-assertion too, changes nothing; an ended condition after it changes nothing
    either and keeps the mark; the first active one after it (here a re-assertion: the source's
    state was started by a late record of the ended stay) raises a new alarm and ends the mark.
    An earlier discharge time never moves the mark back. The mark alone expires
    DISCHARGE_MARK_S after its time."""
    state, _ = alert_on_condition({}, cond(priority="high", source="ecg.vtach"), at(0))
    out, [resolved] = alert_on_discharge(state, "P1", at(60).isoformat(), "discharged")
    assert resolved["type"] == "resolved" and out["discharged_ts"] == at(60).isoformat()
    assert alert_on_discharge(out, "P1", at(30).isoformat(), "idle")[0]["discharged_ts"] == at(60).isoformat()
    for c in (
        cond(priority="high", t=59),
        cond(priority="high", t=60),
        cond(priority="high", t=55, reassert=True),
    ):
        assert from_before_discharge(out, c)
        assert alert_on_condition(out, c, at(100)) == (out, [])
    ended, evs = alert_on_condition(out, cond(active=False, t=70), at(100))
    assert evs == [] and ended["discharged_ts"] == at(60).isoformat()
    back, evs = alert_on_condition(ended, cond(priority="high", t=120, reassert=True), at(120))
    assert types(evs) == ["raised"] and "discharged_ts" not in back
    assert evs[0]["alert_id"] != resolved["alert_id"]
    assert not from_before_discharge(back, cond(priority="high", t=10))
    assert not discharge_mark_expired(out, at(60 + DISCHARGE_MARK_S - 1))
    assert discharge_mark_expired(out, at(60 + DISCHARGE_MARK_S))
    assert not discharge_mark_expired(back, at(60 + 10 * DISCHARGE_MARK_S))  # readmitted


def test_conditions_published_again_after_a_crash_change_nothing():
    """A stream worker that dies re-processes its input since its last state checkpoint and
    publishes the same conditions again, as new records, after newer ones were applied: an old
    one must not raise, escalate or resolve anything (issue #18's checkpoints, #20's fault tests)."""
    first = [cond(t=1), cond(priority="high", t=2), cond(active=False, t=3)]
    later = [cond(t=10), cond(priority="high", t=11)]
    state, evs = run(*first, *later)
    for c in (*first, *later):  # the replay, in the original order
        state, again = alert_on_condition(state, c, at(100))
        assert again == []
    assert types(evs) == ["raised", "escalated", "resolved", "raised", "escalated"]
    assert [a["priority"] for a in state["open"].values()] == ["high"]
    # a new condition still counts, and the memory per source stays bounded
    for t in range(20, 20 + 2 * APPLIED_KEEP):
        state, _ = alert_on_condition(state, cond(active=t % 2 == 0, t=t), at(t))
    assert len(state["applied"]["news2"]) == APPLIED_KEEP


def test_a_conditions_standing_among_what_its_source_applied():
    """``condition_standing``: applied (a re-delivery), late (older than the newest its source
    applied: a passed-over record the agent dead-letters) or new; per source, and the same
    device time with another state is not late (only strictly older is)."""
    state, _ = run(cond(t=1), cond(priority="high", t=5))
    assert condition_standing(state, cond(t=1)) == "applied"
    assert condition_standing(state, cond(priority="high", t=5)) == "applied"
    assert condition_standing(state, cond(priority="high", t=3)) == "late"
    assert condition_standing(state, cond(active=False, t=5)) == "new"
    assert condition_standing(state, cond(active=False, t=6)) == "new"
    assert condition_standing(state, cond(t=3, source="deterioration")) == "new"
    assert condition_standing({}, cond(t=0)) == "new"
    # past the memory of APPLIED_KEEP conditions, an old one is late, not new
    for t in range(10, 10 + APPLIED_KEEP):
        state, _ = alert_on_condition(state, cond(active=t % 2 == 0, t=t), at(t))
    assert condition_standing(state, cond(t=1)) == "late"


def test_a_reassertion_heals_a_missed_raise_or_rise_and_nothing_else():
    """A source's unchanged level sent again (``reassert``): a no-op when the state has it; it
    raises an alarm whose raise was lost and escalates one whose rise was lost, saying so in the
    reason; it never lowers (a rule escalation stands), reactivates a latched alarm, resolves, or
    undoes an acknowledgement."""
    again = cond(priority="medium", t=60, reassert=True)
    state, evs = run(cond(), again)
    assert types(evs) == ["raised"] and "re-asserted" not in evs[0]["reason"]
    # the raise was lost
    _, evs = run(again)
    assert [(e["type"], e["priority"]) for e in evs] == [("raised", "medium")] and evs[0]["reason"].endswith(
        MISSED
    )
    # the rise was lost
    state, evs = run(cond(priority="low"), cond(priority="medium", t=60, reassert=True))
    assert [(e["type"], e["priority"]) for e in evs] == [("raised", "low"), ("escalated", "medium")]
    assert evs[1]["reason"] == "condition rose to medium" + MISSED
    # the fall was lost, or a rule escalated it: not lowered
    state, evs = run(cond(priority="high"), cond(priority="medium", t=60, reassert=True))
    assert types(evs) == ["raised"] and state["open"]["news2"]["priority"] == "high"
    state, _ = run(cond(priority="medium"))
    state, _ = alert_on_tick(state, "P1", at(301), POLICY)
    state, _ = alert_on_tick(state, "P1", at(602), POLICY)
    assert state["open"]["news2"]["priority"] == "high"  # the rule's escalation
    state, evs = alert_on_condition(state, cond(priority="medium", t=700, reassert=True), at(700))
    assert evs == [] and state["open"]["news2"]["priority"] == "high"
    # an acknowledged alarm stays acknowledged at the same priority
    state, evs = run(cond())
    state, _ = alert_on_action(state, act(evs[0]["alert_id"]), at(5), "nurse")
    state, evs = alert_on_condition(state, cond(t=60, reassert=True), at(60))
    assert evs == [] and state["open"]["news2"]["acknowledged"]
    # a latched alarm whose condition ended is not reactivated; an inactive re-assertion is nothing
    state, evs = run(cond(priority="high", latched=True), cond(active=False, t=10, latched=True))
    assert types(evs) == ["raised", "latched"]
    state, evs = alert_on_condition(state, cond(priority="high", t=60, latched=True, reassert=True), at(60))
    assert evs == [] and not state["open"]["news2"]["active"]
    state, evs = run(cond(), cond(active=False, t=60, reassert=True))
    assert types(evs) == ["raised"] and state["open"]["news2"]["active"]
