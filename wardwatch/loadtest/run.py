"""``wardwatch bench load``: N simulated beds in real time through the real pipeline, measured.

Steps: the local services (started here, or the running ones the settings point at); a fresh
consumer group (``WARDWATCH_APP_ID`` = ``wardwatch-bench-<run>``) whose offsets are first set to
the end of every stream topic, so the workers read this run's records only, and W ``wardwatch
worker`` processes in it (this interpreter, this environment); the simulator in a process of its
own (``python -m simulators.load``) sending every bed's records in real time; samplers
(:mod:`wardwatch.loadtest.measure`) for lag, alerts, point visibility, CPU and memory; a drain
until the group has committed everything; then the pure steps run offline over the same records
(:mod:`wardwatch.loadtest.expected`) to say what had to arrive, and a plain aiokafka consumer reads
the run's input to compare rates.

JSON fields beyond the issue's: ``ecg_beds``, ``alert_latency_by_source_s`` (vitals, ECG),
``drain_s``, ``deadletters``, ``alerts_missing``,
``alerts_unexpected``, ``points_by_measurement`` (expected, written), ``lag.by_topic_max``,
``lag.grows``, ``pipeline_msgs_per_s`` and ``raw_msgs_per_s`` per input topic,
``faust_vs_raw_wall_by_topic``, ``raw_cpu_s``, ``send_delay_max_s`` (how late the simulator's
slowest tick was).

``in_msgs_per_s``: records sent (vitals + ECG) per second of driving. ``out_msgs_per_s``:
messages the pipeline produced on ``alerts.conditions``, ``alerts``, ``influx.points`` and
``deadletter`` from the first tick to the end of the drain, per second of that span.
``faust_vs_raw``: records per CPU-second, the pipeline's over a plain consumer's. The pipeline's
is the run's input records (vitals + ECG) over the workers' CPU seconds; the plain consumer's is
the same records read and JSON-decoded by an aiokafka consumer in this process after the run,
over its CPU seconds. Per CPU-second because in a real-time run the pipeline's wall rate is the
input rate while it keeps up; this is what each could do with a core of its own (with
``--ecg-share 0`` it is the vitals figure of issue #18). ``faust_vs_raw_wall_by_topic``: the
wall-clock rates per topic (the pipeline's: the topic's records over the time from the first tick
until the group's committed offsets covered them), a capacity ratio only when lag grows.
``worker_cpu_s``: each worker's CPU seconds with its role (``ward,sink``, ``ecg``...), in start
order. ``cpu_s`` / ``rss_mb``: from ``/proc``, from
the first tick to the end of the drain (``worker``: all workers summed / the largest one).
``worker_memory``: the workers' summed RSS from the first tick to the end of the driving
(:func:`wardwatch.loadtest.measure.rss_growth`: start, end, per bed, growth per hour over the
second half, fitted to each worker's lowest RSS of every two minutes (what it holds after its
allocator's trims, not the sawtooth between them), and whether it grows, judged on runs of 10
minutes or more: the soak).
``broker_writes``: what the broker took in while driving, per topic a second (records and KB;
the run's own changelogs named without its prefix) and the changelogs' share of the bytes
(:func:`wardwatch.loadtest.measure.broker_writes`): where the broker's work comes from.
``ok``: every expected alert event and point arrived, no unexpected alert event, no dead
letter, the drain finished, the input topics' lag did not grow without bound
(:func:`wardwatch.loadtest.measure.lag_grows`; ``lag.max`` and ``lag.end`` count every topic the
group reads) and, on a soak, worker memory did not grow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulators.load import SEND_SLOTS
from wardwatch import topics
from wardwatch.influx_read import influx_client
from wardwatch.kafka_io import aio_client_config, client_config
from wardwatch.logs import log_event
from wardwatch.settings import Settings

log = logging.getLogger("wardwatch.bench")

INPUT_TOPICS = (topics.VITALS, topics.ECG)
GROUP_TOPICS = (topics.VITALS, topics.ECG, topics.CONDITIONS, topics.POINTS)
OUTPUT_TOPICS = (topics.CONDITIONS, topics.ALERTS, topics.POINTS, topics.DEADLETTER)
#: the shared topics whose writes the report shows beside the run's own (its changelogs)
BROKER_TOPICS = (*INPUT_TOPICS, *OUTPUT_TOPICS)
POINT_SAMPLE_BEDS = 8


@dataclass
class LoadConfig:
    beds: int
    seconds: int
    workers: int = 1
    #: InfluxDB sink processes of their own (``wardwatch worker --role sink``, group
    #: ``<group>-sink``); 0: each worker runs the sink too
    sink_workers: int = 0
    #: ECG workers of their own (``wardwatch worker --role ecg``, group ``<group>-ecg``); the
    #: other workers then run the ward without the ECG agent (``--role ward``); 0: each worker
    #: runs the ECG agent too
    ecg_workers: int = 0
    ecg_share: float = 0.25
    seed: int = 7
    #: beds spread over each second in this many groups; 1: every bed at the same instant
    #: (``--burst``; see :mod:`simulators.load`)
    send_slots: int = SEND_SLOTS
    drain_s: float = 120.0
    keep_services: bool = False
    #: keep what the run made for itself alone (its app's changelog topics, its consumer groups,
    #: its simulated patients' series in InfluxDB); by default they are deleted at the end, since
    #: compacted changelogs are otherwise kept for ever and repeated runs fill the disk
    keep_data: bool = False
    #: run each worker under the standard library's cProfile (``<run folder>/worker-i.prof``,
    #: written when the worker stops); it slows the worker, so its figures are not the plain ones
    profile: bool = False


@dataclass
class Progress:
    """What the caller's progress bar shows (updated from the run)."""

    phase: str = "starting"
    tick: int = 0
    lag: int = 0
    alerts: int = 0


