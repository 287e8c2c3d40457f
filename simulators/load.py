"""A load-test ward: N beds of 1 Hz vitals, a share of them with 2-lead 360 Hz ECG, in real time.

Pure generation (:func:`load_plan`, :func:`tick_records`) is separate from producing to Kafka
(:func:`drive`), so the load test can rebuild offline exactly the records it sent and run the
pure steps over them (what the pipeline *should* have produced).

Timing
------
Tick ``i`` (``i = 0 .. seconds - 1``) carries, for every bed, the vitals reading with device time
``ts = start + i + phase`` and, for every ECG bed, the 1-second chunk covering
``[ts - 1, ts)``, sent at wall time ``ts``: each record leaves the "device" at the instant its
last measurement was taken, so its *device end time* equals its scheduled send time
(:func:`record_end_s`). Latencies are measured from that instant.

A bed's ``phase`` (:meth:`LoadPlan.phase`) spreads the beds over the second in
``send_slots`` groups (default 20: every 50 ms a twentieth of the ward sends), as the monitors
of a ward each keep their own clock. ``send_slots=1`` sends every bed at the same instant, the
worst case (a burst of the whole ward each second; what the load test did up to stop 36).

Beds
----
Vitals come from :func:`simulators.vitals.ward_plan` (stable, sepsis, hypoxia, bradycardia; the
deteriorating patients cross NEWS2 bands during the run, so NEWS2 alerts fire). ECG beds are the
first ``round(ecg_share * beds)`` beds (same patient ids) and cycle through
:data:`simulators.ecg_synth.SCENARIOS`; each scenario's events (VT runs, pauses, VF, leads off,
noise) are compressed into runs shorter than a minute and repeated every minute of longer runs,
with a per-bed phase, so ECG alarms fire all through the run.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson

from simulators.ecg_feed import BedFeed
from simulators.ecg_synth import SCENARIOS, SynthEvent, synth_ecg
from simulators.vitals import SimPatient, vitals_at, ward_plan
from wardwatch.records.ecg import ecg_chunk_dict

ECG_FS_HZ = 360.0
EVENT_PERIOD_S = 60.0  #: scenario events repeat every minute of a longer run
SEND_SLOTS = 20  #: beds spread over the second in this many groups (see Timing)


@dataclass
class LoadPlan:
    """Who is in the load-test ward: every bed's vitals patient and the ECG feeds."""

    seconds: int
    patients: list[SimPatient]
    feeds: list[BedFeed] = field(default_factory=list)
    seed: int = 7
    send_slots: int = SEND_SLOTS

    @property
    def beds(self) -> int:
        return len(self.patients)

    def phase(self, bed: int) -> float:
        """Seconds after each whole tick at which bed number ``bed`` (its index in ``patients``;
        an ECG feed's index is its bed's) sends: its slot of the second.

        >>> [LoadPlan(1, [], send_slots=4).phase(b) for b in range(6)]
        [0.0, 0.25, 0.5, 0.75, 0.0, 0.25]
        """
        return (bed % self.send_slots) / self.send_slots


def load_ecg_events(name: str, seconds: float, phase_s: float = 0.0) -> tuple[float, tuple[SynthEvent, ...]]:
    """Sinus rate and events of ECG scenario ``name`` fitted to a run of ``seconds``.

    Event starts are scaled by ``min(1, seconds / 60)`` (a 20 s run gets its VT run at 6.7 s
    instead of 20 s), shifted by ``phase_s`` and repeated every :data:`EVENT_PERIOD_S`; an event
    is cut at the end of the run and dropped if it would start in its last 2 seconds.

    Examples
    --------
    >>> [(e.kind, round(e.start_s, 1)) for e in load_ecg_events("vrun", 20)[1]]
    [('vrun', 6.7)]
    >>> [round(e.start_s) for e in load_ecg_events("pause", 150, phase_s=5)[1]]
    [30, 90]
    """
    hr, events = SCENARIOS[name]
    scale = min(1.0, seconds / EVENT_PERIOD_S)
    out: list[SynthEvent] = []
    for k in range(max(1, math.ceil(seconds / EVENT_PERIOD_S))):
        for e in events:
            if e.duration_s > EVENT_PERIOD_S and k > 0:
                continue  # a lasting rhythm (AF) starts once
            start = k * EVENT_PERIOD_S + e.start_s * scale + phase_s
            if start > seconds - 2:
                continue
            out.append(SynthEvent(e.kind, start, min(e.duration_s, seconds + 1 - start), dict(e.params)))
    return hr, tuple(out)


