"""``train.fit_feature_set`` end to end on a small synthetic cohort: what ``wardwatch train
deterioration`` runs per feature set (it failed once the model cached its arrays while scoring,
and nothing ran it)."""

from __future__ import annotations

import numpy as np

from models.deterioration.dataset import PatientMatrix
from models.deterioration.features import feature_names
from models.deterioration.train import VERSION_PREFIX, fit_feature_set


def _cohort(rng: np.random.Generator, n: int, tag: str) -> list[PatientMatrix]:
    width = len(feature_names("vitals"))
    pms = []
    for i in range(n):
        hours = 24
        septic = i % 4 == 0
        y = np.array([0] * 16 + [1] * 8 if septic else [0] * hours, dtype=np.int8)
        X = rng.normal(size=(hours, width))
        X[:, 0] += 1.5 * y  # one feature carries the signal
        pms.append(PatientMatrix(f"{tag}{i:04d}", X, y, np.zeros(hours), np.zeros(hours), 60.0, float(i % 2)))
    return pms


def test_fit_feature_set_gives_a_versioned_model_with_test_metrics():
    rng = np.random.default_rng(0)
    train, val, test = _cohort(rng, 80, "tr"), _cohort(rng, 40, "va"), _cohort(rng, 40, "te")
    f = fit_feature_set("vitals", train, val, test)
    assert f.model.version.startswith(f"{VERSION_PREFIX}-vitals-")
    assert 0 < f.model.threshold < 1 and f.model.clear_threshold < f.model.threshold
    t = f.model.metrics["test"]
    assert t["auroc"] > 0.7 and t["patients"] == 40
    again = fit_feature_set("vitals", train, val, test)
    assert again.model.version == f.model.version  # deterministic
