"""Vital-sign and body measurements in free text, with units normalised.

Conversions: °C = (°F - 32) x 5/9; 1 lb = 0.45359237 kg (exact, International Yard and Pound
Agreement 1959); 1 in = 2.54 cm; glucose 1 mmol/L = 18.016 mg/dL (molar mass of glucose
180.16 g/mol). Plausible ranges follow the vitals validation of WardWatch (a value outside is
reported with ``valid: false`` and a reason, never clamped). Pure functions over strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

LB_TO_KG = 0.45359237
IN_TO_CM = 2.54
GLUCOSE_MGDL_PER_MMOLL = 18.016

#: Physiologically plausible ranges per normalised field (inclusive).
RANGES: dict[str, tuple[float, float]] = {
    "temp_c": (25.0, 45.0),
    "systolic_mmhg": (40.0, 300.0),
    "diastolic_mmhg": (20.0, 200.0),
    "hr_bpm": (20.0, 300.0),
    "rr_per_min": (2.0, 80.0),
    "spo2_pct": (40.0, 100.0),
    "weight_kg": (0.3, 400.0),
    "height_cm": (30.0, 250.0),
    "glucose_mmol_l": (0.5, 60.0),
}


@dataclass
class Measurement:
    """One measurement: what, where, as written, and normalised values with units in names."""

    kind: str
    start: int
    end: int
    text: str
    value: float
    unit: str
    values: dict[str, float] = field(default_factory=dict)
    unit_inferred: bool = False
    valid: bool = True
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_NUM = r"(\d{1,3}(?:\.\d+)?)"
_SEP = r"\s*(?:(?:(?:of|was|is|at|to|reading|measured|about|approximately)\b|[:=,~-])\s*){0,3}"
_DEG = r"(?:\s*(?:°|º|˚|deg(?:rees?)?\.?)\s*)"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "blood_pressure",
        re.compile(
            r"\b(?:b\.?p\.?|blood\s+pressures?|bps)" + _SEP + r"(\d{2,3})\s*/\s*(\d{2,3})"
            r"(?:\s*(mm\s*hg|mmhg))?",
            re.IGNORECASE,
        ),
    ),
    ("blood_pressure", re.compile(r"\b(\d{2,3})\s*/\s*(\d{2,3})\s*(mm\s*hg)\b", re.IGNORECASE)),
    (
        "temperature",
        re.compile(
            r"\b(?:temp(?:erature)?|t(?:max|current)?|fever|febrile|pyrexia)"
            + _SEP
            + _NUM
            + _DEG
            + r"?\s*(?:([FC])(?![A-Za-z])|(fahrenheit|celsius))?(?![A-Za-z])",
            re.IGNORECASE,
        ),
    ),
    (
        "temperature",
        re.compile(r"\b" + _NUM + _DEG + r"?\s*(?:([FC])\b|(fahrenheit|celsius))", re.IGNORECASE),
    ),
    (
        "heart_rate",
        re.compile(
            r"\b(?:hr|heart\s+rate|pulse(?:\s+rate)?|p)" + _SEP + r"(\d{2,3})(?!\s*/)"
            r"(?:\s*(bpm|beats\s+per\s+minute|/\s*min))?",
            re.IGNORECASE,
        ),
    ),
    ("heart_rate", re.compile(r"\b(\d{2,3})\s*(bpm|beats\s+per\s+minute)\b", re.IGNORECASE)),
    (
        "respiratory_rate",
        re.compile(
            r"\b(?:rr|resp(?:iratory)?(?:\s+rate)?|respirations|r)" + _SEP + r"(\d{1,2})(?!\s*/\s*\d)"
            r"(?:\s*(breaths\s+per\s+minute|/\s*min|bpm))?",
            re.IGNORECASE,
        ),
    ),
    (
        "spo2",
        re.compile(
            r"\b(?:spo2|sao2|o2\s*sat(?:uration)?s?|oxygen\s+saturation|sat(?:uration)?s?|pulse\s+ox(?:imetry)?)"
            + _SEP
            + r"(\d{2,3})\s*(%|percent)?",
            re.IGNORECASE,
        ),
    ),
    (
        "spo2",
        re.compile(r"\b(\d{2,3})\s*(%|percent)\s*(?:on|at)\s+(?:room\s+air|ra\b|\d+\s*l)", re.IGNORECASE),
    ),
    (
        "weight",
        re.compile(
            r"\b(?:weight|wt|weighs|weighing|weighed)" + _SEP + r"(\d{1,3}(?:,\d{3})*(?:\.\d+)?)\s*"
            r"(kg|kgs|kilograms?|lbs?|pounds?|#)?(?![A-Za-z])",
            re.IGNORECASE,
        ),
    ),
    ("weight", re.compile(r"\b(\d{1,3}(?:\.\d+)?)\s*(kg|kgs|kilograms?|lbs?|pounds?)\b", re.IGNORECASE)),
    (
        "height",
        re.compile(
            r"\b(?:height|ht)" + _SEP + r"(\d{1,3}(?:\.\d+)?)\s*(cm|centimeters?|in|inches|m)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "glucose",
        re.compile(
            r"\b(?:glucose|blood\s+sugar|bg|fsbg|fingerstick)" + _SEP + r"(\d{1,4}(?:\.\d+)?)\s*"
            r"(mg\s*/\s*dl|mmol\s*/\s*l)?",
            re.IGNORECASE,
        ),
    ),
]


def _check(m: Measurement) -> Measurement:
    for k, v in m.values.items():
        lo, hi = RANGES.get(k, (float("-inf"), float("inf")))
        if not lo <= v <= hi:
            m.valid = False
            m.reason = f"{k}={v} outside plausible range [{lo}, {hi}]"
    return m


def _temperature(g: tuple[str | None, ...]) -> tuple[float, str, dict[str, float], bool] | None:
    value = float(g[0] or 0)
    unit_raw = (g[1] or (g[2] if len(g) > 2 else None) or "").lower()
    inferred = False
    if unit_raw in ("f", "fahrenheit"):
        unit = "degF"
    elif unit_raw in ("c", "celsius"):
        unit = "degC"
    elif 90 <= value <= 110:
        unit, inferred = "degF", True
    elif 30 <= value <= 45:
        unit, inferred = "degC", True
    else:
        return None
    temp_c = (value - 32.0) * 5.0 / 9.0 if unit == "degF" else value
    return value, unit, {"temp_c": round(temp_c, 1)}, inferred


def _bp(g: tuple[str | None, ...]) -> tuple[float, str, dict[str, float], bool] | None:
    sys_, dia = float(g[0] or 0), float(g[1] or 0)
    if sys_ <= dia:
        return None
    return sys_, "mmHg", {"systolic_mmhg": sys_, "diastolic_mmhg": dia}, g[2] is None


def _hr(g: tuple[str | None, ...]) -> tuple[float, str, dict[str, float], bool] | None:
    v = float(g[0] or 0)
    return v, "bpm", {"hr_bpm": v}, g[1] is None


def _rr(g: tuple[str | None, ...]) -> tuple[float, str, dict[str, float], bool] | None:
    v = float(g[0] or 0)
    return v, "/min", {"rr_per_min": v}, g[1] is None


def _spo2(g: tuple[str | None, ...]) -> tuple[float, str, dict[str, float], bool] | None:
    v = float(g[0] or 0)
    return v, "%", {"spo2_pct": v}, len(g) > 1 and g[1] is None


def _weight(g: tuple[str | None, ...]) -> tuple[float, str, dict[str, float], bool] | None:
    v = float((g[0] or "0").replace(",", ""))
    u = (g[1] or "").lower()
    if u.startswith(("lb", "pound")) or u == "#":
        return v, "lb", {"weight_kg": round(v * LB_TO_KG, 1)}, False
    if u.startswith("k"):
        return v, "kg", {"weight_kg": v}, False
    return None  # a bare number after "weight" has no safe unit


def _height(g: tuple[str | None, ...]) -> tuple[float, str, dict[str, float], bool] | None:
    v = float(g[0] or 0)
    u = (g[1] or "").lower()
    cm = v * IN_TO_CM if u.startswith("in") else v * 100 if u == "m" else v
    return v, {"in": "in", "inches": "in"}.get(u, u), {"height_cm": round(cm, 1)}, False


def _glucose(g: tuple[str | None, ...]) -> tuple[float, str, dict[str, float], bool] | None:
    v = float(g[0] or 0)
    u = re.sub(r"\s", "", (g[1] or "")).lower()
    if u == "mmol/l":
        return v, "mmol/L", {"glucose_mmol_l": v}, False
    # US notes report mg/dL; a bare number is read as mg/dL (and flagged as inferred).
    return v, "mg/dL", {"glucose_mmol_l": round(v / GLUCOSE_MGDL_PER_MMOLL, 1)}, not u


_CONVERT: dict[str, Callable[[tuple[str | None, ...]], tuple[float, str, dict[str, float], bool] | None]] = {
    "temperature": _temperature,
    "blood_pressure": _bp,
    "heart_rate": _hr,
    "respiratory_rate": _rr,
    "spo2": _spo2,
    "weight": _weight,
    "height": _height,
    "glucose": _glucose,
}


def measurements_extract(text: str) -> list[Measurement]:
    """Find measurements in ``text`` and normalise their units.

    Parameters
    ----------
    text : str
        Note text.

    Returns
    -------
    list of Measurement
        In text order, non-overlapping (the first, most specific pattern wins a span).

    Examples
    --------
    >>> m = measurements_extract("Presented with a fever of 102.4°F.")[0]
    >>> (m.kind, m.values["temp_c"], m.unit)
    ('temperature', 39.1, 'degF')
    """
    taken = bytearray(len(text))
    out: list[Measurement] = []
    for kind, rx in _PATTERNS:
        for m in rx.finditer(text):
            if any(taken[m.start() : m.end()]):
                continue
            conv = _CONVERT[kind](m.groups())
            if conv is None:
                continue
            value, unit, values, inferred = conv
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
            out.append(
                _check(Measurement(kind, m.start(), m.end(), m.group(0), value, unit, values, inferred))
            )
    out.sort(key=lambda x: x.start)
    return out
