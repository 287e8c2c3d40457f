"""Distribution-shift check inside set A: train on one ICU type, test on the other.

Set A is a single hospital, so there is no external site to validate on. As a proxy for a
new hospital we use the ICU type columns (``Unit1`` = medical ICU, ``Unit2`` = surgical ICU;
about 60 % of patients have one): fit each feature set (:data:`UNIT_SHIFT_SETS`) exactly as
``train.py`` does (same features, split, calibration and threshold choice) on MICU patients only
and test on held-out SICU patients, and the reverse. Writes ``artifacts/unit_shift.json``; the
model card quotes it.

It also measures what ``wardwatch calibrate deterioration`` buys at the "new hospital": the
source-unit model refitted (Platt step and threshold, :func:`site.recalibrate`) on 250, 500 or all
of the other unit's validation patients (5 seeded draws of the smaller sizes), scored on the other
unit's test patients.

A second shift is between training and serving: set A's vitals are charted by nurses (a
missing hour stays missing), while a bedside monitor reports HR, SpO2 and RR every second, and
NIBP cycles or an arterial line and a temperature probe can report every hour too. How often a
vital is charted is a care-process signal the features carry (hours since measured, fraction
measured). :func:`monitor_shift` scores the deployed model on the test patients as the monitor
would feed them (:func:`monitor_view`) and writes ``artifacts/monitor_shift.json``.

:func:`labs_absent` scores the model that reads labs on the test patients with every lab and the
demographics removed (a bed with a monitor and nothing else) and writes
``artifacts/labs_absent_shift.json``.

:func:`test_intervals` gives each committed artifact's test AUROC and utility their 95 %
intervals over patients and writes ``artifacts/test_intervals.json``.

Run: ``python -m models.deterioration.shift ../shared/data/sepsis2019/training_setA.tar.gz
[unit] [monitor] [labs_absent] [intervals]`` (all four by default; about 35 min on one core).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.deterioration.dataset import PatientMatrix, iter_tar, patient_matrix
from models.deterioration.evaluate import patient_intervals, score_patients
from models.deterioration.features import feature_columns
from models.deterioration.model import ARTIFACT_DIR, DeteriorationModel, load_model
from models.deterioration.site import recalibrate
from models.deterioration.train import (
    PREVALENCE_FACTORS,
    choose_threshold,
    fit_feature_set,
    rounded,
    split_of,
    utility_by_prevalence,
)
from wardwatch.records.labs import LABS

log = logging.getLogger(__name__)
KEYS = ("patients", "septic_patients", "auroc", "auprc", "utility", "news2_auroc")
SITE_SIZES = (250, 500)  # labelled patients a site might have (plus all of its validation part)
SITE_DRAWS = 5
UNIT_SHIFT_SETS = ("vitals", "full", "labs")  # feature sets the ICU-type proxy fits and tests
# Vitals a monitor reports every hour, by how much of the bedside is continuous.
MONITOR_VIEWS = {
    "charted": (),
    "monitor HR, SpO2, RR": ("HR", "O2Sat", "Resp"),
    "+ NIBP / arterial BP": ("HR", "O2Sat", "Resp", "SBP", "MAP", "DBP"),
    "+ temperature probe": ("HR", "O2Sat", "Resp", "SBP", "MAP", "DBP", "Temp"),
}


def monitor_view(rows: list[dict[str, float]], variables: Sequence[str]) -> list[dict[str, float]]:
    """Challenge rows with each of ``variables`` present in every hour, as a monitor would report
    it: linear between charted hours, held at the first / last charted value outside them (a
    variable never charted stays missing).

    >>> monitor_view([{"HR": 80.0}, {"HR": float("nan")}, {"HR": 90.0}], ["HR"])
    [{'HR': 80.0}, {'HR': 85.0}, {'HR': 90.0}]
    """
    out = [dict(r) for r in rows]
    hours = np.arange(len(rows))
    for v in variables:
        x = np.array([r.get(v, np.nan) for r in rows], dtype=float)
        ok = ~np.isnan(x)
        if ok.any():
            for r, val in zip(out, np.interp(hours, hours[ok], x[ok]), strict=True):
                r[v] = float(val)
    return out


def monitor_shift(tar_path: Path) -> dict[str, Any]:
    """The deployed model's test metrics with the vitals charted (as trained) and as monitors of
    increasing coverage would feed them (:data:`MONITOR_VIEWS`); for the widest view also after
    :func:`site.recalibrate` on the validation patients seen the same way."""
    model = load_model()
    views: dict[str, list[PatientMatrix]] = {k: [] for k in MONITOR_VIEWS}
    widest = list(MONITOR_VIEWS)[-1]
    val: list[PatientMatrix] = []
    for name, rows in iter_tar(tar_path, lambda n: split_of(n) in ("val", "test")):
        if split_of(name) == "val":
            val.append(patient_matrix(name, monitor_view(rows, MONITOR_VIEWS[widest]), model.feature_set))
            continue
        for k, variables in MONITOR_VIEWS.items():
            views[k].append(patient_matrix(name, monitor_view(rows, variables), model.feature_set))
    out: dict[str, Any] = {"model_version": model.version, "threshold": model.threshold}
    runs = [(k, model, pms) for k, pms in views.items()]
    runs.append((f"{widest}, site refit", recalibrate(model, val), views[widest]))
    for k, m, pms in runs:
        prob = [m.predict_proba(p.X) for p in pms]
        s = score_patients(pms, prob, m.threshold)
        out[k] = {
            **{
                key: s[key]
                for key in (
                    "auroc",
                    "auprc",
                    "utility",
                    "flagged_septic_pct",
                    "flagged_non_septic_pct",
                    "prevalence_rows",
                )
            },
            "threshold": m.threshold,
            "utility_by_prevalence": rounded(
                utility_by_prevalence(pms, prob, m.threshold, PREVALENCE_FACTORS)
            ),
            "mean_probability": round(float(np.mean(np.concatenate(prob))), 4),
        }
        log.info("%s: %s", k, out[k])
    return out


def labs_absent(tar_path: Path, feature_set: str = "labs") -> dict[str, Any]:
    """A model that reads labs and demographics, on the test patients as a monitor-only bed
    would feed it (no lab result, no admission record: :func:`features.features_vector` then
    imputes the reference values), against the same model with them and the vitals model."""
    return labs_absent_score(*labs_absent_matrices(tar_path), feature_set)


def labs_absent_matrices(tar_path: Path) -> tuple[list[PatientMatrix], list[PatientMatrix]]:
    """The test patients' all-feature matrices as charted, and without labs and age/sex."""
    drop = {*LABS, "Age", "Gender"}
    with_all: list[PatientMatrix] = []
    without: list[PatientMatrix] = []
    for name, rows in iter_tar(tar_path, lambda n: split_of(n) == "test"):
        with_all.append(patient_matrix(name, rows, "all"))
        without.append(
            patient_matrix(name, [{k: v for k, v in r.items() if k not in drop} for r in rows], "all")
        )
    return with_all, without


