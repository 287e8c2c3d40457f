"""Distribution-shift check inside set A: train on one ICU type, test on the other.

Set A is a single hospital, so there is no external site to validate on. As a proxy for a
new hospital we use the ICU type columns (``Unit1`` = medical ICU, ``Unit2`` = surgical ICU;
about 60 % of patients have one): fit the vitals-only model exactly as ``train.py`` does (same
features, split, calibration and threshold choice) on MICU patients only and test on held-out
SICU patients, and the reverse. Writes ``artifacts/unit_shift.json``; the model card quotes it.

Run: ``python -m models.deterioration.shift`` (about 6 min on one core).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from models.deterioration.dataset import iter_tar, patient_matrix
from models.deterioration.evaluate import score_patients
from models.deterioration.model import ARTIFACT_DIR
from models.deterioration.train import (
    DEFAULT_TAR,
    choose_threshold,
    fit_feature_set,
    split_of,
    utility_by_prevalence,
)

log = logging.getLogger(__name__)
KEYS = ("patients", "septic_patients", "auroc", "auprc", "utility", "news2_auroc")


def unit_shift(tar_path: Path = DEFAULT_TAR) -> dict[str, Any]:
    """Same-unit and other-unit test metrics for MICU->SICU and SICU->MICU."""
    pms, unit = [], {}
    for name, rows in iter_tar(tar_path):
        u1, u2 = rows[0].get("Unit1"), rows[0].get("Unit2")
        unit[name] = "MICU" if u1 == 1 else "SICU" if u2 == 1 else None
        pms.append(patient_matrix(name, rows, "vitals"))
    out: dict[str, Any] = {}
    for src, dst in (("MICU", "SICU"), ("SICU", "MICU")):
        part = {k: [p for p in pms if unit[p.name] == src and split_of(p.name) == k]
                for k in ("train", "val", "test")}
        other = [p for p in pms if unit[p.name] == dst and split_of(p.name) == "test"]
        f = fit_feature_set("vitals", part["train"], part["val"], part["test"])
        other_prob = [f.model.predict_proba(p.X) for p in other]
        m_other = score_patients(other, other_prob, f.model.threshold)
        # The challenge's own rule for comparison: the best utility at the source's prevalence.
        own, _ = choose_threshold(part["val"], [f.model.predict_proba(p.X) for p in part["val"]],
                                  factors=(1.0,))
        out[f"{src}->{dst}"] = {"train_patients": len(part["train"]),
                                "threshold": f.model.threshold,
                                "same_unit_test": {k: f.test.get(k) for k in KEYS},
                                "other_unit_test": {k: m_other.get(k) for k in KEYS},
                                "own_prevalence_threshold": round(own, 5),
                                "own_prevalence_utility": {
                                    k: round(utility_by_prevalence(pl, pr, own, (1.0,))[1.0], 4)
                                    for k, pl, pr in (("same_unit_test", part["test"], f.test_prob),
                                                      ("other_unit_test", other, other_prob))}}
        log.info("%s->%s: %s", src, dst, out[f"{src}->{dst}"])
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    res = unit_shift()
    (ARTIFACT_DIR / "unit_shift.json").write_text(json.dumps(res, indent=1) + "\n")
