"""Process-local pipeline counters (messages processed, rejected, written), reported to InfluxDB
as the ``pipeline`` measurement by a timer in ``streams/sinks/agents.py``. Counters are
per-process metrics, not patient state: losing them on restart loses nothing clinical."""

from __future__ import annotations

import socket
from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.host = socket.gethostname()

    def incr(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


metrics = Metrics()
