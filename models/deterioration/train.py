"""Train the deterioration model: ``wardwatch train deterioration``.

Data: PhysioNet/CinC 2019 training set A (Reyna et al., Crit Care Med 2020), read in place from
the tarball. Split by patient, deterministically, on a SHA-256 of the file name: 60 % train,
20 % validation, 20 % test. Two models share that split:

* ``vitals`` (deployed): bedside-monitor features only;
* ``full``: plus demographics and laboratory results (what a ``labs`` topic would add).

Each is a standardized L2 logistic regression over a hinge basis of the features (knots at
training quantiles; C chosen on validation AUROC), Platt-calibrated
on the validation patients, with the alert threshold chosen on validation to maximise the
worst normalized utility score between set A's septic prevalence and set B's
(:data:`PREVALENCE_FACTORS`). Test-patient metrics go into the artifact, ``metrics.json`` and the
model card.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.deterioration.dataset import PatientMatrix, build, iter_tar
from models.deterioration.evaluate import score_patients
from models.deterioration.features import FEATURE_SETS, feature_columns, feature_names
from models.deterioration.model import ARTIFACT_DIR, DeteriorationModel, hinge_basis, save_model
from models.deterioration.utility import normalized_utilities, prevalence_weight

log = logging.getLogger(__name__)

#: Set A's tarball inside the shared data folder (``WARDWATCH_SHARED_DATA``; the CLI resolves it).
SET_A_TAR = "sepsis2019/training_setA.tar.gz"
N_PATIENTS_A = 20336
C_GRID = (0.001, 0.003, 0.01, 0.03)
KNOT_QUANTILES = (10, 25, 50, 75, 90)  # hinge knots per non-binary feature (training rows)
AGE_BANDS = ((0, 50, "<50"), (50, 65, "50-64"), (65, 80, "65-79"), (80, 200, ">=80"))
VERSION_PREFIX = "deterioration-lr"
# The alert threshold must hold up where sepsis is rarer than in set A: the challenge's public
# hospitals differ (Reyna et al., Crit Care Med 2020: 1,790 of set A's 20,336 patients septic,
# 8.8 %; 1,142 of set B's 20,000, 5.7 %), and the challenge saw utility collapse on a hospital
# teams had not trained on. The threshold maximises the worst validation utility over septic
# prevalences from set A's down to set B's (factors relative to the validation patients'; model
# card: "Generalisation"), not the utility at set A's prevalence alone.
PREVALENCE_FACTORS = (1.0, round((1142 / 20000) / (1790 / 20336), 3))
REPORT_FACTORS = (*PREVALENCE_FACTORS, 0.5)  # test utility is also reported at half set A's
CALIBRATION_PLOTS = ("vitals", "labs")  # reliability diagrams written (the card shows them)
CLEAR_RATIO = 0.7  # the alert clears below this fraction of its threshold (hysteresis)


def split_of(name: str) -> str:
    """Deterministic patient-wise split from the file name: train / val / test (60/20/20)."""
    b = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 100
    return "train" if b < 60 else "val" if b < 80 else "test"


@dataclass
class Fitted:
    model: DeteriorationModel
    val_utility: float
    test: dict[str, Any]
    test_prob: list[np.ndarray]


def _stack(pms: Sequence[PatientMatrix], cols: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    X = np.vstack([pm.X[:, cols] for pm in pms])
    y = np.concatenate([pm.y for pm in pms])
    return X, y


def platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: ``(a, b)`` with ``p = sigmoid(a * z + b)`` fitted to labels ``y`` (Platt,
    Advances in Large Margin Classifiers, 1999; an unregularised one-feature logistic fit)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def utility_by_prevalence(
    pms: Sequence[PatientMatrix], prob: Sequence[np.ndarray], thr: float, factors: Sequence[float]
) -> dict[float, float]:
    """Normalized utility of alerting at ``prob >= thr`` where septic patients are ``factor``
    times as common as among ``pms`` (:func:`models.deterioration.utility.prevalence_weight`)."""
    ys = [pm.labels for pm in pms]
    septic = float(np.mean([bool(np.any(y)) for y in ys]))
    pred = [(p >= thr).astype(int) for p in prob]
    scores = normalized_utilities(
        ys,
        pred,
        [prevalence_weight(septic, f) for f in factors],
    )
    return dict(zip(factors, scores, strict=True))


def choose_threshold(
    pms: Sequence[PatientMatrix], prob: Sequence[np.ndarray], factors: Sequence[float] = PREVALENCE_FACTORS
) -> tuple[float, dict[float, float]]:
    """The threshold whose worst :func:`utility_by_prevalence` over ``factors`` is highest, and
    its utility at each factor. With ``factors=(1.0,)`` this is the challenge's own choice (the
    best utility on these patients)."""
    grid = np.unique(np.quantile(np.concatenate(prob), np.linspace(0.5, 0.995, 60)))
    scored = [(float(t), utility_by_prevalence(pms, prob, t, factors)) for t in grid]
    return max(scored, key=lambda s: min(s[1].values()))  # the first of equals, the lowest


def rounded(utils: dict[float, float]) -> dict[str, float]:
    """Utilities by prevalence factor as JSON keeps them: string keys, 4 decimals."""
    return {str(f): round(u, 4) for f, u in utils.items()}


def choose_knots(X: np.ndarray) -> list[list[float]]:
    """Hinge knots per column: the KNOT_QUANTILES of the training rows strictly inside the
    column's range; none for 0/1 columns."""
    knots: list[list[float]] = []
    sample = X[::5]
    for j in range(X.shape[1]):
        col = X[:, j]
        lo, hi = float(col.min()), float(col.max())
        if np.isin(sample[:, j], (0.0, 1.0)).all() and np.isin(col, (0.0, 1.0)).all():
            knots.append([])
            continue
        ks = np.unique(np.percentile(sample[:, j], KNOT_QUANTILES))
        knots.append([float(k) for k in ks if lo < k < hi])
    return knots


