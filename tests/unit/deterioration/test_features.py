"""The feature code gives identical vectors offline (hourly rows) and in the stream (1 Hz)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.deterioration.features import (
    LABS,
    feature_names,
    features_init,
    features_psv_rows,
    features_update,
    features_vector,
)
from wardwatch.records.vitals import VitalsReading

NAN = math.nan
# ICU hours 1..9 of a patient getting worse; hour 5 has no measurement at all, NIBP and
# temperature are charted only in some hours, a lactate arrives in hour 4.
ROWS = [
    {"ICULOS": 1, "HR": 82, "O2Sat": 97, "Temp": 36.8, "SBP": 128, "DBP": 74, "Resp": 16},
    {"ICULOS": 2, "HR": 88, "O2Sat": 96, "Temp": NAN, "SBP": NAN, "DBP": NAN, "Resp": 18},
    {"ICULOS": 3, "HR": 95, "O2Sat": 96, "Temp": NAN, "SBP": 118, "DBP": 66, "Resp": 19},
    {"ICULOS": 4, "HR": 101, "O2Sat": 95, "Temp": 38.3, "SBP": 110, "DBP": 60, "Resp": 22, "Lactate": 2.6},
    {"ICULOS": 5, "HR": NAN, "O2Sat": NAN, "Temp": NAN, "SBP": NAN, "DBP": NAN, "Resp": NAN},
    {"ICULOS": 6, "HR": 112, "O2Sat": 94, "Temp": NAN, "SBP": 101, "DBP": 55, "Resp": 24},
    {"ICULOS": 7, "HR": 118, "O2Sat": 93, "Temp": 38.9, "SBP": 96, "DBP": 52, "Resp": 26},
    {"ICULOS": 8, "HR": 121, "O2Sat": 93, "Temp": NAN, "SBP": NAN, "DBP": NAN, "Resp": 27},
    {"ICULOS": 9, "HR": 125, "O2Sat": 92, "Temp": 39.1, "SBP": 92, "DBP": 50, "Resp": 28},
]
FIELDS = {
    "HR": "hr_bpm",
    "O2Sat": "spo2_pct",
    "Temp": "temp_c",
    "SBP": "sbp_mmhg",
    "DBP": "dbp_mmhg",
    "Resp": "rr_bpm",
}
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _stream_hour(row: dict, step_s: int):
    """The readings of one ICU hour at one every ``step_s`` seconds, constant values."""
    kw = {f: row[c] for c, f in FIELDS.items() if not math.isnan(row.get(c, NAN))}
    if not kw:
        return
    h = row["ICULOS"]
    for k in range(0, 3600, step_s):
        yield VitalsReading(patient_id="P1", bed="B1", ts=T0 + timedelta(hours=h - 1, seconds=k), **kw)


@pytest.mark.parametrize("feature_set", ["vitals", "full", "labs"])
def test_offline_rows_and_1hz_stream_give_identical_vectors(feature_set: str) -> None:
    offline, _ = features_psv_rows(ROWS, feature_set)
    state = features_init()
    for i, row in enumerate(ROWS):
        fed = False
        for reading in _stream_hour(row, step_s=1):
            features_update(state, reading.to_dict())
            fed = True
        if "Lactate" in row:  # a lab result on the labs topic, same hour
            features_update(
                state,
                {
                    "ts": (T0 + timedelta(hours=row["ICULOS"] - 1, minutes=30)).isoformat(),
                    "test": "Lactate",
                    "value": row["Lactate"],
                },
            )
        if fed:  # after the last reading of the hour the stream equals the hourly row, exactly
            assert np.array_equal(features_vector(state, feature_set), offline[i]), f"hour {row['ICULOS']}"
    assert offline.shape == (len(ROWS), len(feature_names(feature_set)))
    assert not np.isnan(offline).any()


def test_state_is_json_serialisable_and_resumes() -> None:
    state = features_init()
    for row in ROWS[:4]:
        for r in _stream_hour(row, step_s=60):
            features_update(state, r.to_dict())
    restored = json.loads(json.dumps(state))
    for row in ROWS[4:]:
        for r in _stream_hour(row, step_s=60):
            features_update(state, r.to_dict())
            features_update(restored, r.to_dict())
    assert np.array_equal(features_vector(state), features_vector(restored))


def test_trend_features_see_deterioration() -> None:
    X, _ = features_psv_rows(ROWS)
    names = feature_names()
    assert X[-1, names.index("HR_slope6h")] > 3.0  # bpm per hour
    assert X[-1, names.index("SBP_slope6h")] < -3.0
    assert X[-1, names.index("ICULOS_capped")] == 9
    assert X[-1, names.index("HR_never")] == 0


def test_icu_hour_is_capped() -> None:
    X, _ = features_psv_rows([{"ICULOS": 200, "HR": 80}])
    assert X[0, feature_names().index("ICULOS_capped")] == 48


def test_unknown_feature_set_and_lab_rejected() -> None:
    with pytest.raises(ValueError, match="valid"):
        feature_names("everything")
    with pytest.raises(ValueError, match="unknown lab"):
        features_update(features_init(), {"ts": T0.isoformat(), "test": "Unobtainium", "value": 1})


def test_lab_record_feeds_the_full_features() -> None:
    from wardwatch.records.labs import LabResult

    lab = LabResult(patient_id="P1", ts=T0, test="Lactate", value=3.1, unit="mmol/L")
    state = features_init()
    features_update(state, VitalsReading(patient_id="P1", bed="B1", ts=T0, hr_bpm=90).to_dict())
    features_update(state, lab.to_dict())
    x = features_vector(state, "full")
    assert x[feature_names("full").index("Lactate_last")] == 3.1
    with pytest.raises(ValueError, match="mmol/L"):
        LabResult(patient_id="P1", ts=T0, test="Lactate", value=27.0, unit="mg/dL")


def test_labs_set_has_change_since_first_result_and_no_lab_timing() -> None:
    rows = [
        {"ICULOS": 1, "HR": 80, "Creatinine": 1.0},
        {"ICULOS": 2, "HR": 85},
        {"ICULOS": 3, "HR": 90, "Creatinine": 1.8},
        {"ICULOS": 4, "HR": 92, "Creatinine": 2.4, "FiO2": 40.0},  # FiO2 40 is percent: impossible
    ]
    X, _ = features_psv_rows(rows, "labs")
    names = feature_names("labs")
    col = {n: X[:, names.index(n)] for n in ("Creatinine_last", "Creatinine_vs_first", "Lactate_last")}
    assert col["Creatinine_last"].tolist() == [1.0, 1.0, 1.8, 2.4]
    np.testing.assert_allclose(col["Creatinine_vs_first"], [0.0, 0.0, 0.8, 1.4])
    assert col["Lactate_last"].tolist() == [1.0] * 4  # never drawn: the reference value
    assert X[3, names.index("FiO2_last")] == 0.21  # dropped as the labs validator would
    assert not any(n.endswith(("_hours_since", "_never")) and n.split("_")[0] in LABS for n in names)
    assert "labs_count_24h" not in names
