"""Dead-letter the record behind a Faust event (the record itself: wardwatch.records.deadletter).

Inside the worker a dead letter goes out with the agent's other outputs through
:func:`streams.delivery.publish` (:func:`deadletter_event` for one), which returns only once the
broker has acknowledged it: the agent acknowledges the bad input after that, so a commit never
passes a record whose dead letter is still in a client buffer or failed to arrive (issue #25).
"""

from __future__ import annotations

from typing import Any

from wardwatch.records.deadletter import deadletter_record
from wardwatch.records.errors import InvalidRecord


def deadletter_output(
    event: Any,
    reason: str | InvalidRecord,
    source_topic: str,
    *,
    raw: bytes | None = None,
    key: str | None = None,
    detail: dict[str, Any] | None = None,
    keep_bytes: int | None = None,
) -> tuple[Any, bytes | None, dict[str, Any]]:
    """The ``(topic, key, record)`` output that dead-letters the message behind a Faust
    ``event`` (its bytes, partition and offset, unless ``raw`` or ``key`` say otherwise), for
    :func:`streams.delivery.publish` with the agent's other outputs."""
    from streams.topics import deadletter_topic

    msg = event.message
    return (
        deadletter_topic,
        msg.key,
        deadletter_record(
            reason,
            source_topic,
            msg.value if raw is None else raw,
            msg.key if key is None else key,
            msg.partition,
            msg.offset,
            detail,
            keep_bytes,
        ),
    )


async def deadletter_event(
    event: Any,
    reason: str | InvalidRecord,
    source_topic: str,
    *,
    raw: bytes | None = None,
    key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Dead-letter the record behind a Faust ``event`` (from inside an agent), confirmed."""
    from streams.delivery import publish

    await publish([deadletter_output(event, reason, source_topic, raw=raw, key=key, detail=detail)])