@dataclass
class _Run:
    cfg: LoadConfig
    s: Settings
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    workers: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"LD{self.run_id[:6]}"

    @property
    def group(self) -> str:
        return f"wardwatch-bench-{self.run_id}"

    @property
    def sink_group(self) -> str:
        """The group of the run's sink workers (their app id is :attr:`group`)."""
        return self.s.model_copy(update={"app_id": self.group}).sink_group

    @property
    def ecg_group(self) -> str:
        """The group of the run's ECG workers (their app id is :attr:`group`)."""
        return self.s.model_copy(update={"app_id": self.group}).ecg_group

    @property
    def role(self) -> str:
        """The role of the run's ``workers``: the ward, with the ECG agent and the sink unless
        processes of their own run them."""
        own = {"ecg": self.cfg.ecg_workers, "sink": self.cfg.sink_workers}
        return ",".join(["ward", *(part for part, n in own.items() if not n)])

    def roles(self) -> list[str]:
        """Each worker process's role, in start order."""
        c = self.cfg
        return [self.role] * c.workers + ["ecg"] * c.ecg_workers + ["sink"] * c.sink_workers

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Each consumer group of the run and the topics it consumes (of :data:`GROUP_TOPICS`)."""
        own = {topics.ECG: self.cfg.ecg_workers, topics.POINTS: self.cfg.sink_workers}
        out = {self.group: tuple(t for t in GROUP_TOPICS if not own.get(t))}
        if self.cfg.ecg_workers:
            out[self.ecg_group] = (topics.ECG,)
        if self.cfg.sink_workers:
            out[self.sink_group] = (topics.POINTS,)
        return out

    def members(self) -> dict[str, int]:
        """The number of workers of each group."""
        c = self.cfg
        return {self.group: c.workers, self.ecg_group: c.ecg_workers, self.sink_group: c.sink_workers}

    @property
    def folder(self) -> Path:
        return self.s.run_dir / "bench" / self.run_id


# --------------------------------------------------------------------------- services, workers
def _services(s: Settings) -> bool:
    """Start the local stack unless it already answers; return whether this run started it."""
    from wardwatch.services import influx, kafka, stack

    running = kafka.healthy(s) and influx.healthy(s)
    stack.up(s)  # reuses running services; creates the topics
    return not running


def _start_at_end(s: Settings, group: str) -> None:
    """Set ``group``'s committed offsets to the end of every stream topic (the group is new and
    empty), so its workers skip what earlier runs left there."""
    from wardwatch.kafka_io import start_group_at_end

    start_group_at_end(group, list(topics.STREAM_TOPICS))


def _start_workers(r: _Run) -> None:
    r.folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "WARDWATCH_APP_ID": r.group,
        "WARDWATCH_ARTIFACTS_DIR": str(r.folder / "artifacts"),
        # The expected events are computed without the clock: the rule that raises an
        # unacknowledged medium alarm to high would change later events' priority (and ids).
        # Re-notifications still happen; they are left out of the comparison (origin "timer").
        "WARDWATCH_ESCALATE_MEDIUM_TO_HIGH_AFTER": "0",
    }
    for i, role in enumerate(r.roles()):
        path = r.folder / f"worker-{i}.log"
        r.logs.append(path)
        prof = ["-m", "cProfile", "-o", str(r.folder / f"worker-{i}.prof")] if r.cfg.profile else []
        with open(path, "ab") as out:
            r.workers.append(
                subprocess.Popen(
                    [sys.executable, *prof, "-m", "wardwatch.cli", "worker", "--role", role],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
    deadline = time.monotonic() + 180
    for proc, path in zip(r.workers, r.logs, strict=True):
        while "Worker ready" not in path.read_text(errors="replace"):
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}; see {path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker not ready after 180 s; see {path}")
            time.sleep(0.5)
    _wait_group_stable(r)


def _wait_group_stable(r: _Run, timeout_s: float = 90.0) -> None:
    """Wait until each group is Stable with all its members (every worker holds its partitions)."""
    from kafka.admin import KafkaAdminClient

    members = r.members()
    admin = KafkaAdminClient(**client_config(r.s), client_id="wardwatch-bench")
    try:
        for group in r.groups():
            deadline = time.monotonic() + timeout_s
            while True:
                d = admin.describe_groups([group]).get(group, {})
                state = str(d.get("group_state") or d.get("state") or "")
                if state.lower() == "stable" and len(d.get("members") or []) >= members[group]:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"consumer group {group} of {members[group]} not stable after {timeout_s:.0f}s"
                    )
                time.sleep(1.0)
    finally:
        admin.close()


def _stop_workers(r: _Run) -> None:
    _terminate(r.workers, 30.0)


def _terminate(procs: list[subprocess.Popen], timeout_s: float) -> None:
    """SIGTERM each of ``procs`` still running, then wait for each: SIGKILL after ``timeout_s``."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# --------------------------------------------------------------------------- the run
