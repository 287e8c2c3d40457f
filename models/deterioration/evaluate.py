"""Evaluate the deterioration model on any data in the PhysioNet/CinC 2019 challenge format.

``wardwatch eval deterioration --data DIR --json [--predictions OUT]`` reads every ``.psv`` in
DIR, runs the same feature code as the stream (:mod:`models.deterioration.features`) hour by
hour, and reports pooled-row AUROC and AUPRC, the normalized utility score (Reyna et al., Crit
Care Med 2020), and the AUROC of NEWS2 (RCP 2017) and qSOFA (Singer et al., JAMA 2016) on the
same rows. With ``predictions_out`` it writes, per input file, a file of the same name with
``PredictedProbability|PredictedLabel`` per input row (the challenge's prediction format).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from models.deterioration.dataset import PatientMatrix, build, data_quality, iter_dir
from models.deterioration.model import DeteriorationModel, load_model
from models.deterioration.utility import normalized_utility, utility_parts

log = logging.getLogger(__name__)

#: resamples behind the patient-bootstrap intervals (each one an AUROC over ~150 k rows)
INTERVAL_RESAMPLES = 500


def _auc(y: np.ndarray, s: np.ndarray, fn: Callable[..., float]) -> float | None:
    ok = ~np.isnan(s)
    if ok.sum() == 0 or len(np.unique(y[ok])) < 2:
        return None
    return round(float(fn(y[ok], s[ok])), 4)


def _flagged(
    labelled: list[tuple[PatientMatrix, np.ndarray]], threshold: float, septic: bool
) -> float | None:
    grp = [bool((p >= threshold).any()) for pm, p in labelled if bool(pm.labels.any()) == septic]
    return round(100.0 * sum(grp) / len(grp), 1) if grp else None


def score_patients(
    pms: Sequence[PatientMatrix], prob: Sequence[np.ndarray], threshold: float
) -> dict[str, Any]:
    """Metrics over patients with labels: AUROC, AUPRC, utility, NEWS2 / qSOFA AUROC."""
    labelled = [(pm, p) for pm, p in zip(pms, prob, strict=True) if pm.y is not None]
    out: dict[str, Any] = {"patients": len(pms), "rows": int(sum(len(pm.X) for pm in pms))}
    if not labelled:
        out.update(auroc=None, auprc=None, utility=None, news2_auroc=None, qsofa_auroc=None)
        return out
    y = np.concatenate([pm.labels for pm, _ in labelled])
    p = np.concatenate([pp for _, pp in labelled])
    news = np.concatenate([pm.news2 for pm, _ in labelled])
    qs = np.concatenate([pm.qsofa for pm, _ in labelled])
    util = normalized_utility(
        [pm.labels for pm, _ in labelled], [(pp >= threshold).astype(int) for _, pp in labelled]
    )
    out.update(
        auroc=_auc(y, p, roc_auc_score),
        auprc=_auc(y, p, average_precision_score),
        utility=round(util, 4),
        news2_auroc=_auc(y, news, roc_auc_score),
        qsofa_auroc=_auc(y, qs, roc_auc_score),
        septic_patients=int(sum(int(pm.labels.any()) for pm, _ in labelled)),
        # alert burden: share of patients with at least one hourly prediction >= threshold
        flagged_septic_pct=_flagged(labelled, threshold, True),
        flagged_non_septic_pct=_flagged(labelled, threshold, False),
        prevalence_rows=round(float(y.mean()), 4),
    )
    return out


def patient_intervals(
    pms: Sequence[PatientMatrix],
    prob: Sequence[np.ndarray],
    threshold: float,
    *,
    versus: tuple[Sequence[np.ndarray], float] | None = None,
    resamples: int = INTERVAL_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """95 % percentile-bootstrap intervals over patients (``models.intervals``) of the pooled
    AUROC and of the normalized utility at ``threshold``, from the same resamples. A patient's
    hours stay together: they are not independent, and an interval over rows would be far too
    narrow. Patients without labels are left out; None where no resample has both classes.

    ``versus``: another model's ``(prob, threshold)`` on the same patients; the intervals are
    then of the difference (this model minus that one) over the same resamples, a paired
    comparison (an interval that excludes 0 separates the two)."""
    from models.intervals import percentile_interval, resample_indices

    keep = [i for i, pm in enumerate(pms) if pm.y is not None]
    if not keep:
        return {"auroc": None, "utility": None, "resamples": 0, "unit": "patient"}
    ys = [pms[i].labels for i in keep]
    models = [(prob, threshold), *([versus] if versus is not None else [])]
    scored = []
    for pr, thr in models:
        ps = [np.asarray(pr[i]) for i in keep]
        parts = utility_parts(ys, [(p >= thr).astype(int) for p in ps])
        scored.append((ps, parts[:, 0] - parts[:, 2], parts[:, 1] - parts[:, 2]))

    def stats(ix: list[int]) -> list[tuple[float, float]]:
        """Each model's (AUROC, utility) on the patients ``ix`` (their labels joined once)."""
        y = np.concatenate([ys[i] for i in ix])
        out = []
        for ps, num, den in scored:
            p = np.concatenate([ps[i] for i in ix])
            ok = ~np.isnan(p)
            auc = float(roc_auc_score(y[ok], p[ok])) if 0 < y[ok].sum() < ok.sum() else np.nan
            d = den[ix].sum()
            out.append((auc, float(num[ix].sum() / d) if d else np.nan))
        return out

    draws = resample_indices(len(keep), resamples=resamples, seed=seed)
    per = np.array([stats(ix) for ix in draws])  # resamples x models x (auroc, utility)
    diff = per[:, 0, :] - per[:, 1, :] if versus is not None else per[:, 0, :]

    def interval(col: np.ndarray) -> list[float] | None:
        col = col[~np.isnan(col)]
        return [round(float(v), 4) for v in percentile_interval(list(col))] if col.size else None

    out = {
        "auroc": interval(diff[:, 0]),
        "utility": interval(diff[:, 1]),
        "resamples": resamples,
        "unit": "patient",
    }
    return out | ({"paired": True} if versus is not None else {})


