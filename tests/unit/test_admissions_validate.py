"""Admission (ADT) validation and its effect on the deterioration state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.deterioration.features import feature_names, features_vector
from models.deterioration.live import deterioration_admit, deterioration_lab, deterioration_step
from wardwatch.records.admissions import admission_validate
from wardwatch.records.errors import InvalidRecord
from wardwatch.records.vitals import VitalsReading

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _raw(**over) -> bytes:
    d = {"patient_id": "P1", "admit_ts": (NOW - timedelta(hours=5)).isoformat(), "age_years": 71, "sex": "F"}
    d.update(over)
    return json.dumps({k: v for k, v in d.items() if v is not ...}).encode()


def test_a_good_admission_is_accepted() -> None:
    adm = admission_validate(_raw(), key="P1", now=NOW)
    assert (adm.patient_id, adm.age_years, adm.sex) == ("P1", 71.0, "F")
    assert adm.admit_ts == NOW - timedelta(hours=5)


@pytest.mark.parametrize(
    ("over", "key", "reason"),
    [
        ({"age_years": 850}, "P1", "age_years=850 outside"),  # months sent as years
        ({"age_years": 3}, "P1", "age_years=3 outside"),
        ({"age_years": "71"}, "P1", "age_years must be a number"),
        ({"sex": "female"}, "P1", "sex must be 'M' or 'F'"),
        ({"sex": ...}, "P1", "missing fields ['sex']"),
        ({"ward": "ICU"}, "P1", "unknown fields ['ward']"),
        ({}, "P9", "message key does not match"),
        ({"admit_ts": "yesterday"}, "P1", "not ISO-8601"),
        ({"admit_ts": "2026-11-25T06:00:00"}, "P1", "no timezone"),
        ({"admit_ts": (NOW + timedelta(hours=2)).isoformat()}, "P1", "in the future"),
    ],
)
def test_bad_admissions_are_rejected_with_a_reason(over: dict, key: str, reason: str) -> None:
    with pytest.raises(InvalidRecord) as e:
        admission_validate(_raw(**over), key=key, now=NOW)
    assert reason in e.value.reason


def test_admission_sets_demographics_and_numbers_icu_hours_from_admission() -> None:
    adm = admission_validate(_raw(), key="P1", now=NOW)
    state = deterioration_admit(None, adm.age_years, adm.sex, adm.admit_ts)
    reading = VitalsReading(patient_id="P1", bed="B1", ts=NOW, hr_bpm=88, spo2_pct=97, rr_bpm=16)
    state, _, _ = deterioration_step(state, reading, None)
    x = dict(zip(feature_names("full"), features_vector(state["features"], "full"), strict=True))
    assert (x["Age"], x["Gender_male"], x["demographics_missing"]) == (71.0, 0.0, 0.0)
    assert x["ICULOS_capped"] == 6  # admitted 5 h before this reading: ICU hour 6
    # a later admission message (another, earlier admit time) renumbers the hours: 30 h after
    # admission is ICU hour 31
    late = deterioration_admit(state, 80.0, "M", NOW - timedelta(hours=30))
    y = dict(zip(feature_names("full"), features_vector(late["features"], "full"), strict=True))
    assert (y["Age"], y["Gender_male"], y["ICULOS_capped"]) == (80.0, 1.0, 31)


def test_admission_after_the_first_readings_builds_the_state_an_early_one_would() -> None:
    """Kafka orders nothing across topics: the admission may be processed after readings."""
    admit = NOW - timedelta(hours=9)
    readings = [
        VitalsReading(
            patient_id="P1",
            bed="B1",
            ts=NOW - timedelta(hours=4) + timedelta(minutes=m),
            hr_bpm=80 + m % 7,
            spo2_pct=96,
            rr_bpm=14 + m % 5,
            sbp_mmhg=120 - m % 11,
            temp_c=37.2,
        )
        for m in range(0, 4 * 60, 10)
    ]
    lab = {
        "patient_id": "P1",
        "ts": (NOW - timedelta(hours=2)).isoformat(),
        "test": "Lactate",
        "value": 3.1,
        "unit": "mmol/L",
    }

    def run(admit_first: bool) -> np.ndarray:
        state = deterioration_admit(None, 66.0, "F", admit) if admit_first else None
        for i, r in enumerate(readings):
            if i == 12:
                state = deterioration_lab(state, lab)
            state, _, _ = deterioration_step(state, r, None)
        if not admit_first:
            state = deterioration_admit(state, 66.0, "F", admit)
        return features_vector(state["features"], "full")

    early, late = run(True), run(False)
    names = feature_names("full")
    assert early[names.index("ICULOS_capped")] == 9 and early[names.index("Lactate_last")] == 3.1
    np.testing.assert_array_equal(late, early)


def test_a_discharge_on_the_admissions_topic():
    """The other ADT kind on ``admissions``: ``discharge_ts`` (and an optional reason)."""
    from wardwatch.records.admissions import Admission, Discharge, adt_validate

    raw = json.dumps({"patient_id": "P1", "discharge_ts": NOW.isoformat(), "reason": "to ward 7"}).encode()
    assert adt_validate(raw, key="P1", now=NOW) == Discharge("P1", NOW, "to ward 7")
    assert isinstance(adt_validate(_raw(), key="P1", now=NOW), Admission)
    bad = [
        ({"patient_id": "P1", "discharge_ts": NOW.isoformat(), "age_years": 3}, "unknown_field"),
        ({"patient_id": "P1", "discharge_ts": "yesterday"}, "bad_timestamp"),
        ({"patient_id": "P1", "discharge_ts": NOW.isoformat(), "reason": 7}, "malformed"),
        ({"patient_id": "P1", "discharge_ts": NOW.isoformat(), "reason": "x" * 201}, "malformed"),
        ({"patient_id": "P2", "discharge_ts": NOW.isoformat()}, "key_mismatch"),
    ]
    for obj, code in bad:
        with pytest.raises(InvalidRecord) as e:
            adt_validate(json.dumps(obj).encode(), key="P1", now=NOW)
        assert e.value.code == code, obj
