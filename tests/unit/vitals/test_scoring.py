from datetime import UTC, datetime, timedelta

from models.vitals.scoring import (
    NEWS2_STEP_DOWN_HOLD_S,
    news2_condition,
    news2_from_state,
    news2_inputs,
    vitals_points,
    vitals_state_update,
)
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