def evaluate_dir(
    data_dir: str | Path,
    model: DeteriorationModel | None = None,
    predictions_out: str | Path | None = None,
    progress: Callable[[], Any] | None = None,
    resamples: int = INTERVAL_RESAMPLES,
) -> dict[str, Any]:
    """Evaluate ``model`` (default: the deployed artifact) on every ``.psv`` in ``data_dir``.

    Parameters
    ----------
    data_dir : path
        Directory of challenge ``.psv`` files (with or without ``SepsisLabel``).
    model : DeteriorationModel, optional
        Defaults to :func:`load_model` (the vitals-only deployed artifact).
    predictions_out : path, optional
        Where to write one prediction file per input, named as the input.
    progress : callable, optional
        Called once per patient (progress bars).
    resamples : int
        Patient-bootstrap resamples behind ``ci95`` (:func:`patient_intervals`); 0: none.

    Returns
    -------
    dict
        ``auroc``, ``auprc``, ``utility``, ``news2_auroc``, ``qsofa_auroc``, ``patients``,
        ``rows`` (metrics are None when the files carry no labels), ``ci95`` (95 % intervals
        over patients of ``auroc`` and ``utility``), ``data_quality`` and
        ``warnings`` (:func:`dataset.data_quality`: vitals out of range, e.g. wrong units).
    """
    model = model or load_model()
    out_dir = Path(predictions_out) if predictions_out else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    pms = build(iter_dir(data_dir), model.feature_set, progress)
    if not pms:
        raise FileNotFoundError(f"no .psv files in {data_dir}")
    probs = [model.predict_proba(pm.X) if len(pm.X) else np.zeros(0) for pm in pms]
    if out_dir is not None:
        for pm, prob in zip(pms, probs, strict=True):
            write_predictions(out_dir / pm.name, prob, model.threshold)
    res = score_patients(pms, probs, model.threshold)
    if resamples:
        res["ci95"] = patient_intervals(pms, probs, model.threshold, resamples=resamples)
    res["model_version"] = model.version
    res["threshold"] = model.threshold
    res["data_quality"], res["warnings"] = data_quality(pms)
    return res


def write_predictions(path: Path, prob: np.ndarray, threshold: float) -> None:
    """One challenge prediction file: header, then ``probability|label`` per input row."""
    lines = ["PredictedProbability|PredictedLabel"]
    lines += [f"{p:.4f}|{int(p >= threshold)}" for p in prob]
    path.write_text("\n".join(lines) + "\n")