def labs_absent_score(
    with_all: Sequence[PatientMatrix], without: Sequence[PatientMatrix], feature_set: str = "labs"
) -> dict[str, Any]:
    """:func:`labs_absent` on matrices from :func:`labs_absent_matrices`."""
    model, vitals = load_model(feature_set), load_model("vitals")
    out: dict[str, Any] = {"model_version": model.version, "vitals_version": vitals.version}
    runs = (
        ("with labs and demographics", model, with_all),
        ("without labs and demographics", model, without),
        ("vitals model", vitals, with_all),
    )
    for k, m, pms in runs:
        cols = feature_columns(m.feature_set)
        prob = [m.predict_proba(p.X[:, cols]) for p in pms]
        s = score_patients(pms, prob, m.threshold)
        out[k] = {
            **{
                key: s[key]
                for key in ("auroc", "auprc", "utility", "flagged_septic_pct", "flagged_non_septic_pct")
            },
            "utility_by_prevalence": rounded(
                utility_by_prevalence(pms, prob, m.threshold, PREVALENCE_FACTORS)
            ),
            "mean_probability": round(float(np.mean(np.concatenate(prob))), 4),
        }
        log.info("%s: %s", k, out[k])
    return out


def site_refit(
    model: DeteriorationModel, site: Sequence[PatientMatrix], test: Sequence[PatientMatrix], seed: int = 0
) -> dict[str, Any]:
    """Test utility (mean and worst over draws, per prevalence factor) of ``model`` refitted on
    :data:`SITE_SIZES` patients drawn from ``site``, and on all of them."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for n in (*SITE_SIZES, len(site)):
        draws = (
            [np.arange(len(site))]
            if n >= len(site)
            else [rng.choice(len(site), n, replace=False) for _ in range(SITE_DRAWS)]
        )
        utils = []
        for idx in draws:
            m = recalibrate(model, [site[i] for i in idx])
            prob = [m.predict_proba(p.X) for p in test]
            utils.append(utility_by_prevalence(test, prob, m.threshold, PREVALENCE_FACTORS))
        out[str(min(n, len(site)))] = {
            "draws": len(draws),
            "utility_mean": {
                str(f): round(float(np.mean([u[f] for u in utils])), 4) for f in PREVALENCE_FACTORS
            },
            "utility_min": {str(f): round(min(u[f] for u in utils), 4) for f in PREVALENCE_FACTORS},
        }
    return out


def test_intervals(tar_path: Path) -> dict[str, Any]:
    """Each committed artifact's test AUROC and utility with their 95 % intervals over the test
    patients (:func:`evaluate.patient_intervals`), from the artifacts as they are: a rebuild
    reproduces the figures but not every last digit of the coefficients, so it would change the
    deployed version for nothing. The point figures are computed again beside the intervals, so
    that the card can check they are ``metrics.json``'s."""
    from models.deterioration.features import FEATURE_SETS

    pms_all = [
        patient_matrix(n, rows, "all") for n, rows in iter_tar(tar_path, lambda n: split_of(n) == "test")
    ]
    out: dict[str, Any] = {}
    for fs in FEATURE_SETS:
        m = load_model(fs)
        pms = _columns(pms_all, feature_columns(fs))
        prob = [m.predict_proba(p.X) for p in pms]
        s = score_patients(pms, prob, m.threshold)
        out[fs] = {
            "model_version": m.version,
            "patients": s["patients"],
            "auroc": s["auroc"],
            "utility": s["utility"],
            "ci95": patient_intervals(pms, prob, m.threshold),
        }
        log.info("%s: %s", fs, out[fs])
    return out


