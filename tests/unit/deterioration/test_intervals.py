"""Patient-bootstrap intervals of the deterioration metrics (``evaluate.patient_intervals``)."""

from __future__ import annotations

import numpy as np

from models.deterioration.dataset import PatientMatrix
from models.deterioration.evaluate import patient_intervals, score_patients


def _patient(i: int, y: list[int], p: list[float]) -> tuple[PatientMatrix, np.ndarray]:
    n = len(y)
    pm = PatientMatrix(
        f"p{i:05d}", np.zeros((n, 1)), np.array(y, dtype=np.int8), np.zeros(n), np.zeros(n), 60.0, 1.0
    )
    return pm, np.array(p, dtype=float)


def _cohort(seed: int, n: int = 120) -> tuple[list[PatientMatrix], list[np.ndarray]]:
    """Patients of 20 hours; a third septic from hour 12, the model's risk noisy but rising there."""
    rng = np.random.default_rng(seed)
    pms, probs = [], []
    for i in range(n):
        septic = i % 3 == 0
        y = [0] * 12 + [1] * 8 if septic else [0] * 20
        base = rng.uniform(0.0, 0.4)  # a patient-level offset: rows of one patient are not independent
        p = [min(1.0, base + (0.25 if septic and h >= 6 else 0.0) + rng.uniform(0, 0.2)) for h in range(20)]
        pm, pr = _patient(i, y, p)
        pms.append(pm)
        probs.append(pr)
    return pms, probs


def test_the_intervals_hold_the_point_estimates_and_narrow_with_more_patients():
    pms, probs = _cohort(1)
    point = score_patients(pms, probs, 0.5)
    ci = patient_intervals(pms, probs, 0.5, resamples=200)
    assert ci["unit"] == "patient" and ci["resamples"] == 200
    for k in ("auroc", "utility"):
        lo, hi = ci[k]
        assert lo < hi and lo <= point[k] <= hi, (k, lo, point[k], hi)
    big_pms, big_probs = _cohort(2, n=960)
    big = patient_intervals(big_pms, big_probs, 0.5, resamples=200)
    for k in ("auroc", "utility"):
        assert big[k][1] - big[k][0] < 0.6 * (ci[k][1] - ci[k][0])  # ~1/sqrt(8) of the width


def test_identical_patients_give_no_spread_and_unlabelled_files_no_interval():
    pairs = [
        _patient(i, [0, 0, 1, 1] if i % 2 else [0, 0, 0, 0], [0.1, 0.2, 0.9, 0.8] if i % 2 else [0.1] * 4)
        for i in range(10)
    ]
    pms, probs = [p for p, _ in pairs], [q for _, q in pairs]
    ci = patient_intervals(pms, probs, 0.5, resamples=50)
    assert ci["auroc"] == [1.0, 1.0]
    unlabelled = [PatientMatrix("u", np.zeros((2, 1)), None, np.zeros(2), np.zeros(2), 50.0, 0.0)]
    assert patient_intervals(unlabelled, [np.zeros(2)], 0.5)["auroc"] is None


def test_the_committed_intervals_belong_to_the_committed_artifacts():
    """``artifacts/test_intervals.json`` is written from the artifacts as they are: same
    versions, and the point figures computed beside the intervals are the training's own (to a
    last digit: an hour's probability at the threshold may round the other way)."""
    import json

    from models.deterioration.model import ARTIFACT_DIR

    ti = json.loads((ARTIFACT_DIR / "test_intervals.json").read_text())
    metrics = json.loads((ARTIFACT_DIR / "metrics.json").read_text())
    for fs, t in ti.items():
        m = metrics[fs]
        assert t["model_version"] == m["version"]
        assert t["patients"] == m["test"]["patients"]
        for k in ("auroc", "utility"):  # the same to a last digit (features rebuilt)
            assert abs(t[k] - m["test"][k]) <= 2e-4, (fs, k, t[k], m["test"][k])
        lo, hi = t["ci95"]["auroc"]
        assert lo < t["auroc"] < hi


def test_paired_intervals_are_of_the_difference_over_the_same_patients():
    pms, probs = _cohort(3, n=300)
    same = patient_intervals(pms, probs, 0.5, versus=(probs, 0.5), resamples=100)
    assert same["paired"] and same["auroc"] == [0.0, 0.0] and same["utility"] == [0.0, 0.0]
    rng = np.random.default_rng(4)
    noisy = [np.clip(p + rng.normal(0, 0.3, p.size), 0, 1) for p in probs]
    better = patient_intervals(pms, probs, 0.5, versus=(noisy, 0.5), resamples=200)
    assert better["auroc"][0] > 0  # the clean model ranks better on every resample's patients
