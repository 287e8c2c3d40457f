"""Measuring a load test while it runs: Kafka consumer lag, alert arrivals, point visibility in
InfluxDB, CPU and memory of every process. Each sampler is a daemon thread with ``stop()``.

Definitions (the load test's JSON uses them; see :mod:`wardwatch.loadtest.run`):

lag
    For the worker group, the sum over every partition of the topics it consumes (``vitals``,
    ``ecg``, ``alerts.conditions``, ``influx.points``) of end offset minus committed offset,
    sampled every second. The worker commits at least every second, so a keeping-up pipeline
    shows a lag of about one second of messages.
alert latency
    ``receive_wall - device_end``: the wall time at which this process's consumer of ``alerts``
    received the event (first copy of its ``event_id``), minus the device time at which the
    record that completed the condition ended (the vitals reading's ``ts``, or the ECG chunk's
    ``ts`` plus its duration; the record's ``evidence``/``ts`` fields identify it, and the
    offline run of the pure steps says which record it was).
point latency
    ``seen_wall - point_time``: a sample of beds is polled through InfluxDB's Flux query API
    every :data:`POLL_S` seconds for their ``vitals`` points of the last :data:`POINT_WINDOW_S`
    seconds; a point first returned by a query that *answered* at ``seen_wall`` was queryable no
    later than that, so the figure is an upper bound, at most one poll interval plus one query's
    duration above the truth.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from wardwatch.influx_read import influx_client
from wardwatch.kafka_io import client_config
from wardwatch.logs import log_event
from wardwatch.settings import Settings

log = logging.getLogger("wardwatch.bench")

POLL_S = 0.5  #: InfluxDB poll period for point latency
#: how far back (device time) each poll for point latency looks; see :class:`PointPoller`
POINT_WINDOW_S = 30.0
LAG_EVERY_S = 1.0
PROC_EVERY_S = 1.0
#: Lag grows without bound when, over the second half of the run, it rises faster than this share
#: of the input rate (messages per second per second) and ends above LAG_GROWTH_FLOOR_S of input
#: (plus the state checkpoint interval: the records held until it are lag by design).
LAG_GROWTH_SHARE = 0.02
LAG_GROWTH_FLOOR_S = 3.0
#: A worker's memory grows when, over the second half of the driving, its RSS rises faster than
#: this many MB per hour (a linear fit, to see through the allocator's steps). Judged only on
#: runs of at least RSS_SOAK_MIN_S: in a short run the warm-up (tables filling, caches, the
#: allocator's arenas) is most of the curve.
RSS_GROWTH_MB_PER_H = 20.0
RSS_SOAK_MIN_S = 600
#: The growth is fitted to each worker's lowest RSS in every window this long, summed over the
#: workers: what a worker holds after its allocator's trim (``memory_trim_s``, 60 s by default,
#: :mod:`streams.memory`). Every sample would judge the sawtooth between trims, whose peaks
#: follow the load (a burst of ECG work), not what the worker keeps.
RSS_TROUGH_WINDOW_S = 120.0


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """``{"p50", "p95", "p99", "n"}`` of ``values`` in seconds (None when there are none).

    Examples
    --------
    >>> percentiles([0.1, 0.2, 0.3, 0.4])["p50"]
    0.25
    >>> percentiles([])
    {'p50': None, 'p95': None, 'p99': None, 'n': 0}
    """
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    a = np.asarray(values, dtype=float)
    p50, p95, p99 = (round(float(np.percentile(a, q)), 3) for q in (50, 95, 99))
    return {"p50": p50, "p95": p95, "p99": p99, "n": int(a.size)}


def _second_half_slope(samples: Sequence[tuple[float, float]], t0: float, t1: float) -> float | None:
    """Slope per second of a linear fit to the ``(t, value)`` samples in the second half of
    ``[t0, t1]`` (None with fewer than 3 there): how lag and memory are judged to grow."""
    half = [(t, v) for t, v in samples if (t0 + t1) / 2 <= t <= t1]
    if len(half) < 3:
        return None
    ts = np.array([t for t, _ in half])
    return float(np.polyfit(ts - ts[0], np.array([v for _, v in half], dtype=float), 1)[0])


def window_troughs(samples: Sequence[tuple[float, float]], start: float, window_s: float) -> dict[int, float]:
    """The lowest value of ``(t, value)`` samples in each ``window_s`` window from ``start``, by
    window number.

    >>> window_troughs([(0, 5.0), (30, 3.0), (61, 9.0), (100, 8.0)], 0, 60)
    {0: 3.0, 1: 8.0}
    """
    out: dict[int, float] = {}
    for t, v in samples:
        k = int((t - start) // window_s)
        out[k] = min(v, out.get(k, v))
    return out


def lag_grows(
    samples: Sequence[tuple[float, int]],
    t0: float,
    t1: float,
    in_rate: float,
    floor_s: float = LAG_GROWTH_FLOOR_S,
) -> bool:
    """Whether lag ``(t, lag)`` samples over ``[t0, t1]`` grow without bound (see the constants;
    ``floor_s``: the lag in seconds of input that is never "growing").

    Examples
    --------
    >>> flat = [(t, 500 + (t % 2) * 100) for t in range(60)]
    >>> lag_grows(flat, 0, 60, 500.0)
    False
    >>> rising = [(t, 200 * t) for t in range(60)]
    >>> lag_grows(rising, 0, 60, 500.0)
    True
    """
    slope = _second_half_slope(samples, t0, t1)
    if slope is None or in_rate <= 0:
        return False
    last = next(lag for t, lag in reversed(samples) if t <= t1)
    return bool(slope > LAG_GROWTH_SHARE * in_rate and last > floor_s * in_rate)


class _Sampler(threading.Thread):
    every_s = 1.0

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self._stop_ev = threading.Event()
        self.errors = 0

    def run(self) -> None:
        while not self._stop_ev.is_set():
            t = time.monotonic()
            self._guarded(self.sample)
            self._stop_ev.wait(max(0.0, self.every_s - (time.monotonic() - t)))
        self.close()

    def _guarded(self, sample: Callable[[], None]) -> None:
        """``sample()``; a failure is counted and logged, never raised (a missed sample must not
        end the run)."""
        try:
            sample()
        except Exception as e:  # noqa: BLE001
            self.errors += 1
            log_event(log, "sample failed", logging.WARNING, sampler=type(self).__name__, error=repr(e))

    def sample(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release clients (called in the thread when it stops)."""

    def stop(self) -> None:
        self._stop_ev.set()
        self.join(timeout=30)


