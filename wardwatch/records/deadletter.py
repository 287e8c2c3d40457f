"""The dead-letter record: bad input with its reason and its original bytes, never lost.

Every agent and worker dead-letters through this one function (agents through
``streams.deadletter.deadletter_output``, which fills in the Faust event's partition and offset).
Readers de-duplicate by (``source_topic``, ``partition``, ``offset``): delivery is at least once.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from wardwatch.records.errors import InvalidRecord

#: what a dead letter keeps of its record when the broker refuses the whole one as too large
KEEP_WHEN_TOO_LARGE = 256 * 1024


def deadletter_record(
    reason: str | InvalidRecord,
    source_topic: str,
    raw: bytes | None,
    key: bytes | str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    detail: dict[str, Any] | None = None,
    keep_bytes: int | None = None,
) -> dict[str, Any]:
    """The JSON record sent to ``deadletter``: why, where from, and the original bytes (base64).

    ``keep_bytes`` is for a dead letter the broker refused as too large (the topic's
    ``max.message.bytes`` below :data:`wardwatch.topics.DEADLETTER_MAX_BYTES`): only the first
    ``keep_bytes`` of a longer original are carried, with ``original_truncated``,
    ``original_bytes`` and ``original_sha256``; the whole record is still on ``source_topic`` at
    ``partition`` and ``offset`` for as long as that topic keeps it (longer than ``deadletter``).

    ``reason`` is an :class:`InvalidRecord` (its ``code`` and ``field`` are carried) or a reason
    string (a batch job's code such as ``corrupt_file``; then ``code`` is the text before any
    colon).

    Examples
    --------
    >>> r = deadletter_record(InvalidRecord("wrong_unit", "send temp_c", "temp_f"), "vitals",
    ...                       b'{"temp_f": 99}', "P1", 0, 42)
    >>> r["code"], r["field"], r["reason"], r["offset"]
    ('wrong_unit', 'temp_f', 'wrong_unit: send temp_c', 42)
    >>> r = deadletter_record("undeliverable: too large", "vitals", b"x" * 10, keep_bytes=4)
    >>> base64.b64decode(r["original_b64"]), r["original_bytes"], r["original_truncated"]
    (b'xxxx', 10, True)
    """
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    raw = raw or b""
    cut = keep_bytes is not None and len(raw) > keep_bytes
    if isinstance(reason, InvalidRecord):
        text, code, field = reason.reason, reason.code, reason.field
    else:
        text, code, field = reason, reason.split(":", 1)[0], None
    return {
        "reason": text,
        "code": code,
        "field": field,
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "key": key,
        "original_b64": base64.b64encode(raw[:keep_bytes] if cut else raw).decode(),
        "detail": detail or {},
        "at": datetime.now(UTC).isoformat(),
    } | (
        {
            "original_truncated": True,
            "original_bytes": len(raw),
            "original_sha256": hashlib.sha256(raw).hexdigest(),
        }
        if cut
        else {}
    )
