"""Utility score (Reyna et al., Crit Care Med 2020) against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from models.deterioration.utility import (
    best_predictions,
    normalized_utility,
    prevalence_weight,
    utility_rows,
)


def test_non_septic_patient_false_alarms_cost_u_fp() -> None:
    y = np.zeros(5, dtype=int)
    p = np.array([0, 1, 1, 0, 1])
    assert utility_rows(y, p).tolist() == pytest.approx([0, -0.05, -0.05, 0, -0.05])


def test_septic_patient_ramps_by_hand() -> None:
    # First positive label at hour 14 -> t_sepsis = 14 + 6 = 20.
    y = np.array([0] * 14 + [1] * 12)  # 26 hours, hours 0..25
    ones = np.ones(26, dtype=int)
    u = utility_rows(y, ones)
    # d = t - 20. Hours 0..7 (d <= -13): too early -> u_fp = -0.05.
    assert u[:8] == pytest.approx([-0.05] * 8)
    # d = -12 -> 0 (max(0, -0.05) = 0); d = -9 -> 0.5; d = -6 -> 1 (the optimum).
    assert u[8] == pytest.approx(0.0)
    assert u[11] == pytest.approx(0.5)
    assert u[14] == pytest.approx(1.0)
    # falling: d = -3 -> (3 - -3)/9 = 2/3; d = 0 -> 1/3; d = 3 -> 0; later 0.
    assert u[17] == pytest.approx(2 / 3)
    assert u[20] == pytest.approx(1 / 3)
    assert u[23] == pytest.approx(0.0)
    assert u[24:] == pytest.approx([0.0, 0.0])
    zeros = np.zeros(26, dtype=int)
    fn = utility_rows(y, zeros)
    # missed: 0 up to d = -6, then -2/9 per hour down to -2 at d = 3, then 0.
    assert fn[14] == pytest.approx(0.0)
    assert fn[15] == pytest.approx(-2 / 9)
    assert fn[20] == pytest.approx(-2 * 6 / 9)
    assert fn[23] == pytest.approx(-2.0)
    assert fn[24:] == pytest.approx([0.0, 0.0])


def test_best_predictions_window() -> None:
    y = np.array([0] * 14 + [1] * 12)
    b = best_predictions(y)
    assert np.flatnonzero(b).tolist() == list(range(8, 24))  # d in [-12, 3]


def test_best_window_clipped_at_start_of_stay() -> None:
    y = np.array([1] * 5)  # septic from the first hour: t_sepsis = 6
    assert best_predictions(y).tolist() == [1, 1, 1, 1, 1]


def test_normalized_utility_hand_case() -> None:
    # One septic patient (first label at hour 14), one non-septic patient of 4 hours.
    y1 = np.array([0] * 14 + [1] * 12)
    y2 = np.zeros(4, dtype=int)
    # inaction: septic FN sum = -2/9 * (1+2+...+9) = -10; non-septic 0 -> U_inaction = -10.
    # best: predictions on hours 8..23: 0 + 1/6+...+1 (=3.5) + (8/9+...+0) (=4.0) = 7.5.
    # observed: alarm from hour 14 on (d >= -6) in patient 1 and every hour in patient 2:
    #   patient 1: 1 + 8/9 + ... + 1/9 + 0 (hours 14..23) + 0 + 0 = 5.0; patient 2: -0.2.
    p1 = np.array([0] * 14 + [1] * 12)
    p2 = np.ones(4, dtype=int)
    expected = (5.0 - 0.2 - (-10.0)) / (7.5 - (-10.0))
    assert normalized_utility([y1, y2], [p1, p2]) == pytest.approx(expected)
    assert normalized_utility([y1, y2], [best_predictions(y1), np.zeros(4)]) == pytest.approx(1.0)
    assert normalized_utility([y1, y2], [np.zeros(26), np.zeros(4)]) == pytest.approx(0.0)


def test_shape_mismatch_rejected() -> None:
    with pytest.raises(ValueError):
        utility_rows(np.zeros(3), np.zeros(4))


def test_non_septic_weight_counts_each_non_septic_patient_that_many_times() -> None:
    # The hand case above with the non-septic patient counted twice: its 4 false alarms cost
    # 2 * 0.2 and its inaction / best terms (both 0) are unchanged.
    y1 = np.array([0] * 14 + [1] * 12)
    y2 = np.zeros(4, dtype=int)
    p1 = np.array([0] * 14 + [1] * 12)
    p2 = np.ones(4, dtype=int)
    expected = (5.0 - 2 * 0.2 - (-10.0)) / (7.5 - (-10.0))
    assert normalized_utility([y1, y2], [p1, p2], non_septic_weight=2.0) == pytest.approx(expected)
    # Same as listing the non-septic patient twice.
    assert normalized_utility([y1, y2, y2], [p1, p2, p2]) == pytest.approx(expected)


def test_prevalence_weight_gives_the_target_septic_fraction() -> None:
    n_septic, n_other = 88, 912  # 8.8 % septic, as set A
    for factor in (1.0, 0.5, 0.25):
        w = prevalence_weight(n_septic / (n_septic + n_other), factor)
        assert n_septic / (n_septic + w * n_other) == pytest.approx(0.088 * factor)
