"""Beat-by-beat comparison of detected beats with reference annotations (AAMI EC57).

Pure functions over sample indices and labels; no I/O. The match window is 150 ms as in
ANSI/AAMI EC57 (and PhysioNet ``bxb``): a detected beat matches a reference beat if they are
within 150 ms; each beat matches at most once, closest pairs first.
"""

from __future__ import annotations

import numpy as np

#: AAMI EC57 beat-by-beat match window, seconds.
MATCH_WINDOW_S = 0.15


def beats_match(
    ref: np.ndarray, test: np.ndarray, fs: float, window_s: float = MATCH_WINDOW_S
) -> tuple[np.ndarray, np.ndarray]:
    """Match detected beats to reference beats, one-to-one, within ``window_s``.

    Parameters
    ----------
    ref, test : numpy.ndarray
        Increasing sample indices of reference and detected beats.
    fs : float
        Sampling rate in Hz.
    window_s : float
        Match window in seconds (AAMI EC57: 0.15 s).

    Returns
    -------
    (ref_to_test, test_to_ref) : tuple of numpy.ndarray
        For each reference beat the index of its matched detected beat (or -1), and vice versa.
    """
    ref = np.asarray(ref, dtype=np.int64)
    test = np.asarray(test, dtype=np.int64)
    tol = window_s * fs
    r2t = np.full(ref.size, -1, dtype=np.int64)
    t2r = np.full(test.size, -1, dtype=np.int64)
    if ref.size == 0 or test.size == 0:
        return r2t, t2r
    # candidate pairs: each reference beat vs its nearest detected neighbours on either side
    pos = np.searchsorted(test, ref)
    pairs = []
    for off in (-2, -1, 0, 1):
        j = pos + off
        ok = (j >= 0) & (j < test.size)
        i = np.nonzero(ok)[0]
        d = np.abs(test[j[ok]] - ref[i])
        keep = d <= tol
        pairs.append(np.stack([d[keep], i[keep], j[ok][keep]], axis=1))
    allp = np.concatenate(pairs)
    allp = allp[np.lexsort((allp[:, 1], allp[:, 0]))]
    for _, i, j in allp:
        if r2t[i] < 0 and t2r[j] < 0:
            r2t[i] = j
            t2r[j] = i
    return r2t, t2r


#: Reference classes whose beats are not false positives when labelled as the key class, as in
#: PhysioNet's ``bxb`` (WFDB, the reference implementation of ANSI/AAMI EC57 beat-by-beat
#: comparison): ``VFP = Nv + Sv + Ov + Xv`` (a fusion beat is partly ventricular and an
#: unclassifiable beat has no class to contradict) and ``SFP = Ns + Vs + Fs + Os + Xs``.
#: Detections without a reference beat (``O``, label ``''`` here) are false positives.
NOT_FALSE_POSITIVE = {"V": ("F", "Q"), "S": ("Q",)}


def class_counts(det_ref: np.ndarray, pred: np.ndarray, cls: str, n_ref: int | None = None) -> dict[str, int]:
    """EC57 counts of one beat class over detected beats.

    Parameters
    ----------
    det_ref : numpy.ndarray
        Reference AAMI class of each detected beat (``''``: no matching reference beat).
    pred : numpy.ndarray
        The detected beats' labels.
    cls : str
        The class scored (``"V"`` for VEB, ``"S"`` for SVEB).
    n_ref : int, optional
        Reference beats of ``cls`` in all, missed ones included (``bxb``'s ``Vo`` count as false
        negatives); by default those among the detected beats only.

    Examples
    --------
    >>> ref = np.array(["V", "V", "F", "N", "Q", ""]); pred = np.array(["V", "N", "V", "V", "V", "V"])
    >>> class_counts(ref, pred, "V"), class_counts(ref, pred, "V", n_ref=3)["fn"]
    ({'tp': 1, 'fn': 1, 'fp': 2}, 2)
    """
    det_ref, pred = np.asarray(det_ref), np.asarray(pred)
    tp = int(np.sum((det_ref == cls) & (pred == cls)))
    total = int(np.sum(det_ref == cls)) if n_ref is None else int(n_ref)
    fp = int(
        np.sum((pred == cls) & (det_ref != cls) & ~np.isin(det_ref, NOT_FALSE_POSITIVE.get(cls, ("Q",))))
    )
    return {"tp": tp, "fn": total - tp, "fp": fp}


def se_ppv(tp: int, fn: int, fp: int) -> dict[str, float]:
    """Sensitivity and positive predictivity in percent (NaN when undefined)."""
    se = 100.0 * tp / (tp + fn) if tp + fn else float("nan")
    ppv = 100.0 * tp / (tp + fp) if tp + fp else float("nan")
    return {"se": se, "ppv": ppv}


def vf_intervals(samples: np.ndarray, symbols: list[str]) -> list[tuple[int, int]]:
    """Ventricular flutter/fibrillation episodes, ``[`` ... ``]`` in MIT-BIH annotations.

    AAMI EC57 (and ``bxb``) exclude VF episodes from beat-by-beat comparison: there are no
    beats to find in them, so detections there are neither true nor false.
    """
    out: list[tuple[int, int]] = []
    start: int | None = None
    for s, sym in zip(samples, symbols, strict=True):
        if sym == "[":
            start = int(s)
        elif sym == "]" and start is not None:
            out.append((start, int(s)))
            start = None
    if start is not None:
        out.append((start, int(samples[-1]) + 1 if len(samples) else start))
    return out


def scoring_mask(
    idx: np.ndarray, n_samples: int, fs: float, excluded: list[tuple[int, int]], edge_s: float = 1.0
) -> np.ndarray:
    """Boolean mask of beats that are scored: not within ``edge_s`` of either end, not in VF."""
    idx = np.asarray(idx, dtype=np.int64)
    edge = int(round(edge_s * fs))
    keep = (idx >= edge) & (idx < n_samples - edge)
    for a, b in excluded:
        keep &= ~((idx >= a) & (idx <= b))
    return keep