def load_plan(
    beds: int,
    seconds: int,
    *,
    ecg_share: float = 0.25,
    seed: int = 7,
    prefix: str = "LOAD",
    send_slots: int = SEND_SLOTS,
) -> LoadPlan:
    """The ward: ``beds`` vitals patients, the first ``round(ecg_share * beds)`` also on ECG.

    Deterministic for given arguments (the load test rebuilds it to compute what is expected).

    Examples
    --------
    >>> plan = load_plan(8, 5, ecg_share=0.25, prefix="T")
    >>> plan.beds, [f.patient_id for f in plan.feeds], plan.feeds[1].source
    (8, ['T-0001', 'T-0002'], 'load:vrun')
    """
    if not 0.0 <= ecg_share <= 1.0:
        raise ValueError(f"ecg_share must be in [0, 1], got {ecg_share}")
    if seconds < 1 or beds < 1 or send_slots < 1:
        raise ValueError("beds, seconds and send_slots must be at least 1")
    patients = ward_plan(beds, seed=seed, prefix=prefix)
    rng = np.random.default_rng(seed + 2)
    names = list(SCENARIOS)
    feeds = []
    for i, p in enumerate(patients[: round(ecg_share * beds)]):
        name = names[i % len(names)]
        phase = float(rng.uniform(0, min(10.0, seconds / 6)))
        hr, events = load_ecg_events(name, seconds, phase)
        total = seconds + 1  # chunk i covers [i - 1, i): one extra second before tick 0
        sig, truth = synth_ecg(total, ECG_FS_HZ, hr, events, seed=seed + i)
        sig2, _ = synth_ecg(total, ECG_FS_HZ, hr, events, seed=seed + i, lead="V1")
        feeds.append(BedFeed(p.patient_id, p.bed, ECG_FS_HZ, "II", sig, truth, f"load:{name}", "V1", sig2))
    return LoadPlan(seconds, patients, feeds, seed, send_slots)


def tick_records(
    plan: LoadPlan, start: datetime, vitals: bool = True
) -> Iterator[tuple[int, list[dict[str, Any]], list[dict[str, Any]]]]:
    """Yield ``(i, vitals readings, ECG chunks)`` for every tick of the run (see Timing above);
    ``vitals`` False: no readings (the chunks are the same: they draw nothing from the
    readings' random numbers), for a caller that runs the ECG path alone."""
    rng = np.random.default_rng(plan.seed + 1)
    last: dict[str, dict[str, float]] = {p.patient_id: {} for p in plan.patients}
    n = round(ECG_FS_HZ)
    at = [timedelta(seconds=plan.phase(b)) for b in range(plan.beds)]
    for i in range(plan.seconds):
        tick = start + timedelta(seconds=i)
        readings = [
            vitals_at(p, i, plan.seconds, rng, tick + at[b], last[p.patient_id])
            for b, p in enumerate(plan.patients if vitals else ())
        ]
        chunks = []
        for b, f in enumerate(plan.feeds):
            piece = f.signal_uv[i * n : (i + 1) * n]
            piece2 = None if f.signal2_uv is None else f.signal2_uv[i * n : (i + 1) * n]
            chunk_ts = tick + at[b] - timedelta(seconds=1)
            chunks.append(
                ecg_chunk_dict(f.patient_id, f.bed, chunk_ts, f.fs_hz, i, f.lead, piece, f.lead2, piece2)
            )
        yield i, readings, chunks


def record_end_s(start: datetime, i: int, phase: float = 0.0) -> float:
    """Device end time (POSIX s) of tick ``i``'s records of a bed of ``phase``: the vitals
    reading's ``ts`` and the end of the ECG chunk's last sample interval, both
    ``start + i + phase``."""
    return start.timestamp() + i + phase


@dataclass
class DriveStats:
    ticks: int = 0
    vitals: int = 0
    ecg: int = 0
    late_ticks: int = 0  #: ticks whose sending ended more than 1 s after their schedule
    max_send_delay_s: float = 0.0


