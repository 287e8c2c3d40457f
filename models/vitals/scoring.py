"""Per-patient vitals state and the NEWS2 alert condition: pure functions over plain dicts.

Monitors send parameters at different rates (HR/SpO2/RR every second, NIBP every few minutes,
temperature and ACVPU when charted), so NEWS2 is scored on the latest value of each parameter,
provided it is recent enough (:data:`MAX_AGE_S`). A parameter older than its limit makes the score
incomplete: no NEWS2 is produced rather than one built on stale data.

The state is a JSON-serialisable dict (it lives in a changelog-backed Faust table)::

    {"last_ts": iso, "last_reading": {...}, "values": {"hr_bpm": [72.0, iso], ...},
     "spo2_scale": 1, "news2_level": "none" | "low" | "medium" | "high",
     "news2_lower_since": iso | None, "news2_sent_ts": iso, "n": 123}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypedDict

from models.deterioration.live import LiveState
from models.vitals.news2 import News2Result, news2_score
from wardwatch.records.conditions import REASSERT_S, Condition
from wardwatch.records.points import point
from wardwatch.records.vitals import VitalsReading

NEWS2_VERSION = "news2-rcp-2017"


class VitalsState(TypedDict, total=False):
    """One patient's vitals state (the ``vitals-state`` table value; every key optional, a new
    patient's state is ``{}``)."""

    last_ts: str  # device time of the last accepted reading (ISO)
    last_reading: dict[str, Any]  # that reading (duplicate check)
    values: dict[str, list[Any]]  # parameter -> [value, ISO time it was measured]
    spo2_scale: int
    bed: str
    n: int  # readings accepted
    news2_level: str  # "none" | "low" | "medium" | "high"
    news2_lower_since: str | None  # when a lower level was first seen (hysteresis)
    news2_sent_ts: str  # device time of the last NEWS2 condition sent (re-assertion)
    deterioration: LiveState | None  # models.deterioration.live state
    partition: int  # input partition and offset of the last reading taken in (set by the
    offset: int  # agent: re-delivered readings are recognised by them)


#: ``deterioration(state, reading, news2) -> (state, points, conditions)``
DeteriorationStep = Callable[
    [LiveState | None, VitalsReading, News2Result | None],
    tuple[LiveState, list[dict[str, Any]], list[Condition]],
]

# How long a charted value stays usable for NEWS2, in seconds of device time.
MAX_AGE_S: dict[str, float] = {
    "hr_bpm": 300,
    "spo2_pct": 300,
    "rr_bpm": 300,
    "sbp_mmhg": 3600,
    "temp_c": 4 * 3600,
    "o2": 12 * 3600,
    "acvpu": 12 * 3600,
}
NEWS2_INPUTS = ("rr_bpm", "spo2_pct", "o2", "sbp_mmhg", "hr_bpm", "acvpu", "temp_c")

# NEWS2 clinical risk (RCP 2017 Chart 2) -> alert priority (IEC 60601-1-8 vocabulary).
# high risk (>=7): emergency response -> high; medium (5-6): urgent response -> medium;
# low-medium (3 in one parameter): urgent ward-based review -> low; low: no alert.
RISK_TO_LEVEL = {"high": "high", "medium": "medium", "low-medium": "low", "low": "none"}
LEVELS = ("none", "low", "medium", "high")
# A lower NEWS2 level must persist this long (device time) before the alert steps down.
NEWS2_STEP_DOWN_HOLD_S = 300.0


def vitals_state_update(state: VitalsState, reading: VitalsReading) -> VitalsState:
    """Fold one validated, in-order reading into the patient's state (returns a new dict)."""
    ts = reading.ts_iso
    values = dict(state.get("values", {}))
    for name, v in reading.measurements().items():
        values[name] = [v, ts]
    return {
        **state,
        "last_ts": ts,
        "last_reading": reading.to_dict(),
        "values": values,
        "spo2_scale": reading.spo2_scale,
        "bed": reading.bed,
        "n": int(state.get("n", 0)) + 1,
    }


def news2_inputs(state: VitalsState, at: datetime) -> tuple[dict[str, Any] | None, list[str]]:
    """The NEWS2 inputs from the state at time ``at``, or ``(None, missing_or_stale)``."""
    values = state.get("values", {})
    missing: list[str] = []
    got: dict[str, Any] = {}
    for name in NEWS2_INPUTS:
        entry = values.get(name)
        if entry is None:
            missing.append(name)
            continue
        v, ts = entry
        if (at - datetime.fromisoformat(ts)).total_seconds() > MAX_AGE_S[name]:
            missing.append(name)
            continue
        got[name] = v
    if missing:
        return None, missing
    return {
        "rr_bpm": got["rr_bpm"],
        "spo2_pct": got["spo2_pct"],
        "spo2_scale": int(state.get("spo2_scale", 1)),
        "on_oxygen": got["o2"] == "oxygen",
        "sbp_mmhg": got["sbp_mmhg"],
        "hr_bpm": got["hr_bpm"],
        "acvpu": got["acvpu"],
        "temp_c": got["temp_c"],
    }, []


def news2_from_state(state: VitalsState, at: datetime) -> News2Result | None:
    inputs, _ = news2_inputs(state, at)
    return None if inputs is None else news2_score(**inputs)


def news2_level(result: News2Result | None) -> str:
    """Alert level for a NEWS2 result: "none", "low", "medium" or "high"."""
    return "none" if result is None else RISK_TO_LEVEL[result.risk]


