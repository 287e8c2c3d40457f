"""Rhythm context for beat labels: RR irregularity, and the rule that a beat can only be
supraventricular-premature against a regular rhythm.

Two pure functions used by the beat pipeline (per beat, from the RR intervals before it) and by
the alarm rules (atrial fibrillation):

* :func:`rr_irregularity` — normalised RMSSD, coefficient of variation and Shannon entropy of
  an RR series after dropping its most extreme intervals (isolated premature beats and their
  compensatory pauses), as Dash et al. drop the 8 longest and 8 shortest of 128 intervals (Dash
  S, Chon KH, Lu S, Raeder EA. Automatic real time detection of atrial fibrillation. Ann Biomed
  Eng 37(9):1701-1709, 2009: normalised RMSSD and Shannon entropy of the RR series).
* :func:`af_irregular` — the AF verdict on those measures, shared by the beat pipeline and the
  AF alarm: variable (nRMSSD and CoV above their limits) **and** disordered (Shannon entropy of
  the RR histogram at least Dash's 0.7). Entropy is what tells atrial fibrillation ("irregularly
  irregular") from an organised irregular rhythm: atrial bigeminy or trigeminy, or frequent
  atrial premature beats, vary as much beat to beat but their RR intervals fall in two or three
  clusters, so their entropy is low (bigeminy: log 2 / log 16 = 0.25).
* :func:`rhythm_labels` — the classifier's labels corrected by the rhythm around each beat:

  - **AF-irregular rhythm -> no S**. An SVEB (AAMI EC57 class S) is an atrial or nodal beat that is
    *premature* against the underlying rhythm. In atrial fibrillation there is no regular
    underlying rhythm and MIT-BIH annotates the conducted beats N (EC57 counts them as N); in an
    irregular rhythm, prematurity (the RR features that make S separable in the inter-patient
    setting; de Chazal et al., IEEE TBME 51(7), 2004) is not evidence of an ectopic atrial focus.
    A beat labelled S while the last :data:`WINDOW` RR intervals are AF-irregular
    (:func:`af_irregular`) is relabelled N, unless the
    network gives it p(S) >= :data:`CERTAIN_S`: the rule corrects doubtful S labels and, as the
    family vote never lowers a certain p(V) (:data:`models.ecg.morphology.CERTAIN_V`), does not
    overrule a certain one. Frequent atrial premature beats make a sinus rhythm read irregular
    (record 220: 34 of its 94 SVEBs lost to the rule, median p(S) 0.998); the entropy limit
    (``rhythm-3``) keeps most of those windows out of the rule (DS1 reference beats outside AF
    in a flagged window: 14.4 % -> 7.6 %, SVEBs 178 -> 114 of 928; AF/flutter beats flagged
    96.4 % -> 95.0 %).
    Measured (4-fold leave-records-out CV over DS1, two-lead model, see the model card): SVEB +P
    roughly doubles (false SVEBs in records 201, 203, 106 and 208 are removed) for a few points of
    SVEB Se; the certainty guard gives back 3 of those points and adds 1 of +P.

The RR series is taken from all detected beats (no labels are needed, so the context does not
depend on the classifier it corrects); trimming removes isolated ectopic beats, and entropy
keeps patterned ectopy (bigeminy) from reading as AF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

VERSION = "rhythm-3"  #: named in BeatClassifier.version when the rule is applied
WINDOW = 30  #: RR intervals in the rhythm context (the AF window of the alarm rules)
MIN_INTERVALS = 20  #: fewer usable intervals: no verdict (treated as regular)
TRIM = 0.10  #: fraction of intervals dropped at each end before measuring (Dash 2009: 8/128)
RR_MIN_S = 0.2  #: intervals outside [RR_MIN_S, RR_MAX_S) are artefacts or pauses, not rhythm
RR_MAX_S = 3.0
# AF limits, chosen on DS1 reference beats for the AF alarm (30-interval windows, 10 % trim):
# AF windows 93.6 % above both, non-AF windows 2.4 % (models/ecg/rule_config.py, RuleConfig;
# models/ecg/tuning_history.md).
AF_NRMSSD = 0.15
AF_COV = 0.10
# Dash 2009's own limit for the Shannon entropy of the trimmed RR series in 16 equal bins
# between its minimum and maximum; not tuned here.
AF_SHE = 0.7
SHE_BINS = 16
_SHE_GRID = np.arange(SHE_BINS + 1, dtype=np.float64)
CERTAIN_S = 0.99  #: an S label with at least this p(S) is kept in an irregular rhythm


def rr_irregularity(rr_s: Sequence[float] | np.ndarray, trim: float = TRIM) -> dict[str, float]:
    """Irregularity of an RR series (seconds, in order) after dropping ``round(n * trim)`` of the
    shortest and of the longest intervals (order kept).

    Returns
    -------
    dict
        ``nrmssd`` (RMSSD / mean RR), ``cov`` (SD / mean RR), ``she`` (Shannon entropy of the
        intervals' histogram in :data:`SHE_BINS` equal bins from their minimum to their maximum,
        divided by log :data:`SHE_BINS`: 0 for one value, 1 for an even spread; Dash 2009),
        ``n`` (intervals kept) and ``mean_rr_s``, all of the trimmed series.

    Examples
    --------
    >>> r = rr_irregularity([0.8] * 20 + [0.5, 1.1] + [0.8] * 8)   # the premature beat, its pause trimmed
    >>> round(r["nrmssd"], 6), round(r["cov"], 6), r["she"], r["n"]
    (0.0, 0.0, 0.0, 24)
    >>> round(rr_irregularity([0.6, 1.0] * 15)["she"], 4)   # bigeminy: two values, log 2 / log 16
    0.25
    """
    arr = _trimmed(np.asarray(rr_s, dtype=float), trim)
    mean = _mean(arr)
    return {
        "nrmssd": _nrmssd(arr, mean),
        "cov": _cov(arr, mean),
        "she": _entropy(arr),
        "n": int(arr.size),
        "mean_rr_s": mean,
    }


def _trimmed(arr: np.ndarray, trim: float) -> np.ndarray:
    """``arr`` without ``round(n * trim)`` of its shortest and of its longest values, order kept."""
    k = int(round(arr.size * trim))
    if k:
        arr = arr[np.sort(np.argsort(arr, kind="stable")[k : arr.size - k])]
    return arr


# The measures below run for every beat on ~24 intervals, where numpy's per-call overhead is
# most of the cost: each is written with the fewest calls that give numpy's own result bit for
# bit (np.mean is a sum over the count, np.std the root of the mean squared deviation, both with
# numpy's pairwise sum; np.linspace the grid times its step plus the start, ending on the stop).


def _nrmssd(arr: np.ndarray, mean: float) -> float:
    """``np.sqrt(np.mean(np.diff(arr) ** 2)) / mean``."""
    if arr.size < 2:
        return float(np.sqrt(np.mean(np.diff(arr) ** 2)) / mean)
    d = arr[1:] - arr[:-1]
    d *= d
    return math.sqrt(float(d.sum()) / d.size) / mean


def _cov(arr: np.ndarray, mean: float) -> float:
    """``arr.std() / mean`` (``mean`` being ``arr.mean()``)."""
    if arr.size == 0:
        return float(arr.std() / mean)
    d = arr - mean
    d *= d
    return math.sqrt(float(d.sum()) / arr.size) / mean


def _mean(arr: np.ndarray) -> float:
    """``float(arr.mean())``."""
    return float(arr.sum()) / arr.size if arr.size else float(arr.mean())


def _entropy(arr: np.ndarray) -> float:
    """Shannon entropy of ``arr``'s histogram in :data:`SHE_BINS` equal bins from its minimum to
    its maximum, over log :data:`SHE_BINS`. The bins are ``np.histogram``'s, edge cases included
    (RR intervals are whole samples, so values often sit on an edge), computed the way it
    computes them for equal bins, without its overhead: this runs for every beat, and
    ``np.histogram`` costs about 65 µs on 24 values."""
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return 0.0
    step = (hi - lo) / SHE_BINS
    if step > 0:  # np.linspace(lo, hi, SHE_BINS + 1), which treats a step of 0 on its own
        edges = _SHE_GRID * step + lo
        edges[-1] = hi
    else:
        edges = np.linspace(lo, hi, SHE_BINS + 1)
    idx = np.minimum(((arr - lo) * (SHE_BINS / (hi - lo))).astype(np.intp), SHE_BINS - 1)
    idx -= arr < edges[idx]
    idx += (arr >= edges[idx + 1]) & (idx != SHE_BINS - 1)
    counts = np.bincount(idx, minlength=SHE_BINS)
    p = counts[counts > 0] / arr.size
    return float(abs((p * np.log(p)).sum()) / np.log(SHE_BINS))


def af_irregular(
    r: dict[str, float], nrmssd: float = AF_NRMSSD, cov: float = AF_COV, she: float = AF_SHE
) -> bool:
    """The AF verdict on :func:`rr_irregularity`'s measures: nRMSSD and CoV above their limits
    and Shannon entropy at least ``she`` (Dash 2009).

    Examples
    --------
    >>> af_irregular(rr_irregularity([0.6, 1.0] * 15))     # atrial bigeminy: varies, but organised
    False
    """
    return r["nrmssd"] > nrmssd and r["cov"] > cov and r["she"] >= she


def irregular_rhythm(rr_s: Sequence[float]) -> bool:
    """True when the usable intervals of ``rr_s`` (the last :data:`WINDOW`) are AF-irregular
    (:func:`af_irregular`)."""
    arr = np.asarray(rr_s[-WINDOW:], dtype=float)
    arr = arr[(arr >= RR_MIN_S) & (arr < RR_MAX_S)]
    if arr.size < MIN_INTERVALS:
        return False
    # af_irregular(rr_irregularity(arr)), each measure computed only while the verdict can
    # still be True: a regular rhythm (most beats) stops at nRMSSD, before the SD and the
    # entropy histogram (this runs for every beat; the same expressions, so the same verdict)
    arr = _trimmed(arr, TRIM)
    mean = _mean(arr)
    return _nrmssd(arr, mean) > AF_NRMSSD and _cov(arr, mean) > AF_COV and _entropy(arr) >= AF_SHE


def rhythm_labels(
    labels: Sequence[str], irregular: Sequence[bool], p_s: Sequence[float] | None = None
) -> list[str]:
    """Labels with S replaced by N where the beat's rhythm context is AF-irregular and its p(S)
    (when given) is under :data:`CERTAIN_S`.

    Examples
    --------
    >>> rhythm_labels(["N", "S", "S", "V"], [True, True, False, True])
    ['N', 'N', 'S', 'V']
    >>> rhythm_labels(["S", "S"], [True, True], p_s=[0.995, 0.9])
    ['S', 'N']
    """
    ps = [0.0] * len(labels) if p_s is None else p_s
    return [
        "N" if lab == "S" and irr and p < CERTAIN_S else lab
        for lab, irr, p in zip(labels, irregular, ps, strict=True)
    ]