def _drive(r: _Run, samplers: Any, progress: Progress, on_update: Callable[[Progress], None]) -> dict:
    """Run the simulator process (:func:`simulators.load.drive_process`, this interpreter and
    environment) and follow its lines; return its stats, the start and the end wall time."""
    c = r.cfg
    args = [str(c.beds), str(c.seconds), str(c.ecg_share), str(c.seed), r.prefix, str(c.send_slots)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.load", *args],
        stdout=subprocess.PIPE,
        stderr=open(r.folder / "simulator.log", "ab"),  # noqa: SIM115 - closed with the process
        text=True,
        start_new_session=True,
    )
    out: dict[str, Any] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            msg = json.loads(line)
            if "start" in msg:
                out["start"] = datetime.fromtimestamp(msg["start"], UTC)
                samplers.procs.add("simulator", proc.pid)
                samplers.start_all()
                progress.phase = "driving"
            elif "tick" in msg:
                progress.tick = msg["tick"] + 1
                progress.lag = samplers.lag.samples[-1][1] if samplers.lag.samples else 0
                progress.alerts = len(samplers.alerts.received)
                out["send_delay_max_s"] = round(msg["max_delay_s"], 3)
            elif "done" in msg:
                out["stats"] = msg["done"]
            on_update(progress)
        out["end_wall"] = time.time()
    except BaseException:  # stopped mid-run (SIGTERM, Ctrl-C, an error): the simulator stops too
        _terminate([proc], 10.0)  # (its own session: a signal to this process does not reach it)
        raise
    if proc.wait(timeout=60) != 0 or "stats" not in out:
        raise RuntimeError(f"simulator exited with {proc.returncode}; see {r.folder / 'simulator.log'}")
    return out


@dataclass
class _Samplers:
    lag: Any
    alerts: Any
    points: Any
    procs: Any

    def start_all(self) -> None:
        for t in (self.lag, self.alerts, self.points, self.procs):
            t.start()

    def stop_all(self) -> None:
        for t in (self.lag, self.alerts, self.points, self.procs):
            t.stop()


