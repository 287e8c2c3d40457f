"""The load test's memory figures: the workers' RSS series (summed over processes, from
``/proc``) and the soak verdict over it."""

from __future__ import annotations

import os
import time

from wardwatch.loadtest.measure import RSS_GROWTH_MB_PER_H, RSS_SOAK_MIN_S, ProcSampler, rss_growth


def _series(slope_mb_per_h: float, seconds: int, start: float = 400.0) -> list[tuple[float, float]]:
    return [(float(t), start + slope_mb_per_h * t / 3600.0 + (t % 7) * 0.5) for t in range(0, seconds, 5)]


def test_growth_is_judged_against_the_threshold_on_a_soak_only():
    below = rss_growth(_series(RSS_GROWTH_MB_PER_H * 0.5, 1800), 0, 1800, 2000)
    above = rss_growth(_series(RSS_GROWTH_MB_PER_H * 2, 1800), 0, 1800, 2000)
    assert below["grows"] is False and above["grows"] is True
    assert abs(above["growth_mb_per_h"] - 2 * RSS_GROWTH_MB_PER_H) < 3
    short = rss_growth(_series(1000.0, RSS_SOAK_MIN_S - 10), 0, RSS_SOAK_MIN_S - 10, 2000)
    assert short["grows"] is None and short["growth_mb_per_h"] > 500


def test_only_the_second_half_of_the_driving_counts():
    # warm-up: 200 MB in the first five minutes, then flat for 25 minutes; after the driving
    # (the drain) it rises again, which is not the soak's business
    warm = [(float(t), 300.0 + min(t, 300) * 200 / 300) for t in range(0, 1800, 5)]
    drain = [(float(t), 500.0 + (t - 1800)) for t in range(1800, 1900, 5)]
    m = rss_growth(warm + drain, 0, 1800, 2000)
    assert m["grows"] is False and m["start_mb"] == 300.0 and m["end_mb"] == 500.0
    assert m["per_bed_kb"] == round(200 * 1024 / 2000, 1)


def test_proc_sampler_sums_a_names_processes_per_round():
    sm = ProcSampler()
    sm.add("worker", os.getpid())
    sm.add("worker", os.getppid())
    sm.add("other", os.getpid())
    for _ in range(3):
        sm.sample()
    series = sm.rss_series("worker")
    assert len(series) == 3
    own = sm.rss_series("other")
    assert all(w > o > 0 for (_, w), (_, o) in zip(series, own, strict=True))
    assert sm.rss_series("absent") == []


def test_the_machines_cpu_over_the_window_contains_our_processes():
    """``host_totals``: the machine's busy CPU between the first and last sample holds this
    process's own; ``others`` is the rest."""
    sm = ProcSampler()
    sm.add("bench", os.getpid())
    sm.sample()
    end = time.process_time() + 0.3
    while time.process_time() < end:  # 0.3 s of this process's CPU
        pass
    sm.sample()
    ours = sum(sm.totals()[0].values())
    host = sm.host_totals(ours)
    # the kernel counts the machine by clock ticks and a process by its run time: ~1 % apart
    assert ours >= 0.2 and host["busy"] >= 0.9 * ours - 0.02, (ours, host)
    assert host["others"] == round(host["busy"] - ours, 2) and host["steal"] >= 0 and host["idle"] >= 0
