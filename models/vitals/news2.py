"""NEWS2, the National Early Warning Score 2.

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the
assessment of acute-illness severity in the NHS. Updated report of a working party. London: RCP,
2017. Chart 1 (the NEWS2 scoring system), Chart 2 (thresholds and triggers) and Chart 4
(clinical response). Every band below is copied from Chart 1; boundaries are inclusive as
printed there.

The chart takes whole numbers for respiration rate, SpO2, systolic BP and pulse, and one decimal
for temperature. Device values are rounded to that resolution (half away from zero) before they
are looked up, so that e.g. RR 20.4 scores as 20 and 20.5 as 21, exactly as a nurse charting the
value would.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from wardwatch.records.vitals import ACVPU  # the consciousness levels of Chart 1

# Chart 4 clinical responses, keyed by risk level (Chart 2 thresholds).
RESPONSES = {
    "low": "Continue routine NEWS monitoring (minimum 12-hourly for score 0; "
    "4-6-hourly for 1-4); registered nurse to assess and decide on escalation.",
    "low-medium": "Urgent ward-based response: registered nurse to inform the medical team "
    "caring for the patient, who will review and decide whether escalation is "
    "required (a single parameter scoring 3).",
    "medium": "Key threshold for urgent response: minimum 1-hourly monitoring; registered nurse "
    "to immediately inform the medical team; urgent assessment by a clinician or team "
    "with core competencies in the care of acutely ill patients.",
    "high": "Key threshold for emergency response: continuous monitoring of vital signs; "
    "registered nurse to immediately inform the medical team at specialist registrar "
    "level or above; emergency assessment by a team with critical-care competencies, "
    "usually including airway management skills; consider transfer to level 2 or 3 care.",
}


@dataclass(frozen=True)
class News2Result:
    score: int
    band: str  # aggregate band: "0", "1-4", "5-6" or "7+"
    risk: str  # "low", "low-medium", "medium" or "high" (Chart 2)
    components: dict[str, int]
    single_param_3: bool
    response: str

    def to_dict(self) -> dict[str, object]:
        return {
            "score": self.score,
            "band": self.band,
            "risk": self.risk,
            "components": dict(self.components),
            "single_param_3": self.single_param_3,
            "response": self.response,
        }


_QUANTUM = {0: Decimal(1), 1: Decimal(1).scaleb(-1)}  # whole numbers; one decimal


@lru_cache(maxsize=16384)  # monitors repeat the same few thousand values; a Decimal is immutable
def _round(x: float, places: int = 0) -> Decimal:
    return Decimal(str(x)).quantize(_QUANTUM[places], rounding=ROUND_HALF_UP)


Bands = tuple[tuple[int | Decimal, ...], tuple[int, ...]]


def _bands(*rows: tuple[int | Decimal, int], above: int) -> Bands:
    """Chart 1 rows as (highest value of the band, score), ascending, and the score above the
    last band, as ``(upper bounds, scores)`` for :func:`_band`."""
    return tuple(u for u, _ in rows), (*(sc for _, sc in rows), above)


# Chart 1 rows. Values are rounded to the chart's resolution first (see _round).
RR_BANDS = _bands((8, 3), (11, 1), (20, 0), (24, 2), above=3)
SPO2_SCALE1_BANDS = _bands((91, 3), (93, 2), (95, 1), above=0)
SPO2_SCALE2_BANDS = _bands((83, 3), (85, 2), (87, 1), (92, 0), above=0)  # >= 93 on air: 0
SPO2_SCALE2_OXYGEN_BANDS = _bands((83, 3), (85, 2), (87, 1), (92, 0), (94, 1), (96, 2), above=3)
SBP_BANDS = _bands((90, 3), (100, 2), (110, 1), (219, 0), above=3)
HR_BANDS = _bands((40, 3), (50, 1), (90, 0), (110, 1), (130, 2), above=3)
TEMP_BANDS = _bands(
    (Decimal("35.0"), 3), (Decimal("36.0"), 1), (Decimal("38.0"), 0), (Decimal("39.0"), 1), above=2
)


def _band(v: Decimal, bands: Bands) -> int:
    """The score of the first band whose upper bound (inclusive) is at or above ``v``."""
    uppers, scores = bands
    return scores[bisect_left(uppers, v)]


def score_rr(rr_bpm: float) -> int:
    """Respiration rate (per minute): <=8: 3; 9-11: 1; 12-20: 0; 21-24: 2; >=25: 3."""
    return _band(_round(rr_bpm), RR_BANDS)


def score_spo2(spo2_pct: float, scale: int, on_oxygen: bool) -> int:
    """SpO2 (%). Scale 1: <=91: 3; 92-93: 2; 94-95: 1; >=96: 0.

    Scale 2 (hypercapnic respiratory failure, target 88-92 %): <=83: 3; 84-85: 2; 86-87: 1;
    88-92, or >=93 on air: 0; 93-94 on oxygen: 1; 95-96 on oxygen: 2; >=97 on oxygen: 3.
    """
    if scale == 1:
        return _band(_round(spo2_pct), SPO2_SCALE1_BANDS)
    if scale != 2:
        raise ValueError(f"SpO2 scale must be 1 or 2, got {scale!r}")
    return _band(_round(spo2_pct), SPO2_SCALE2_OXYGEN_BANDS if on_oxygen else SPO2_SCALE2_BANDS)


def score_air_or_oxygen(on_oxygen: bool) -> int:
    """Air: 0; oxygen: 2."""
    return 2 if on_oxygen else 0


def score_sbp(sbp_mmhg: float) -> int:
    """Systolic BP (mmHg): <=90: 3; 91-100: 2; 101-110: 1; 111-219: 0; >=220: 3."""
    return _band(_round(sbp_mmhg), SBP_BANDS)


def score_hr(hr_bpm: float) -> int:
    """Pulse (per minute): <=40: 3; 41-50: 1; 51-90: 0; 91-110: 1; 111-130: 2; >=131: 3."""
    return _band(_round(hr_bpm), HR_BANDS)


def score_consciousness(acvpu: str) -> int:
    """Consciousness: Alert: 0; new Confusion, Voice, Pain or Unresponsive: 3."""
    if acvpu not in ACVPU:
        raise ValueError(f"ACVPU must be one of {ACVPU}, got {acvpu!r}")
    return 0 if acvpu == "A" else 3


def score_temp(temp_c: float) -> int:
    """Temperature (degrees C): <=35.0: 3; 35.1-36.0: 1; 36.1-38.0: 0; 38.1-39.0: 1; >=39.1: 2."""
    return _band(_round(temp_c, 1), TEMP_BANDS)


def news2_band(score: int) -> str:
    """Aggregate band of Chart 2: "0", "1-4", "5-6" or "7+"."""
    if score <= 0:
        return "0"
    if score <= 4:
        return "1-4"
    if score <= 6:
        return "5-6"
    return "7+"


def news2_risk(score: int, single_param_3: bool) -> str:
    """Clinical risk of Chart 2: high (>=7), medium (5-6), low-medium (3 in one parameter), low."""
    if score >= 7:
        return "high"
    if score >= 5:
        return "medium"
    if single_param_3:
        return "low-medium"
    return "low"


def news2_score(
    *,
    rr_bpm: float,
    spo2_pct: float,
    spo2_scale: int,
    on_oxygen: bool,
    sbp_mmhg: float,
    hr_bpm: float,
    acvpu: str,
    temp_c: float,
) -> News2Result:
    """The NEWS2 aggregate score, its band, risk, components and clinical response.

    Examples
    --------
    >>> r = news2_score(rr_bpm=22, spo2_pct=95, spo2_scale=1, on_oxygen=False, sbp_mmhg=105,
    ...                 hr_bpm=115, acvpu="A", temp_c=38.5)
    >>> r.score, r.band, r.risk
    (7, '7+', 'high')
    """
    components = {
        "rr": score_rr(rr_bpm),
        "spo2": score_spo2(spo2_pct, spo2_scale, on_oxygen),
        "air_or_oxygen": score_air_or_oxygen(on_oxygen),
        "sbp": score_sbp(sbp_mmhg),
        "hr": score_hr(hr_bpm),
        "consciousness": score_consciousness(acvpu),
        "temp": score_temp(temp_c),
    }
    total = sum(components.values())
    # "Air or oxygen" scores 2 at most, so a 3 can only come from a physiological parameter.
    single3 = any(v == 3 for v in components.values())
    risk = news2_risk(total, single3)
    return News2Result(
        score=total,
        band=news2_band(total),
        risk=risk,
        components=components,
        single_param_3=single3,
        response=RESPONSES[risk],
    )