def _columns(pms: Sequence[PatientMatrix], cols: list[int]) -> list[PatientMatrix]:
    """The patients with only the columns ``cols`` of their matrices (one feature set's)."""
    return [dataclasses.replace(p, X=p.X[:, cols]) for p in pms]


def unit_of(rows: Sequence[dict[str, float]]) -> str | None:
    """A patient's ICU type from the challenge's ``Unit1`` / ``Unit2`` columns, if any."""
    u1, u2 = rows[0].get("Unit1"), rows[0].get("Unit2")
    return "MICU" if u1 == 1 else "SICU" if u2 == 1 else None


def unit_shift(
    tar_path: Path,
    feature_sets: Sequence[str] = UNIT_SHIFT_SETS,
    built: tuple[Sequence[PatientMatrix], dict[str, str | None]] | None = None,
) -> dict[str, Any]:
    """Same-unit and other-unit test metrics for MICU->SICU and SICU->MICU, per feature set.
    ``built``: set A's all-feature matrices and each patient's :func:`unit_of`, when already
    built."""
    if built is None:
        pms, unit = [], {}
        for name, rows in iter_tar(tar_path):
            unit[name] = unit_of(rows)
            pms.append(patient_matrix(name, rows, "all"))
        built = (pms, unit)
    out: dict[str, Any] = {}
    scored: dict[str, dict[str, tuple[list[PatientMatrix], list[np.ndarray], float]]] = {}
    for fs in feature_sets:
        out[fs] = _unit_shift_set(fs, built[0], built[1], scored.setdefault(fs, {}))
    # Each set against the deployed vitals model on the same other-unit patients and resamples
    # (paired): an interval of the difference that excludes 0 separates the two.
    if "vitals" in scored:
        for fs in [f for f in feature_sets if f != "vitals"]:
            for d, (pms, prob, thr) in scored[fs].items():
                out[fs][d]["other_unit_minus_vitals_ci95"] = patient_intervals(
                    pms, prob, thr, versus=scored["vitals"][d][1:]
                )
    return out


