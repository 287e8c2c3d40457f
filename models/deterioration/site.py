"""Fit the deterioration model's calibration and alert threshold to a site's own patients.

The coefficients (how the model ranks patients) come from hospital A. At another hospital the
same probability means a different risk, and the threshold chosen on hospital A's validation
patients can do worse than never alerting: the 2019 challenge saw utility collapse on a hospital
teams had not trained on (Reyna et al., Crit Care Med 48(2):210-217, 2020), and our ICU-type
proxy shows the same (model card, "Generalisation"). This keeps the coefficients and refits, on
the site's own labelled patients in the challenge format:

* the Platt step (Platt 1999), so the probabilities are the site's;
* the alert threshold, by the rule training uses (:func:`train.choose_threshold`).

A hashed share of the site's patients (:func:`is_holdout`) is left out of both fits, and the
report compares the deployed and the site artifact on them, so its figures are not measured on
the patients the fit saw. The output is an artifact like the committed ones:
``WARDWATCH_DETERIORATION_MODEL=/path/site.json`` makes the stream score with it.

Run: ``wardwatch calibrate deterioration --data DIR --out site.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.deterioration.dataset import PatientMatrix, data_quality
from models.deterioration.evaluate import score_patients
from models.deterioration.model import DeteriorationModel
from models.deterioration.train import (
    CLEAR_RATIO,
    PREVALENCE_FACTORS,
    choose_threshold,
    platt,
    rounded,
    utility_by_prevalence,
)

HOLDOUT = 0.3  # share of the site's patients held out of the fit, for the report
FEW_SEPTIC = 20  # below this many septic patients in the fit, the report warns
REPORT_KEYS = (
    "patients",
    "septic_patients",
    "rows",
    "auroc",
    "utility",
    "flagged_septic_pct",
    "flagged_non_septic_pct",
)


def is_holdout(name: str, fraction: float = HOLDOUT) -> bool:
    """Whether patient file ``name`` is in the held-out share (SHA-256 of the name; stable)."""
    b = int(hashlib.sha256(f"site-holdout:{name}".encode()).hexdigest()[:8], 16) % 10000
    return b < round(fraction * 10000)


def recalibrate(model: DeteriorationModel, pms: Sequence[PatientMatrix]) -> DeteriorationModel:
    """``model`` with its Platt step and thresholds refitted on labelled patients ``pms``.

    Raises ValueError unless ``pms`` hold both septic and non-septic patients with labels.
    """
    pms = [pm for pm in pms if pm.y is not None and len(pm.y)]
    septic = sum(bool(pm.labels.any()) for pm in pms)
    if septic == 0 or septic == len(pms):
        raise ValueError(
            f"{len(pms)} labelled patients, {septic} septic: the fit needs both "
            "septic and non-septic patients with SepsisLabel"
        )
    z = [model.decision(pm.X) for pm in pms]
    a, b = platt(np.concatenate(z), np.concatenate([pm.labels for pm in pms]))
    calibrated = dataclasses.replace(model, calib_a=a, calib_b=b)
    prob = [calibrated.predict_proba(pm.X) for pm in pms]
    thr, utils = choose_threshold(pms, prob)
    digest = hashlib.sha256(json.dumps([model.version, a, b, thr]).encode()).hexdigest()[:8]
    fit = {
        "patients": len(pms),
        "septic_patients": septic,
        "rows": int(sum(len(pm.labels) for pm in pms)),
        "utility_by_prevalence": rounded(utils),
    }
    return dataclasses.replace(
        calibrated,
        version=f"{model.version}-site-{digest}",
        threshold=round(thr, 5),
        clear_threshold=round(CLEAR_RATIO * thr, 5),
        metrics={"base_version": model.version, "base_threshold": model.threshold, "site_fit": fit},
    )


def calibrate_site(
    model: DeteriorationModel, pms: Sequence[PatientMatrix], holdout: float = HOLDOUT
) -> tuple[DeteriorationModel, dict[str, Any]]:
    """Refit ``model`` on the site's patients outside the held-out share and compare both
    artifacts on the held-out patients.

    Returns
    -------
    (DeteriorationModel, dict)
        The site artifact (its ``metrics`` carry the report) and the report: the fit, the
        held-out comparison (``deployed`` / ``site``, each :func:`score_patients` with the
        utility also at set B's prevalence) and warnings.
    """
    labelled = [pm for pm in pms if pm.y is not None]
    held = [pm for pm in labelled if is_holdout(pm.name, holdout)]
    site = recalibrate(model, [pm for pm in labelled if not is_holdout(pm.name, holdout)])
    report: dict[str, Any] = {
        "model_version": site.version,
        "base_version": model.version,
        "threshold": site.threshold,
        "base_threshold": model.threshold,
        "calib_a": round(site.calib_a, 4),
        "calib_b": round(site.calib_b, 4),
        "unlabelled_skipped": len(pms) - len(labelled),
        "fit": site.metrics["site_fit"],
        "holdout": {},
    }
    report["data_quality"], report["warnings"] = data_quality(pms)
    if held and any(pm.labels.any() for pm in held) and not all(pm.labels.any() for pm in held):
        for tag, m in (("deployed", model), ("site", site)):
            prob = [m.predict_proba(pm.X) for pm in held]
            s = score_patients(held, prob, m.threshold)
            report["holdout"][tag] = {
                **{k: s.get(k) for k in REPORT_KEYS},
                "utility_by_prevalence": rounded(
                    utility_by_prevalence(held, prob, m.threshold, PREVALENCE_FACTORS)
                ),
            }
    else:
        report["warnings"].append(
            "no held-out comparison: the held-out share needs septic and non-septic patients"
        )
    if site.metrics["site_fit"]["septic_patients"] < FEW_SEPTIC:
        report["warnings"].append(
            f"only {site.metrics['site_fit']['septic_patients']} septic "
            f"patients in the fit (fewer than {FEW_SEPTIC}): the threshold "
            "is uncertain; refit when more labelled patients are available"
        )
    site = dataclasses.replace(site, metrics={**site.metrics, "site_report": report})
    return site, report
