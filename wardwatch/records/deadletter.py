"""The dead-letter record: bad input with its reason and its original bytes, never lost.

Every agent and worker dead-letters through this one function (agents through
``streams.deadletter.deadletter_output``, which fills in the Faust event's partition and offset).
Readers de-duplicate by (``source_topic``, ``partition``, ``offset``): delivery is at least once.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from wardwatch.records.errors import InvalidRecord


def deadletter_record(
    reason: str | InvalidRecord,
    source_topic: str,
    raw: bytes | None,
    key: bytes | str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON record sent to ``deadletter``: why, where from, and the original bytes (base64).

    ``reason`` is an :class:`InvalidRecord` (its ``code`` and ``field`` are carried) or a reason
    string (a batch job's code such as ``corrupt_file``; then ``code`` is the text before any
    colon).

    Examples
    --------
    >>> r = deadletter_record(InvalidRecord("wrong_unit", "send temp_c", "temp_f"), "vitals",
    ...                       b'{"temp_f": 99}', "P1", 0, 42)
    >>> r["code"], r["field"], r["reason"], r["offset"]
    ('wrong_unit', 'temp_f', 'wrong_unit: send temp_c', 42)
    """
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
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
        "original_b64": base64.b64encode(raw or b"").decode(),
        "detail": detail or {},
        "at": datetime.now(UTC).isoformat(),
    }