def _unit_shift_set(
    fs: str,
    pms_all: Sequence[PatientMatrix],
    unit: dict[str, str | None],
    scored: dict[str, tuple[list[PatientMatrix], list[np.ndarray], float]],
) -> dict[str, Any]:
    """One feature set's MICU->SICU and SICU->MICU figures; ``scored`` gets each direction's
    other-unit patients, probabilities and threshold."""
    pms = _columns(pms_all, feature_columns(fs))
    out: dict[str, Any] = {}
    for src, dst in (("MICU", "SICU"), ("SICU", "MICU")):
        part = {
            k: [p for p in pms if unit[p.name] == src and split_of(p.name) == k]
            for k in ("train", "val", "test")
        }
        other = [p for p in pms if unit[p.name] == dst and split_of(p.name) == "test"]
        f = fit_feature_set(fs, part["train"], part["val"], part["test"])
        other_prob = [f.model.predict_proba(p.X) for p in other]
        m_other = score_patients(other, other_prob, f.model.threshold)
        scored[f"{src}->{dst}"] = (other, other_prob, f.model.threshold)
        # The challenge's own rule for comparison: the best utility at the source's prevalence.
        own, _ = choose_threshold(
            part["val"], [f.model.predict_proba(p.X) for p in part["val"]], factors=(1.0,)
        )
        out[f"{src}->{dst}"] = {
            "train_patients": len(part["train"]),
            "threshold": f.model.threshold,
            "same_unit_test": {k: f.test.get(k) for k in KEYS},
            "other_unit_test": {k: m_other.get(k) for k in KEYS},
            "same_unit_ci95": patient_intervals(part["test"], f.test_prob, f.model.threshold),
            "other_unit_ci95": patient_intervals(other, other_prob, f.model.threshold),
            "own_prevalence_threshold": round(own, 5),
            "own_prevalence_utility": {
                k: round(utility_by_prevalence(pl, pr, own, (1.0,))[1.0], 4)
                for k, pl, pr in (
                    ("same_unit_test", part["test"], f.test_prob),
                    ("other_unit_test", other, other_prob),
                )
            },
            "other_unit_test_by_prevalence": rounded(
                utility_by_prevalence(other, other_prob, f.model.threshold, PREVALENCE_FACTORS)
            ),
            "other_unit_site_refit": site_refit(
                f.model, [p for p in pms if unit[p.name] == dst and split_of(p.name) == "val"], other
            ),
        }
        log.info("%s %s->%s: %s", fs, src, dst, out[f"{src}->{dst}"])
    return out


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO)
    checks = {
        "unit": unit_shift,
        "monitor": monitor_shift,
        "labs_absent": labs_absent,
        "intervals": test_intervals,
    }
    if len(sys.argv) < 2 or not set(sys.argv[2:]) <= set(checks):
        sys.exit(
            "usage: python -m models.deterioration.shift SET_A_TARBALL [CHECK ...] "
            f"(../shared/data/sepsis2019/training_setA.tar.gz; checks {' '.join(checks)}, default all)"
        )
    tar = Path(sys.argv[1])
    for name in sys.argv[2:] or list(checks):
        result = checks[name](tar)
        file = {"unit": "unit_shift.json", "intervals": "test_intervals.json"}.get(name, f"{name}_shift.json")
        (ARTIFACT_DIR / file).write_text(json.dumps(result, indent=1) + "\n")
