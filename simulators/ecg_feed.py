"""Bedside ECG feeds: a signal per bed, cut into ~1 s wire-format chunks and played onto Kafka.

Shared by the record replay (:mod:`simulators.ecg_replay`) and the synthetic generator
(:mod:`simulators.ecg_synth`). Every message follows the wire format of
:mod:`wardwatch.records.ecg`; the key is the patient id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from wardwatch.logs import log_event
from wardwatch.records.ecg import ecg_chunk_dict

log = logging.getLogger("wardwatch.sim.ecg")


@dataclass
class BedFeed:
    """One bedside ECG feed.

    Attributes
    ----------
    signal_uv : numpy.ndarray
        int32 samples in microvolts, the whole feed.
    truth : list of (sample, label)
        Reference beats (AAMI class or MIT-BIH symbol), when known; not sent.
    lead2, signal2_uv
        An optional second lead (same length), sent in the same chunks.
    """

    patient_id: str
    bed: str
    fs_hz: float
    lead: str
    signal_uv: np.ndarray
    truth: list[tuple[int, str]] = field(default_factory=list)
    source: str = ""
    lead2: str | None = None
    signal2_uv: np.ndarray | None = None

    @property
    def duration_s(self) -> float:
        return self.signal_uv.size / self.fs_hz


def feed_chunks(
    feed: BedFeed, start: datetime, chunk_s: float = 1.0, seconds: float | None = None
) -> Iterator[dict[str, Any]]:
    """Cut one feed into wire-format chunk dicts.

    Parameters
    ----------
    start : datetime
        Device time of the first sample (timezone-aware).
    chunk_s : float
        Seconds per chunk.
    seconds : float, optional
        Stop after this many seconds of signal.

    Examples
    --------
    >>> from simulators.ecg_synth import synth_beds
    >>> feed = synth_beds(1, duration_s=3, seed=0)[0]
    >>> [c["seq"] for c in feed_chunks(feed, datetime(2026, 1, 1, tzinfo=UTC))]
    [0, 1, 2]
    """
    n = round(chunk_s * feed.fs_hz)
    total = feed.signal_uv.size
    if seconds is not None:
        total = min(total, round(seconds * feed.fs_hz))
    for seq, i0 in enumerate(range(0, total, n)):
        piece = feed.signal_uv[i0 : min(i0 + n, total)]
        piece2 = None if feed.signal2_uv is None else feed.signal2_uv[i0 : min(i0 + n, total)]
        ts = start + timedelta(seconds=i0 / feed.fs_hz)
        yield ecg_chunk_dict(
            feed.patient_id, feed.bed, ts, feed.fs_hz, seq, feed.lead, piece, lead2=feed.lead2, ecg2_uv=piece2
        )


@dataclass
class PlayStats:
    chunks: int = 0
    beds: int = 0
    signal_s: float = 0.0
    wall_s: float = 0.0


def play(
    feeds: Sequence[BedFeed],
    *,
    speed: float = 1.0,
    seconds: float | None = None,
    chunk_s: float = 1.0,
    start: datetime | None = None,
    producer: Any = None,
    topic: str | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PlayStats:
    """Send every feed's chunks to the ``ecg`` topic, all beds in step, paced by ``speed``.

    Parameters
    ----------
    speed : float
        1.0 = real time, 10 = ten seconds of signal per wall second; ``0`` or ``inf`` = as fast
        as the broker takes them.
    seconds : float, optional
        Seconds of signal per bed (default: the whole feed).
    start : datetime, optional
        Device time of the first sample (default: now, UTC).
    producer : kafka.KafkaProducer, optional
        Default: :func:`wardwatch.kafka_io.make_producer`.
    should_stop : callable, optional
        Checked before every round of chunks; ``True`` ends the feeds there.
    """
    from wardwatch import topics
    from wardwatch.kafka_io import make_producer, send

    topic = topic or topics.ECG
    own = producer is None
    producer = producer or make_producer(linger_ms=20)
    start = start or datetime.now(UTC)
    iters = [feed_chunks(f, start, chunk_s, seconds) for f in feeds]
    stats = PlayStats(beds=len(feeds))
    fast = not speed or speed == float("inf")
    t_wall0 = time.monotonic()
    k = 0
    stopped = False
    try:
        while iters:
            if should_stop is not None and should_stop():
                stopped = True
                break
            if not fast:
                delay = t_wall0 + k * chunk_s / speed - time.monotonic()
                if delay > 0:
                    producer.flush()
                    time.sleep(delay)
            alive = []
            for it in iters:
                msg = next(it, None)
                if msg is None:
                    continue
                send(producer, topic, msg["patient_id"], msg)
                stats.chunks += 1
                alive.append(it)
            iters = alive
            k += 1
        producer.flush()
    finally:
        if own:
            producer.close()
    # a finished run's last round found every feed exhausted; a stopped one sent all its rounds
    stats.signal_s = (k if stopped else max(k - 1, 0)) * chunk_s
    stats.wall_s = time.monotonic() - t_wall0
    log_event(
        log,
        "ecg feeds played",
        beds=stats.beds,
        chunks=stats.chunks,
        signal_s=round(stats.signal_s, 1),
        wall_s=round(stats.wall_s, 2),
    )
    return stats


__all__ = ["BedFeed", "PlayStats", "feed_chunks", "play"]
