"""Heart rate and the RR series of the AF rule, from the alarm rules' recent beats.

The beats are the rule state's ``[t, label, seg]`` entries (device time in POSIX seconds, AAMI
class, number of the continuous signal segment): no RR interval spans two segments. The RR
irregularity of a series is measured by the one implementation,
:func:`models.ecg.rhythm.rr_irregularity`, which the beat classifier's rhythm context also uses.

References: ANSI/AAMI EC13:2002/(R)2007 (heart-rate averaging) [EC13]; Dash S, Chon KH, Lu S,
Raeder EA. Ann Biomed Eng 37(9):1701-1709 (2009) (RR irregularity of AF) [Dash2009]; Petrenas A,
Marozas V, Sornmo L. Low-complexity detection of atrial fibrillation in continuous long-term
monitoring. Comput Biol Med 65:184-191 (2015) (ectopic beats removed from the RR series before the
irregularity measure) [Petrenas2015]; Page RL et al. 2015 ACC/AHA/HRS guideline for adult
supraventricular tachycardia, Circulation 133:e506-e574 (2016) (atrial flutter: atrial rate
250-350/min, 2:1 or variable AV conduction) [ACC2015].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.ecg import rhythm
from models.ecg.rule_config import DEFAULT_RULES, RuleConfig

BeatEntry = list[Any]  #: ``[t, label, seg]``: device time (POSIX s), AAMI class, segment number


def hr_from_beats(
    beats: Sequence[BeatEntry], t: float | None = None, cfg: RuleConfig = DEFAULT_RULES
) -> float | None:
    """Heart rate (bpm) from the most recent RR intervals.

    Parameters
    ----------
    beats : list of ``[t, label, seg]``
        Recent beats, oldest first (``seg`` numbers the continuous signal segment; no RR
        interval spans two segments).
    t : float, optional
        Evaluate at this time (default: the last beat); intervals older than
        ``cfg.hr_window_s`` before it are not used.

    Returns
    -------
    float or None
        60 / mean of the last up to ``cfg.hr_rr_max`` RR intervals (EC13 averaging); None with
        fewer than 2 intervals in the window.

    Examples
    --------
    >>> hr_from_beats([[0.75 * i, "N", 0] for i in range(10)])
    80.0
    """
    if len(beats) < 3:
        return None
    t = beats[-1][0] if t is None else t
    rr: list[float] = []
    for a, b in zip(reversed(beats[:-1]), reversed(beats), strict=False):
        if len(rr) >= cfg.hr_rr_max or a[0] < t - cfg.hr_window_s or a[2] != b[2]:
            break
        rr.append(b[0] - a[0])
    if len(rr) < 2:
        return None
    return 60.0 / (sum(rr) / len(rr))


#: Beat classes whose RR intervals measure the atrial rhythm by default
#: (``RuleConfig.af_rr_labels``): conducted beats. The intervals into and out of an ectopic
#: beat are left out (:func:`af_rr_intervals`).
AF_RR_LABELS = DEFAULT_RULES.af_rr_labels


def af_rr_intervals(
    beats: Sequence[BeatEntry], cfg: RuleConfig = DEFAULT_RULES, labels: Sequence[str] | None = None
) -> list[float] | None:
    """The last ``cfg.af_window`` RR intervals between conducted beats (s, oldest first) of the
    current segment (``labels``: the classes counted as conducted beats, default
    ``cfg.af_rr_labels``),
    each from :data:`models.ecg.rhythm.RR_MIN_S` to under ``cfg.pause_s`` (pauses are their own
    alarm, not AF irregularity).

    Ectopic beats and the intervals around them are removed before the irregularity is
    measured, as the published RR-interval AF detectors do: Dash et al. 2009 [Dash2009] drop the
    extreme intervals (done after this, ``cfg.af_trim``); Petrenas et al. 2015 [Petrenas2015]
    remove ectopic beats, and the intervals they make, from the RR series first, because a
    premature beat and its compensatory pause read as irregularity in a sinus rhythm. Here the
    beats the classifier labels ectopic (V, Q; and S, which the beat pipeline's rhythm
    context only keeps in a rhythm that is not AF-irregular or when it is certain,
    :mod:`models.ecg.rhythm`) are those beats; the conducted ones are ``cfg.af_rr_labels``
    (N and F: a fusion beat is timed by the atrial impulse): the interval into each and the one out of it
    are left out, so frequent ventricular ectopy in AF no longer dilutes the AF intervals with
    coupling intervals, and frequent APCs in sinus rhythm no longer make it read irregular.

    Returns
    -------
    list of float or None
        None with fewer than ``cfg.af_min_intervals`` usable intervals.

    Examples
    --------
    >>> b = [[0.8 * i, "N", 0] for i in range(25)]
    >>> b[10][1] = "V"                     # the two intervals around the V beat are left out
    >>> len(af_rr_intervals(b))
    22
    >>> b[15][1] = "S"                     # and those around an S beat
    >>> len(af_rr_intervals(b)), af_rr_intervals(b[:20]) is None
    (20, True)
    """
    labels = cfg.af_rr_labels if labels is None else labels
    rr: list[float] = []
    for a, b in zip(reversed(beats[:-1]), reversed(beats), strict=False):
        if len(rr) >= cfg.af_window:
            break
        if a[2] != b[2]:
            break
        if a[1] in labels and b[1] in labels and rhythm.RR_MIN_S <= b[0] - a[0] < cfg.pause_s:
            rr.append(b[0] - a[0])
    if len(rr) < cfg.af_min_intervals:
        return None
    return rr[::-1]


def nn_dominant(beats: Sequence[BeatEntry], cfg: RuleConfig = DEFAULT_RULES) -> bool:
    """At least half of the last ``cfg.af_window`` RR intervals of the current segment are
    between conducted beats (``cfg.af_rr_labels``): the rhythm is not mostly ectopic beats.

    Examples
    --------
    >>> nn_dominant([[0.8 * i, "N", 0] for i in range(40)])
    True
    >>> nn_dominant([[0.8 * i, "NS"[i % 2], 0] for i in range(40)])   # atrial bigeminy
    False
    """
    n = nn = 0
    for a, b in zip(reversed(beats[:-1]), reversed(beats), strict=False):
        if n >= cfg.af_window or a[2] != b[2]:
            break
        n += 1
        nn += a[1] in cfg.af_rr_labels and b[1] in cfg.af_rr_labels
    return n > 0 and 2 * nn >= n


def af_window_start(beats: Sequence[BeatEntry], n: int, labels: Sequence[str] = AF_RR_LABELS) -> float | None:
    """Device time of the first beat of the last ``n`` intervals between ``labels`` beats of
    :func:`af_rr_intervals` (where the window the AF verdict was made on begins)."""
    k = 0
    for a, b in zip(reversed(beats[:-1]), reversed(beats), strict=False):
        if a[2] != b[2]:
            return float(b[0])
        if a[1] in labels and b[1] in labels:
            k += 1
            if k >= n:
                return float(a[0])
    return float(beats[0][0]) if beats else None


def flutter_lattice(rr: Sequence[float], cfg: RuleConfig = DEFAULT_RULES) -> float | None:
    """The flutter cycle length (s) when the RR intervals are atrial flutter with variable AV
    block, else None.

    In atrial flutter the atria beat regularly at 250-350/min and the AV node conducts every
    2nd, 3rd or 4th wave (Page RL et al. 2015 ACC/AHA/HRS Guideline for the Management of Adult
    Patients With Supraventricular Tachycardia, Circulation 133:e506-e574, 2016 [ACC2015]), so
    with a variable block the RR intervals vary widely, as in AF, but each is close to a whole
    multiple of one flutter cycle: the rhythm is organised, not fibrillation. A cycle ``F`` from
    ``cfg.afl_cycle_s`` is accepted when at least ``cfg.afl_fit`` of the intervals lie within
    ``cfg.afl_tol_s`` of ``k * F`` for a block ``k`` of 2 to ``cfg.afl_max_block``, using at
    least two different blocks (a single block is a regular rhythm, not AF anyway).

    Examples
    --------
    >>> rr = [0.42, 0.63, 0.42, 0.84, 0.63, 0.42, 0.42, 0.84] * 3   # 2:1, 3:1, 4:1 of 0.21 s
    >>> round(flutter_lattice(rr), 2)
    0.21
    >>> import numpy as np
    >>> flutter_lattice(list(np.random.default_rng(1).uniform(0.4, 1.0, 30))) is None   # AF
    True
    """
    arr = np.asarray(rr, dtype=float)
    if arr.size == 0:
        return None
    lo, hi = cfg.afl_cycle_s
    f = np.arange(lo, hi + 1e-9, 0.002)[:, None]  # candidate cycles x intervals
    k = np.rint(arr[None, :] / f)
    ok = (k >= 2) & (k <= cfg.afl_max_block) & (np.abs(arr[None, :] - k * f) <= cfg.afl_tol_s)
    fit = ok.mean(axis=1)
    # blocks used by each candidate: at least two different multiples among the fitting intervals
    blocks = sum((ok & (k == b)).any(axis=1).astype(int) for b in range(2, cfg.afl_max_block + 1))
    good = (fit >= cfg.afl_fit) & (blocks >= 2)
    if not good.any():
        return None
    # the best fit; among equal fits the cycle with the smallest residuals
    resid = np.where(ok, np.abs(arr[None, :] - k * f), 0.0).sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
    score = np.where(good, fit - resid, -np.inf)
    return float(f[int(np.argmax(score)), 0])


def af_irregularity(beats: Sequence[BeatEntry], cfg: RuleConfig = DEFAULT_RULES) -> dict[str, float] | None:
    """RR irregularity of :func:`af_rr_intervals` (:func:`models.ecg.rhythm.rr_irregularity`,
    after dropping ``cfg.af_trim`` of the most extreme intervals at each end: isolated premature
    beats and their pauses); None without enough intervals.

    Returns
    -------
    dict or None
        ``nrmssd``, ``cov``, ``she`` (entropy), ``n`` (intervals), ``mean_rr_s``.
    """
    rr = af_rr_intervals(beats, cfg)
    return None if rr is None else rhythm.rr_irregularity(rr, cfg.af_trim)


__all__ = [
    "AF_RR_LABELS",
    "BeatEntry",
    "af_irregularity",
    "af_rr_intervals",
    "af_window_start",
    "flutter_lattice",
    "hr_from_beats",
    "nn_dominant",
]
