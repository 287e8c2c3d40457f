"""Bedside monitors speaking PCD-01 over MLLP: one ORU^R01 per record, each waiting for its ACK.

- ``wardwatch simulate --hl7 HOST:PORT`` (:func:`run_hl7_feed`): the synthetic ward
  (:mod:`simulators.vitals`), one message per reading;
- ``wardwatch replay ecg --hl7 HOST:PORT`` / ``replay ecg-synth --hl7`` (:func:`run_hl7_ecg`): ECG
  feeds (:mod:`simulators.ecg_feed`: WFDB records or synthetic), one message per 1 s chunk, both
  leads in one MA when the feed has two (:func:`wardwatch.hl7.build.build_waveform_r01`), paced
  like the Kafka replay (all beds in step, ``speed`` seconds of signal per wall second).

Patients are spread over ``connections`` MLLP connections (patient i on connection i mod n) and
each connection sends its messages one after another, so every patient's readings arrive in
order; connections work concurrently. A message answered AE/AR is counted and logged, never
resent (the gateway has dead-lettered it); one without an ACK (timeout, connection lost) is sent
again on a new connection, as a device would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from simulators.ecg_feed import BedFeed, PlayStats, feed_chunks
from simulators.vitals import SimPatient, ward_readings
from wardwatch.hl7.build import build_oru_r01, build_waveform_r01
from wardwatch.hl7.mllp import MLLPClient
from wardwatch.hl7.pcd01 import ack_code
from wardwatch.logs import log_event

log = logging.getLogger("wardwatch.hl7.simulate")
#: How long a simulated monitor waits for an ACK before sending the message again.
ACK_TIMEOUT_S = 10.0


class _Sender:
    def __init__(self, host: str, port: int, timeout_s: float, counts: dict[str, int]) -> None:
        self.client = MLLPClient(host, port, timeout_s)
        self.counts = counts
        self.n = 0

    def control_id(self, device: str) -> str:
        self.n += 1
        return f"{device}-{self.n}"

    async def send(self, text: str) -> None:
        """Send one message until it is answered (AA, AE or AR); resent on a new connection
        when no ACK comes, up to 5 times, then counted ``lost``."""
        for attempt in range(1, 6):
            try:
                answer = await self.client.request(text)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as e:
                self.counts["resent"] += 1
                log_event(log, "hl7.sim.no_ack", logging.WARNING, attempt=attempt, error=type(e).__name__)
                await self.client.close()
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
                continue
            code = ack_code(answer) or "none"
            self.counts[code] = self.counts.get(code, 0) + 1
            if code != "AA":
                log_event(log, "hl7.sim.refused", logging.WARNING, ack=code, detail=answer[-200:])
            return
        self.counts["lost"] += 1


async def run_hl7_feed_async(
    patients: list[SimPatient],
    host: str,
    port: int,
    *,
    duration_s: float,
    speed: float = 1.0,
    interval_s: float = 1.0,
    seed: int = 7,
    realtime: bool = True,
    connections: int = 16,
    on_tick: Callable[[float, list[dict[str, Any]]], None] | None = None,
) -> dict[str, int]:
    """Send the ward's readings to an HL7 gateway; returns the ACK counts (``AA``, ``AE``, ...)."""
    counts = {"sent": 0, "AA": 0, "resent": 0, "lost": 0}
    n = max(1, min(connections, len(patients)))
    senders = [_Sender(host, port, ACK_TIMEOUT_S, counts) for _ in range(n)]
    t0 = time.monotonic()
    try:
        for wall, readings in ward_readings(
            patients, duration_s=duration_s, speed=speed, interval_s=interval_s, seed=seed
        ):
            if realtime:
                delay = t0 + wall - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            lanes: list[list[dict[str, Any]]] = [[] for _ in senders]
            for i, r in enumerate(readings):
                lanes[i % n].append(r)

            async def lane(s: _Sender, rs: list[dict[str, Any]]) -> None:
                for r in rs:
                    device = f"MON-{r['bed']}"
                    await s.send(build_oru_r01(r, s.control_id(device), device=device))

            await asyncio.gather(*(lane(s, rs) for s, rs in zip(senders, lanes, strict=True)))
            counts["sent"] += len(readings)
            if on_tick:
                on_tick(wall, readings)
    finally:
        for s in senders:
            await s.client.close()
    return counts


def run_hl7_feed(patients: list[SimPatient], host: str, port: int, **kwargs: Any) -> dict[str, int]:
    """:func:`run_hl7_feed_async` from synchronous code."""
    return asyncio.run(run_hl7_feed_async(patients, host, port, **kwargs))


async def run_hl7_ecg_async(
    feeds: list[BedFeed],
    host: str,
    port: int,
    *,
    speed: float = 1.0,
    seconds: float | None = None,
    chunk_s: float = 1.0,
    start: datetime | None = None,
    connections: int = 16,
) -> tuple[PlayStats, dict[str, int]]:
    """Send every feed's chunks to an HL7 gateway as PCD-01 waveform messages, all beds in step
    (round ``k`` at ``k * chunk_s / speed`` wall seconds; ``speed`` 0 or inf: as fast as the
    ACKs come). Bed i uses connection i mod ``connections``, so each bed's chunks arrive in
    order. Returns the play statistics and the ACK counts; ``OSError`` when the gateway cannot be
    reached at the start (later, a chunk without its ACK is resent, as a device would)."""
    counts = {"sent": 0, "AA": 0, "resent": 0, "lost": 0}
    n = max(1, min(connections, len(feeds)))
    senders = [_Sender(host, port, ACK_TIMEOUT_S, counts) for _ in range(n)]
    await senders[0].client.connect()  # no gateway there: OSError now, not a resend per chunk
    start = start or datetime.now(UTC)
    iters = [feed_chunks(f, start, chunk_s, seconds) for f in feeds]
    stats = PlayStats(beds=len(feeds))
    fast = not speed or speed == float("inf")
    t0 = time.monotonic()
    k = 0

    async def lane(s: _Sender, chunks: list[dict[str, Any]]) -> None:
        for c in chunks:
            device = f"MON-{c['bed']}"
            await s.send(build_waveform_r01(c, s.control_id(device), device=device))

    try:
        while True:
            if not fast:
                delay = t0 + k * chunk_s / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            lanes: list[list[dict[str, Any]]] = [[] for _ in senders]
            for i, it in enumerate(iters):
                c = next(it, None)
                if c is not None:
                    lanes[i % n].append(c)
            sent = sum(len(x) for x in lanes)
            if not sent:
                break
            await asyncio.gather(*(lane(s, cs) for s, cs in zip(senders, lanes, strict=True)))
            counts["sent"] += sent
            stats.chunks += sent
            k += 1
    finally:
        for s in senders:
            await s.client.close()
    stats.signal_s = k * chunk_s
    stats.wall_s = time.monotonic() - t0
    log_event(log, "hl7.sim.ecg_played", beds=stats.beds, chunks=stats.chunks, **counts)
    return stats, counts


def run_hl7_ecg(
    feeds: list[BedFeed], host: str, port: int, **kwargs: Any
) -> tuple[PlayStats, dict[str, int]]:
    """:func:`run_hl7_ecg_async` from synchronous code."""
    return asyncio.run(run_hl7_ecg_async(feeds, host, port, **kwargs))
