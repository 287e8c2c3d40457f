"""The station's live side: a Kafka reader that keeps the ward snapshot, and the browsers' feeds.

One background task reads ``alerts``, ``influx.points`` and ``ecg`` with a plain aiokafka
consumer of its own (no consumer group: every station sees every patient), folds each record into
the :class:`~wardwatch.web.snapshot.Ward` and puts the resulting updates on every connected
browser's queue as server-sent-event text. Alerts are read from :data:`ALERTS_LOOKBACK_S` back,
so alarms raised before the station started are shown; points from :data:`POINTS_LOOKBACK_S`
back (every bed's latest numbers); ECG from now on. A bed with no record for the workers'
``patient_idle_evict_h`` and no alarm shown is forgotten (:func:`ward_evict`).

A browser whose queue is full (a stalled tab) is dropped; its ``EventSource`` reconnects and
starts again from a fresh snapshot, so a slow client never holds the others back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from wardwatch import topics
from wardwatch.kafka_io import aio_client_config
from wardwatch.logs import log_event
from wardwatch.settings import Settings
from wardwatch.web.snapshot import Ward, coalesce, ward_apply, ward_evict, ward_view

log = logging.getLogger("wardwatch.web")

ALERTS_LOOKBACK_S = 12 * 3600.0
POINTS_LOOKBACK_S = 15 * 60.0
CLIENT_QUEUE = 2000
RETRY_S = 2.0
EVICT_EVERY_S = 60.0  #: how often beds idle for ``patient_idle_evict_h`` are forgotten


def sse(event: str, data: Any) -> str:
    """One server-sent event: ``event: NAME`` and its JSON ``data`` line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


class LiveWard:
    """The ward snapshot, the browsers following it, and the Kafka producer for their actions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ward = Ward()
        self.clients: set[asyncio.Queue[str | None]] = set()
        self.feed_ok = False
        self.records = 0
        self._producer: Any = None
        self._producer_lock = asyncio.Lock()

    # ------------------------------------------------------------------ browsers
    def subscribe(self) -> tuple[asyncio.Queue[str | None], str]:
        """A new browser's queue and the snapshot event it starts from."""
        q: asyncio.Queue[str | None] = asyncio.Queue(CLIENT_QUEUE)
        self.clients.add(q)
        return q, sse("snapshot", self.view())

    def unsubscribe(self, q: asyncio.Queue[str | None]) -> None:
        self.clients.discard(q)

    def view(self) -> dict[str, Any]:
        return {**ward_view(self.ward), "feed_ok": self.feed_ok}

    def broadcast(self, updates: list[dict[str, Any]]) -> None:
        texts = [sse(u["type"], u) for u in coalesce(updates)]
        for q in list(self.clients):
            try:
                for t in texts:
                    q.put_nowait(t)
            except asyncio.QueueFull:
                self.clients.discard(q)
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                q.put_nowait(None)  # tells the browser's stream to end; it reconnects

    def _set_feed(self, ok: bool) -> None:
        if ok != self.feed_ok:
            self.feed_ok = ok
            self.broadcast([{"type": "feed", "ok": ok}])

    # ------------------------------------------------------------------ Kafka in
    async def run(self) -> None:
        """Read Kafka into the snapshot until cancelled, reconnecting after any failure."""
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the station keeps showing what it has and retries
                log_event(log, "kafka feed failed; retrying", logging.WARNING, error=repr(e))
            self._set_feed(False)
            await asyncio.sleep(RETRY_S)

    async def _consume(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        from wardwatch.kafka_io import end_offsets

        names = [topics.ALERTS, topics.POINTS, topics.ECG]
        await asyncio.to_thread(topics.ensure_topics, (*names, topics.ALERTS_ACK), s=self.settings)
        parts = await asyncio.to_thread(end_offsets, names, self.settings)  # every partition
        tps = sorted(TopicPartition(tp.topic, tp.partition) for tp in parts)
        c = AIOKafkaConsumer(
            **aio_client_config(self.settings),
            enable_auto_commit=False,
            client_id="wardwatch-web",
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await c.start()
        try:
            c.assign(tps)
            await self._seek_start(c, tps)
            self._set_feed(True)
            log_event(log, "web station following kafka", partitions=len(tps))
            idle_s, next_evict = self.settings.patient_idle_evict_h * 3600.0, time.monotonic()
            while True:
                batch = await c.getmany(timeout_ms=250, max_records=5000)
                updates: list[dict[str, Any]] = []
                if idle_s > 0 and time.monotonic() >= next_evict:  # (0: never, as the workers)
                    next_evict = time.monotonic() + EVICT_EVERY_S
                    updates.extend(ward_evict(self.ward, time.time(), idle_s))
                for tp, msgs in batch.items():
                    for m in msgs:
                        try:
                            value = json.loads(m.value)
                        except (ValueError, TypeError):
                            continue
                        updates.extend(ward_apply(self.ward, tp.topic, value))
                        self.records += 1
                if updates:
                    self.broadcast(updates)
        finally:
            await c.stop()

    async def _seek_start(self, c: Any, tps: list[Any]) -> None:
        now_ms = int(time.time() * 1000)
        back = {topics.ALERTS: ALERTS_LOOKBACK_S, topics.POINTS: POINTS_LOOKBACK_S}
        want = {tp: now_ms - int(back[tp.topic] * 1000) for tp in tps if tp.topic in back}
        found = await c.offsets_for_times(want) if want else {}
        ends = await c.end_offsets(tps)
        for tp in tps:
            hit = found.get(tp)
            c.seek(tp, hit.offset if hit is not None else ends[tp])

    # ------------------------------------------------------------------ Kafka out
    async def send(self, topic: str, key: str, value: dict[str, Any]) -> None:
        """Send one record and wait until the broker has it (``acks=all``)."""
        from wardwatch.kafka_io import start_aio_producer

        async with self._producer_lock:
            if self._producer is None:
                self._producer = await start_aio_producer(
                    self.settings, client_id="wardwatch-web", request_timeout_ms=10_000
                )
        await self._producer.send_and_wait(
            topic, json.dumps(value, separators=(",", ":")).encode(), key=key.encode()
        )

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        for q in list(self.clients):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        self.clients.clear()