def _drain(
    r: _Run, samplers: _Samplers, in_end: dict, progress: Progress, on_update: Callable
) -> float | None:
    """Wait until the group has committed every input record (``in_end``) and then every
    record that was on its internal topics at that moment; the seconds it took (None when
    ``drain_s`` passed first). Not "lag zero": the alarm lifecycle's timers keep writing
    re-notifications of open alarms, so with hundreds of them (a long run) the internal topics
    are rarely empty at a sampling instant (a 30-minute soak never saw zero in 120 s)."""
    from wardwatch.kafka_io import end_offsets

    progress.phase = "draining"
    t0 = time.time()
    internal: dict | None = None
    while time.time() - t0 < r.cfg.drain_s:
        time.sleep(1.0)
        if not samplers.lag.samples:
            continue
        _, total, _, offsets = samplers.lag.samples[-1]
        progress.lag, progress.alerts = total, len(samplers.alerts.received)
        on_update(progress)
        if internal is None and _covers(offsets, in_end):
            internal = end_offsets([t for t in GROUP_TOPICS if t not in INPUT_TOPICS])
            continue  # the next sample is taken after this snapshot
        if internal is not None and _covers(offsets, internal):
            return time.time() - t0
    return None


def _caught_up_at(samples: list, in_start: dict, in_end: dict, topic: str) -> float | None:
    """First sample time at which the group's committed offsets covered ``topic``'s records."""
    ends = {tp: off for tp, off in in_end.items() if tp.topic == topic}
    return next((t for t, _, _, offsets in samples if _covers(offsets, ends)), None)


def _covers(committed: dict, ends: dict) -> bool:
    """Whether the committed offsets reach every partition's end offset in ``ends``."""
    return all(committed.get(tp, 0) >= off for tp, off in ends.items())