class LagSampler(_Sampler):
    """Committed offsets of each group (``groups``: group -> the topics it consumes; the sink
    group of ``--sink-workers`` consumes ``influx.points``, the stream group the rest) against
    end offsets, every :data:`LAG_EVERY_S`."""

    every_s = LAG_EVERY_S

    def __init__(self, s: Settings, groups: Mapping[str, Sequence[str]]) -> None:
        from kafka import KafkaConsumer, TopicPartition
        from kafka.admin import KafkaAdminClient

        super().__init__()
        self.admin = KafkaAdminClient(**client_config(s), client_id="wardwatch-bench")
        self.consumer = KafkaConsumer(**client_config(s), enable_auto_commit=False)
        self.groups = {
            g: [TopicPartition(t, p) for t in ts for p in sorted(self.consumer.partitions_for_topic(t) or ())]
            for g, ts in groups.items()
        }
        self.tps = [tp for tps in self.groups.values() for tp in tps]
        #: (wall time, total lag, lag by topic, committed offsets by partition)
        self.samples: list[tuple[float, int, dict[str, int], dict[Any, int]]] = []

    def read(self) -> tuple[int, dict[str, int], dict[Any, int]]:
        committed: dict[Any, Any] = {}
        for g, tps in self.groups.items():
            committed.update(self.admin.list_group_offsets({g: tps}).get(g, {}))
        ends = self.consumer.end_offsets(self.tps)
        by_topic: dict[str, int] = {}
        offsets: dict[Any, int] = {}
        for tp in self.tps:
            c = committed.get(tp)
            off = c.offset if c is not None and c.offset >= 0 else 0
            offsets[tp] = off
            by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(0, ends[tp] - off)
        return sum(by_topic.values()), by_topic, offsets

    def sample(self) -> None:
        total, by_topic, offsets = self.read()
        self.samples.append((time.time(), total, by_topic, offsets))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.consumer.close()
            self.admin.close()


