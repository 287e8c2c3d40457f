"""The webhook retry policy (wardwatch.subscribers.retry): verdicts and backoff."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wardwatch.subscribers.retry import RetryPolicy, parse_retry_after, verdict


def test_verdict_for_every_status():
    for status in range(100, 600):
        v = verdict(status)
        if 200 <= status < 300:
            assert v == "delivered", status
        elif 400 <= status < 500 and status not in (408, 429):
            assert v == "refused", status
        else:  # 1xx, 3xx, 408, 429, 5xx
            assert v == "retry", status
    assert verdict(None) == "retry"  # timeout, connection refused


def test_backoff_doubles_up_to_the_cap_without_jitter():
    p = RetryPolicy(base_s=0.25, factor=2.0, max_s=5.0, jitter=0.0)
    assert [p.delay_s(n) for n in range(1, 8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert p.delay_s(10_000) == 5.0  # a receiver down for days: no overflow


def test_jitter_spreads_within_bounds():
    p = RetryPolicy(base_s=1.0, factor=2.0, max_s=100.0, jitter=0.2)
    assert p.delay_s(3, rand=0.0) == pytest.approx(3.2)
    assert p.delay_s(3, rand=0.5) == pytest.approx(4.0)
    assert p.delay_s(3, rand=0.999999) == pytest.approx(4.8, abs=1e-4)
    assert p.delay_s(20, rand=0.999) == 100.0  # never above the cap


def test_retry_after_is_honoured_up_to_the_cap():
    p = RetryPolicy(base_s=0.5, max_s=30.0, jitter=0.0)
    assert p.delay_s(1, retry_after_s=7.0) == 7.0
    assert p.delay_s(1, retry_after_s=3600.0) == 30.0
    assert p.delay_s(6, retry_after_s=1.0) == 16.0  # the backoff is longer: it stays


def test_parse_retry_after():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-1") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT") is None


@pytest.mark.parametrize(
    "kwargs",
    [dict(base_s=0), dict(factor=0.5), dict(base_s=2.0, max_s=1.0), dict(jitter=1.0), dict(jitter=-0.1)],
)
def test_bad_policies_are_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_attempt_counts_from_one():
    with pytest.raises(ValueError):
        RetryPolicy().delay_s(0)


@given(
    base=st.floats(0.01, 5.0),
    cap=st.floats(5.0, 600.0),
    jitter=st.floats(0.0, 0.9),
    rand=st.floats(0.0, 0.999999),
    n=st.integers(1, 200),
)
def test_delay_is_positive_capped_and_nominal_is_monotone(base, cap, jitter, rand, n):
    p = RetryPolicy(base_s=base, factor=2.0, max_s=cap, jitter=jitter)
    d = p.delay_s(n, rand)
    assert 0 < d <= cap
    flat = RetryPolicy(base_s=base, factor=2.0, max_s=cap, jitter=0.0)
    assert flat.delay_s(n) <= flat.delay_s(n + 1)
