"""The load test's memory figures: the workers' RSS series (summed over processes, from
``/proc``) and the soak verdict over it."""

from __future__ import annotations

import os
import time

from wardwatch.loadtest.measure import (
    RSS_GROWTH_MB_PER_H,
    RSS_SOAK_MIN_S,
    RSS_TROUGH_WINDOW_S,
    ProcSampler,
    _ProcTrack,
    rss_growth,
)


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


def _sawtooth(t: float, base: float, phase: float, peak_rise_mb_per_h: float) -> float:
    """A worker trimming every 60 s: back to ``base`` at each trim, then filling up to a peak
    that rises by ``peak_rise_mb_per_h`` (a busier second half), on its own clock ``phase``."""
    since_trim = (t + phase) % 60
    peak = 150.0 + peak_rise_mb_per_h * t / 3600.0
    return base + peak * since_trim / 60


def _sampler(series_by_pid: dict[int, list[tuple[float, float]]]) -> ProcSampler:
    sm = ProcSampler()
    for pid, series in series_by_pid.items():
        sm.track[("worker", pid)] = _ProcTrack(rss=series)
    return sm


def test_growth_is_judged_on_what_the_workers_hold_after_their_trims():
    # Two workers trimming on their own clocks: what each holds after a trim is flat, while the
    # peaks between trims rise (the load grew). Every sample's fit sees growth; the troughs' not.
    ts = [float(t) for t in range(0, 1800)]
    flat = _sampler(
        {
            1: [(t, _sawtooth(t, 150.0, 0, 200.0)) for t in ts],
            2: [(t, _sawtooth(t, 350.0, 23, 200.0)) for t in ts],
        }
    )
    samples, troughs = flat.rss_series("worker"), flat.rss_troughs("worker")
    assert len(troughs) == 1800 // RSS_TROUGH_WINDOW_S
    assert all(abs(v - 500.0) < 5 for _, v in troughs)
    assert rss_growth(samples, 0, 1800, 2000)["grows"] is True
    held = rss_growth(samples, 0, 1800, 2000, troughs)
    assert held["grows"] is False and held["judged_on"] == "troughs"
    assert held["end_mb"] == samples[-1][1]
    # a worker that keeps what it took in: its troughs rise, and that is growth
    leak = _sampler(
        {
            1: [(t, _sawtooth(t, 150.0 + t / 36, 0, 0.0)) for t in ts],
            2: [(t, _sawtooth(t, 350.0, 23, 0.0)) for t in ts],
        }
    )
    m = rss_growth(leak.rss_series("worker"), 0, 1800, 2000, leak.rss_troughs("worker"))
    assert m["grows"] is True and abs(m["growth_mb_per_h"] - 100) < 10


def test_troughs_sum_only_windows_every_worker_answered_in():
    sm = _sampler(
        {1: [(float(t), 100.0) for t in range(0, 600)], 2: [(float(t), 50.0) for t in range(300, 600)]}
    )
    troughs = sm.rss_troughs("worker", window_s=120)
    assert [round(t) for t, _ in troughs] == [300, 420, 540] and {v for _, v in troughs} == {150.0}
