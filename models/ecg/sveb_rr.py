"""SVEB from the rhythm: whether a beat the network calls N or S is premature against the
patient's own rhythm, from four RR ratios and a logistic model.

An SVEB (AAMI EC57 class S) is an atrial or nodal beat that comes early against the underlying
rhythm, usually with a normal QRS. The inter-patient methods that hold on unseen patients decide
it mainly from RR intervals normalised to the patient's own rhythm: de Chazal, O'Dwyer & Reilly,
IEEE TBME 51(7):1196-1206, 2004 (pre-RR, post-RR, the local and the long-run average RR, with
linear discriminants; SVEB Se 75.9 % on MIT-BIH DS2 when trained on DS1 only); Llamedo &
Martínez, IEEE TBME 58(3):616-625, 2011 and Mar et al., IEEE TBME 58(8):2168-2177, 2011 (the same
RR features normalised by the patient's averages). The beat network (``classify``) sees these RR
features too, but beside the beat's waveform; on 22 training patients it learns their SVEB
morphologies, which do not transfer: its SVEB Se is 33 % leave-one-record-out, while this RR
model alone keeps ~75 % (model card, "SVEB from the rhythm").

So the S / N decision for beats the network labels N or S is this model's (:func:`rr_labels`);
V, F and Q stay the network's. The AF-context rule (:func:`models.ecg.rhythm.rhythm_labels`)
still runs after it: in an AF-irregular rhythm prematurity means nothing, and the model is
trained on beats of a regular rhythm only.

Pure functions and one frozen dataclass; the fitted coefficients live in
``artifacts/sveb_rr.json`` (``wardwatch train sveb``, :func:`fit`, deterministic, seconds).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from models.ecg.metrics import class_counts

VERSION = "sveb-rr-1"  #: named in BeatClassifier.version when the model decides S / N
DEFAULT_PATH = Path(__file__).resolve().parent / "artifacts" / "sveb_rr.json"
FEATURES = ("log_pre_over_avg", "log_post_over_avg", "log_pre_over_post", "log_pre_over_local")
GRID = tuple(round(0.50 + 0.05 * i, 2) for i in range(10))  #: thresholds searched, 0.50-0.95
RR_FLOOR_S = 0.05  #: RR values are clipped to at least this before the ratios (no log of 0)


def rr_features(rr: np.ndarray) -> np.ndarray:
    """The model's inputs ``(n, 4)`` from the beats' RR features ``(n, >= 4)`` (pre-RR, post-RR,
    local and average RR in seconds first, as :class:`models.ecg.beats.BeatCandidate` has them):
    log pre/avg, post/avg, pre/post and pre/local.

    Examples
    --------
    >>> x = rr_features(np.array([[0.5, 1.0, 0.75, 1.0]]))    # early, then a long pause
    >>> np.round(x, 3).tolist()
    [[-0.693, 0.0, -0.693, -0.405]]
    """
    r = np.maximum(np.asarray(rr, dtype=np.float64)[:, :4], RR_FLOOR_S)
    pre, post, local, avg = r.T
    out: np.ndarray = np.stack(
        [np.log(pre / avg), np.log(post / avg), np.log(pre / post), np.log(pre / local)], axis=1
    )
    return out


@dataclass(frozen=True, eq=False)
class RRModel:
    """A fitted model: standardisation, logistic coefficients and the S threshold (compare two
    by :meth:`to_json`)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    version: str = VERSION

    def score(self, rr: np.ndarray) -> np.ndarray:
        """P(S | N or S) per beat on the class-balanced scale (compare with :attr:`threshold`),
        from the beats' RR features ``(n, >= 4)``."""
        return self.score_features(rr_features(rr))

    def score_features(self, x: np.ndarray) -> np.ndarray:
        """The logistic score of feature rows ``x`` (what :func:`fit_logistic` was fitted on)."""
        z = ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        p: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return p

    def with_threshold(self, threshold: float) -> RRModel:
        return RRModel(self.mean, self.scale, self.coef, self.intercept, float(threshold), self.version)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RRModel:
        if list(d["features"]) != list(FEATURES):
            raise ValueError(f"model features {d['features']} are not {list(FEATURES)}")
        return cls(
            np.asarray(d["mean"], dtype=np.float64),
            np.asarray(d["scale"], dtype=np.float64),
            np.asarray(d["coef"], dtype=np.float64),
            float(d["intercept"]),
            float(d["threshold"]),
            str(d["version"]),
        )


@lru_cache(maxsize=4)
def load(path: str | Path = DEFAULT_PATH) -> RRModel:
    """The fitted model in ``path`` (default: the committed artifact)."""
    return RRModel.from_json(json.loads(Path(path).read_text()))


