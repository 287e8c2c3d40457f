"""``wardwatch simulate --hl7 HOST:PORT``: the synthetic ward (:mod:`simulators.vitals`) as a set of
bedside monitors speaking PCD-01: one ORU^R01 per reading over MLLP, each waiting for its ACK.

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
from typing import Any

from simulators.vitals import SimPatient, ward_readings
from wardwatch.hl7.build import build_oru_r01
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

    async def send(self, reading: dict[str, Any], device: str) -> None:
        self.n += 1
        text = build_oru_r01(reading, f"{device}-{self.n}", device=device)
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
                    await s.send(r, f"MON-{r['bed']}")

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