def fit_feature_set(
    feature_set: str,
    train: Sequence[PatientMatrix],
    val: Sequence[PatientMatrix],
    test: Sequence[PatientMatrix],
    seed: int = 0,
    columns: Sequence[int] | None = None,
) -> Fitted:
    """Fit, calibrate, threshold and test one feature set.

    ``columns``: where the set's columns are in the patients' matrices (default: the matrices
    hold exactly the set's columns; training passes :func:`features.feature_columns` of its
    one all-features matrix)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    names = feature_names(feature_set)
    cols = list(range(len(names))) if columns is None else list(columns)
    Xtr, ytr = _stack(train, cols)
    Xva, yva = _stack(val, cols)
    knots = choose_knots(Xtr)
    Btr, Bva = hinge_basis(Xtr, knots), hinge_basis(Xva, knots)
    del Xtr, Xva
    scaler = StandardScaler().fit(Btr)
    scaler.scale_[scaler.scale_ == 0] = 1.0
    Ztr, Zva = scaler.transform(Btr), scaler.transform(Bva)
    del Btr, Bva
    best: tuple[float, Any, float] = (-1.0, None, 0.0)
    for C in C_GRID:
        lr = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(Ztr, ytr)
        auc = roc_auc_score(yva, lr.decision_function(Zva))
        log.info("%s C=%g validation AUROC %.4f", feature_set, C, auc)
        if auc > best[0]:
            best = (auc, lr, C)
    val_auc, lr, C = best
    a, b = platt(lr.decision_function(Zva), yva)
    model = DeteriorationModel(
        version="",
        feature_set=feature_set,
        feature_names=names,
        mean=[float(v) for v in scaler.mean_],
        scale=[float(v) for v in scaler.scale_],
        coef=[float(v) for v in lr.coef_[0]],
        intercept=float(lr.intercept_[0]),
        calib_a=a,
        calib_b=b,
        threshold=0.5,
        clear_threshold=0.5,
        knots=knots,
    )
    val_prob = [model.predict_proba(pm.X[:, cols]) for pm in val]
    thr, val_utils = choose_threshold(val, val_prob)
    val_util = val_utils[1.0]
    test_prob = [model.predict_proba(pm.X[:, cols]) for pm in test]
    test_metrics = score_patients(test, test_prob, thr)
    test_metrics["utility_by_prevalence"] = rounded(
        utility_by_prevalence(test, test_prob, thr, REPORT_FACTORS)
    )
    # The challenge's own rule (best utility at set A's prevalence), for the model card.
    own, own_val = choose_threshold(val, val_prob, factors=(1.0,))
    own_test = score_patients(test, test_prob, own)
    test_metrics["challenge_rule"] = {
        "threshold": round(own, 5),
        "validation_utility": round(own_val[1.0], 4),
        "utility_by_prevalence": rounded(utility_by_prevalence(test, test_prob, own, REPORT_FACTORS)),
        **{k: own_test[k] for k in ("flagged_septic_pct", "flagged_non_septic_pct")},
    }
    test_metrics.update(_subgroups(test, test_prob, thr))
    digest = hashlib.sha256(json.dumps([model.coef, model.intercept, a, b, thr, knots]).encode())
    version = f"{VERSION_PREFIX}-{feature_set}-{digest.hexdigest()[:8]}"
    # dataclasses.replace, not DeteriorationModel(**model.__dict__): the instance dict also holds
    # the model's cached arrays once it has scored (which made training fail since they came)
    model = dataclasses.replace(
        model,
        version=version,
        threshold=round(thr, 5),
        clear_threshold=round(CLEAR_RATIO * thr, 5),
        metrics={
            "test": test_metrics,
            "validation_auroc": round(val_auc, 4),
            "validation_utility": round(val_util, 4),
            "validation_utility_by_prevalence": rounded(val_utils),
            "C": C,
        },
    )
    return Fitted(model, val_util, test_metrics, test_prob)


def _subgroups(pms: Sequence[PatientMatrix], prob: Sequence[np.ndarray], thr: float) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    for i, pm in enumerate(pms):
        sex = "male" if pm.male == 1 else "female" if pm.male == 0 else "unknown"
        groups.setdefault(f"sex={sex}", []).append(i)
        for lo, hi, label in AGE_BANDS:
            if lo <= pm.age < hi:
                groups.setdefault(f"age={label}", []).append(i)
    out = {}
    for g, idx in sorted(groups.items()):
        m = score_patients([pms[i] for i in idx], [prob[i] for i in idx], thr)
        out[g] = {
            k: m.get(k)
            for k in ("patients", "septic_patients", "rows", "auroc", "auprc", "utility", "news2_auroc")
        }
    return {"subgroups": out}


def calibration_plot(
    pms: Sequence[PatientMatrix], prob: Sequence[np.ndarray], path: Path, title: str
) -> None:
    """Reliability diagram (10 quantile bins) on test patients, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    y = np.concatenate([pm.y for pm in pms])
    p = np.concatenate(prob)
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot([0, max(mean.max(), frac.max())], [0, max(mean.max(), frac.max())], "k:", label="perfect")
    ax.plot(mean, frac, "o-", label="model (test patients)")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency of SepsisLabel")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def load_set_a(tar_path: Path, progress: Any = None) -> list[PatientMatrix]:
    """Every patient of set A as matrices of every feature (each set's columns:
    :func:`features.feature_columns`)."""
    return build(iter_tar(tar_path), "all", progress)


