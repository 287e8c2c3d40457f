"""``bench load --find-max``'s search: what it returns is a size that passed, within resolution."""

from wardwatch.loadtest.search import find_max, passes


def report(ok: bool, p99: float | None = 0.5, n: int = 10) -> dict:
    return {"ok": ok, "latency_s": {"alert": {"p99": p99, "n": n}}}


def test_a_run_that_misses_anything_or_is_slow_does_not_pass():
    assert passes(report(True, 0.99))
    assert not passes(report(False, 0.2))  # an alert or point missing, or lag growing
    assert not passes(report(True, 1.0))  # the goal is p99 < 1 s
    assert not passes(report(True, None, 0))  # no alert at all: nothing was measured


def test_the_start_failing_gives_no_size():
    best, trials = find_max(lambda n: report(False), 200, 4000)
    assert best is None and [n for n, _, _ in trials] == [200]


def test_every_size_passing_stops_at_the_limit():
    best, trials = find_max(lambda n: report(True), 100, 1000)
    assert best == 1000
    assert [n for n, _, _ in trials] == [100, 200, 400, 800, 1000]


def test_the_answer_is_within_resolution_of_the_capacity():
    for capacity in (150, 333, 1234, 2999):
        best, trials = find_max(lambda n, c=capacity: report(n <= c), 100, 4000, resolution=0.1)
        assert best is not None and best <= capacity
        assert capacity - best <= max(1, round(0.1 * best)) * 2
        assert all(ok == (n <= capacity) for n, ok, _ in trials)


def test_a_noisy_edge_still_returns_a_size_that_passed():
    flaky = iter([True, True, True, False, True, False, False, True, False])
    best, trials = find_max(lambda n: report(next(flaky)), 100, 4000)
    assert (best, True) in {(n, ok) for n, ok, _ in trials}