class AlertFollower(_Sampler):
    """Reads ``alerts`` and ``deadletter`` from ``start``; keeps the first receive time of every
    alert event of patients whose id starts with ``prefix``, and counts their dead letters."""

    every_s = 0.0

    def __init__(self, s: Settings, start: dict[Any, int], prefix: str) -> None:
        from kafka import KafkaConsumer

        super().__init__()
        self.prefix = prefix
        self.consumer = KafkaConsumer(**client_config(s), enable_auto_commit=False, fetch_max_wait_ms=50)
        self.consumer.assign(list(start))
        for tp, off in start.items():
            self.consumer.seek(tp, off)
        self.received: dict[str, tuple[float, dict[str, Any]]] = {}
        self.copies = 0
        self.deadletters = 0

    def sample(self) -> None:
        import json

        from wardwatch import topics

        for tp, msgs in self.consumer.poll(timeout_ms=200).items():
            now = time.time()
            for m in msgs:
                key = m.key.decode("utf-8", "replace") if m.key else ""
                if not key.startswith(self.prefix):
                    continue
                if tp.topic == topics.DEADLETTER:
                    self.deadletters += 1
                    continue
                ev = json.loads(m.value)
                self.copies += 1
                self.received.setdefault(ev["event_id"], (now, ev))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.consumer.close()


class PointPoller(_Sampler):
    """Polls InfluxDB for the ``vitals`` points of ``patients`` (a sample of beds) since ``since``;
    records when each point was first returned (see the module doc).

    Each poll asks only for the last :data:`POINT_WINDOW_S` seconds of points, so its answer and
    its cost stay the same all through a long run (asking for everything since ``since`` made
    each poll of a 30-minute run return up to ~14,000 rows: ~9 CPU-s a minute of the bench's by
    the end, on the cores the pipeline shares). When the poller stops, one last query over the
    whole run catches any point that became queryable more than the window after its device
    time: its latency is then that query's answer time, an upper bound like every other."""

    every_s = POLL_S

    def __init__(self, s: Settings, patients: Sequence[str], since: datetime) -> None:
        super().__init__()
        self.client = influx_client(s)
        self.bucket = s.influx_bucket
        self.since = since.astimezone(UTC)
        alt = "|".join(patients)
        self.regex = f"/^({alt})$/"
        #: (patient, point time POSIX s) -> wall time of the first answer that contained it
        self.seen: dict[tuple[str, float], float] = {}

    def sample(self) -> None:
        self._poll(max(self.since, datetime.now(UTC) - timedelta(seconds=POINT_WINDOW_S)))

    def _poll(self, start: datetime) -> None:
        flux = (
            f'from(bucket: "{self.bucket}") |> range(start: {start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})'
            f' |> filter(fn: (r) => r._measurement == "vitals" and r._field == "hr_bpm"'
            f" and r.patient =~ {self.regex})"
            ' |> keep(columns: ["_time", "patient"])'
        )
        tables = self.client.query_api().query(flux)
        answered = time.time()
        for table in tables:
            for rec in table.records:
                self.seen.setdefault((rec.values["patient"], rec.get_time().timestamp()), answered)

    def close(self) -> None:
        self._guarded(lambda: self._poll(self.since))  # the points the window missed
        with contextlib.suppress(Exception):
            self.client.close()


