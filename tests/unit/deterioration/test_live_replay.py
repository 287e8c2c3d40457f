"""A training patient replayed through the live path gives the training feature matrix.

The patient's hourly rows go in as the stream would carry them: an admission (age, sex, ICU
admission time) through ``deterioration_admit``, each lab result as a validated ``labs`` message
through ``deterioration_lab``, the vitals as validated readings every 10 minutes through
``deterioration_step`` (the vitals agent's call), with the state round-tripped through JSON every
hour as the Faust table does. After the last record of each ICU hour the live feature vector must
equal the training matrix row of that hour, for every feature set, and the live probability the
model's probability of that row.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.deterioration.dataset import iter_tar, patient_matrix
from models.deterioration.features import (
    FEATURE_SETS,
    LABS,
    VITALS,
    feature_columns,
    feature_names,
    features_vector,
)
from models.deterioration.live import deterioration_admit, deterioration_lab, deterioration_step
from models.deterioration.model import load_model
from models.deterioration.train import SET_A_TAR, split_of
from wardwatch.records.errors import InvalidRecord
from wardwatch.records.labs import labs_validate
from wardwatch.records.vitals import vitals_validate
from wardwatch.settings import shared_data

# A septic training-split patient of set A with 131 lab results over 42 h, three hours that have
# labs but no vital sign, and charted MAP.
PATIENT = "p010156.psv"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FIELDS = {
    "HR": "hr_bpm",
    "O2Sat": "spo2_pct",
    "Temp": "temp_c",
    "SBP": "sbp_mmhg",
    "DBP": "dbp_mmhg",
    "Resp": "rr_bpm",
}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, float]]:
    found = list(iter_tar(shared_data(SET_A_TAR), lambda n: n == PATIENT))
    assert len(found) == 1 and split_of(PATIENT) == "train"
    return found[0][1]


def _present(row: dict[str, float], col: str) -> bool:
    return col in row and not math.isnan(row[col])


def _replay(rows: list[dict[str, float]]):
    """Yield (row index, live state) after the last record of every ICU hour that had one."""
    model = load_model("labs")
    sex = "M" if rows[0]["Gender"] == 1 else "F"
    state = deterioration_admit(None, rows[0]["Age"], sex, T0)
    for i, row in enumerate(rows):
        start = T0 + timedelta(hours=row["ICULOS"] - 1)
        fed = False
        for lab in LABS:
            if not _present(row, lab):
                continue
            msg = {"patient_id": "P1", "ts": (start + timedelta(minutes=5)).isoformat(), "test": lab}
            try:  # an impossible value is dead-lettered by the labs agent
                result = labs_validate(json.dumps({**msg, "value": row[lab], "unit": LABS[lab]}).encode())
            except InvalidRecord:
                continue
            state = deterioration_lab(state, result.to_dict())
            fed = True
        vit = {f: row[c] for c, f in FIELDS.items() if _present(row, c)}
        for m in range(10, 60, 10) if vit else ():
            raw = {"patient_id": "P1", "bed": "B1", "ts": (start + timedelta(minutes=m)).isoformat(), **vit}
            reading = vitals_validate(json.dumps(raw).encode())
            state, _, _ = deterioration_step(state, reading, None, model=model)
            fed = True
        state = json.loads(json.dumps(state))  # the Faust table's changelog round trip
        if fed:
            yield i, state, bool(vit)


def test_live_path_replays_a_training_patient_to_the_training_matrix(rows) -> None:
    # A VitalsReading carries no MAP: the stream derives (SBP + 2 DBP) / 3 as training does when
    # a row has no MAP. So the live vectors equal the training matrix of the rows without their
    # charted MAP in every column, and the matrix of the rows as charted in every non-MAP column.
    no_map = [{k: v for k, v in r.items() if k != "MAP"} for r in rows]
    X_all = patient_matrix(PATIENT, no_map, "all").X
    X_charted = patient_matrix(PATIENT, rows, "all").X
    model = load_model("labs")
    compared = lab_hours = 0
    for i, state, scored in _replay(rows):
        for fs in FEATURE_SETS:
            live = features_vector(state["features"], fs)
            cols = feature_columns(fs)
            np.testing.assert_array_equal(live, X_all[i, cols], err_msg=f"{fs}, row {i}")
            non_map = [j for j, n in enumerate(feature_names(fs)) if not n.startswith("MAP_")]
            np.testing.assert_array_equal(live[non_map], X_charted[i, cols][non_map])
        if scored:
            x = X_all[i, feature_columns("labs")].reshape(1, -1)
            assert state["prob"] == float(model.predict_proba(x)[0])
        compared += 1
        lab_hours += any(_present(rows[i], lab) for lab in LABS)
    assert compared >= 40 and lab_hours >= 20
    assert any(_present(r, "MAP") for r in rows) and all(v in rows[0] for v in VITALS)
