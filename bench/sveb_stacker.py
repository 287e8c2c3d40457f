"""SVEB second stage ("stacker") on DS1, held out: measured for issue #22, **not shipped**.

Question: does a small logistic model over [the beat network's class probabilities, RR features
normalised to the patient's own rhythm] decide N vs S better than the current pipeline
(argmax after the family vote, AF-context rule, template rule)? The inter-patient methods that
reach 76-83 % SVEB Se on DS2 use such RR features (de Chazal, O'Dwyer & Reilly, IEEE TBME 51(7),
2004; Mar et al., IEEE TBME 58(8), 2011; Zhang et al. 2014). The network already sees pre-RR,
post-RR, the 10-beat and ~5-min average RR and their ratios; the stacker adds a sinus-rhythm
reference, the median of the last :data:`NN_K` intervals between two beats the network calls N
with p(N) >= :data:`P_CONF` (frequent premature atrial beats pull the plain average towards their
own coupling interval), and relabels only beats the pipeline labels N or S (V, F, Q untouched).
Every feature is causal; post-RR is already needed by the network, so no extra delay.

Inputs: held-out probabilities for every DS1 beat from the 4-fold leave-records-out fold models
(``bench/ecg_alarms.py --fold-models DIR``: two-lead five-network ensembles, single-lead seed-7
fallback; every DS1 beat has a second-lead window). Estimates, all nested (the stacker that labels
a record never saw it, and its threshold is the :data:`GRID` value with the best SVEB F1 in an
inner leave-one-record-out over the training records only): outer leave-one-record-out and outer
4-fold (the network's folds), each with two definitions of the stacker's training beats (those
the *network* labels N or S after the vote, ``arg``, or those the *pipeline* finally labels
N or S, ``base``: the latter adds ~100 beats of 207/203 that the template rule turns from V into N). Plus the
threshold-free curves. One dependence remains: the training records' probabilities come from fold
models that may have had the evaluated record in their training set (avoiding it would need a
network per (record, fold) pair).

Run (~10 min on 2 shared cores):
    python bench/sveb_stacker.py --fold-models /tmp/afvt-folds --out bench/sveb_stacker_ds1.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.ecg import morphology, rhythm
from models.ecg.aami import AAMI_CLASSES
from models.ecg.classify import context_labels
from models.ecg.metrics import class_counts, se_ppv
from models.ecg.sveb_rr import RRModel, fit_logistic
from models.ecg.sveb_rr import rr_labels as stacked_labels

NN_K = 20  #: NN intervals in the patient's sinus-rhythm reference (median)
P_CONF = 0.9  #: p(N) of both beats of an interval for it to count as NN
MIN_NN = 3  #: fewer NN intervals known: the long-run average RR is the reference
EPS = 1e-4  #: probabilities are clipped to at least this before the log
FEATURES = (
    "log_pS_over_pN",
    "log_pV",
    "log_pF",
    "log_pre_over_avg",
    "log_post_over_avg",
    "log_local_over_avg",
    "log_pre_over_post",
    "log_pre_over_refNN",
    "log_post_over_refNN",
)

SvebState = list[float]  #: a patient's state: ``[p(N) of the last beat, NN intervals...]``


def beat_features(proba: np.ndarray, rr: np.ndarray, state: SvebState) -> np.ndarray:
    """Stacker features of one patient's beats, in stream order; ``state`` is updated in place.

    Parameters
    ----------
    proba : numpy.ndarray
        ``(n, 5)`` network probabilities (N, S, V, F, Q).
    rr : numpy.ndarray
        ``(n, >= 4)`` the beats' RR features (:mod:`models.ecg.beats`: pre, post, local, average
        RR in seconds first).
    state : list of float
        The patient's :data:`SvebState` (``[]`` for a new stream).

    Returns
    -------
    numpy.ndarray
        ``(n, len(FEATURES))``.

    Examples
    --------
    >>> st = []
    >>> p = np.array([[0.98, 0.01, 0.01, 0, 0]] * 4 + [[0.5, 0.5, 0, 0, 0]])
    >>> rr = np.array([[1.0, 1.0, 1.0, 0.8]] * 4 + [[0.6, 1.4, 0.9, 0.8]])
    >>> x = beat_features(p, rr, st)
    >>> round(float(x[-1, 7]), 3), round(float(x[-1, 3]), 3)   # vs the sinus 1.0 s, vs the 0.8 s average
    (-0.511, -0.288)
    >>> st
    [0.5, 1.0, 1.0, 1.0]
    """
    p = np.clip(np.asarray(proba, dtype=np.float64), EPS, 1.0)
    r = np.asarray(rr, dtype=np.float64)
    n = p.shape[0]
    out = np.empty((n, len(FEATURES)))
    if n == 0:
        return out
    pre, post, local, avg = r[:, 0], r[:, 1], r[:, 2], r[:, 3]
    out[:, 0] = np.log(p[:, 1]) - np.log(p[:, 0])
    out[:, 1] = np.log(p[:, 2])
    out[:, 2] = np.log(p[:, 3])
    out[:, 3] = np.log(pre / avg)
    out[:, 4] = np.log(post / avg)
    out[:, 5] = np.log(local / avg)
    out[:, 6] = np.log(pre / post)
    prev_pn = state[0] if state else 0.0
    nn = list(state[1:])
    ref = np.empty(n)
    for i in range(n):
        ref[i] = float(np.median(nn)) if len(nn) >= MIN_NN else avg[i]
        pn = float(p[i, 0])
        if pn >= P_CONF and prev_pn >= P_CONF:
            nn.append(float(pre[i]))
            if len(nn) > NN_K:
                del nn[0]
        prev_pn = pn
    out[:, 7] = np.log(pre / ref)
    out[:, 8] = np.log(post / ref)
    state[:] = [prev_pn, *nn]
    return out


GRID = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))  #: thresholds searched, 0.30-0.95


def held_out_dataset(records: Path, folder: Path) -> dict[str, np.ndarray]:
    """DS1 beats (``train.build_dataset``) with ``proba``: each record's beats classified by the
    fold model that never saw it (two-lead where the beat has a second-lead window), and
    ``matches`` (the template rule's input for the lead set used)."""
    from models.ecg import train
    from models.ecg.classify import _Lite

    data = train.build_dataset(records)
    n = data["y"].size
    proba = np.zeros((n, 5), np.float32)
    for fm in _fold_models(folder):
        held = np.isin(data["rec"], fm["records"])
        for leads, sel in ((2, held & data["has2"]), (1, held & ~data["has2"])):
            if sel.any():
                model = _Lite(fm[leads], 1)
                wave = data["wave"][sel]
                if leads == 2:
                    wave = np.concatenate([wave, data["wave2"][sel]], axis=2)
                rr = data["rr"][sel]
                proba[sel] = np.concatenate(
                    [model(wave[i : i + 4096], rr[i : i + 4096]) for i in range(0, wave.shape[0], 4096)]
                )
    matches = np.zeros(n, bool)
    h2 = data["has2"]
    if h2.any():
        matches[h2] = morphology.template_matches(
            np.concatenate([data["wave"][h2], data["wave2"][h2]], axis=2)
        )
    if (~h2).any():
        matches[~h2] = morphology.template_matches(data["wave"][~h2])
    keep = ("rr", "y", "rec", "irregular", "family", "has2")
    return {k: data[k] for k in keep} | {"proba": proba, "matches": matches}


def prepare(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``d`` with ``arg`` (the argmax after the family vote, per record in stream order, as
    :func:`models.ecg.classify.context_labels` computes it) and ``ps_voted`` (p(S) after the
    vote: the AF-context rule's certainty)."""
    votes: dict[str, Any] = {r: {} for r in set(d["rec"].tolist())}
    voted = voted_proba(d["proba"], d["family"].tolist(), [votes[r] for r in d["rec"].tolist()])
    d = d | {"arg": np.array(AAMI_CLASSES)[np.argmax(voted, axis=1)], "ps_voted": voted[:, 1]}
    return d | {"base": relabel(d, np.ones(d["y"].size, bool))}


def relabel(
    d: dict[str, np.ndarray], sel: np.ndarray, score: np.ndarray | None = None, threshold: float = 0.5
) -> np.ndarray:
    """Labels of the beats ``sel`` (whole records) as :func:`models.ecg.classify.context_labels`
    gives them: the stacker on N/S labels when ``score`` is given, the AF-context rule, the
    template rule."""
    lab = d["arg"][sel].tolist()
    if score is not None:
        lab = stacked_labels(lab, score[sel], threshold)
    lab = rhythm.rhythm_labels(lab, d["irregular"][sel].tolist(), d["ps_voted"][sel].tolist())
    return np.array(morphology.morphology_labels(lab, d["matches"][sel].tolist()))


def pipeline_labels(d: dict[str, np.ndarray]) -> np.ndarray:
    """The current pipeline's labels (family vote, AF-context rule, template rule)."""
    return relabel(d, np.ones(d["y"].size, bool))


def features(d: dict[str, np.ndarray]) -> np.ndarray:
    """:func:`models.ecg.beat_features` per record, each from a fresh state."""
    x = np.zeros((d["y"].size, len(FEATURES)))
    for r in sorted(set(d["rec"].tolist())):
        m = d["rec"] == r
        x[m] = beat_features(d["proba"][m], d["rr"][m], [])
    return x


def _f1(y: np.ndarray, lab: np.ndarray) -> float:
    c = class_counts(y, lab, "S")
    return 2 * c["tp"] / max(2 * c["tp"] + c["fn"] + c["fp"], 1)


def _fit(x: np.ndarray, d: dict[str, np.ndarray], train_mask: np.ndarray, train_on: str = "base") -> RRModel:
    """The stacker on the beats of ``train_mask`` labelled N or S by the pipeline (``base``) or by
    the network after the vote (``arg``)."""
    m = train_mask & np.isin(d[train_on], ["N", "S"]) & (d["y"] != "")
    return fit_logistic(x[m], (d["y"][m] == "S").astype(float))


def choose_threshold(x: np.ndarray, d: dict[str, np.ndarray], recs: Sequence[str], train_on: str) -> float:
    """The :data:`GRID` threshold with the best SVEB F1 over ``recs`` in a leave-one-record-out
    over ``recs`` only."""
    inner = np.zeros(d["y"].size)
    within = np.isin(d["rec"], list(recs))
    for r in recs:
        it = d["rec"] == r
        inner[it] = _fit(x, d, within & ~it, train_on).score_features(x[it])
    return max(GRID, key=lambda t: _f1(d["y"][within], relabel(d, within, inner, t)))


def summary(y: np.ndarray, lab: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, cls in (("veb", "V"), ("sveb", "S"), ("n", "N")):
        c = class_counts(y, lab, cls)
        out[name] = {k: round(v, 2) for k, v in se_ppv(c["tp"], c["fn"], c["fp"]).items()} | c
    return out


def nested(
    d: dict[str, np.ndarray], x: np.ndarray, outer: Sequence[Sequence[str]] | None, train_on: str
) -> dict[str, Any]:
    """Nested held-out labels of the stacker: for each outer group (one record by default), fitted
    on the other records with the threshold chosen on them alone (:func:`choose_threshold`)."""
    recs = sorted(set(d["rec"].tolist()))
    y = d["y"]
    final = d["base"].copy()
    thresholds = {}
    for g in outer or [[r] for r in recs]:
        te = np.isin(d["rec"], list(g))
        t = choose_threshold(x, d, [q for q in recs if q not in g], train_on)
        final[te] = relabel(d, te, _fit(x, d, ~te, train_on).score_features(x), t)
        thresholds["+".join(g)] = t
    per_record = {
        r: {
            "pipeline": summary(y[d["rec"] == r], d["base"][d["rec"] == r])["sveb"],
            "stacker": summary(y[d["rec"] == r], final[d["rec"] == r])["sveb"],
        }
        for r in recs
    }
    return {"stacker": summary(y, final), "thresholds": thresholds, "per_record_sveb": per_record}


def voted_proba(proba: np.ndarray, family: Sequence[int], votes: Sequence[dict]) -> np.ndarray:
    """p(V) voted by the beat's family, as :func:`models.ecg.classify.context_labels` does it."""
    fpv = [
        morphology.family_vote(vs, f, p) if f >= 0 else p
        for f, vs, p in zip(family, votes, np.asarray(proba)[:, 2].tolist(), strict=True)
    ]
    return morphology.vote_proba(np.asarray(proba), np.asarray(fpv), 2)


def _fold_models(folder: Path) -> list[dict[Any, Any]]:
    saved = json.loads((folder / "folds.json").read_text())["records"]
    return [
        {"records": recs, 1: folder / f"fold{f}-1lead.tflite", 2: folder / f"fold{f}-2lead.tflite"}
        for f, recs in enumerate(saved)
    ]


def _curve(d: dict[str, np.ndarray], score: np.ndarray, grid: Sequence[float]) -> dict[str, Any]:
    allm = np.ones(d["y"].size, bool)
    return {str(t): summary(d["y"], relabel(d, allm, score, t))["sveb"] for t in grid}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fold-models", type=Path, required=True)
    ap.add_argument("--records", type=Path, default=Path("/work/shared/data/mitdb-ds1"))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    d = prepare(held_out_dataset(a.records, a.fold_models))
    votes: dict[str, Any] = {r: {} for r in set(d["rec"].tolist())}
    check = np.array(
        context_labels(
            d["proba"],
            d["irregular"].tolist(),
            d["matches"].tolist(),
            d["family"].tolist(),
            [votes[r] for r in d["rec"].tolist()],
        )
    )
    assert (check == d["base"]).all(), "replay differs from classify.context_labels"
    folds = [fm["records"] for fm in _fold_models(a.fold_models)]
    out: dict[str, Any] = {"pipeline": summary(d["y"], d["base"])}
    x = features(d)
    t0 = time.perf_counter()
    features(d)
    out["feature_us_per_beat"] = round(1e6 * (time.perf_counter() - t0) / d["y"].size, 1)
    # threshold-free: leave-one-record-out scores over a fixed grid, and the pipeline with S
    # wherever the voted p(S) reaches t (the simplest competitor)
    recs = sorted(set(d["rec"].tolist()))
    for train_on in ("arg", "base"):
        score = np.zeros(d["y"].size)
        for r in recs:
            te = d["rec"] == r
            score[te] = _fit(x, d, ~te, train_on).score_features(x[te])
        out[f"curve_loro_train_{train_on}"] = _curve(d, score, (0.5, 0.6, 0.7, 0.8, 0.9))
        for outer_name, outer in (("loro", None), ("4fold", folds)):
            m = nested(d, x, outer, train_on)
            out[f"nested_{outer_name}_train_{train_on}"] = m
            print(outer_name, train_on, m["stacker"]["sveb"], flush=True)
    out["curve_pipeline_pS"] = _curve(d, d["ps_voted"], (0.1, 0.2, 0.3, 0.4, 0.5))
    print(json.dumps({k: v for k, v in out.items() if not k.startswith("nested")}, indent=1))
    if a.out:
        a.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