async def drive(
    plan: LoadPlan,
    start: datetime,
    producer: Any,
    *,
    on_tick: Callable[[int, DriveStats], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DriveStats:
    """Send the plan's ticks in real time (each bed's records of tick ``i`` at
    ``start + i + plan.phase(bed)``) and return the counts.

    ``producer`` is an aiokafka producer (:func:`wardwatch.kafka_io.start_aio_producer`); each
    send slot's records are acknowledged by the broker before the next slot is sent.
    """
    from wardwatch import topics

    stats = DriveStats()
    t0 = start.timestamp()
    slots = plan.send_slots
    for i, readings, chunks in tick_records(plan, start):
        if should_stop and should_stop():
            break
        for slot in range(slots):  # bed b sends in slot b % slots, at its plan.phase
            delay = t0 + i + plan.phase(slot) - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = [
                await producer.send(topic, _json(r), key=r["patient_id"].encode())
                for topic, records in (
                    (topics.VITALS, readings[slot::slots]),
                    (topics.ECG, chunks[slot::slots]),
                )
                for r in records
            ]
            await asyncio.gather(*sent)
        late = time.time() - (t0 + i + plan.phase(slots - 1))
        stats.max_send_delay_s = max(stats.max_send_delay_s, late)
        stats.late_ticks += late > 1.0
        stats.ticks += 1
        stats.vitals += len(readings)
        stats.ecg += len(chunks)
        if on_tick:
            on_tick(i, stats)
    return stats


def _json(value: dict[str, Any]) -> bytes:
    """The record as compact JSON: orjson, the same bytes as ``json.dumps(value, separators=(",",
    ":"))`` for these records (str, int, float and lists of int) at a tenth of the CPU, which
    the simulator takes from the same two cores as the pipeline it loads."""
    return orjson.dumps(value, default=str)


def drive_process(
    beds: int, seconds: int, ecg_share: float, seed: int, prefix: str, send_slots: int = SEND_SLOTS
) -> None:
    """The simulator process (``python -m simulators.load BEDS SECONDS ECG_SHARE SEED PREFIX
    [SEND_SLOTS]``):
    build the plan, pick the start (the next whole second after it is built, plus one) and send
    it, writing JSON lines on stdout: ``{"start": posix_s}``, ``{"tick": i, "vitals": n,
    "ecg": n, "max_delay_s": s}`` per tick and ``{"done": stats}``."""
    from dataclasses import asdict

    from wardwatch.kafka_io import start_aio_producer

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    plan = load_plan(beds, seconds, ecg_share=ecg_share, seed=seed, prefix=prefix, send_slots=send_slots)

    def tick(i: int, s: DriveStats) -> None:
        say({"tick": i, "vitals": s.vitals, "ecg": s.ecg, "max_delay_s": s.max_send_delay_s})

    async def run() -> DriveStats:
        # aiokafka, not kafka-python: ~30 us of CPU a record instead of ~220 (stop 39), on the
        # cores the pipeline under test needs; idempotent, so a retry cannot reorder or repeat.
        # No linger: a slot's records are all queued before the sender runs, so they go in one
        # request anyway, and a linger would hold every slot that long (20 ms measured)
        producer = await start_aio_producer(enable_idempotence=True, linger_ms=0)
        try:
            for topic in ("vitals", "ecg"):
                await producer.partitions_for(topic)
            start = datetime.fromtimestamp(math.ceil(time.time()) + 1, UTC)
            say({"start": start.timestamp()})
            return await drive(plan, start, producer, on_tick=tick)
        finally:
            await producer.stop()

    stats = asyncio.run(run())
    say({"done": asdict(stats)})


__all__ = [
    "ECG_FS_HZ",
    "SEND_SLOTS",
    "DriveStats",
    "LoadPlan",
    "drive",
    "drive_process",
    "load_ecg_events",
    "load_plan",
    "record_end_s",
    "tick_records",
]


if __name__ == "__main__":
    _b, _s, _share, _seed, _prefix = sys.argv[1:6]
    _slots = int(sys.argv[6]) if len(sys.argv) > 6 else SEND_SLOTS
    drive_process(int(_b), int(_s), float(_share), int(_seed), _prefix, _slots)
