"""MLLP client side over python-hl7's asyncio streams: send one message, wait for its ACK.

Used by the HL7 device simulator (one connection per simulated monitor, kept open) and by the
ORU^R40 alert sender (``send_once``: one connection per attempt, a blocking call).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hl7.mllp import open_hl7_connection

from wardwatch.hl7.pcd01 import ack_code


class MLLPClient:
    """One MLLP connection; :meth:`request` sends a message and returns the ACK's text."""

    def __init__(self, host: str, port: int, timeout_s: float = 10.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._reader: Any = None
        self._writer: Any = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            open_hl7_connection(self.host, self.port, encoding="utf-8"), self.timeout_s
        )

    async def request(self, text: str) -> str:
        if self._writer is None:
            await self.connect()
        self._writer.writeblock(text.encode("utf-8"))
        await self._writer.drain()
        block = await asyncio.wait_for(self._reader.readblock(), self.timeout_s)
        return str(block.decode("utf-8", "replace"))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            self._reader = self._writer = None


async def _send_once(host: str, port: int, text: str, timeout_s: float) -> str:
    c = MLLPClient(host, port, timeout_s)
    try:
        return await c.request(text)
    finally:
        await c.close()


def send_once(host: str, port: int, text: str, timeout_s: float = 10.0) -> tuple[str | None, str]:
    """Send ``text`` on a new connection and wait for the ACK (blocking; never raises for a
    network failure). Returns ``(MSA-1 or None when no ACK came, detail)``."""
    try:
        answer = asyncio.run(_send_once(host, port, text, timeout_s))
    except TimeoutError:
        return None, "timeout"
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        return None, f"{type(e).__name__}: {e}"[:200]
    return ack_code(answer) or None, answer[:300]


def parse_hostport(value: str, default_port: int = 2575) -> tuple[str, int]:
    """``"HOST:PORT"`` (or ``"HOST"``) -> (host, port); ``ValueError`` when malformed.

    >>> parse_hostport("10.0.0.5:2576"), parse_hostport("pager")
    (('10.0.0.5', 2576), ('pager', 2575))
    """
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, str(default_port)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)
