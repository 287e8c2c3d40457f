"""Admission (ADT) validation and its effect on the deterioration state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from models.deterioration.features import feature_names, features_vector
from models.deterioration.live import deterioration_admit, deterioration_step
from streams.admissions.validate import admission_validate
from streams.vitals.records import VitalsReading
from streams.vitals.validate import InvalidReading

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _raw(**over) -> bytes:
    d = {"patient_id": "P1", "admit_ts": (NOW - timedelta(hours=5)).isoformat(), "age_years": 71,
         "sex": "F"}
    d.update(over)
    return json.dumps({k: v for k, v in d.items() if v is not ...}).encode()


def test_a_good_admission_is_accepted() -> None:
    adm = admission_validate(_raw(), key="P1", now=NOW)
    assert (adm.patient_id, adm.age_years, adm.sex) == ("P1", 71.0, "F")
    assert adm.admit_ts == NOW - timedelta(hours=5)


@pytest.mark.parametrize(("over", "key", "reason"), [
    ({"age_years": 850}, "P1", "age_years=850 outside"),     # months sent as years
    ({"age_years": 3}, "P1", "age_years=3 outside"),
    ({"age_years": "71"}, "P1", "age_years must be a number"),
    ({"sex": "female"}, "P1", "sex must be 'M' or 'F'"),
    ({"sex": ...}, "P1", "missing fields ['sex']"),
    ({"ward": "ICU"}, "P1", "unknown fields ['ward']"),
    ({}, "P9", "message key does not match"),
    ({"admit_ts": "yesterday"}, "P1", "not ISO-8601"),
    ({"admit_ts": "2026-11-25T06:00:00"}, "P1", "no timezone"),
    ({"admit_ts": (NOW + timedelta(hours=2)).isoformat()}, "P1", "in the future"),
])
def test_bad_admissions_are_rejected_with_a_reason(over: dict, key: str, reason: str) -> None:
    with pytest.raises(InvalidReading) as e:
        admission_validate(_raw(**over), key=key, now=NOW)
    assert reason in e.value.reason


def test_admission_sets_demographics_and_numbers_icu_hours_from_admission() -> None:
    adm = admission_validate(_raw(), key="P1", now=NOW)
    state = deterioration_admit(None, adm.age_years, adm.sex, adm.admit_ts)
    reading = VitalsReading(patient_id="P1", bed="B1", ts=NOW, hr_bpm=88, spo2_pct=97, rr_bpm=16)
    state, _, _ = deterioration_step(state, reading, None)
    x = dict(zip(feature_names("full"), features_vector(state["features"], "full"), strict=True))
    assert (x["Age"], x["Gender_male"], x["demographics_missing"]) == (71.0, 0.0, 0.0)
    assert x["ICULOS_capped"] == 6          # admitted 5 h before this reading: ICU hour 6
    # an admission after the first reading keeps the hour numbering (closed buckets stay put)
    late = deterioration_admit(state, 80.0, "M", NOW - timedelta(hours=30))
    y = dict(zip(feature_names("full"), features_vector(late["features"], "full"), strict=True))
    assert (y["Age"], y["Gender_male"], y["ICULOS_capped"]) == (80.0, 1.0, 6)
