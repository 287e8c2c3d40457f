"""Lab-result validation: the wire format, units, ranges and the reasons bad results carry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from models.deterioration.features import (
    LABS,
    NORMAL,
    feature_names,
    features_init,
    features_vector,
)
from models.deterioration.live import deterioration_lab
from wardwatch.records.errors import InvalidRecord
from wardwatch.records.labs import LAB_RANGES, labs_validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _raw(**over) -> bytes:
    d = {
        "patient_id": "P1",
        "ts": (NOW - timedelta(hours=1)).isoformat(),
        "test": "Lactate",
        "value": 2.6,
        "unit": "mmol/L",
    }
    d.update(over)
    return json.dumps({k: v for k, v in d.items() if v is not ...}).encode()


def test_a_good_result_is_accepted() -> None:
    lab = labs_validate(_raw(), key="P1", now=NOW)
    assert (lab.patient_id, lab.test, lab.value, lab.unit) == ("P1", "Lactate", 2.6, "mmol/L")


@pytest.mark.parametrize(
    ("over", "key", "reason"),
    [
        ({"unit": "mg/dL"}, "P1", "Lactate must be sent in 'mmol/L'"),
        ({"test": "FiO2", "value": 40, "unit": "fraction"}, "P1", "FiO2=40 fraction outside"),
        ({"test": "pH", "value": 9.1, "unit": "pH"}, "P1", "pH=9.1"),
        ({"test": "Unobtainium"}, "P1", "unknown lab test"),
        ({"value": "high"}, "P1", "value must be a number"),
        ({"value": True}, "P1", "value must be a number"),
        ({"unit": ...}, "P1", "missing fields ['unit']"),
        ({"extra": 1}, "P1", "unknown fields ['extra']"),
        ({}, "P2", "message key does not match"),
        ({"ts": "2026-11-25T10:00:00"}, "P1", "no timezone"),
        ({"ts": (NOW + timedelta(hours=1)).isoformat()}, "P1", "in the future"),
    ],
)
def test_bad_results_are_rejected_with_a_reason(over: dict, key: str, reason: str) -> None:
    with pytest.raises(InvalidRecord) as e:
        labs_validate(_raw(**over), key=key, now=NOW)
    assert reason in e.value.reason


def test_malformed_and_non_finite_messages_are_rejected() -> None:
    with pytest.raises(InvalidRecord, match="malformed: not JSON"):
        labs_validate(b'{"patient_id": ', key="P1", now=NOW)
    with pytest.raises(InvalidRecord, match="non-finite"):
        labs_validate(_raw().replace(b"2.6", b"NaN"), key="P1", now=NOW)


def test_every_model_lab_has_a_range_that_holds_its_reference_value() -> None:
    assert set(LAB_RANGES) == set(LABS)
    for test, (lo, hi) in LAB_RANGES.items():
        assert lo <= NORMAL[test] <= hi, test


def test_a_lab_result_changes_the_full_feature_vector_only() -> None:
    lab = labs_validate(_raw(value=6.0), key="P1", now=NOW).to_dict()
    state = deterioration_lab(None, lab)
    names = feature_names("full")
    before = dict(zip(names, features_vector(features_init(), "full"), strict=True))
    after = dict(zip(names, features_vector(state["features"], "full"), strict=True))
    assert (before["Lactate_last"], before["Lactate_never"]) == (NORMAL["Lactate"], 1.0)
    assert (after["Lactate_last"], after["Lactate_never"]) == (6.0, 0.0)
    changed = {n for n in names if before[n] != after[n]}
    assert changed and changed <= set(names) - set(feature_names("vitals"))
