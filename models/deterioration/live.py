"""The live deterioration step the vitals agent calls for every reading (pure, no faust).

``deterioration_step(state, reading, news2, now) -> (state, points, conditions)``:

* feeds the reading into the shared hourly feature state (:mod:`models.deterioration.features`,
  the same code that built the training matrix);
* scores the patient when ``SCORE_EVERY_S`` (60 s) of device time have passed since the last
  score (and on the first reading), emitting one ``risk`` point per score;
* raises a ``deterioration`` :class:`Condition` when the calibrated probability is at or above
  the threshold chosen on validation patients for ``RAISE_AFTER`` consecutive scores, and clears
  it when it is below the lower ``clear_threshold`` for ``CLEAR_AFTER`` consecutive scores and
  the alert has been active for at least ``MIN_DWELL_S`` (hysteresis: no flapping). Conditions
  are sent only on changes (became active / became inactive). Warm-up: no alert is raised in the
  first ``GRACE_S`` (30 min) of device time after the patient's first reading (the hourly features
  need data; risk points are written from the first score).

The state is a JSON-serialisable dict (it lives in a Faust table keyed by patient id).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, NotRequired, TypedDict

import numpy as np

from models.deterioration.features import (
    FeatureState,
    features_admit,
    features_init,
    features_update,
    features_vector,
)
from models.deterioration.model import DeteriorationModel, load_model
from wardwatch.records.conditions import REASSERT_S, Condition
from wardwatch.records.points import point
from wardwatch.records.vitals import VitalsReading

log = logging.getLogger(__name__)

SOURCE = "deterioration"
SCORE_EVERY_S = 60.0
RAISE_AFTER = 2  # consecutive scores >= threshold before raising
CLEAR_AFTER = 5  # consecutive scores < clear_threshold before clearing
MIN_DWELL_S = 30 * 60.0  # an active alert stays at least this long
GRACE_S = 30 * 60.0  # warm-up: no alert before 30 min of device time since the first reading
PRIORITY = "medium"  # prompt response (IEC 60601-1-8); NEWS2 carries the emergency levels
TOP_FEATURES = 5


class LiveState(TypedDict):
    """The per-patient live state: a plain JSON-serialisable dict (a Faust table value)."""

    features: FeatureState  # the hourly feature state (models.deterioration.features)
    first_s: float | None  # device time (epoch s) of the first reading
    last_score_s: float | None  # device time of the last score
    prob: float | None  # the last calibrated probability
    active: bool  # the deterioration alert is raised
    above: int  # consecutive scores >= threshold
    below: int  # consecutive scores < clear_threshold
    active_since_s: float | None  # device time the alert was raised
    sent_s: NotRequired[float | None]  # device time of the last condition sent (re-assertion)


def live_init() -> LiveState:
    """A fresh per-patient live state."""
    return {
        "features": features_init(),
        "first_s": None,
        "last_score_s": None,
        "prob": None,
        "active": False,
        "above": 0,
        "below": 0,
        "active_since_s": None,
        "sent_s": None,
    }


def deterioration_lab(state: LiveState | None, lab: Mapping[str, Any]) -> LiveState:
    """Feed one laboratory result (``LabResult.to_dict()``) into the patient's live state.

    The result lands in the hourly feature state (the ``labs`` and ``full`` feature sets read
    it; the ``vitals`` model ignores labs); the next vitals reading's score uses it.
    """
    state = state if state is not None else live_init()
    features_update(state["features"], lab)
    return state


def deterioration_admit(state: LiveState | None, age_years: float, sex: str, admit_ts: datetime) -> LiveState:
    """Record an admission (age, sex, ICU admission time) in the patient's live state.

    A late admission renumbers the ICU hours already counted from the first reading
    (:func:`features_admit`).
    """
    state = state if state is not None else live_init()
    features_admit(state["features"], age_years=age_years, sex=sex, admit_ts=admit_ts)
    return state


def _news2_summary(news2: object) -> dict[str, Any] | None:
    if news2 is None:
        return None
    if isinstance(news2, Mapping):
        return {k: news2.get(k) for k in ("score", "band", "risk")}
    return {
        "score": getattr(news2, "score", None),
        "band": getattr(news2, "band", None),
        "risk": getattr(news2, "risk", None),
    }


def deterioration_step(
    state: LiveState | None,
    reading: VitalsReading,
    news2: object,
    now: datetime | None = None,
    model: DeteriorationModel | None = None,
) -> tuple[LiveState, list[dict[str, Any]], list[Condition]]:
    """Update features with one reading; score every minute; raise / clear with hysteresis.

    Parameters
    ----------
    state : LiveState or None
        The patient's live state from the table (None for a new patient).
    reading : VitalsReading
        A validated reading.
    news2 : News2Result, dict or None
        The NEWS2 result at this moment (shown in the alert evidence), if any.
    now : datetime, optional
        Device time that drives the scoring schedule; defaults to ``reading.ts``.
    model : DeteriorationModel, optional
        Defaults to the deployed artifact.

    Returns
    -------
    (state, points, conditions)
        The new state, ``risk`` points for the InfluxDB sink, and conditions for the alert
        component (empty unless the alert state changed).

    Examples
    --------
    >>> from simulators.trajectories import load_trajectories, trajectory_readings
    >>> traj = load_trajectories()[0]
    >>> state = None
    >>> for r in trajectory_readings(traj, step_s=60.0, hours=2):
    ...     state, pts, conds = deterioration_step(state, r, None)
    >>> pts[0]["measurement"]
    'risk'
    """
    model = model or load_model()
    state = state if state is not None else live_init()
    features_update(state["features"], reading.to_dict())
    t = (now or reading.ts).timestamp()
    first_s = state["first_s"]
    if first_s is None:
        first_s = state["first_s"] = t
    last = state["last_score_s"]
    if last is not None and t - last < SCORE_EVERY_S:
        return state, [], []
    state["last_score_s"] = t
    x = features_vector(state["features"], model.feature_set)
    prob = float(model.predict_proba(x.reshape(1, -1))[0])
    state["prob"] = prob
    if prob >= model.threshold:
        state["above"] += 1
        state["below"] = 0
    elif prob < model.clear_threshold:
        state["below"] += 1
        state["above"] = 0
    else:  # in the hysteresis band: hold
        state["above"] = 0
        state["below"] = 0
    conditions: list[Condition] = []
    ts_iso = reading.ts_iso
    warm = t - first_s >= GRACE_S
    if not state["active"] and state["above"] >= RAISE_AFTER and warm:
        state["active"] = True
        state["active_since_s"] = t
        conditions.append(_condition(reading, model, prob, x, news2, True, ts_iso))
    elif (
        state["active"]
        and state["below"] >= CLEAR_AFTER
        and t - (state["active_since_s"] or t) >= MIN_DWELL_S
    ):
        state["active"] = False
        state["active_since_s"] = None
        conditions.append(_condition(reading, model, prob, x, news2, False, ts_iso))
    elif state["active"] and t - (state.get("sent_s") or -math.inf) >= REASSERT_S:
        # the raised alert sent again (see wardwatch.records.conditions.REASSERT_S): a raise lost
        # on its way to the alert component is healed at the next score
        conditions.append(replace(_condition(reading, model, prob, x, news2, True, ts_iso), reassert=True))
    if conditions:
        state["sent_s"] = t
    icu_hour = state["features"]["hour"]
    assert icu_hour is not None, "features_update sets the hour"
    pts = [
        point(
            "risk",
            {"patient": reading.patient_id, "bed": reading.bed},
            {
                "probability": round(prob, 5),
                "threshold": model.threshold,
                "alert": int(state["active"]),
                "icu_hour": int(icu_hour),
            },
            reading.ts,
        )
    ]
    return state, pts, conditions


def _condition(
    reading: VitalsReading,
    model: DeteriorationModel,
    prob: float,
    x: np.ndarray,
    news2: object,
    active: bool,
    ts_iso: str,
) -> Condition:
    n2 = _news2_summary(news2)
    evidence: dict[str, Any] = {
        "probability": round(prob, 4),
        "threshold": model.threshold,
        "clear_threshold": model.clear_threshold,
        "news2": n2,
        "top_features": model.explain(x, TOP_FEATURES),
    }
    n2txt = f"; NEWS2 {n2['score']}" if n2 and n2.get("score") is not None else ""
    if active:
        msg = f"Deterioration risk {prob:.1%} (alert threshold {model.threshold:.1%}){n2txt}: " + ", ".join(
            f["feature"] for f in evidence["top_features"][:3]
        )
    else:
        msg = f"Deterioration risk back to {prob:.1%} (clear below {model.clear_threshold:.1%})"
    return Condition(
        patient_id=reading.patient_id,
        bed=reading.bed,
        source=SOURCE,
        active=active,
        priority=PRIORITY,
        ts=ts_iso,
        message=msg,
        evidence=evidence,
        versions={SOURCE: model.version},
    )
