"""Dead-letter records: bad input with its reason and its original bytes, never lost."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any


def deadletter_record(reason: str, source_topic: str, raw: bytes | None, key: bytes | str | None = None,
                      partition: int | None = None, offset: int | None = None,
                      detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON record sent to ``deadletter``: why, where from, and the original bytes (base64)."""
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    return {
        "reason": reason,
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "key": key,
        "original_b64": base64.b64encode(raw or b"").decode(),
        "detail": detail or {},
        "at": datetime.now(UTC).isoformat(),
    }


async def deadletter_event(event: Any, reason: str, source_topic: str, *, raw: bytes | None = None,
                           key: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Send the record behind a Faust ``event`` to ``deadletter`` (from inside an agent)."""
    from streams.topics import deadletter_topic

    msg = event.message
    await deadletter_topic.send(key=msg.key, value=deadletter_record(
        reason, source_topic, msg.value if raw is None else raw,
        msg.key if key is None else key, msg.partition, msg.offset, detail))
