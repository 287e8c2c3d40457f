from datetime import UTC, datetime

import pytest

from streams.alerts.engine import alert_on_action, alert_on_condition, alert_points
from wardwatch.records.conditions import Condition


def cond(active=True, priority="medium", ts="2026-11-25T12:00:00+00:00", source="news2", latched=False):
    return Condition(
        patient_id="P1",
        bed="B1",
        source=source,
        active=active,
        priority=priority,
        ts=ts,
        message="m",
        latched=latched,
        evidence={"x": 1},
    )


def run(*conds):
    state, out = {}, []
    for c in conds:
        state, evs = alert_on_condition(state, c)
        out += evs
    return state, out


def test_raise_once_escalate_resolve():
    state, evs = run(
        cond(),
        cond(ts="2026-11-25T12:00:01+00:00"),
        cond(priority="high", ts="2026-11-25T12:00:02+00:00"),
        cond(priority="medium", ts="2026-11-25T12:00:03+00:00"),
        cond(active=False, ts="2026-11-25T12:00:04+00:00"),
    )
    assert [e["type"] for e in evs] == ["raised", "escalated", "resolved"]
    assert len({e["alert_id"] for e in evs}) == 1
    assert [e["priority"] for e in evs] == ["medium", "high", "medium"]
    assert state == {"open": {}}


def test_ids_are_deterministic_and_redelivery_is_silent():
    _, a = run(cond())
    _, b = run(cond())
    assert a[0]["alert_id"] == b[0]["alert_id"] and a[0]["event_id"] == b[0]["event_id"]
    _, c = run(cond(ts="2026-11-25T13:00:00+00:00"))
    assert c[0]["alert_id"] != a[0]["alert_id"]
    _, d = run(cond(), cond())  # same condition delivered twice
    assert len(d) == 1


def test_sources_are_independent():
    _, evs = run(cond(source="news2"), cond(source="ecg.vtach", priority="high"))
    assert [e["source"] for e in evs] == ["news2", "ecg.vtach"]
    assert evs[0]["alert_id"] != evs[1]["alert_id"]


def test_latched_alarm_needs_acknowledgement():
    now = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    state, evs = run(
        cond(source="ecg.vtach", priority="high", latched=True),
        cond(source="ecg.vtach", active=False, priority="high", latched=True),
    )
    assert [e["type"] for e in evs] == ["raised", "latched"]
    aid = evs[0]["alert_id"]
    state, evs2 = alert_on_action(
        state, {"patient_id": "P1", "alert_id": aid, "action": "acknowledge", "by": "nurse-7"}, now
    )
    assert [e["type"] for e in evs2] == ["acknowledged", "resolved"]
    assert evs2[0]["by"] == "nurse-7" and state["open"] == {}


def test_ack_active_then_resolve_and_silence():
    now = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    state, evs = run(cond(latched=True))
    aid = evs[0]["alert_id"]
    state, s = alert_on_action(
        state, {"patient_id": "P1", "alert_id": aid, "action": "silence", "duration_s": 60}, now
    )
    assert s[0]["type"] == "silenced" and s[0]["silenced_until"].startswith("2026-11-25T12:06")
    state, a = alert_on_action(state, {"patient_id": "P1", "alert_id": aid, "action": "acknowledge"}, now)
    assert [e["type"] for e in a] == ["acknowledged"]
    state, r = alert_on_condition(state, cond(active=False, ts="2026-11-25T12:06:00+00:00"))
    assert [e["type"] for e in r] == ["resolved"]  # acknowledged latched alarm resolves at once


def test_bad_actions_raise():
    now = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown action"):
        alert_on_action({}, {"patient_id": "P1", "alert_id": "x", "action": "delete"}, now)
    with pytest.raises(ValueError, match="no open alert"):
        alert_on_action({}, {"patient_id": "P1", "alert_id": "x", "action": "acknowledge"}, now)


def test_condition_validates_priority():
    with pytest.raises(ValueError, match="priority"):
        cond(priority="urgent")


def test_alert_points():
    _, evs = run(cond())
    (p,) = alert_points(evs)
    assert p["measurement"] == "alerts" and p["tags"]["type"] == "raised"
    assert p["tags"]["patient"] == "P1" and p["fields"]["alert_id"] == evs[0]["alert_id"]
