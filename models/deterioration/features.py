"""Deterioration-model features: ONE implementation for training, evaluation and the live stream.

The PhysioNet/CinC 2019 challenge data (Reyna MA et al., Crit Care Med 48(2):210-217, 2020) has
one row per ICU hour; a bedside monitor sends a reading every second. Both go through the same
two functions over a per-patient, JSON-serialisable state dict (it lives in a Faust table):

``features_update(state, record) -> state``
    ``record`` is either a challenge row (a mapping with ``ICULOS`` and the challenge column
    names, NaN or None = not measured) or a stream record: a ``VitalsReading``-shaped dict
    (``ts`` + ``hr_bpm``, ``spo2_pct``, ...) or a lab result dict (``ts`` + ``test`` +
    ``value``, see ``wardwatch/records/labs.py``).
``features_vector(state, feature_set) -> np.ndarray``
    the model input after everything fed so far.

Hourly buckets (how training and streaming features match)
----------------------------------------------------------
The state keeps one *open* bucket for the current ICU hour, holding the running mean of every
variable measured in that hour, and a short history of *closed* hourly values. A challenge row
is one complete bucket (its hour is ``ICULOS``); stream readings fall into hour
``1 + floor((ts - t0) / 3600 s)`` where ``t0`` is the ICU admission time (by default the first
reading's time, i.e. the first reading is in ICU hour 1, as in the challenge). When a record of a
later hour arrives, the open bucket is closed into the history. ``features_vector`` always treats
the open bucket as the latest hour, so after the last reading of hour *h* the stream state yields
exactly the vector that the challenge row of hour *h* yields (the running mean of identical
values is that value, bit for bit). Within an hour the stream vector is the hour-so-far version.
A reading older than the open hour is added to the open bucket (late data is not re-bucketed).

Demographics: ``features_admit(state, age_years=..., sex=..., admit_ts=...)`` records what an
admission (ADT) message supplies; challenge rows carry ``Age``/``Gender`` themselves. They and
the lab results are used by the ``"labs"`` and ``"full"`` feature sets (reference values until
they arrive); the ``"vitals"`` set needs nothing but the monitor.

MAP: challenge rows carry a measured MAP (arterial line or NIBP); a ``VitalsReading`` has no MAP
field, so the stream uses ``map_mmhg`` when a record has one, else derives MAP = (SBP + 2 DBP) / 3
from a reading that has both. The challenge rows use the same derivation when MAP is missing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

import numpy as np

from wardwatch.records.labs import LAB_RANGES, LABS

log = logging.getLogger(__name__)

STATE_VERSION = 1
WINDOW_H = 6  # trend / variability window, hours (inclusive of the current hour)
GAP_CAP_H = 24.0  # hours-since-last-measurement cap (and value for "never measured")
LAB_GAP_CAP_H = 72.0
# Time since admission is capped: in the challenge data the records of non-septic patients end
# by ~60 h of ICU stay while septic ones run on, so an uncapped ICU hour would let a model learn
# "long record = sepsis", a data-extraction artefact that fires on every long stay in a real ICU.
ICULOS_CAP_H = 48
ICULOS_STEPS_H = tuple(range(2, ICULOS_CAP_H, 2))  # thermometer steps of the capped ICU hour
GAP_STEPS_H = (0, 1, 2, 4, 8)  # thermometer steps of hours since measured
FRAC_STEPS = (1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6)  # of hours measured in the 6-h window

VITALS = ("HR", "O2Sat", "Temp", "SBP", "MAP", "DBP", "Resp")
# Vitals whose measurement cadence (hours since measured, never measured, fraction of hours
# measured) is NOT a feature. In hospital A's chart a temperature charted in most hours goes with
# lower risk; a temperature probe reports every hour, and with those features the model's
# probabilities halved on probe-fed test patients (utility 0.334 -> 0.251; model card,
# "Generalisation"). Without them: the same on charted and probe-fed patients. The other vitals'
# cadence features stay: fed every hour they changed nothing that matters (same check).
CADENCE_FREE = ("Temp",)

# Stream field (units in the name) -> challenge column.
STREAM_FIELDS = {
    "hr_bpm": "HR",
    "spo2_pct": "O2Sat",
    "temp_c": "Temp",
    "sbp_mmhg": "SBP",
    "map_mmhg": "MAP",
    "dbp_mmhg": "DBP",
    "rr_bpm": "Resp",
}


# Fixed imputation values for a variable never measured: adult reference ("normal") values,
# deliberately not learned from hospital A so that another hospital's missingness pattern does
# not shift them.
NORMAL: dict[str, float] = {
    "HR": 80.0,
    "O2Sat": 97.0,
    "Temp": 37.0,
    "SBP": 120.0,
    "MAP": 85.0,
    "DBP": 70.0,
    "Resp": 16.0,
    "BaseExcess": 0.0,
    "HCO3": 24.0,
    "FiO2": 0.21,
    "pH": 7.40,
    "PaCO2": 40.0,
    "SaO2": 97.0,
    "AST": 25.0,
    "BUN": 14.0,
    "Alkalinephos": 80.0,
    "Calcium": 9.2,
    "Chloride": 102.0,
    "Creatinine": 0.9,
    "Bilirubin_direct": 0.2,
    "Glucose": 110.0,
    "Lactate": 1.0,
    "Magnesium": 2.0,
    "Phosphate": 3.5,
    "Potassium": 4.2,
    "Bilirubin_total": 0.7,
    "TroponinI": 0.01,
    "Hct": 40.0,
    "Hgb": 13.5,
    "PTT": 30.0,
    "WBC": 8.0,
    "Fibrinogen": 300.0,
    "Platelets": 250.0,
    "Age": 62.0,
}
# Typical spread used to scale squared deviations from normal (keeps them O(1)).
SPREAD: dict[str, float] = {
    "HR": 15.0,
    "O2Sat": 3.0,
    "Temp": 0.8,
    "SBP": 20.0,
    "MAP": 12.0,
    "DBP": 12.0,
    "Resp": 5.0,
}

# Plausibility limits: values outside are treated as artefacts (not measured) offline; in the
# stream the vitals validator rejects them before they reach this code.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "HR": (20.0, 300.0),
    "O2Sat": (20.0, 100.0),
    "Temp": (25.0, 45.0),
    "SBP": (30.0, 300.0),
    "MAP": (15.0, 250.0),
    "DBP": (10.0, 200.0),
    "Resp": (1.0, 80.0),
}


def is_plausible(col: str, value: float) -> bool:
    """Whether ``value`` is inside ``PLAUSIBLE[col]`` (True for columns without limits)."""
    lo, hi = PLAUSIBLE.get(col, (-math.inf, math.inf))
    return lo <= value <= hi


VITAL_UNITS = {
    "HR": "beats/min",
    "O2Sat": "%",
    "Temp": "deg C",
    "SBP": "mmHg",
    "MAP": "mmHg",
    "DBP": "mmHg",
    "Resp": "breaths/min",
}  # the challenge's units (Reyna 2020)

FEATURE_SETS = ("vitals", "full", "labs")
# "all": every column of the three sets once (training builds one matrix and selects each set's
# columns by name, :func:`feature_columns`); not a model's feature set.
_ALL = "all"


# --------------------------------------------------------------------------- names
def _vital_names() -> list[str]:
    names: list[str] = []
    for v in VITALS:
        names += [
            f"{v}_last",
            f"{v}_dev2",
            f"{v}_mean6h",
            f"{v}_min6h",
            f"{v}_max6h",
            f"{v}_slope6h",
            f"{v}_std6h",
            f"{v}_vs_baseline",
        ]
        if v not in CADENCE_FREE:
            names += [f"{v}_hours_since", f"{v}_never", f"{v}_frac_measured"]
            names += [f"{v}_since_gt{g}h" for g in GAP_STEPS_H]
            names += [f"{v}_frac_gt{k}of6" for k in range(1, 6)]
    names += ["ShockIndex", "PulsePressure", "ICULOS_capped", "log_ICULOS_capped", "hours_with_vitals_6h"]
    names += [f"ICULOS_gt{h}h" for h in ICULOS_STEPS_H]
    return names


def _full_extra_names() -> list[str]:
    names = ["Age", "Gender_male", "demographics_missing"]
    for lab in LABS:
        names += [f"{lab}_last", f"{lab}_hours_since", f"{lab}_never"]
    names += ["labs_count_24h"]
    return names


def _labs_extra_names() -> list[str]:
    names = ["Age", "Gender_male", "demographics_missing"]
    for lab in LABS:
        names += [f"{lab}_last", f"{lab}_vs_first"]
    return names


def feature_names(feature_set: str = "vitals") -> list[str]:
    """Names of the columns of :func:`features_vector` for ``feature_set``.

    Parameters
    ----------
    feature_set : {"vitals", "full", "labs"}
        ``"vitals"``: what a bedside monitor supplies. ``"full"``: vitals plus demographics
        (admission record) and laboratory results (``labs`` topic) with their timing (hours
        since drawn, never drawn, draws in 24 h). ``"labs"``: vitals plus demographics and, per
        lab, the last value (the adult reference value until one is drawn) and the change since
        the patient's first result; no lab timing, counts or drawn-or-not flags (whether and how
        often a hospital draws a lab is its practice, not the patient's physiology).
    """
    if feature_set == "vitals":
        return _vital_names()
    if feature_set == "full":
        return _vital_names() + _full_extra_names()
    if feature_set == "labs":
        return _vital_names() + _labs_extra_names()
    if feature_set == _ALL:
        return _vital_names() + _full_extra_names() + [f"{lab}_vs_first" for lab in LABS]
    raise ValueError(f"unknown feature_set {feature_set!r}; valid: {FEATURE_SETS}")


def feature_columns(feature_set: str) -> list[int]:
    """Indices of ``feature_set``'s columns in a matrix built with every feature (``"all"``:
    :func:`features_psv_rows` with ``feature_set="all"``); training builds that one matrix."""
    pos = {n: i for i, n in enumerate(feature_names(_ALL))}
    return [pos[n] for n in feature_names(feature_set)]


# --------------------------------------------------------------------------- state
class FeatureState(TypedDict):
    """The per-patient feature state: a plain JSON-serialisable dict (a Faust table value).

    Pairs are two-element lists, not tuples, so that the state is the same after a JSON round
    trip through the table's changelog.
    """

    v: int  # STATE_VERSION
    t0: float | None  # epoch seconds of the start of ICU hour 1
    hour: int | None  # the open bucket's ICU hour
    open: dict[str, list[float]]  # var -> [running mean, n] for the open hour
    hist: dict[str, list[list[float]]]  # var -> [[hour, value], ...] closed hours in the window
    last: dict[str, list[float]]  # var -> [value, hour] last closed value (kept forever)
    base: dict[str, list[float]]  # var -> [sum of hourly values, number of hours measured]
    vital_hours: list[int]  # closed hours (in window) that had any vital sign
    lab_hours: list[list[int]]  # closed hours (last 24 h) with their lab count: [[h, n]]
    first: dict[str, float]  # lab -> the patient's first hourly result (kept forever)
    age: float | None
    male: float | None  # 1.0 male, 0.0 female


def features_init(admit_ts: datetime | str | None = None, iculos_at_admit: int = 1) -> FeatureState:
    """A fresh per-patient state.

    Parameters
    ----------
    admit_ts : datetime or ISO string, optional
        ICU admission time. When None, the first stream reading's time is used.
    iculos_at_admit : int
        ICU hour of ``admit_ts`` (1 = first hour, as in the challenge data).
    """
    t0 = None if admit_ts is None else _epoch(admit_ts) - (iculos_at_admit - 1) * 3600.0
    return {
        "v": STATE_VERSION,
        "t0": t0,  # epoch seconds of the start of ICU hour 1
        "hour": None,  # the open bucket's ICU hour
        "open": {},  # var -> [running mean, n] for the open hour
        "hist": {},  # var -> [[hour, value], ...] closed hours in the window
        "last": {},  # var -> [value, hour] last closed value (kept forever)
        "base": {},  # var -> [sum of hourly values, number of hours measured]
        "vital_hours": [],  # closed hours (in window) that had any vital sign
        "lab_hours": [],  # closed hours (last 24 h) with their lab count: [[h, n]]
        "first": {},  # lab -> the patient's first hourly result (kept forever)
        "age": None,
        "male": None,
    }


def features_admit(
    state: FeatureState,
    *,
    age_years: float | None = None,
    sex: str | None = None,
    admit_ts: datetime | str | None = None,
) -> FeatureState:
    """Record admission (ADT) data: age in years, sex ("M"/"F"), ICU admission time.

    An admission time that arrives after readings were already bucketed (ADT messages are often
    late, and Kafka orders nothing across topics) renumbers the ICU hours instead of re-bucketing:
    every bucket keeps its readings and moves by the whole number of hours between the admission
    and the first reading's hour (rounded; never backwards), and later readings fall on the same
    hour boundaries. With an admission on a whole-hour offset the result is exactly the state an
    admission received first would have built.
    """
    if age_years is not None:
        state["age"] = float(age_years)
    if sex is not None:
        if sex not in ("M", "F"):
            raise ValueError(f"sex must be 'M' or 'F', got {sex!r}")
        state["male"] = 1.0 if sex == "M" else 0.0
    if admit_ts is not None:
        if state["hour"] is None or state["t0"] is None:
            state["t0"] = _epoch(admit_ts)
        else:
            _shift_hours(state, max(0, round((state["t0"] - _epoch(admit_ts)) / 3600.0)))
    return state


def _shift_hours(state: FeatureState, k: int) -> None:
    """Renumber every stored ICU hour by ``k`` (the start of hour 1 moves ``k`` hours earlier)."""
    if k == 0:
        return
    t0, hour = state["t0"], state["hour"]
    assert t0 is not None and hour is not None, "only a state with an open hour is renumbered"
    state["t0"] = t0 - k * 3600.0
    state["hour"] = hour + k
    state["hist"] = {var: [[h + k, v] for h, v in pts] for var, pts in state["hist"].items()}
    state["last"] = {var: [v, h + k] for var, (v, h) in state["last"].items()}
    state["vital_hours"] = [h + k for h in state["vital_hours"]]
    state["lab_hours"] = [[h + k, n] for h, n in state["lab_hours"]]


def _epoch(ts: datetime | str) -> float:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return ts.timestamp()


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _record_values(record: Mapping[str, Any]) -> dict[str, float]:
    """Challenge-named values carried by a row, a vitals reading or a lab result."""
    vals: dict[str, float] = {}
    if "test" in record:  # a lab result (wardwatch/records/labs.py)
        name = record["test"]
        if name not in LABS:
            raise ValueError(f"unknown lab test {name!r}; valid: {sorted(LABS)}")
        v = _num(record.get("value"))
        if v is not None:
            vals[name] = v
        return vals
    for key in record:  # a stream reading's fields or a challenge row's columns
        col = _VALUE_COLUMNS.get(key)
        if col is not None:
            v = _num(record[key])
            if v is not None:
                vals[col] = v
    if "MAP" not in vals and "SBP" in vals and "DBP" in vals:
        vals["MAP"] = (vals["SBP"] + 2.0 * vals["DBP"]) / 3.0
    return _drop_impossible(vals)


# Record key -> challenge column: stream vitals fields and the challenge's own column names.
_VALUE_COLUMNS = {**STREAM_FIELDS, **{c: c for c in (*VITALS, *LABS)}}
# Vitals outside PLAUSIBLE are artefacts; labs outside the labs validator's LAB_RANGES are
# dead-lettered in the stream, so they are dropped offline too.
_LIMITS = {**PLAUSIBLE, **LAB_RANGES}


def _drop_impossible(vals: dict[str, float]) -> dict[str, float]:
    """``vals`` without vitals outside ``PLAUSIBLE`` and labs outside ``LAB_RANGES``."""
    for col in [c for c in vals if c in _LIMITS]:
        lo, hi = _LIMITS[col]
        if not lo <= vals[col] <= hi:
            log.debug("implausible %s dropped", col)
            del vals[col]
    return vals


def _record_hour(state: FeatureState, record: Mapping[str, Any]) -> int:
    if "ICULOS" in record and _num(record["ICULOS"]) is not None:
        return int(float(record["ICULOS"]))
    if "ts" not in record:
        raise ValueError("a record needs ICULOS (challenge row) or ts (stream record)")
    t = _epoch(record["ts"])
    t0 = state["t0"]
    if t0 is None:
        t0 = state["t0"] = t
    return 1 + int(math.floor((t - t0) / 3600.0))


def _close_open_bucket(state: FeatureState) -> None:
    h = state["hour"]
    if h is None:
        return
    any_vital = False
    n_labs = 0
    for var, (mean, _n) in state["open"].items():
        state["hist"].setdefault(var, []).append([h, mean])
        state["last"][var] = [mean, h]
        b = state["base"].setdefault(var, [0.0, 0])
        b[0] += mean
        b[1] += 1
        if var in LABS:
            n_labs += 1
            state.setdefault("first", {}).setdefault(var, mean)
        else:
            any_vital = True
    if any_vital:
        state["vital_hours"].append(h)
    if n_labs:
        state["lab_hours"].append([h, n_labs])
    state["open"] = {}


def _trim(state: FeatureState, hour: int) -> None:
    lo = hour - WINDOW_H + 1  # keep closed hours that are inside the next window
    for var, pts in state["hist"].items():
        if pts and pts[0][0] < lo:
            state["hist"][var] = [p for p in pts if p[0] >= lo]
    state["vital_hours"] = [h for h in state["vital_hours"] if h >= lo]
    state["lab_hours"] = [p for p in state["lab_hours"] if p[0] > hour - 24]


def features_update(state: FeatureState, record: Mapping[str, Any]) -> FeatureState:
    """Feed one record (challenge row, vitals reading or lab result) into the state.

    Parameters
    ----------
    state : dict
        From :func:`features_init` (or a previous update); modified in place and returned.
    record : mapping
        A challenge row (``ICULOS`` + column names; also ``Age``/``Gender``), a
        ``VitalsReading.to_dict()``-shaped dict, or a lab result dict (``ts``, ``test``,
        ``value``).

    Returns
    -------
    FeatureState
        The same state, JSON-serialisable.
    """
    hour = _record_hour(state, record)
    if state["hour"] is None:
        state["hour"] = hour
    elif hour > state["hour"]:
        _close_open_bucket(state)
        state["hour"] = hour
        _trim(state, hour)
    if "Age" in record and _num(record["Age"]) is not None:
        state["age"] = _num(record["Age"])
    if "Gender" in record and _num(record["Gender"]) is not None:
        state["male"] = _num(record["Gender"])
    for var, v in _record_values(record).items():
        acc = state["open"].get(var)
        if acc is None:
            state["open"][var] = [v, 1]
        else:  # running mean: exact when every value is the same
            acc[1] += 1
            acc[0] += (v - acc[0]) / acc[1]
    return state


# --------------------------------------------------------------------------- vector
def _slope(pts: list[tuple[float, float]]) -> float:
    n = len(pts)
    if n < 2:
        return 0.0
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return 0.0
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def _window(state: FeatureState, var: str, hour: int) -> list[tuple[float, float]]:
    lo = hour - WINDOW_H + 1
    pts = [(h, v) for h, v in state["hist"].get(var, ()) if h >= lo]
    if var in state["open"]:
        pts.append((hour, state["open"][var][0]))
    return pts


def _last(state: FeatureState, var: str, hour: int) -> tuple[float | None, float]:
    """Last value and hours since it was measured (the open bucket counts as now)."""
    if var in state["open"]:
        return state["open"][var][0], 0.0
    if var in state["last"]:
        v, h = state["last"][var]
        return v, float(hour - h)
    return None, math.inf


def features_vector(state: FeatureState, feature_set: str = "vitals") -> np.ndarray:
    """The model input after everything fed so far (column order: :func:`feature_names`).

    Never-measured values are imputed with fixed adult reference values (``NORMAL``) and flagged
    by ``*_never`` columns, so the vector has no NaN.
    """
    if feature_set not in FEATURE_SETS and feature_set != _ALL:
        raise ValueError(f"unknown feature_set {feature_set!r}; valid: {FEATURE_SETS}")
    hour = state["hour"] if state["hour"] is not None else 1
    out: list[float] = []
    lastv: dict[str, float] = {}
    for var in VITALS:
        v, since = _last(state, var, hour)
        never = v is None
        if v is None:
            v = NORMAL[var]
        lastv[var] = v
        pts = _window(state, var, hour)
        vals = [p[1] for p in pts]
        if vals:
            mean = sum(vals) / len(vals)
            mn, mx = min(vals), max(vals)
            std = math.sqrt(sum((x - mean) ** 2 for x in vals) / len(vals)) if len(vals) > 1 else 0.0
        else:
            mean = mn = mx = v
            std = 0.0
        b = state["base"].get(var)
        bsum, bn = (b[0], b[1]) if b else (0.0, 0)
        if var in state["open"]:
            bsum += state["open"][var][0]
            bn += 1
        baseline = bsum / bn if bn else v
        dev = (v - NORMAL[var]) / SPREAD[var]
        frac = len(vals) / WINDOW_H
        out += [v, dev * dev, mean, mn, mx, _slope(pts), std, v - baseline]
        if var not in CADENCE_FREE:
            out += [min(since, GAP_CAP_H), float(never), frac]
            out += [float(since > g) for g in GAP_STEPS_H]
            out += [float(frac > f + 1e-9) for f in FRAC_STEPS]
    sbp = max(lastv["SBP"], 1.0)
    out.append(lastv["HR"] / sbp)
    out.append(lastv["SBP"] - lastv["DBP"])
    capped = min(max(hour, 0), ICULOS_CAP_H)
    out.append(float(capped))
    out.append(math.log1p(capped))
    open_vital = any(k in state["open"] for k in VITALS)
    n_vh = sum(1 for h in state["vital_hours"] if h > hour - WINDOW_H) + int(open_vital)
    out.append(float(n_vh))
    out += [float(capped > h) for h in ICULOS_STEPS_H]
    if feature_set != "vitals":
        out += _lab_features(state, hour, feature_set)
    return np.asarray(out, dtype=float)


def _lab_features(state: FeatureState, hour: int, feature_set: str) -> list[float]:
    """Demographics and lab columns of ``feature_set`` (``full``, ``labs`` or ``all``)."""
    out: list[float] = []
    age, male = state["age"], state["male"]
    out += [
        NORMAL["Age"] if age is None else age,
        0.5 if male is None else male,
        float(age is None or male is None),
    ]
    first = state.get("first", {})
    vs_first: list[float] = []
    for lab in LABS:
        v, since = _last(state, lab, hour)
        # change since the patient's first result (0 until a second one; the open hour's
        # result is the first when none was closed yet)
        change = 0.0 if v is None else v - first.get(lab, v)
        if feature_set == "labs":
            out += [NORMAL[lab] if v is None else v, change]
            continue
        out += [NORMAL[lab] if v is None else v, min(since, LAB_GAP_CAP_H), float(v is None)]
        vs_first.append(change)
    if feature_set != "labs":
        n_open = sum(1 for k in state["open"] if k in LABS)
        out.append(float(sum(n for h, n in state["lab_hours"] if h > hour - 24) + n_open))
        if feature_set == _ALL:
            out += vs_first
    return out


def last_vitals(state: FeatureState) -> dict[str, float | None]:
    """Last value of each vital sign (challenge names), None if never measured."""
    hour = state["hour"] if state["hour"] is not None else 1
    return {var: _last(state, var, hour)[0] for var in VITALS}


def features_psv_rows(
    rows: Sequence[Mapping[str, Any]],
    feature_set: str = "vitals",
    state: FeatureState | None = None,
) -> tuple[np.ndarray, list[dict[str, float | None]]]:
    """Offline path: feed challenge rows hour by hour, one vector per row.

    Returns the matrix (rows x features) and, per row, the last vitals (for NEWS2 / qSOFA on
    the same rows).
    """
    state = features_init() if state is None else state
    X: list[np.ndarray] = []
    lv: list[dict[str, float | None]] = []
    for r in rows:
        features_update(state, r)
        X.append(features_vector(state, feature_set))
        lv.append(last_vitals(state))
    return np.vstack(X) if X else np.zeros((0, len(feature_names(feature_set)))), lv
