"""Process-local pipeline counters (messages processed, rejected, written), reported to InfluxDB
by a timer in ``streams/sinks/agents.py`` as ``pipeline`` (cumulative), ``pipeline_delta`` (growth
since the last report) and ``pipeline_rate`` (the same per second), with this worker's consumer lag
(``pipeline_lag``) and stage latencies (``pipeline_latency``). Counters are per-process metrics,
not patient state: losing them on restart loses nothing clinical."""

from __future__ import annotations

import socket
import time
from collections import Counter, defaultdict
from typing import Any

#: Input topics whose lag is reported (the worker's changelog topics are not).
LAG_TOPICS = ("vitals", "ecg", "labs", "admissions", "alerts.conditions", "alerts.ack", "influx.points")
_MAX_SAMPLES = 10_000  #: latency samples kept per stage between two reports


class Metrics:
    def __init__(self, started_s: float | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self.host = socket.gethostname()
        self.latency: defaultdict[str, list[float]] = defaultdict(list)
        self._reported: dict[str, int] = {}
        self._reported_s = time.time() if started_s is None else started_s

    def incr(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)

    def deltas(self, counts: dict[str, int], now_s: float) -> tuple[dict[str, int], float]:
        """How much each counter of ``counts`` (a :meth:`snapshot`) grew since the last call, and
        over how many seconds (the first call counts from the process start): per-interval counts
        and rates that need no counter arithmetic in a query.

        >>> m = Metrics(started_s=100.0)
        >>> m.deltas({"vitals_deadletter": 2}, 110.0)
        ({'vitals_deadletter': 2}, 10.0)
        >>> m.deltas({"vitals_deadletter": 5, "ecg_chunks": 1}, 115.0)
        ({'vitals_deadletter': 3, 'ecg_chunks': 1}, 5.0)
        """
        out = {k: v - self._reported.get(k, 0) for k, v in counts.items()}
        interval = now_s - self._reported_s
        self._reported, self._reported_s = dict(counts), now_s
        return out, interval

    def observe_latency(self, stage: str, seconds: float) -> None:
        """One latency sample of ``stage``: from a record's Kafka timestamp (when it was produced)
        until the outputs of its batch were acknowledged (the sink: written to InfluxDB)."""
        samples = self.latency[stage]
        if len(samples) < _MAX_SAMPLES:
            samples.append(seconds)

    def latency_report(self) -> dict[str, dict[str, float]]:
        """``{stage: {"p50_s", "max_s", "n"}}`` since the last report (then cleared).

        >>> m = Metrics()
        >>> for s in (0.1, 0.2, 0.9):
        ...     m.observe_latency("vitals", s)
        >>> m.latency_report()
        {'vitals': {'p50_s': 0.2, 'max_s': 0.9, 'n': 3}}
        >>> m.latency_report()
        {}
        """
        out = {}
        for stage, samples in self.latency.items():
            if samples:
                ordered = sorted(samples)
                out[stage] = {
                    "p50_s": round(ordered[len(ordered) // 2], 4),
                    "max_s": round(ordered[-1], 4),
                    "n": len(ordered),
                }
        self.latency.clear()
        return out


def consumer_lag(consumer: Any) -> dict[str, int]:
    """Messages not yet committed, per input topic, over the partitions assigned to this
    worker's Faust ``consumer`` (high watermark minus committed offset; partitions without either
    yet are left out)."""
    lag: Counter[str] = Counter()
    committed = getattr(consumer, "_committed_offset", {})
    for tp in consumer.assignment():
        if tp.topic not in LAG_TOPICS:
            continue
        hw, done = consumer.highwater(tp), committed.get(tp)
        if hw is not None and done is not None:
            lag[tp.topic] += max(0, int(hw) - int(done))
    return dict(lag)


metrics = Metrics()
