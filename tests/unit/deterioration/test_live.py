"""The live step: a risk point every minute, one condition per crossing, cleared once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np

from models.deterioration.features import feature_names
from models.deterioration.live import MIN_DWELL_S, deterioration_step
from models.deterioration.model import DeteriorationModel
from wardwatch.records.conditions import REASSERT_S

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _hr_model() -> DeteriorationModel:
    """A transparent model: logit = (HR_last - 100) / 10, so p >= 0.5 exactly when HR >= 100."""
    names = feature_names("vitals")
    coef = np.zeros(len(names))
    coef[names.index("HR_last")] = 1.0
    mean = np.zeros(len(names))
    mean[names.index("HR_last")] = 100.0
    scale = np.ones(len(names))
    scale[names.index("HR_last")] = 10.0
    return DeteriorationModel(
        version="test-hr",
        feature_set="vitals",
        feature_names=names,
        mean=mean.tolist(),
        scale=scale.tolist(),
        coef=coef.tolist(),
        intercept=0.0,
        calib_a=1.0,
        calib_b=0.0,
        threshold=0.5,
        clear_threshold=0.35,
    )


def _run(hr_by_minute: list[float], model: DeteriorationModel, news2=None):
    from wardwatch.records.vitals import VitalsReading

    state, points, conds = None, [], []
    for m, hr in enumerate(hr_by_minute):
        for s in range(0, 60, 10):  # a reading every 10 s
            r = VitalsReading(
                patient_id="P1",
                bed="B1",
                ts=T0 + timedelta(minutes=m, seconds=s),
                hr_bpm=hr,
                spo2_pct=97,
                rr_bpm=16,
            )
            state, p, c = deterioration_step(state, r, news2, model=model)
            points += p
            conds += c
    return state, points, conds


def test_one_condition_per_crossing_and_one_clear() -> None:
    # The hourly bucket holds the running mean of the hour, so use one hour per phase.
    hr = [80.0] * 60 + [140.0] * 60 + [60.0] * 120
    state, points, every = _run(hr, _hr_model())
    conds = [c for c in every if not c.reassert]
    assert [c.active for c in conds] == [True, False]
    raised, cleared = conds
    # while raised, the alert is re-asserted at every score (one a minute: REASSERT_S), unchanged
    again = [c for c in every if c.reassert]
    t_again = [datetime.fromisoformat(c.ts) for c in again]
    assert again and all(c.active and c.priority == raised.priority for c in again)
    assert datetime.fromisoformat(raised.ts) < t_again[0] < t_again[-1] < datetime.fromisoformat(cleared.ts)
    assert all((b - a).total_seconds() >= REASSERT_S for a, b in pairwise(t_again))
    assert len(every) == len(conds) + len(again)
    assert raised.source == "deterioration" and raised.priority == "medium"
    assert raised.evidence["probability"] >= 0.5
    assert raised.evidence["top_features"][0]["feature"] == "HR_last"
    assert raised.versions == {"deterioration": "test-hr"}
    t_raise = datetime.fromisoformat(raised.ts)
    t_clear = datetime.fromisoformat(cleared.ts)
    assert (t_clear - t_raise).total_seconds() >= MIN_DWELL_S
    # one risk point per minute of device time, each carrying the probability
    assert len(points) == len(hr)
    assert all(p["measurement"] == "risk" and "probability" in p["fields"] for p in points)
    json.dumps(state)  # the state goes into a Faust table


def test_no_flapping_around_the_threshold() -> None:
    # One reading per hour, so each score sees exactly that hour's HR (p = sigmoid((HR-100)/10)).
    from wardwatch.records.vitals import VitalsReading

    model = _hr_model()
    hrs = [
        80,
        140,
        140,  # raise needs two consecutive scores >= 0.5: raised at hour 3
        95,
        105,
        90,
        105,  # band / brief dips below clear (p 0.27): stays raised
        60,
        60,
        60,
        60,
        99,  # 4 below clear, then back into the band: stays raised
        60,
        60,
        60,
        60,
        60,  # 5 consecutive below clear: cleared once
        98,
        101,
        90,
    ]  # one score above threshold is not enough to raise again
    state, active, again = None, [], []
    for h, hr in enumerate(hrs):
        r = VitalsReading(patient_id="P1", bed="B1", ts=T0 + timedelta(hours=h), hr_bpm=hr)
        state, _, conds = deterioration_step(state, r, None, model=model)
        active += [(h, c.active) for c in conds if not c.reassert]
        again += [h for c in conds if c.reassert]
    assert active == [(2, True), (16, False)]
    assert again == list(range(3, 16))  # re-asserted at every score while raised


def test_evidence_carries_news2_at_that_moment() -> None:
    news2 = {"score": 7, "band": "7+", "risk": "high"}
    _, _, conds = _run([80.0] * 60 + [140.0] * 10, _hr_model(), news2=news2)
    assert conds[0].evidence["news2"] == news2
    assert "NEWS2 7" in conds[0].message


def test_deployed_artifact_scores_a_septic_trajectory() -> None:
    from simulators.trajectories import load_trajectories, trajectory_readings

    traj = load_trajectories(septic=True)[0]
    state, n_points = None, 0
    readings = list(trajectory_readings(traj, step_s=30.0, hours=3))
    for r in readings:
        state, pts, _ = deterioration_step(state, r, None)
        n_points += len(pts)
    minutes = (readings[-1].ts - readings[0].ts).total_seconds() / 60
    assert n_points >= minutes - 1  # at least one score per minute of device time
    assert 0.0 <= state["prob"] <= 1.0


def test_lab_models_use_labs_from_the_labs_topic_and_vitals_model_ignores_them() -> None:
    from models.deterioration.live import deterioration_lab, live_init
    from models.deterioration.model import load_model
    from wardwatch.records.labs import LabResult
    from wardwatch.records.vitals import VitalsReading

    full, vitals, labs = load_model("full"), load_model("vitals"), load_model("labs")
    assert (full.feature_set, vitals.feature_set, labs.feature_set) == ("full", "vitals", "labs")
    reading = VitalsReading(
        patient_id="P1",
        bed="B1",
        ts=T0 + timedelta(minutes=10),
        hr_bpm=112,
        spo2_pct=94,
        rr_bpm=24,
        sbp_mmhg=95,
        dbp_mmhg=55,
        temp_c=38.4,
    )
    lactate = LabResult(patient_id="P1", ts=T0, test="Lactate", value=6.5, unit="mmol/L").to_dict()
    probs = {}
    for name, model in (("full", full), ("vitals", vitals), ("labs", labs)):
        for with_lab in (False, True):
            state = live_init()
            state["features"]["t0"] = T0.timestamp()
            if with_lab:
                state = deterioration_lab(state, lactate)
            state, _, _ = deterioration_step(state, reading, None, model=model)
            probs[name, with_lab] = state["prob"]
    assert probs["full", True] > probs["full", False]  # a lactate of 6.5 raises the risk
    # the labs model reads it too (its learned lactate effect is not monotonic: model card)
    assert probs["labs", True] != probs["labs", False]
    assert probs["vitals", True] == probs["vitals", False]  # the monitor-only model ignores it