def train(
    tar_path: str | Path,
    out_dir: str | Path = ARTIFACT_DIR,
    seed: int = 0,
    show_progress: bool = True,
    pms: Sequence[PatientMatrix] | None = None,
) -> dict[str, Any]:
    """Rebuild the artifacts, the calibration plots and ``metrics.json`` (the CLI then renders
    the model card). ``pms``: set A's all-feature matrices when already built
    (:func:`load_set_a`), else they are built from ``tar_path``."""
    from rich.progress import Progress

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if pms is None:
        with Progress(disable=not show_progress, transient=False) as prog:
            task = prog.add_task("features (set A, hour by hour)", total=N_PATIENTS_A)
            pms = load_set_a(Path(tar_path), lambda: prog.advance(task))
    parts: dict[str, list[PatientMatrix]] = {"train": [], "val": [], "test": []}
    for pm in sorted(pms, key=lambda p: p.name):
        parts[split_of(pm.name)].append(pm)
    results: dict[str, Any] = {
        "data": str(Path(tar_path).name),
        "split": {
            k: {
                "patients": len(v),
                "rows": int(sum(len(p.X) for p in v)),
                "septic_patients": sum(int(p.labels.any()) for p in v),
            }
            for k, v in parts.items()
        },
        "built_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    fitted: dict[str, Fitted] = {}
    for fs in FEATURE_SETS:
        log.info("fitting %s", fs)
        f = fit_feature_set(fs, parts["train"], parts["val"], parts["test"], seed, feature_columns(fs))
        fitted[fs] = f
        save_model(f.model, out_dir / f"deterioration_{fs}.json")
        results[fs] = {
            "version": f.model.version,
            "threshold": f.model.threshold,
            "clear_threshold": f.model.clear_threshold,
            **f.model.metrics,
        }
    for fs in CALIBRATION_PLOTS:
        calibration_plot(
            parts["test"],
            fitted[fs].test_prob,
            out_dir / f"calibration_{fs}.png",
            f"{fitted[fs].model.version}\ncalibration on {len(parts['test'])} test patients",
        )
    (out_dir / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
    return results
