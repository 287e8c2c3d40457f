"""P-wave features beside the RR model of S / N, held out on DS1: measured for issue #22,
**not shipped** (ECG model card, "SVEB from the rhythm").

Question: does the beat window's P region, compared with the patient's own running average beat,
help the four RR ratios of :mod:`models.ecg.sveb_rr` decide S from N on patients the model never
saw? Features per beat, from the classifier window (:mod:`models.ecg.beats`: channel 0 the beat,
channel 1 the beat minus the patient's average beat, both over that average's amplitude), over
:data:`P_REGION_S` before the R peak: log RMS of channel 1 (how far the P region departs from the
patient's usual one) and the correlation of the beat's P region with the average beat's. From V1
as well where the beat has a second-lead window (lead II's values otherwise).

Estimate: the same nested leave-one-record-out as ``sveb_rr.json``'s ``cv`` (each record decided
by a model fitted on the other 21, its threshold the :data:`models.ecg.sveb_rr.GRID` value with
the best SVEB F1 in an inner leave-one-record-out over those 21), on reference N and S beats of a
regular rhythm; SVEB Se over all reference S beats, as the artifact counts it.

Run (~2 min once DS1 is streamed and cached): ``python bench/sveb_pwave.py [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.ecg import sveb_rr
from models.ecg.beats import MODEL_FS, PRE_S
from models.ecg.metrics import class_counts, se_ppv

P_REGION_S = (0.30, 0.08)  #: seconds before the R peak: start and end of the P region


def p_features(wave: np.ndarray) -> np.ndarray:
    """``(n, 2)``: log RMS of the difference channel over the P region, and the correlation of
    the beat's P region with the patient's average beat's, from windows ``(n, WAVE_LEN, 2)``."""
    r = round(PRE_S * MODEL_FS)
    a, b = r - round(P_REGION_S[0] * MODEL_FS), r - round(P_REGION_S[1] * MODEL_FS)
    beat, diff = wave[:, a:b, 0].astype(np.float64), wave[:, a:b, 1].astype(np.float64)
    avg = beat - diff
    rms = np.sqrt((diff**2).mean(axis=1)) + 1e-3
    bc, ac = beat - beat.mean(axis=1, keepdims=True), avg - avg.mean(axis=1, keepdims=True)
    corr = (bc * ac).sum(axis=1) / (np.sqrt((bc**2).sum(axis=1) * (ac**2).sum(axis=1)) + 1e-9)
    return np.stack([np.log(rms), corr], axis=1)


def nested_verdicts(x: np.ndarray, y: np.ndarray, irregular: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Leave-one-record-out S / N verdicts (bool) from feature rows ``x``: each record decided by
    :func:`models.ecg.sveb_rr.fit_features` on the other records alone (threshold nested)."""
    out = np.zeros(y.size, bool)
    for r in sorted(set(rec.tolist())):
        te = rec == r
        m = sveb_rr.fit_features(x[~te], y[~te], irregular[~te], rec[~te])
        out[te] = m.score_features(x[te]) >= m.threshold
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    from models.ecg import train
    from wardwatch.settings import mitdb_ds1_dir

    d = train.build_dataset(mitdb_ds1_dir())
    y, rec, irregular = d["y"], d["rec"], d["irregular"].astype(bool)
    rr = sveb_rr.rr_features(d["rr"])
    p2 = p_features(d["wave"])
    p2v1 = np.where(d["has2"][:, None], p_features(d["wave2"]), p2)
    sets = {
        "rr_ratios": rr,
        "rr_ratios+p_lead1": np.hstack([rr, p2]),
        "rr_ratios+p_lead1+p_v1": np.hstack([rr, p2, p2v1]),
        "rr_ratios+p_corr_lead1": np.hstack([rr, p2[:, 1:]]),
    }
    m = sveb_rr.training_mask(y, irregular)
    ns = np.isin(y, ["N", "S"])  # every reference S counts, as in sveb_rr.json's cv
    out = {}
    for name, x in sets.items():
        pred = np.where(nested_verdicts(x, y, irregular, rec) & m, "S", "N")
        c = class_counts(y[ns], pred[ns], "S")
        per = {
            r: class_counts(y[(rec == r) & m], pred[(rec == r) & m], "S") for r in sorted(set(rec.tolist()))
        }
        out[name] = {
            **{k: round(v, 1) for k, v in se_ppv(c["tp"], c["fn"], c["fp"]).items()},
            **c,
            "fp_by_record": {r: v["fp"] for r, v in per.items() if v["fp"]},
        }
        print(name, json.dumps({k: out[name][k] for k in ("se", "ppv", "tp", "fn", "fp")}))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
