"""The alert threshold rule: the best worst-case utility from set A's septic prevalence down to set B's."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from models.deterioration.train import PREVALENCE_FACTORS, choose_threshold
from models.deterioration.utility import normalized_utility, prevalence_weight


def _ward() -> tuple[list[SimpleNamespace], list[np.ndarray]]:
    """4 septic patients (first label at hour 14): two reach p 0.9 from hour 12, two only 0.3;
    16 non-septic patients at p 0.3 for 30 hours."""
    y = np.array([0] * 14 + [1] * 12)
    hours = np.arange(26)
    probs = [np.where(hours >= 12, 0.9, 0.01)] * 2 + [np.where(hours >= 12, 0.3, 0.01)] * 2
    ys = [y] * 4 + [np.zeros(30, dtype=int)] * 16
    probs += [np.full(30, 0.3)] * 16
    return [SimpleNamespace(y=v, labels=v) for v in ys], probs


def test_challenge_rule_is_permissive_and_the_shipped_rule_holds_at_lower_prevalence() -> None:
    pms, probs = _ward()
    ys = [pm.y for pm in pms]
    own, own_u = choose_threshold(pms, probs, factors=(1.0,))
    thr, u = choose_threshold(pms, probs)
    # At this ward's prevalence catching the two faint septic patients is worth the false alarms.
    assert own == pytest.approx(0.3)
    assert 0.3 < thr <= 0.9
    assert own_u[1.0] > u[1.0]
    # Where septic patients are rarer (set B's share of set A's), the false alarms cost more
    # than they win.
    low = PREVALENCE_FACTORS[-1]
    assert low < 0.7
    w = prevalence_weight(0.2, low)
    at_half = [normalized_utility(ys, [(p >= t).astype(int) for p in probs], w) for t in (own, thr)]
    assert at_half[1] > at_half[0] + 0.1
    assert u[low] == pytest.approx(at_half[1])
    assert min(u.values()) > min(own_u[1.0], at_half[0])
