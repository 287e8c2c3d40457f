from __future__ import annotations

import pytest

from batch.notes.measurements import measurements_extract


def one(text: str):
    ms = measurements_extract(text)
    assert len(ms) == 1, ms
    return ms[0]


def test_fever_fahrenheit_to_celsius():
    m = one("Presented with a fever of 102.4°F overnight.")
    assert m.kind == "temperature" and m.unit == "degF" and m.value == 102.4
    assert m.values == {"temp_c": 39.1}  # (102.4 - 32) * 5/9 = 39.11
    assert not m.unit_inferred and m.valid


@pytest.mark.parametrize(
    "text,values",
    [
        ("BP 120/80 mmHg", {"systolic_mmhg": 120.0, "diastolic_mmhg": 80.0}),
        ("blood pressure was 145/92", {"systolic_mmhg": 145.0, "diastolic_mmhg": 92.0}),
        ("HR 88", {"hr_bpm": 88.0}),
        ("pulse 112 bpm", {"hr_bpm": 112.0}),
        ("RR 16", {"rr_per_min": 16.0}),
        ("SpO2 97% on RA", {"spo2_pct": 97.0}),
        ("saturating 94% on room air", {"spo2_pct": 94.0}),
        ("Weight 176 lb", {"weight_kg": 79.8}),
        ("weighs 80 kg", {"weight_kg": 80.0}),
        ("T 37.2 C", {"temp_c": 37.2}),
        ("Temperature 98.6 degrees Fahrenheit", {"temp_c": 37.0}),
        ("Tmax 101.3", {"temp_c": 38.5}),
        ("glucose 180 mg/dL", {"glucose_mmol_l": 10.0}),
        ("height 70 in", {"height_cm": 177.8}),
    ],
)
def test_units_are_normalised(text, values):
    assert one(text).values == values


def test_out_of_range_is_flagged_not_clamped():
    m = one("Temp 120 F")
    assert not m.valid and "temp_c" in (m.reason or "") and m.values["temp_c"] == 48.9


def test_no_false_hits_on_plain_numbers():
    assert measurements_extract("He was given 2 tablets at 10 pm on day 3.") == []
    assert measurements_extract("weight 80") == []  # no unit: not guessed
