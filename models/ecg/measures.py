"""Heart rate and the RR series of the AF rule, from the alarm rules' recent beats.

The beats are the rule state's ``[t, label, seg]`` entries (device time in POSIX seconds, AAMI
class, number of the continuous signal segment): no RR interval spans two segments. The RR
irregularity of a series is measured by the one implementation,
:func:`models.ecg.rhythm.rr_irregularity`, which the beat classifier's rhythm context also uses.

References: ANSI/AAMI EC13:2002/(R)2007 (heart-rate averaging) [EC13]; Dash S, Chon KH, Lu S,
Raeder EA. Ann Biomed Eng 37(9):1701-1709 (2009) (RR irregularity of AF) [Dash2009].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def af_rr_intervals(beats: Sequence[BeatEntry], cfg: RuleConfig = DEFAULT_RULES) -> list[float] | None:
    """The last ``cfg.af_window`` N/S-to-N/S RR intervals (s, oldest first) of the current segment,
    each from :data:`models.ecg.rhythm.RR_MIN_S` to under ``cfg.pause_s`` (pauses are their own
    alarm, not AF irregularity); ventricular beats and their compensatory pauses are left out.

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
    >>> af_rr_intervals(b[:20]) is None
    True
    """
    rr: list[float] = []
    for a, b in zip(reversed(beats[:-1]), reversed(beats), strict=False):
        if len(rr) >= cfg.af_window:
            break
        if a[2] != b[2]:
            break
        if a[1] in ("N", "S") and b[1] in ("N", "S") and rhythm.RR_MIN_S <= b[0] - a[0] < cfg.pause_s:
            rr.append(b[0] - a[0])
    if len(rr) < cfg.af_min_intervals:
        return None
    return rr[::-1]


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


__all__ = ["BeatEntry", "af_irregularity", "af_rr_intervals", "hr_from_beats"]