def _proc_cpu_rss(pid: int) -> tuple[float, float] | None:
    """CPU seconds (user + system) and RSS in MB of ``pid`` from ``/proc`` (None if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14, 15 of stat)
    rss_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return cpu, rss_kb / 1024.0


def host_cpu() -> dict[str, float]:
    """The whole machine's CPU seconds so far, every core summed, from ``/proc/stat``: ``busy``
    (user, nice, system, irq, softirq), ``steal`` (taken by the hypervisor for other guests) and
    ``idle`` (idle, iowait); with ``/proc/pressure/cpu`` also ``wait``: seconds in which some
    runnable task waited for a core. Empty where there is no ``/proc/stat``."""
    try:
        with open("/proc/stat") as f:
            first = f.readline().split()
    except OSError:
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) / tick for v in first[1:9])
    out = {"busy": user + nice + system + irq + softirq, "steal": steal, "idle": idle + iowait}
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
        out["wait"] = int(some[-1].split("=")[1]) / 1e6  # total=<microseconds>
    return out


@dataclass
class _ProcTrack:
    first_cpu: float | None = None
    last_cpu: float = 0.0
    #: ``(wall time, RSS MB)`` at every sample
    rss: list[tuple[float, float]] = field(default_factory=list)


class ProcSampler(_Sampler):
    """CPU seconds and peak RSS of named processes (``add(name, pid)``) over the sampling window
    (from the thread's start to its stop)."""

    every_s = PROC_EVERY_S

    def __init__(self) -> None:
        super().__init__()
        self.procs: dict[str, list[int]] = {}
        self.track: dict[tuple[str, int], _ProcTrack] = {}
        self.lock = threading.Lock()
        #: the machine's :func:`host_cpu` at the first and the latest sample
        self.host: tuple[dict[str, float], dict[str, float]] | None = None

    def add(self, name: str, pid: int) -> None:
        with self.lock:
            self.procs.setdefault(name, []).append(pid)

    def sample(self) -> None:
        with self.lock:
            items = [(n, p) for n, pids in self.procs.items() for p in pids]
        now = host_cpu()
        self.host = (now, now) if self.host is None else (self.host[0], now)
        for name, pid in items:
            got = _proc_cpu_rss(pid)
            if got is None:
                continue
            tr = self.track.setdefault((name, pid), _ProcTrack())
            tr.first_cpu = got[0] if tr.first_cpu is None else tr.first_cpu
            tr.last_cpu = got[0]
            tr.rss.append((time.time(), got[1]))

    def totals(self) -> tuple[dict[str, float], dict[str, float]]:
        """CPU seconds (summed over a name's processes) and peak RSS (the largest process's)."""
        cpu: dict[str, float] = {}
        rss: dict[str, float] = {}
        for (name, _), tr in self.track.items():
            cpu[name] = round(cpu.get(name, 0.0) + tr.last_cpu - (tr.first_cpu or 0.0), 2)
            rss[name] = round(max(rss.get(name, 0.0), *(v for _, v in tr.rss)), 1)
        return cpu, rss

    def host_totals(self, ours: float) -> dict[str, float]:
        """The machine's CPU seconds over the sampling window (see :func:`host_cpu`), and
        ``others``: busy seconds of every process but ours (``ours``: the sum of :meth:`totals`'
        CPU; the kernel counts the machine by clock ticks and a process by its run time, so
        ``others`` is within ~1 % of ``busy``, and can come out slightly negative). A run whose
        ``others``, ``steal`` or ``wait`` stand out was disturbed: the same work then takes more
        CPU seconds, or waits longer for a core."""
        if self.host is None:
            return {}
        first, last = self.host
        out = {k: round(last[k] - first[k], 2) for k in last if k in first}
        if "busy" in out:
            out["others"] = round(out["busy"] - ours, 2)
        return out

    def cpu_by_process(self, name: str) -> dict[int, float]:
        """CPU seconds of each of ``name``'s processes, by pid (those that answered)."""
        return {
            pid: round(tr.last_cpu - (tr.first_cpu or 0.0), 2)
            for (n, pid), tr in self.track.items()
            if n == name
        }

    def rss_troughs(self, name: str, window_s: float = RSS_TROUGH_WINDOW_S) -> list[tuple[float, float]]:
        """``(window middle, MB)``: the sum over ``name``'s processes of each one's lowest RSS in
        every ``window_s`` window (:func:`window_troughs`), for the windows all of them answered in.
        Each process trims on its own clock, so troughs are taken per process, then summed."""
        per_pid = [tr.rss for (n, _), tr in self.track.items() if n == name and tr.rss]
        if not per_pid:
            return []
        start = min(s[0][0] for s in per_pid)
        troughs = [window_troughs(s, start, window_s) for s in per_pid]
        common = sorted(set.intersection(*(set(t) for t in troughs)))
        return [(start + (k + 0.5) * window_s, round(sum(t[k] for t in troughs), 1)) for k in common]

    def rss_series(self, name: str) -> list[tuple[float, float]]:
        """``(wall time, RSS MB)`` of ``name``'s processes summed, one entry per sampling round
        in which every one of them answered."""
        per_pid = [tr.rss for (n, _), tr in self.track.items() if n == name]
        if not per_pid:
            return []
        rounds = min(len(s) for s in per_pid)
        return [(per_pid[0][i][0], round(sum(s[i][1] for s in per_pid), 1)) for i in range(rounds)]


def broker_writes(
    before: Mapping[str, tuple[int, int | None]],
    after: Mapping[str, tuple[int, int | None]],
    seconds: float,
    prefix: str = "",
) -> dict[str, Any]:
    """What the brokers took in between two :func:`wardwatch.kafka_io.topic_writes` snapshots,
    per topic (``prefix`` cut from the run's own topics' names: its changelogs), a second:
    ``records_per_s`` and ``kb_per_s`` (None where a snapshot has no size); ``total_kb_per_s``
    and ``changelog_share`` (the state changelogs' part of the bytes; None without sizes). A
    topic that took nothing is left out.

    Examples
    --------
    >>> before = {"vitals": (100, 10_000), "run-vitals-state-changelog": (0, 0)}
    >>> after = {"vitals": (300, 30_480), "run-vitals-state-changelog": (200, 81_920)}
    >>> w = broker_writes(before, after, 2.0, prefix="run-")
    >>> w["by_topic"]["vitals-state-changelog"], w["changelog_share"]
    ({'records_per_s': 100.0, 'kb_per_s': 40.0}, 0.8)
    >>> broker_writes({"vitals": (0, None)}, {"vitals": (10, None)}, 1.0)["by_topic"]
    {'vitals': {'records_per_s': 10.0, 'kb_per_s': None}}
    """
    seconds = max(seconds, 1e-9)
    by_topic: dict[str, dict[str, float | None]] = {}
    for topic, (n1, b1) in after.items():
        n0, b0 = before.get(topic, (0, 0))
        if n1 - n0 <= 0:
            continue
        name = topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic
        kb = None if b0 is None or b1 is None else round(max(0, b1 - b0) / 1024 / seconds, 1)
        by_topic[name] = {"records_per_s": round((n1 - n0) / seconds, 1), "kb_per_s": kb}
    sized = {k: v["kb_per_s"] for k, v in by_topic.items() if v["kb_per_s"] is not None}
    total = sum(sized.values())
    changelogs = sum(v for k, v in sized.items() if k.endswith("-changelog"))
    return {
        "by_topic": dict(sorted(by_topic.items(), key=lambda kv: -(kv[1]["kb_per_s"] or 0.0))),
        "total_kb_per_s": round(total, 1) if sized else None,
        "changelog_share": round(changelogs / total, 3) if total else None,
    }


def rss_growth(
    series: Sequence[tuple[float, float]],
    t0: float,
    t1: float,
    beds: int,
    troughs: Sequence[tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Memory over a run from ``(t, rss MB)`` samples and the driving window ``[t0, t1]``.

    ``start_mb``: the first sample (workers idle, models loaded); ``end_mb``: the last at or
    before ``t1``; ``per_bed_kb``: their difference per bed; ``growth_mb_per_h``: the slope of a
    linear fit over the second half of the window, to ``troughs`` when given (the workers' RSS
    after their trims, :meth:`ProcSampler.rss_troughs`), else to every sample; ``grows``: that
    slope above :data:`RSS_GROWTH_MB_PER_H` on a run of at least :data:`RSS_SOAK_MIN_S` (None:
    too short to judge); ``judged_on``: which of the two it was fitted to.

    Examples
    --------
    >>> flat = [(t, 300.0 + (t % 3)) for t in range(0, 1200, 10)]
    >>> m = rss_growth(flat, 0, 1200, 1000)
    >>> m["grows"], m["growth_mb_per_h"] < 5
    (False, True)
    >>> leak = [(t, 300.0 + t / 36) for t in range(0, 1200, 10)]  # 100 MB per hour
    >>> rss_growth(leak, 0, 1200, 1000)["grows"]
    True
    >>> rss_growth(leak[:10], 0, 90, 1000)["grows"] is None
    True
    """
    during = [(t, v) for t, v in series if t <= t1]
    if len(during) < 2:
        return {
            "start_mb": None,
            "end_mb": None,
            "per_bed_kb": None,
            "growth_mb_per_h": None,
            "grows": None,
            "judged_on": None,
        }
    judged = [(t, v) for t, v in troughs or () if t <= t1]
    per_s = _second_half_slope(judged or during, t0, t1)
    slope = None if per_s is None else per_s * 3600.0
    start, end = during[0][1], during[-1][1]
    return {
        "start_mb": round(start, 1),
        "end_mb": round(end, 1),
        "per_bed_kb": round((end - start) * 1024.0 / beds, 1) if beds else None,
        "growth_mb_per_h": None if slope is None else round(slope, 1),
        "grows": None if slope is None or t1 - t0 < RSS_SOAK_MIN_S else slope > RSS_GROWTH_MB_PER_H,
        "judged_on": "troughs" if judged else "samples",
    }


__all__ = [
    "AlertFollower",
    "LagSampler",
    "PointPoller",
    "ProcSampler",
    "broker_writes",
    "lag_grows",
    "percentiles",
    "rss_growth",
    "window_troughs",
]
