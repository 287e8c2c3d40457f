"""``bench load --find-max``: the largest ward that one run of the load test still serves.

A size *passes* when the run's report is ``ok`` (every expected alert and point arrived, lag
bounded, no dead letter) and its p99 alert latency is under :data:`P99_ALERT_S` (issue #18).
The search doubles the size from the start until a size fails (or the limit), then bisects
between the last pass and the first fail until they are within ``resolution`` of each other.
Each size is one real-time run: on a shared machine a size near the edge can pass once and fail
the next time, so the answer is a measurement, not a constant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

P99_ALERT_S = 1.0  #: the latency goal of issue #18


def passes(report: dict[str, Any]) -> bool:
    """Whether a ``bench load`` report meets the goal.

    >>> passes({"ok": True, "latency_s": {"alert": {"p99": 0.8, "n": 40}}})
    True
    >>> passes({"ok": True, "latency_s": {"alert": {"p99": 1.3, "n": 40}}})
    False
    >>> passes({"ok": True, "latency_s": {"alert": {"p99": None, "n": 0}}})
    False
    """
    alert = report.get("latency_s", {}).get("alert", {})
    p99 = alert.get("p99")
    return bool(report.get("ok")) and bool(alert.get("n")) and p99 is not None and p99 < P99_ALERT_S


def find_max(
    trial: Callable[[int], dict[str, Any]], start: int, limit: int, resolution: float = 0.1
) -> tuple[int | None, list[tuple[int, bool, dict[str, Any]]]]:
    """The largest size in ``[start, limit]`` that :func:`passes` (None if ``start`` fails), and
    every trial as ``(size, passed, report)`` in the order run.

    >>> capacity = 730
    >>> best, trials = find_max(lambda n: {"ok": n <= capacity,
    ...     "latency_s": {"alert": {"p99": 0.5, "n": 1}}}, 100, 4000)
    >>> best, [n for n, _, _ in trials]
    (725, [100, 200, 400, 800, 600, 700, 750, 725])
    """
    trials: list[tuple[int, bool, dict[str, Any]]] = []

    def run(n: int) -> bool:
        report = trial(n)
        ok = passes(report)
        trials.append((n, ok, report))
        return ok

    if not run(start):
        return None, trials
    lo, hi = start, None
    while hi is None and lo < limit:
        n = min(lo * 2, limit)
        if run(n):
            lo = n
        else:
            hi = n
    if hi is None:
        return lo, trials
    step = max(1, round(lo * resolution))
    while hi - lo > step:
        mid = (lo + hi) // 2
        if run(mid):
            lo = mid
        else:
            hi = mid
    return lo, trials
