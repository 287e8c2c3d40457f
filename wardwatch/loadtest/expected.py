"""What the pipeline must produce for a load test's records: the pure steps, run offline.

The worker runs :func:`models.vitals.scoring.vitals_step` (with the configured deterioration
model) on every reading, :func:`models.ecg.step.ecg_step` on every chunk and
:func:`models.alarms.lifecycle.alert_on_condition` on every condition. Running the same functions
here over exactly the records the simulator sent gives the alert events (deterministic
``event_id``) and the InfluxDB points (unique by measurement, tags and time) the pipeline must
deliver. Alert state is per source, so how the worker interleaves one patient's vitals and ECG
conditions does not change the events.

Left out on both sides: the ``ecg.feed_stopped`` alarm, which a wall-clock timer in the worker
raises when the feeds stop at the end of the run (no record completes it), and the alarm
lifecycle's timer events (origin ``timer``: re-notification of unacknowledged alarms).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from models.alarms.lifecycle import AlertState, alert_on_condition, alert_points
from models.deterioration.live import deterioration_step
from models.deterioration.model import load_model
from models.ecg.alarm_output import alarm_condition, alarm_point
from models.ecg.step import LiveDetector, ecg_step
from models.ecg.stream_state import ECGState
from models.vitals.scoring import VitalsState, vitals_step
from simulators.load import LoadPlan, record_end_s, tick_records
from wardwatch.records.conditions import Condition
from wardwatch.records.ecg import ecg_validate
from wardwatch.records.vitals import vitals_validate

#: Sources whose alarms no record completes (wall-clock timers): not counted.
TIMER_SOURCES = frozenset({"ecg.feed_stopped"})


def point_key(p: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...], int]:
    """What makes an InfluxDB point unique: measurement, tag set and time."""
    return p["measurement"], tuple(sorted(p["tags"].items())), int(p["time_ns"])


def _digest(key: tuple[str, tuple[tuple[str, str], ...], int]) -> int:
    """64 bits of a point's key, the same in every process (``hash`` of a str is not)."""
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "little")