def news2_condition(
    reading: VitalsReading,
    result: News2Result | None,
    prev_level: str,
    lower_since: str | None = None,
    hold_s: float = NEWS2_STEP_DOWN_HOLD_S,
) -> tuple[str, str | None, Condition | None]:
    """Next alert level, the time a lower level was first seen, and the Condition to send.

    Rising is immediate: a higher level sends a Condition at once. Falling has hysteresis: the
    lower level must persist for ``hold_s`` seconds of device time before the alert steps down
    (or resolves), so noise around a band edge does not make the alarm flap (alarm fatigue:
    Sendelbach & Funk, AACN Adv Crit Care 2013). An incomplete score (a parameter missing or
    stale) changes nothing: the alert neither resolves nor escalates on missing data.
    """
    if result is None:
        return prev_level, lower_since, None
    level = news2_level(result)
    rank = LEVELS.index
    if rank(level) >= rank(prev_level):
        if level == prev_level:
            return level, None, None
        return level, None, _news2_condition(reading, result, level)
    ts = reading.ts_iso
    if lower_since is None:
        return prev_level, ts, None
    if (reading.ts - datetime.fromisoformat(lower_since)).total_seconds() < hold_s:
        return prev_level, lower_since, None
    return level, None, _news2_condition(reading, result, level)


def news2_reassertion(
    reading: VitalsReading,
    result: News2Result | None,
    level: str,
    lower_since: str | None,
    sent_ts: str | None,
    every_s: float = REASSERT_S,
) -> Condition | None:
    """The active NEWS2 level sent again (``reassert=True``), when ``every_s`` of device time
    (:data:`~wardwatch.records.conditions.REASSERT_S`: an alarm whose raise or rise never reached
    the alert component is at the patient's level within it; not part of NEWS2) passed since the
    last NEWS2 condition (``sent_ts``; None: none recorded, as in a state from
    before re-assertion). Only for a complete score at the alarm's own level: not while a lower
    level is held (``lower_since``), whose evidence would not match the level sent."""
    if result is None or level == "none" or lower_since is not None or news2_level(result) != level:
        return None
    if sent_ts is not None and (reading.ts - datetime.fromisoformat(sent_ts)).total_seconds() < every_s:
        return None
    return replace(_news2_condition(reading, result, level), reassert=True)


def _news2_condition(reading: VitalsReading, result: News2Result, level: str) -> Condition:
    if level == "none":
        return Condition(
            patient_id=reading.patient_id,
            bed=reading.bed,
            source="news2",
            active=False,
            priority="low",
            ts=reading.ts_iso,
            message=f"NEWS2 {result.score}: back in the low band",
            evidence={"news2": result.to_dict(), "reading": reading.to_dict()},
            versions={"news2": NEWS2_VERSION},
        )
    scored = {k: v for k, v in result.components.items() if v > 0}
    what = {
        "high": "NEWS2 >= 7 (high clinical risk)",
        "medium": "NEWS2 5-6 (medium clinical risk)",
        "low": "a single NEWS2 parameter scores 3",
    }[level]
    return Condition(
        patient_id=reading.patient_id,
        bed=reading.bed,
        source="news2",
        active=True,
        priority=level,
        ts=reading.ts_iso,
        message=f"NEWS2 {result.score}: {what}. {result.response}",
        evidence={"news2": result.to_dict(), "scored_components": scored, "reading": reading.to_dict()},
        versions={"news2": NEWS2_VERSION},
    )


def vitals_points(reading: VitalsReading, result: News2Result | None) -> list[dict[str, Any]]:
    """InfluxDB points for one reading: ``vitals`` (its measurements) and ``news2``."""
    tags = {"patient": reading.patient_id, "bed": reading.bed}
    fields: dict[str, Any] = {}
    for k, v in reading.measurements().items():
        if k == "o2":
            fields["on_oxygen"] = v == "oxygen"
        elif k == "acvpu":
            fields["acvpu"] = v
        else:
            fields[k] = float(v)
    if reading.spo2_pct is not None:
        fields["spo2_scale"] = reading.spo2_scale
    out = [point("vitals", tags, fields, reading.ts)]
    if result is not None:
        nf: dict[str, Any] = {"score": result.score, "band": result.band, "risk": result.risk}
        nf.update({f"c_{k}": v for k, v in result.components.items()})
        out.append(point("news2", tags, nf, reading.ts))
    return out


def vitals_step(
    state: VitalsState,
    reading: VitalsReading,
    deterioration: DeteriorationStep | None = None,
) -> tuple[VitalsState, list[Condition], list[dict[str, Any]]]:
    """One validated, in-order reading through every vitals scorer: the patient's state, NEWS2
    with its alert hysteresis, and the deterioration model (``deterioration(state, reading,
    news2) -> (state, points, conditions)``, e.g. :func:`models.deterioration.live.
    deterioration_step`; None to skip it). Returns the new state, the alert conditions and the
    InfluxDB points; ``state`` is not modified.
    """
    state = vitals_state_update(state, reading)
    result = news2_from_state(state, reading.ts)
    level, lower_since, condition = news2_condition(
        reading, result, state.get("news2_level", "none"), state.get("news2_lower_since")
    )
    state["news2_level"], state["news2_lower_since"] = level, lower_since
    if condition is None:
        condition = news2_reassertion(reading, result, level, lower_since, state.get("news2_sent_ts"))
    if condition is not None:
        state["news2_sent_ts"] = reading.ts_iso
    conditions = [condition] if condition else []
    points = vitals_points(reading, result)
    if deterioration is not None:
        state["deterioration"], det_points, det_conditions = deterioration(
            state.get("deterioration"), reading, result
        )
        points += det_points
        conditions += det_conditions
    return state, conditions, points
