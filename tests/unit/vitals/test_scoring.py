from datetime import UTC, datetime, timedelta

from models.alarms.lifecycle import MISSED, alert_on_condition
from models.vitals.scoring import (
    NEWS2_STEP_DOWN_HOLD_S,
    news2_condition,
    news2_from_state,
    news2_inputs,
    vitals_points,
    vitals_state_update,
    vitals_step,
)
from wardwatch.records.conditions import REASSERT_S
from wardwatch.records.vitals import VitalsReading

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FULL = dict(hr_bpm=72, spo2_pct=97, rr_bpm=14, sbp_mmhg=124, dbp_mmhg=78, temp_c=36.8, o2="air", acvpu="A")


def reading(s: float = 0, **kw) -> VitalsReading:
    return VitalsReading(patient_id="P1", bed="B1", ts=T0 + timedelta(seconds=s), **kw)


def test_carry_forward_and_staleness():
    st = vitals_state_update({}, reading(0, **FULL))
    st = vitals_state_update(st, reading(60, hr_bpm=80))
    inputs, missing = news2_inputs(st, T0 + timedelta(seconds=60))
    assert missing == [] and inputs["hr_bpm"] == 80 and inputs["sbp_mmhg"] == 124
    # 10 minutes later with only HR: RR and SpO2 are older than 5 minutes -> incomplete
    st = vitals_state_update(st, reading(660, hr_bpm=81))
    inputs, missing = news2_inputs(st, T0 + timedelta(seconds=660))
    assert inputs is None and set(missing) == {"rr_bpm", "spo2_pct"}


def score(r):
    return news2_from_state(vitals_state_update({}, r), r.ts)


def test_incomplete_score_keeps_level():
    st = vitals_state_update({}, reading(0, hr_bpm=150))
    assert news2_from_state(st, T0) is None
    assert news2_condition(reading(0, hr_bpm=150), None, "medium", None) == ("medium", None, None)


def test_condition_only_on_change():
    r = reading(0, **{**FULL, "acvpu": "C"})
    level, since, cond = news2_condition(r, score(r), "none")
    assert level == "low" and since is None and cond.active and cond.priority == "low"
    assert cond.evidence["scored_components"] == {"consciousness": 3}
    assert news2_condition(r, score(r), "low") == ("low", None, None)


def test_rise_is_immediate_fall_waits_for_the_hold():
    hi = dict(FULL, acvpu="V", rr_bpm=22, spo2_pct=93)  # NEWS2 7
    level, since, cond = news2_condition(reading(0, **hi), score(reading(0, **hi)), "medium")
    assert (level, since, cond.priority) == ("high", None, "high")
    # back to normal: held at high until the lower level has lasted NEWS2_STEP_DOWN_HOLD_S
    level, since, cond = news2_condition(reading(10, **FULL), score(reading(10, **FULL)), "high")
    assert (level, cond) == ("high", None) and since == reading(10).ts.isoformat()
    level, since2, cond = news2_condition(reading(200, **FULL), score(reading(200, **FULL)), "high", since)
    assert (level, since2, cond) == ("high", since, None)
    # a relapse inside the hold resets it
    level, since3, cond = news2_condition(reading(250, **hi), score(reading(250, **hi)), "high", since)
    assert (level, since3, cond) == ("high", None, None)
    # a steady improvement for the whole hold resolves
    r = reading(10 + NEWS2_STEP_DOWN_HOLD_S, **FULL)
    level, since4, cond = news2_condition(r, score(r), "high", since)
    assert (level, since4) == ("none", None) and cond is not None and not cond.active


def test_step_down_to_a_lower_active_level_updates_priority():
    med = dict(FULL, hr_bpm=95, rr_bpm=22, temp_c=38.5, sbp_mmhg=105)  # NEWS2 5
    r = reading(400, **med)
    level, _, cond = news2_condition(r, score(r), "high", reading(0).ts.isoformat())
    assert level == "medium" and cond.active and cond.priority == "medium"


def test_points_have_patient_and_bed_tags():
    r = reading(0, **FULL)
    pts = vitals_points(r, news2_from_state(vitals_state_update({}, r), r.ts))
    assert [p["measurement"] for p in pts] == ["vitals", "news2"]
    assert all(p["tags"] == {"patient": "P1", "bed": "B1"} for p in pts)
    assert pts[0]["fields"]["on_oxygen"] is False and pts[1]["fields"]["score"] == 0
    assert pts[0]["time_ns"] == int(T0.timestamp()) * 10**9


LOW = dict(FULL, acvpu="C")  # a single parameter of 3: low
HIGH = dict(FULL, acvpu="V", rr_bpm=22, spo2_pct=93)  # NEWS2 7: high


def run_readings(script: list[tuple[float, dict]]) -> list[tuple[float, object]]:
    """Every condition ``vitals_step`` sends over ``(seconds, values)`` readings, with its time."""
    state: dict = {}
    out = []
    for s, values in script:
        state, conds, _ = vitals_step(state, reading(s, **values))
        out += [(s, c) for c in conds]
    return out


def test_an_active_level_is_reasserted_every_minute_of_device_time():
    """Readings every 20 s: low for 3 minutes, high for 3, then normal. Changes are sent at
    once; an unchanged active level again once REASSERT_S has passed since the last
    condition; nothing while a lower level is held (its evidence would not match) or at none."""
    script = [(t, LOW) for t in range(0, 180, 20)] + [(t, HIGH) for t in range(180, 360, 20)]
    script += [(t, FULL) for t in range(360, 360 + int(NEWS2_STEP_DOWN_HOLD_S) + 200, 20)]
    sent = [(s, c.active, c.priority, c.reassert) for s, c in run_readings(script)]
    assert REASSERT_S == 60
    assert sent == [
        (0, True, "low", False),
        (60, True, "low", True),
        (120, True, "low", True),
        (180, True, "high", False),
        (240, True, "high", True),
        (300, True, "high", True),
        (360 + NEWS2_STEP_DOWN_HOLD_S, False, "low", False),  # the hold: nothing re-asserted
    ]


def test_a_state_from_before_reassertion_reasserts_at_its_next_reading():
    state, conds, _ = vitals_step({}, reading(0, **HIGH))
    del state["news2_sent_ts"]  # as a state written before re-assertion existed
    state, conds, _ = vitals_step(state, reading(1, **HIGH))
    assert [(c.priority, c.reassert) for c in conds] == [("high", True)]
    state, conds, _ = vitals_step(state, reading(2, **HIGH))
    assert conds == []


def test_a_lost_rise_heals_within_a_minute():
    """The alarm's rise to high never reaches the alert component (stop 46's takeover failure):
    the next re-assertion escalates it, saying why, within REASSERT_S of device time; the
    resolution is then at high, as it should be."""
    script = [(t, LOW) for t in range(0, 120, 10)] + [(t, HIGH) for t in range(120, 300, 10)]
    script += [(t, FULL) for t in range(300, 300 + int(NEWS2_STEP_DOWN_HOLD_S) + 20, 10)]
    state: dict = {}
    events = []
    for s, cond in run_readings(script):
        if s == 120 and not cond.reassert:
            continue  # the rise, lost on its way
        state, evs = alert_on_condition(state, cond, T0 + timedelta(seconds=s))
        events += [(s, e["type"], e["priority"], e["reason"]) for e in evs]
    raised, escalated, resolved = events
    assert raised[:3] == (0, "raised", "low")
    assert escalated[:3] == (180, "escalated", "high") and escalated[3].endswith(MISSED)
    assert escalated[0] - 120 <= REASSERT_S
    assert resolved[1:3] == ("resolved", "high")
