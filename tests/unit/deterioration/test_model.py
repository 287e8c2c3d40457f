"""The committed artifact loads, matches the feature code and beats NEWS2 on held-out patients."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from models.deterioration.dataset import iter_tar, patient_matrix
from models.deterioration.features import feature_names
from models.deterioration.model import load_model
from models.deterioration.train import DEFAULT_TAR, split_of


def test_artifact_loads_and_matches_feature_code() -> None:
    m = load_model()
    assert m.feature_set == "vitals"
    assert m.feature_names == feature_names("vitals")
    assert 0.0 < m.clear_threshold < m.threshold < 1.0
    assert m.version.startswith("deterioration-lr-vitals-")
    x = np.zeros(len(m.feature_names))
    assert 0.0 < float(m.predict_proba(x.reshape(1, -1))[0]) < 1.0


@pytest.mark.skipif(not DEFAULT_TAR.exists(), reason="PhysioNet 2019 set A not available")
def test_beats_news2_on_held_out_test_patients() -> None:
    # 1,500 patients of the test split (never used for fitting, calibration or threshold).
    m = load_model()
    seen = {"n": 0}

    def select(name: str) -> bool:
        if split_of(name) != "test" or seen["n"] >= 1500:
            return False
        seen["n"] += 1
        return True

    pms = [patient_matrix(n, rows, m.feature_set) for n, rows in iter_tar(DEFAULT_TAR, select)]
    y = np.concatenate([pm.y for pm in pms])
    p = np.concatenate([m.predict_proba(pm.X) for pm in pms])
    news = np.concatenate([pm.news2 for pm in pms])
    assert y.sum() > 100
    auc_model, auc_news = roc_auc_score(y, p), roc_auc_score(y, news)
    assert auc_model >= 0.72
    assert auc_model - auc_news >= 0.08
