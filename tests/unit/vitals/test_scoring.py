from datetime import datetime, timedelta, timezone

from streams.vitals.records import VitalsReading
from streams.vitals.scoring import (
    news2_condition,
    news2_from_state,
    news2_inputs,
    vitals_points,
    vitals_state_update,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
FULL = dict(hr_bpm=72, spo2_pct=97, rr_bpm=14, sbp_mmhg=124, dbp_mmhg=78, temp_c=36.8, o2="air",
            acvpu="A")


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


def test_incomplete_score_keeps_level():
    st = vitals_state_update({}, reading(0, hr_bpm=150))
    assert news2_from_state(st, T0) is None
    level, cond = news2_condition(reading(0, hr_bpm=150), None, "medium")
    assert (level, cond) == ("medium", None)


def test_condition_only_on_change():
    r = reading(0, **{**FULL, "acvpu": "C"})
    res = news2_from_state(vitals_state_update({}, r), r.ts)
    level, cond = news2_condition(r, res, "none")
    assert level == "low" and cond.active and cond.priority == "low"
    assert cond.evidence["scored_components"] == {"consciousness": 3}
    assert news2_condition(r, res, "low") == ("low", None)
    r2 = reading(1, **FULL)
    level, cond = news2_condition(r2, news2_from_state(vitals_state_update({}, r2), r2.ts), "low")
    assert level == "none" and cond is not None and not cond.active


def test_points_have_patient_and_bed_tags():
    r = reading(0, **FULL)
    pts = vitals_points(r, news2_from_state(vitals_state_update({}, r), r.ts))
    assert [p["measurement"] for p in pts] == ["vitals", "news2"]
    assert all(p["tags"] == {"patient": "P1", "bed": "B1"} for p in pts)
    assert pts[0]["fields"]["on_oxygen"] is False and pts[1]["fields"]["score"] == 0
    assert pts[0]["time_ns"] == int(T0.timestamp()) * 10**9
