"""The PhysioNet/CinC 2019 normalized utility score.

Reyna MA, Josef CS, Jeter R, et al. Early Prediction of Sepsis From Clinical Data: the
PhysioNet/Computing in Cardiology Challenge 2019. Crit Care Med 48(2):210-217 (2020), section
"Evaluation" and Figure 2.

For a septic patient with onset ``t_sepsis`` (the labels are already shifted 6 h earlier, so
``t_sepsis = first positive label index - dt_optimal``), a positive prediction at hour ``t``
earns, with ``d = t - t_sepsis``:

* ``d < dt_early`` (-12 h): ``u_fp`` (too early, counts as a false alarm);
* ``dt_early <= d <= dt_optimal`` (-12..-6 h): rises linearly from 0 to ``max_u_tp`` (1);
* ``dt_optimal < d <= dt_late`` (-6..+3 h): falls linearly from ``max_u_tp`` to 0;
* ``d > dt_late``: 0 (no credit, no penalty).

A negative prediction at ``d <= dt_optimal`` earns ``0``, at ``dt_optimal < d <= dt_late`` it
falls linearly from 0 to ``min_u_fn`` (-2), later 0. For a non-septic patient every positive
prediction earns ``u_fp`` (-0.05) and every negative ``u_tn`` (0).

The normalized score is ``(U - U_inaction) / (U_best - U_inaction)`` over all patients, where
inaction predicts 0 everywhere and the best predicts 1 exactly on
``t_sepsis + dt_early <= t <= t_sepsis + dt_late``: 1 is perfect, 0 is doing nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DT_EARLY = -12.0
DT_OPTIMAL = -6.0
DT_LATE = 3.0
MAX_U_TP = 1.0
MIN_U_FN = -2.0
U_FP = -0.05
U_TN = 0.0


def utility_rows(
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    dt_early: float = DT_EARLY,
    dt_optimal: float = DT_OPTIMAL,
    dt_late: float = DT_LATE,
    max_u_tp: float = MAX_U_TP,
    min_u_fn: float = MIN_U_FN,
    u_fp: float = U_FP,
    u_tn: float = U_TN,
) -> np.ndarray:
    """Utility of each hourly prediction of one patient (Reyna 2020, Fig. 2).

    Parameters
    ----------
    labels : array of {0, 1}
        ``SepsisLabel`` per hour (already 6 h ahead of onset).
    predictions : array of {0, 1}
        Binary predictions per hour.

    Returns
    -------
    np.ndarray
        Utility per hour.
    """
    labels = np.asarray(labels).astype(bool)
    pred = np.asarray(predictions).astype(bool)
    if labels.shape != pred.shape:
        raise ValueError(f"labels {labels.shape} and predictions {pred.shape} differ in shape")
    n = len(labels)
    u = np.zeros(n)
    if not labels.any():
        u[pred] = u_fp
        u[~pred] = u_tn
        return u
    t_sepsis = float(np.argmax(labels)) - dt_optimal
    d = np.arange(n, dtype=float) - t_sepsis
    # Positive predictions: rising ramp to dt_optimal (floored at u_fp), falling ramp to dt_late.
    m1 = max_u_tp / (dt_optimal - dt_early)
    rise = np.maximum(m1 * (d - dt_early), u_fp)
    fall = max_u_tp * (dt_late - d) / (dt_late - dt_optimal)
    pos = np.where(d <= dt_optimal, rise, np.where(d <= dt_late, fall, 0.0))
    # Negative predictions: 0 until dt_optimal, then a ramp down to min_u_fn at dt_late.
    neg = np.where(
        (d > dt_optimal) & (d <= dt_late), min_u_fn * (d - dt_optimal) / (dt_late - dt_optimal), 0.0
    )
    return np.where(pred, pos, neg)


def best_predictions(
    labels: np.ndarray,
    *,
    dt_early: float = DT_EARLY,
    dt_optimal: float = DT_OPTIMAL,
    dt_late: float = DT_LATE,
) -> np.ndarray:
    """The optimal predictions: 1 on ``t_sepsis + dt_early .. t_sepsis + dt_late``, else 0."""
    labels = np.asarray(labels).astype(bool)
    best = np.zeros(len(labels), dtype=int)
    if labels.any():
        t_sepsis = int(np.argmax(labels)) - int(dt_optimal)
        lo = max(0, t_sepsis + int(dt_early))
        hi = min(len(labels), t_sepsis + int(dt_late) + 1)
        best[lo:hi] = 1
    return best


def normalized_utility(
    labels: Sequence[np.ndarray], predictions: Sequence[np.ndarray], non_septic_weight: float = 1.0
) -> float:
    """The challenge score over patients: ``(U - U_inaction) / (U_best - U_inaction)``.

    Parameters
    ----------
    labels, predictions : sequences of per-patient arrays
        Hourly ``SepsisLabel`` and binary predictions, one array per patient.
    non_septic_weight : float
        Every patient without a positive label counts this many times in all three sums: the
        score the same predictions would get where septic patients are rarer (weight ``w``
        divides the odds of a septic patient by ``w``; see :func:`prevalence_weight`). 1 is the
        challenge's own score.

    Examples
    --------
    >>> import numpy as np
    >>> y = [np.array([0] * 10 + [1] * 9)]
    >>> round(normalized_utility(y, y), 3) < 1.0   # predicting the label itself is not optimal
    True
    >>> y, p = [np.array([0, 0, 1, 1]), np.zeros(4)], [np.array([1, 1, 1, 1]), np.ones(4)]
    >>> normalized_utility(y, p) > normalized_utility(y, p, non_septic_weight=2.0)  # false alarms weigh more
    True
    """
    return normalized_utilities(labels, predictions, (non_septic_weight,))[0]


def normalized_utilities(
    labels: Sequence[np.ndarray], predictions: Sequence[np.ndarray], non_septic_weights: Sequence[float]
) -> list[float]:
    """:func:`normalized_utility` at each of ``non_septic_weights``, from one pass over the
    patients (each patient's three utility sums are computed once and weighted per score).

    Examples
    --------
    >>> import numpy as np
    >>> y, p = [np.array([0, 0, 1, 1]), np.zeros(4)], [np.array([1, 1, 1, 1]), np.ones(4)]
    >>> normalized_utilities(y, p, (1.0, 2.0)) == [normalized_utility(y, p, w) for w in (1.0, 2.0)]
    True
    """
    parts = utility_parts(labels, predictions)
    ws = np.asarray(non_septic_weights, dtype=float)
    septic = np.array([bool(np.any(y)) for y in labels])
    w = np.where(septic[:, None], 1.0, ws[None, :])  # patients x weights
    observed, best, inaction = ((w * parts[:, [k]]).sum(axis=0) for k in range(3))
    return [
        float("nan") if b == i else float((o - i) / (b - i))
        for o, b, i in zip(observed, best, inaction, strict=True)
    ]


def utility_parts(labels: Sequence[np.ndarray], predictions: Sequence[np.ndarray]) -> np.ndarray:
    """Each patient's three utility sums, ``(observed, best, inaction)`` per row: what
    :func:`normalized_utility` adds up over patients, and what a bootstrap over patients
    resamples (``(observed - inaction, best - inaction)`` is each patient's share of the score's
    numerator and denominator).

    Examples
    --------
    >>> import numpy as np
    >>> utility_parts([np.zeros(3)], [np.ones(3)]).tolist()   # three false alarms, -0.05 each
    [[-0.15000000000000002, 0.0, 0.0]]
    """
    if len(labels) != len(predictions):
        raise ValueError("one prediction array per patient is required")
    return np.array(
        [
            (
                utility_rows(y, p).sum(),
                utility_rows(y, best_predictions(y)).sum(),
                utility_rows(y, np.zeros(len(y), dtype=int)).sum(),
            )
            for y, p in zip(labels, predictions, strict=True)
        ],
        dtype=float,
    ).reshape(-1, 3)


def prevalence_weight(septic_fraction: float, factor: float) -> float:
    """The :func:`normalized_utility` ``non_septic_weight`` that turns a set whose patients are
    septic with ``septic_fraction`` into one where they are septic ``factor`` times as often.

    Examples
    --------
    >>> round(prevalence_weight(0.088, 0.5), 3)   # set A's 8.8 % septic patients, halved
    2.096
    >>> prevalence_weight(0.088, 1.0)
    1.0
    """
    odds = septic_fraction / (1.0 - septic_fraction)
    target = factor * septic_fraction
    return float(odds / (target / (1.0 - target)))