async def _raw_rate(s: Settings, start: dict, end: dict, topic: str) -> tuple[int, float, float]:
    """Records of ``topic`` in ``[start, end)`` read and JSON-decoded by a plain aiokafka consumer:
    (count, wall seconds, CPU seconds of this process)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    c = AIOKafkaConsumer(**aio_client_config(s), enable_auto_commit=False)
    await c.start()
    try:
        want = {
            TopicPartition(tp.topic, tp.partition): (off, end[tp])
            for tp, off in start.items()
            if tp.topic == topic
        }
        c.assign(list(want))
        for tp, (off, _) in want.items():
            c.seek(tp, off)
        left = sum(e - b for b, e in want.values())
        n = 0
        t0, c0 = time.perf_counter(), time.process_time()
        while left > 0:
            batch = await c.getmany(timeout_ms=1000, max_records=5000)
            if not batch:
                break
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset < want[tp][1]:
                        json.loads(m.value)
                        n += 1
                        left -= 1
        return n, time.perf_counter() - t0, time.process_time() - c0
    finally:
        await c.stop()


def _count_points(s: Settings, exp: Any, prefix: str, since: datetime) -> dict[str, tuple[int, int]]:
    """Per measurement: (expected, written in InfluxDB for this run's patients)."""
    start = (since - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = {}
    with influx_client(s) as client:
        for m, n_exp in sorted(exp.by_measurement().items()):
            f = exp.common_field(m)
            flux = (
                f'from(bucket: "{s.influx_bucket}") |> range(start: {start})'
                f' |> filter(fn: (r) => r._measurement == "{m}" and r._field == "{f}"'
                f" and r.patient =~ /^{prefix}-/)"
                ' |> filter(fn: (r) => not exists r.source or r.source != "ecg.feed_stopped")'
                ' |> filter(fn: (r) => not exists r.origin or r.origin != "timer")'
                " |> group() |> count()"
            )
            n = sum(int(rec.get_value()) for t in client.query_api().query(flux) for rec in t.records)
            out[m] = (n_exp, n)
    return out


def run_load(
    s: Settings, cfg: LoadConfig, on_update: Callable[[Progress], None] = lambda p: None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one load test; return the report (the JSON) and the time series for a plot."""
    from simulators.vitals import ward_plan
    from wardwatch.kafka_io import end_offsets, topic_writes
    from wardwatch.loadtest.measure import AlertFollower, LagSampler, PointPoller, ProcSampler

    r = _Run(cfg, s)
    progress = Progress()
    started = _services(s)
    log_event(log, "bench load start", run=r.run_id, beds=cfg.beds, seconds=cfg.seconds, workers=cfg.workers)
    try:
        for group in r.groups():
            _start_at_end(s, group)
        progress.phase = "starting workers"
        on_update(progress)
        _start_workers(r)
        out_start = end_offsets(list(OUTPUT_TOPICS))
        in_start = end_offsets(list(INPUT_TOPICS))
        sample = [p.patient_id for p in ward_plan(cfg.beds, seed=cfg.seed, prefix=r.prefix)]
        sample = sample[:: max(1, len(sample) // POINT_SAMPLE_BEDS)][:POINT_SAMPLE_BEDS]
        samplers = _Samplers(
            LagSampler(s, r.groups()),
            AlertFollower(
                s,
                {tp: o for tp, o in out_start.items() if tp.topic in (topics.ALERTS, topics.DEADLETTER)},
                r.prefix,
            ),
            PointPoller(s, sample, datetime.now(UTC) - timedelta(minutes=1)),
            ProcSampler(),
        )
        for i, p in enumerate(r.workers):
            samplers.procs.add("worker", p.pid)
            log_event(log, "worker started", run=r.run_id, worker=i, pid=p.pid)
        from wardwatch.services import influx, kafka

        for name, pid in (("kafka", kafka.pid(s)), ("influxdb", influx.pid(s)), ("bench", os.getpid())):
            if pid:
                samplers.procs.add(name, pid)
        written = [topic_writes(f"{r.group}-", BROKER_TOPICS, s)]
        drive = _drive(r, samplers, progress, on_update)
        in_end = end_offsets(list(INPUT_TOPICS))
        written.append(topic_writes(f"{r.group}-", BROKER_TOPICS, s))
        drain_s = _drain(r, samplers, in_end, progress, on_update)
        time.sleep(2 * 0.5 + 1.0)  # the followers' last polls
        samplers.stop_all()
        out_end = end_offsets(list(OUTPUT_TOPICS))
        _stop_workers(r)
        progress.phase = "checking"
        on_update(progress)
        return _report(r, samplers, drive, drain_s, (in_start, in_end), (out_start, out_end), written)
    finally:
        _stop_workers(r)
        if not cfg.keep_data:
            _forget(r)
        if started and not cfg.keep_services:
            from wardwatch.services import stack

            stack.down(s)


def _forget(r: _Run) -> None:
    """Delete the run's own topics, consumer groups and InfluxDB series (see
    :attr:`LoadConfig.keep_data`). Its records on the shared stream topics stay until their
    retention (``retention_h``). A failure is logged, never raised over the run's report."""
    from wardwatch.kafka_io import delete_topics_and_groups
    from wardwatch.services import influx

    groups = r.groups()
    try:
        deleted = delete_topics_and_groups(f"{r.group}-", groups)
        influx.drop_patients(r.s, f"{r.prefix}-")
        # counted right after the drop: another consumer of the shared topics (e.g. a worker of
        # another app id on the same stack) may write these patients' points again later
        left = influx.count_patient_points(r.s, f"{r.prefix}-")
        log_event(
            log,
            "bench load data deleted",
            run=r.run_id,
            topics=len(deleted),
            groups=len(groups),
            points_left=left,
        )
    except Exception as e:  # noqa: BLE001 - cleanup after the measurement; the report stands
        log_event(log, "bench load data not deleted", level=logging.WARNING, run=r.run_id, error=repr(e))


def _rates(
    s: Settings, samples: list, inputs: tuple, n_in: dict[str, int], t0: float
) -> tuple[dict[str, float | None], dict[str, float | None], dict[str, float | None], float]:
    """Per input topic: the pipeline's wall consume rate, the plain consumer's and their ratio;
    and the plain consumer's CPU seconds over all input topics."""
    in_start, in_end = inputs
    pipe: dict[str, float | None] = {}
    raw: dict[str, float | None] = {}
    ratio: dict[str, float | None] = {}
    raw_cpu = 0.0
    for topic in INPUT_TOPICS:
        if not n_in[topic]:
            continue
        caught = _caught_up_at(samples, in_start, in_end, topic)
        p = n_in[topic] / (caught - t0) if caught else None
        n, secs, cpu = asyncio.run(_raw_rate(s, in_start, in_end, topic))
        raw_cpu += cpu
        q = n / secs if secs > 0 else None
        pipe[topic] = None if p is None else round(p, 1)
        raw[topic] = None if q is None else round(q, 1)
        ratio[topic] = round(p / q, 3) if p and q else None
    return pipe, raw, ratio, raw_cpu


def _per_cpu_ratio(n: int, worker_cpu_s: float, raw_cpu_s: float) -> float | None:
    """(n / worker CPU s) / (n / raw CPU s): the raw consumer's CPU per record over the workers'."""
    return round(raw_cpu_s / worker_cpu_s, 4) if n and worker_cpu_s > 0 and raw_cpu_s > 0 else None


def _report(
    r: _Run, sm: _Samplers, drive: dict, drain_s: float | None, inputs: tuple, outputs: tuple, written: list
) -> tuple[dict[str, Any], dict[str, Any]]:
    from simulators.load import load_plan
    from wardwatch.loadtest.expected import TIMER_SOURCES, expected_outputs_parallel
    from wardwatch.loadtest.measure import (
        LAG_GROWTH_FLOOR_S,
        broker_writes,
        lag_grows,
        percentiles,
        rss_growth,
    )

    cfg, s = r.cfg, r.s
    start: datetime = drive["start"]
    t0 = start.timestamp()
    plan = load_plan(
        cfg.beds,
        cfg.seconds,
        ecg_share=cfg.ecg_share,
        seed=cfg.seed,
        prefix=r.prefix,
        send_slots=cfg.send_slots,
    )
    exp = expected_outputs_parallel(plan, start, s.deterioration_model, keep_points=False)
    delivered = {
        e: v
        for e, v in sm.alerts.received.items()
        if v[1]["source"] not in TIMER_SOURCES and v[1].get("origin") != "timer"
    }
    alert_lat = [delivered[e][0] - end_s for e, (_, end_s) in exp.alerts.items() if e in delivered]
    by_source: dict[str, list[float]] = {"vitals": [], "ecg": []}
    for e, (ev, end_s) in exp.alerts.items():
        if e in delivered:
            by_source["ecg" if ev["source"].startswith("ecg.") else "vitals"].append(delivered[e][0] - end_s)
    point_lat = [seen - t for (_, t), seen in sm.points.seen.items() if t >= t0]
    counts = _count_points(s, exp, r.prefix, start)
    in_start, in_end = inputs
    n_in = {t: sum(in_end[tp] - in_start[tp] for tp in in_end if tp.topic == t) for t in INPUT_TOPICS}
    drive_s = max(1e-9, drive["end_wall"] - t0)
    in_rate = sum(n_in.values()) / drive_s
    lag_series = [(t, total) for t, total, _, _ in sm.lag.samples]
    during = [lag for t, lag in lag_series if t <= drive["end_wall"]]
    # judged on the input topics, in the input's own units (records a second): the internal
    # topics' lag counts messages whose number depends on how the agents batch (a spread ward's
    # small micro-batches make ~20 points messages a second per partition), and a backlog there
    # shows in the drain and the point latency
    inputs_lag = [(t, sum(by.get(k, 0) for k in INPUT_TOPICS)) for t, _, by, _ in sm.lag.samples]
    # records held unacknowledged until their patients' states are checkpointed are lag by
    # design (up to one interval of input): no growth below that
    held_s = max(s.vitals_checkpoint_s, s.ecg_checkpoint_s)
    grows = lag_grows(inputs_lag, t0, drive["end_wall"], in_rate, LAG_GROWTH_FLOOR_S + held_s)
    pipe, raw, ratio, raw_cpu = _rates(s, sm.lag.samples, inputs, n_in, t0)
    out_start, out_end = outputs
    out_n = sum(out_end[tp] - out_start.get(tp, 0) for tp in out_end)
    end_wall = drive["end_wall"] + (drain_s or cfg.drain_s)
    cpu, rss = sm.procs.totals()
    worker_cpu = sm.procs.cpu_by_process("worker")
    worker_rss = sm.procs.rss_series("worker")
    memory = rss_growth(worker_rss, t0, drive["end_wall"], cfg.beds, sm.procs.rss_troughs("worker"))
    points_expected = sum(e for e, _ in counts.values())
    points_written = sum(w for _, w in counts.values())
    missing = sum(1 for e in exp.alerts if e not in delivered)
    unexpected = sum(1 for e in delivered if e not in exp.alerts)
    report: dict[str, Any] = {
        "beds": cfg.beds,
        "seconds": cfg.seconds,
        "workers": cfg.workers,
        "send_slots": cfg.send_slots,
        "sink_workers": cfg.sink_workers,
        "ecg_workers": cfg.ecg_workers,
        "ecg_beds": len(plan.feeds),
        "latency_s": {"alert": percentiles(alert_lat), "point": percentiles(point_lat)},
        "alert_latency_by_source_s": {k: percentiles(v) for k, v in by_source.items()},
        "lag": {
            "max": max(during, default=0),
            "end": during[-1] if during else 0,
            "grows": grows,
            "by_topic_max": {
                t: max((bt.get(t, 0) for _, _, bt, _ in sm.lag.samples), default=0) for t in GROUP_TOPICS
            },
        },
        "in_msgs_per_s": round(in_rate, 1),
        "out_msgs_per_s": round(out_n / max(1e-9, end_wall - t0), 1),
        "alerts_expected": len(exp.alerts),
        "alerts_delivered": len(delivered),
        "alerts_missing": missing,
        "alerts_unexpected": unexpected,
        "points_expected": points_expected,
        "points_written": points_written,
        "points_by_measurement": {m: list(v) for m, v in counts.items()},
        "deadletters": sm.alerts.deadletters,
        "drain_s": None if drain_s is None else round(drain_s, 1),
        "send_delay_max_s": drive.get("send_delay_max_s"),
        "cpu_s": cpu,
        "host_cpu_s": sm.procs.host_totals(sum(cpu.values())),
        "worker_cpu_s": [
            {"role": role, "cpu_s": worker_cpu.get(proc.pid)}
            for role, proc in zip(r.roles(), r.workers, strict=True)
        ],
        "rss_mb": rss,
        "worker_memory": memory,
        "broker_writes": broker_writes(written[0], written[1], drive_s, prefix=f"{r.group}-"),
        "pipeline_msgs_per_s": pipe,
        "raw_msgs_per_s": raw,
        "faust_vs_raw": _per_cpu_ratio(sum(n_in.values()), cpu.get("worker", 0.0), raw_cpu),
        "faust_vs_raw_wall_by_topic": ratio,
        "raw_cpu_s": round(raw_cpu, 2),
        "beat_classifier": exp.classifier,
        "run": r.run_id,
        "worker_logs": [str(p) for p in r.logs],
    }
    report["ok"] = bool(
        missing == 0
        and unexpected == 0
        and points_written == points_expected
        and sm.alerts.deadletters == 0
        and drain_s is not None
        and not grows
        and not memory["grows"]
    )
    series = {
        "t0": t0,
        "lag": lag_series,
        "alert": sorted(
            (delivered[e][0] - t0, delivered[e][0] - end)
            for e, (_, end) in exp.alerts.items()
            if e in delivered
        ),
        "point": sorted((seen - t0, seen - t) for (_, t), seen in sm.points.seen.items() if t >= t0),
        "drive_end": drive["end_wall"] - t0,
        "worker_rss": [(t - t0, v) for t, v in worker_rss],
    }
    log_event(
        log, "bench load done", run=r.run_id, ok=report["ok"], alerts=len(delivered), points=points_written
    )
    return report, series


def plot_series(series: dict[str, Any], path: Path, title: str) -> None:
    """PNG of alert and point latency (per event, by arrival time), consumer lag and the workers'
    RSS over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(10, 8.5), sharex=True)
    for name, marker in (("alert", "o"), ("point", ".")):
        pts = series[name]
        if pts:
            ax1.plot([t for t, _ in pts], [v for _, v in pts], marker, ms=3, ls="", label=f"{name} latency")
    ax1.set_ylabel("latency (s)")
    ax1.legend(loc="upper left")
    ax1.grid(alpha=0.3)
    lag = series["lag"]
    ax2.plot([t - series["t0"] for t, _ in lag], [v for _, v in lag], "-", color="tab:red")
    ax2.set_ylabel("consumer lag (messages)")
    rss = series.get("worker_rss", [])
    ax3.plot([t for t, _ in rss], [v for _, v in rss], "-", color="tab:green")
    ax3.set_ylabel("worker RSS (MB)")
    ax3.set_xlabel("seconds since the first tick")
    for ax in (ax1, ax2, ax3):
        ax.axvline(series["drive_end"], color="grey", ls="--", lw=1)
    for ax in (ax2, ax3):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["LoadConfig", "Progress", "plot_series", "run_load"]
