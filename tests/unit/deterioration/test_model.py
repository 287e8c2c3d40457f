"""The committed artifact loads, matches the feature code and beats NEWS2 on held-out patients."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from models.deterioration.dataset import iter_tar, patient_matrix
from models.deterioration.features import feature_names
from models.deterioration.model import DEPLOYED, load_model
from models.deterioration.train import SET_A_TAR, split_of
from wardwatch.settings import shared_data

SET_A = shared_data(SET_A_TAR)


def test_artifact_loads_and_matches_feature_code() -> None:
    m = load_model()
    assert m.feature_set == DEPLOYED
    assert m.feature_names == feature_names(DEPLOYED)
    assert 0.0 < m.clear_threshold < m.threshold < 1.0
    assert m.version.startswith(f"deterioration-lr-{DEPLOYED}-")
    x = np.zeros(len(m.feature_names))
    assert 0.0 < float(m.predict_proba(x.reshape(1, -1))[0]) < 1.0


def test_beats_news2_on_held_out_test_patients() -> None:
    # 1,500 patients of the test split (never used for fitting, calibration or threshold).
    m = load_model()
    seen = {"n": 0}

    def select(name: str) -> bool:
        if split_of(name) != "test" or seen["n"] >= 1500:
            return False
        seen["n"] += 1
        return True

    pms = [patient_matrix(n, rows, m.feature_set) for n, rows in iter_tar(SET_A, select)]
    y = np.concatenate([pm.y for pm in pms])
    p = np.concatenate([m.predict_proba(pm.X) for pm in pms])
    news = np.concatenate([pm.news2 for pm in pms])
    assert y.sum() > 100
    auc_model, auc_news = roc_auc_score(y, p), roc_auc_score(y, news)
    assert auc_model >= 0.72
    assert auc_model - auc_news >= 0.08


def test_hinge_basis_gives_a_piecewise_linear_effect_and_explains_per_feature() -> None:
    from models.deterioration.model import DeteriorationModel, basis_source, hinge_basis

    X = np.array([[50.0, 1.0], [100.0, 0.0], [130.0, 1.0]])
    knots = [[90.0, 120.0], []]  # heart rate: two knots; a 0/1 flag: none
    B = hinge_basis(X, knots)
    assert B.tolist() == [[50, 1, 0, 0], [100, 0, 10, 0], [130, 1, 40, 10]]
    assert basis_source(2, knots).tolist() == [0, 1, 0, 0]
    # risk falls with HR up to 90 then rises: a V shape one line cannot draw
    m = DeteriorationModel(
        version="t",
        feature_set="vitals",
        feature_names=["HR", "flag"],
        mean=[0.0] * 4,
        scale=[1.0] * 4,
        coef=[-0.1, 0.5, 0.2, 0.0],
        intercept=0.0,
        calib_a=1.0,
        calib_b=0.0,
        threshold=0.5,
        clear_threshold=0.4,
        knots=knots,
    )
    z = m.decision(np.array([[60.0, 0.0], [90.0, 0.0], [120.0, 0.0]]))
    assert z[1] < z[0] and z[1] < z[2]
    # the explanation sums a feature's basis terms: HR 130 -> -13 + 8 = -5, flag -> 0.5
    top = m.explain(np.array([130.0, 1.0]), top=5)
    assert top == [{"feature": "flag", "value": 1.0, "contribution": 0.5}]