def rr_labels(labels: Sequence[str], score: np.ndarray, threshold: float) -> list[str]:
    """``labels`` with every N or S replaced by S where ``score >= threshold``, else N; V, F and
    Q unchanged.

    Examples
    --------
    >>> rr_labels(["N", "S", "V", "N"], np.array([0.9, 0.1, 0.99, 0.5]), 0.5)
    ['S', 'N', 'V', 'S']
    """
    return [
        ("S" if s >= threshold else "N") if lab in ("N", "S") else lab
        for lab, s in zip(labels, np.asarray(score).tolist(), strict=True)
    ]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50) -> RRModel:
    """Class-balanced, L2-penalised logistic regression on standardised features ``x`` (Newton's
    method; the objective of scikit-learn's ``LogisticRegression(C=1/l2,
    class_weight="balanced")``). ``y``: 1 for S, 0 for N. Threshold 0.5 until set."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] == 0 or y.min() == y.max():
        raise ValueError("need beats of both classes")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((x.shape[0], 1))])
    n1 = y.sum()
    w = np.where(y == 1, y.size / (2 * n1), y.size / (2 * (y.size - n1)))
    beta = np.zeros(z.shape[1])
    pen = np.full(z.shape[1], l2)
    pen[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        grad = z.T @ (w * (p - y)) + pen * beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(pen)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return RRModel(mean=mean, scale=scale, coef=beta[:-1], intercept=float(beta[-1]), threshold=0.5)


def training_mask(y: np.ndarray, irregular: np.ndarray) -> np.ndarray:
    """The beats the model learns from: reference N or S in a regular rhythm (in an AF-irregular
    one the AF-context rule decides, and prematurity means nothing)."""
    m: np.ndarray = np.isin(y, ["N", "S"]) & ~np.asarray(irregular, dtype=bool)
    return m


def _fit_on(x: np.ndarray, y: np.ndarray, irregular: np.ndarray, sel: np.ndarray) -> RRModel:
    m = sel & training_mask(y, irregular)
    return fit_logistic(x[m], (y[m] == "S").astype(float))


def _f1(y: np.ndarray, is_s: np.ndarray) -> float:
    c = class_counts(y, np.where(is_s, "S", "N"), "S")
    return 2 * c["tp"] / max(2 * c["tp"] + c["fn"] + c["fp"], 1)


def held_out_scores(x: np.ndarray, y: np.ndarray, irregular: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Leave-one-record-out scores: each record's beats scored by a model fitted on the other
    records only. ``x``: the beats' feature rows (:func:`rr_features`, or any columns
    :func:`fit_logistic` takes)."""
    out = np.zeros(y.size)
    for r in sorted(set(rec.tolist())):
        te = rec == r
        out[te] = _fit_on(x, y, irregular, ~te).score_features(x[te])
    return out


def choose_threshold(x: np.ndarray, y: np.ndarray, irregular: np.ndarray, rec: np.ndarray) -> float:
    """The :data:`GRID` threshold with the best SVEB F1 (reference N and S beats of a regular
    rhythm) in a leave-one-record-out over the given records only (feature rows ``x``)."""
    score = held_out_scores(x, y, irregular, rec)
    m = training_mask(y, irregular)
    return max(GRID, key=lambda t: _f1(y[m], score[m] >= t))


def fit(rr: np.ndarray, y: np.ndarray, irregular: np.ndarray, rec: np.ndarray) -> RRModel:
    """The model on every given beat (reference N / S of a regular rhythm), with its threshold
    chosen by :func:`choose_threshold` over the same records: nothing is chosen on beats the
    caller holds out.

    Parameters
    ----------
    rr : numpy.ndarray
        ``(n, >= 4)`` RR features of the beats (:class:`models.ecg.beats.BeatCandidate`).
    y : numpy.ndarray
        Reference AAMI class per beat (``""`` for an unmatched detection: not used).
    irregular : numpy.ndarray
        The beat's AF-irregular rhythm flag (beats with it set are not used).
    rec : numpy.ndarray
        Record (patient) of each beat, for the threshold's leave-one-record-out.
    """
    return fit_features(rr_features(rr), y, irregular, rec)


def fit_features(x: np.ndarray, y: np.ndarray, irregular: np.ndarray, rec: np.ndarray) -> RRModel:
    """:func:`fit` on the beats' feature rows ``x`` (:func:`rr_features` for the shipped model;
    a bench may add columns: the model's coefficients follow them)."""
    y = np.asarray(y)
    irregular = np.asarray(irregular, dtype=bool)
    rec = np.asarray(rec)
    every = np.ones(y.size, bool)
    return _fit_on(x, y, irregular, every).with_threshold(choose_threshold(x, y, irregular, rec))


def nested_labels(
    labels: np.ndarray, rr: np.ndarray, y: np.ndarray, irregular: np.ndarray, rec: np.ndarray
) -> tuple[np.ndarray, dict[str, float]]:
    """Leave-one-record-out S / N verdicts for held-out network ``labels``: each record's N / S
    labels decided by :func:`fit` on the other records alone (its threshold too). Returns the
    labels and each record's threshold. The AF-context and template rules are the caller's."""
    out = np.asarray(labels).copy()
    x = rr_features(rr)
    thresholds = {}
    for r in sorted(set(rec.tolist())):
        te = rec == r
        m = fit_features(x[~te], y[~te], irregular[~te], rec[~te])
        out[te] = rr_labels(out[te].tolist(), m.score_features(x[te]), m.threshold)
        thresholds[r] = m.threshold
    return out, thresholds