@dataclass
class Expected:
    """Alert events by ``event_id`` with the device end time (POSIX s) of the record that
    completed their condition; points by :func:`point_key` (``keep_points``), or else only what
    counting them needs: per measurement, a 64-bit digest of each point's key and the fields
    every point carries. A load test counts points per measurement; an hour at 2,000 beds is
    ~16 M points, and their dicts (~1.4 KB each) ran the offline check out of memory (stop 49)."""

    alerts: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    points: dict[tuple[str, tuple[tuple[str, str], ...], int], dict[str, Any]] = field(default_factory=dict)
    classifier: str = ""
    keep_points: bool = True
    digests: dict[str, set[int]] = field(default_factory=dict)  #: per measurement (not keep_points)
    fields: dict[str, frozenset[str]] = field(default_factory=dict)  #: common to every point, per measurement

    def add_points(self, points: list[dict[str, Any]]) -> None:
        for p in points:
            if p["tags"].get("source") in TIMER_SOURCES:
                continue
            key = point_key(p)
            m = key[0]
            if self.keep_points:
                self.points[key] = p
            else:
                self.digests.setdefault(m, set()).add(_digest(key))
            common = self.fields.get(m)
            self.fields[m] = frozenset(p["fields"]) if common is None else common & p["fields"].keys()

    def merge(self, other: Expected) -> None:
        """Take in another part's alerts and points (a part of the same run: other patients)."""
        self.alerts.update(other.alerts)
        self.points.update(other.points)
        for m, d in other.digests.items():
            self.digests.setdefault(m, set()).update(d)
        for m, f in other.fields.items():
            self.fields[m] = f if m not in self.fields else self.fields[m] & f

    def by_measurement(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for m, _, _ in self.points:
            out[m] += 1
        for m, d in self.digests.items():
            out[m] += len(d)
        return dict(out)

    def common_field(self, measurement: str) -> str:
        """A field every expected point of ``measurement`` carries (to count them in InfluxDB)."""
        common = self.fields.get(measurement)
        if not common:
            raise ValueError(f"no field common to every {measurement!r} point")
        return sorted(common)[0]


def _classifier() -> tuple[Any, str]:
    """The worker's beat classifier, or None (labels Q) where the worker would fall back too."""
    try:
        from models.ecg.classify import BeatClassifier

        c = BeatClassifier()
        return c, c.version
    except Exception as e:  # noqa: BLE001 - the worker degrades the same way
        return None, f"unavailable: {type(e).__name__}"


class _Steps:
    """The worker's pure steps with their per-patient states, fed record by record."""

    def __init__(self, deterioration_model: str, keep_points: bool = True) -> None:
        model = load_model(deterioration_model)
        self.exp = Expected(keep_points=keep_points)
        self.vstates: dict[str, VitalsState] = {}
        self.astates: dict[tuple[str, str], AlertState] = {}
        self.det = lambda st, reading, news2: deterioration_step(st, reading, news2, model=model)

    def condition(self, cond: Condition, end_s: float) -> None:
        if cond.source in TIMER_SOURCES:
            return
        key = (cond.patient_id, cond.source)
        self.astates[key], events = alert_on_condition(
            self.astates.get(key, {}), cond, datetime.fromtimestamp(end_s, UTC)
        )
        for ev in events:
            self.exp.alerts.setdefault(ev["event_id"], (ev, end_s))
        self.exp.add_points(alert_points(events))

    def reading(self, r: dict[str, Any], end_s: float, now: datetime) -> None:
        reading = vitals_validate(json.dumps(r).encode(), key=r["patient_id"], now=now)
        pid = reading.patient_id
        self.vstates[pid], conds, points = vitals_step(self.vstates.get(pid, {}), reading, self.det)
        self.exp.add_points(points)
        for c in conds:
            self.condition(c, end_s)


def expected_outputs(
    plan: LoadPlan,
    start: datetime,
    deterioration_model: str = "vitals",
    *,
    vitals: bool = True,
    ecg_shard: tuple[int, int] = (0, 1),
    keep_points: bool = True,
) -> Expected:
    """Run the pure steps over every record of ``plan`` sent from ``start`` (see module doc);
    ``vitals`` False: leave the vitals path out (a plan without ``feeds`` has no ECG path);
    ``ecg_shard`` ``(k, n)``: only the ECG feeds whose index is ``k`` modulo ``n`` (see
    :func:`expected_outputs_parallel`); ``keep_points`` False: the points only counted
    (:class:`Expected`)."""
    steps = _Steps(deterioration_model, keep_points)
    classifier, version = _classifier()
    versions = {"beat_classifier": version}
    exp = steps.exp
    exp.classifier = version
    estates: dict[str, ECGState] = {}
    live: dict[str, LiveDetector] = {}

    phase = [plan.phase(b) for b in range(plan.beds)]  # the feeds are the first beds
    last_phase = max(phase)  # the tick's last send
    shard, shards = ecg_shard
    for i, readings, all_chunks in tick_records(plan, start, vitals=vitals):
        for b, r in enumerate(readings):
            end_s = record_end_s(start, i, phase[b])
            steps.reading(r, end_s, datetime.fromtimestamp(end_s, UTC))
        feed_ix = range(shard, len(all_chunks), shards)  # a chunk's index is its feed's, and its bed's
        chunks = [all_chunks[b] for b in feed_ix]
        if not chunks:
            continue
        last_s = record_end_s(start, i, last_phase)
        now = datetime.fromtimestamp(last_s, UTC)
        valid = [ecg_validate(json.dumps(c), key=c["patient_id"], now=now) for c in chunks]
        res = ecg_step(estates, valid, classifier, last_s, live=live)
        res.raise_errors()
        for out in res.results:
            if out.rejected is not None:
                raise RuntimeError(f"load-test chunk rejected offline: {out.rejected.reason}")
            pid, bed = out.chunk.patient_id, out.chunk.bed
            exp.add_points(out.points)
            end_s = record_end_s(start, i, phase[feed_ix[out.index]])
            for ch in out.changes:
                if not ch.reassert:  # a re-assertion is a condition only (streams.ecg.agents._emit)
                    exp.add_points([alarm_point(ch, pid, bed)])
                steps.condition(alarm_condition(ch, pid, bed, versions), end_s)
    return exp


def expected_outputs_parallel(
    plan: LoadPlan,
    start: datetime,
    deterioration_model: str = "vitals",
    ecg_processes: int = 2,
    keep_points: bool = True,
) -> Expected:
    """:func:`expected_outputs` in ``ecg_processes`` + 1 processes: the vitals path in one, the
    ECG feeds split among the others (one of them this one). Alert state is per patient and
    source and the ECG state per patient, so the parts share no state; their alert events and
    points are merged. The ECG path is the longer one: a 30-minute run at 2,000 beds took ~30
    minutes in one process, and ~24 with the vitals path beside it (stop 48)."""
    # spawn: the caller may have threads, so a fresh interpreter. An executor, not a Pool: a
    # part whose process dies (the kernel's OOM killer, stop 49) raises BrokenProcessPool here
    # instead of leaving this process waiting for its result for ever.
    n, model, keep = max(1, ecg_processes), deterioration_model, keep_points
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = [pool.submit(expected_outputs, replace(plan, feeds=[]), start, model, keep_points=keep)]
        for k in range(1, n):
            parts.append(
                pool.submit(
                    expected_outputs, plan, start, model, vitals=False, ecg_shard=(k, n), keep_points=keep
                )
            )
        exp = expected_outputs(plan, start, model, vitals=False, ecg_shard=(0, n), keep_points=keep)
        for part in parts:
            exp.merge(part.result())
    return exp


def expected_from_readings(
    readings: Iterable[dict[str, Any]], deterioration_model: str = "vitals"
) -> Expected:
    """The alert events and points of vitals ``readings`` (record dicts as sent to ``vitals``,
    each patient's in the order sent): for fault tests with scripted input. Readings must be
    in the past (validation checks the device time against now)."""
    steps, now = _Steps(deterioration_model), datetime.now(UTC)
    for r in readings:
        steps.reading(r, datetime.fromisoformat(r["ts"]).timestamp(), now)
    return steps.exp


__all__ = [
    "TIMER_SOURCES",
    "Expected",
    "expected_from_readings",
    "expected_outputs",
    "expected_outputs_parallel",
    "point_key",
]
