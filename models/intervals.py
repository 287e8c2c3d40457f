"""Confidence intervals for pooled ratios by resampling the units the data comes in.

A pooled sensitivity over MIT-BIH records, or a utility score over ICU patients, is a ratio of
sums over units (records, patients) whose errors cluster within the unit: one record holds most
of the missed SVEBs, one patient dozens of hourly rows. An interval that treats beats or rows as
independent is far too narrow. The percentile bootstrap over units (Efron & Tibshirani, *An
Introduction to the Bootstrap*, 1993, ch. 13; resampling whole clusters: Davison & Hinkley,
*Bootstrap Methods and their Application*, 1997, section 3.8) resamples the units with
replacement and recomputes the pooled ratio each time.

Pure Python (the model cards render with the standard library and Jinja2 only); seeded, so a
card's interval is the same on every rendering.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence

#: resamples behind every interval the cards quote
RESAMPLES = 2000


def resample_indices(n: int, *, resamples: int = RESAMPLES, seed: int = 0) -> Iterator[list[int]]:
    """``resamples`` lists of ``n`` unit indices drawn with replacement, the same for the same
    ``seed`` (so two statistics of one data set can share their resamples).

    >>> a = list(resample_indices(5, resamples=3, seed=1))
    >>> a == list(resample_indices(5, resamples=3, seed=1)), [len(ix) for ix in a]
    (True, [5, 5, 5])
    """
    rng = random.Random(seed)
    for _ in range(resamples):
        yield [rng.randrange(n) for _ in range(n)]


def percentile_interval(stats: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` of ``stats`` (the percentile bootstrap interval).

    >>> percentile_interval(list(range(101)))
    (2, 98)
    """
    xs = sorted(stats)
    tail = (1.0 - level) / 2.0
    return xs[int(tail * (len(xs) - 1))], xs[int(round((1.0 - tail) * (len(xs) - 1)))]


def bootstrap_ratio(
    units: Sequence[tuple[float, float]],
    *,
    resamples: int = RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile interval of ``sum(num) / sum(den)`` over ``units`` (``(num, den)`` pairs)
    resampled with replacement; resamples whose denominator is 0 are left out. None when no
    unit has a denominator.

    Examples
    --------
    >>> bootstrap_ratio([(9, 10)] * 20)   # every unit alike: no spread
    (0.9, 0.9)
    >>> lo, hi = bootstrap_ratio([(10, 10), (0, 10)] * 5)
    >>> lo < 0.5 < hi
    True
    >>> bootstrap_ratio([(0, 0), (0, 0)]) is None
    True
    """
    if not any(d for _, d in units):
        return None
    stats = []
    for ix in resample_indices(len(units), resamples=resamples, seed=seed):
        num = sum(units[i][0] for i in ix)
        den = sum(units[i][1] for i in ix)
        if den:
            stats.append(num / den)
    return percentile_interval(stats, level)


def pooled_ci_pct(
    per_unit: Mapping[str, Mapping[str, float]],
    units: Sequence[str],
    num: str,
    den: Sequence[str],
    key: str | None = None,
) -> tuple[float, float] | None:
    """The interval, in percent, of the pooled ``num / sum(den)`` over ``units``, each unit's
    counts read from ``per_unit[unit]`` (or ``per_unit[unit][key]``); a unit missing there, or
    a count missing in it, counts 0: a record with no such beats or episodes still weighs in
    the resample.

    Examples
    --------
    >>> per = {"101": {"veb": {"tp": 9, "fn": 1}}, "102": {"veb": {"tp": 9, "fn": 1}}}
    >>> pooled_ci_pct(per, ["101", "102"], "tp", ("tp", "fn"), key="veb")
    (90.0, 90.0)
    """

    def counts(u: str) -> Mapping[str, float]:
        c = per_unit.get(u, {})
        return c.get(key, {}) if key is not None else c  # type: ignore[return-value]

    pairs = [(float(counts(u).get(num, 0.0)), float(sum(counts(u).get(k, 0.0) for k in den))) for u in units]
    ci = bootstrap_ratio(pairs)
    return None if ci is None else (100.0 * ci[0], 100.0 * ci[1])
