"""Batched InfluxDB writes that never drop a point silently.

``InfluxWriter.write(points)`` retries transient failures (connection refused, timeouts, HTTP
429/5xx) with capped exponential backoff for as long as it takes: the sink agent does not return
from a batch, so Kafka offsets are not committed and nothing is lost if the worker dies meanwhile
(on restart the batch is re-read; InfluxDB overwrites identical points, so a replay is
idempotent). A batch the server rejects as bad data (HTTP 400/422, e.g. a field type conflict) is
split and retried point by point; only the points rejected on their own are returned, for the
caller to dead-letter with the server's reason.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from influxdb_client import WritePrecision

if TYPE_CHECKING:
    from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from streams.metrics import metrics
from wardwatch.logs import log_event
from wardwatch.records.errors import InvalidRecord
from wardwatch.settings import Settings

log = logging.getLogger("wardwatch.sink")

PERMANENT = (400, 413, 422)
#: the server refuses the credentials: not the points' fault, so they are kept and retried
REFUSED = (401, 403)


# InfluxDB line protocol escaping (docs.influxdata.com, "Line protocol", special characters), as
# influxdb_client's ``Point.to_line_protocol`` does it (tests/unit/test_influx_line.py compares
# the two on generated points)
_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESCAPE_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


#: escaped keys and tag values by their raw text: the same few names and patient ids come again
#: and again, and ``str.translate`` is most of a short string's cost (emptied when it is full)
_ESCAPED: dict[str, str] = {}
_ESCAPED_MAX = 100_000


def _key(k: Any) -> str:
    out = _ESCAPED.get(k) if isinstance(k, str) else None
    if out is None:
        out = str(k).translate(_ESCAPE_KEY)
        if isinstance(k, str):
            if len(_ESCAPED) >= _ESCAPED_MAX:
                _ESCAPED.clear()
            _ESCAPED[k] = out
    return out


def _tag_value(v: Any) -> str:
    out = _key(v)
    return out + " " if out.endswith("\\") else out


def _field(k: str, v: Any) -> str | None:
    """``key=value`` with the value typed as line protocol wants it; None: a value InfluxDB
    cannot store (None, NaN, infinity), left out as the client library leaves it out."""
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        text = repr(v)
        return f"{_key(k)}={text[:-2] if text.endswith('.0') else text}"
    if isinstance(v, bool):
        return f"{_key(k)}={'true' if v else 'false'}"
    if isinstance(v, int):
        return f"{_key(k)}={v}i"
    if isinstance(v, str):
        return f'{_key(k)}="{v.translate(_ESCAPE_STRING)}"'
    if v is None:
        return None
    raise ValueError(f'Type: "{type(v)}" of field: "{k}" is not supported.')


#: the range of an InfluxDB timestamp (signed 64-bit nanoseconds since the epoch)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def to_line(p: dict[str, Any]) -> str:
    """One point dict (see :func:`wardwatch.records.points.point`) as line protocol; raises
    ``ValueError``/``TypeError``/``KeyError`` for anything that is not such a point.

    >>> to_line({"measurement": "vitals", "tags": {"patient": "P 1", "bed": "B1"},
    ...          "fields": {"hr_bpm": 72.0, "note": 'a "b"', "n": 3}, "time_ns": 5})
    'vitals,bed=B1,patient=P\\\\ 1 hr_bpm=72,n=3i,note="a \\\\"b\\\\"" 5'
    """
    if (
        not isinstance(p, dict)
        or not isinstance(p.get("tags", {}), dict)
        or not isinstance(p["fields"], dict)
    ):
        raise TypeError("a point is an object with 'measurement', 'time_ns', 'fields' and 'tags' objects")
    if not isinstance(p["measurement"], str) or not p["measurement"]:
        raise ValueError("a point's measurement is a non-empty string")
    measurement = p["measurement"].translate(_ESCAPE_MEASUREMENT)
    if measurement.startswith("#"):
        raise ValueError("a point's measurement must not start with '#' (a line-protocol comment)")
    try:
        time_ns = int(p["time_ns"])
    except OverflowError:  # an infinite float ("time_ns": Infinity in the JSON)
        raise ValueError("a point's time_ns is not a finite number") from None
    if not _INT64_MIN <= time_ns <= _INT64_MAX:  # what InfluxDB stores a time in
        raise ValueError(f"a point's time_ns {time_ns} is outside InfluxDB's 64-bit range")
    tags = ""
    for k, v in sorted(p.get("tags", {}).items()):
        if v is None:
            continue
        key, value = _key(k), _tag_value(v)
        if key and value:
            tags += f",{key}={value}"
    fields = [f for f in (_field(k, v) for k, v in sorted(p["fields"].items())) if f is not None]
    if not fields:
        raise ValueError(f"point {p.get('measurement')!r} has no writable field")
    return f"{measurement}{tags} {','.join(fields)} {time_ns}"


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


class InfluxWriter:
    def __init__(
        self,
        settings: Settings,
        *,
        max_backoff_s: float = 30.0,
        post: Callable[[str], Awaitable[None]] | None = None,
        on_refused: Callable[[int | None], Awaitable[None]] | None = None,
    ) -> None:
        self.s = settings
        self.max_backoff_s = max_backoff_s
        self._post = post
        self._client: InfluxDBClientAsync | None = None
        #: ``on_refused(status)`` when InfluxDB starts refusing the sink's credentials (401/403),
        #: ``on_refused(None)`` when a write succeeds again: the technical alarm's edges
        self._on_refused = on_refused
        self.refused: int | None = None

    async def _post_lines(self, body: str) -> None:
        if self._post is not None:
            return await self._post(body)
        if self._client is None:
            from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

            self._client = InfluxDBClientAsync(
                url=self.s.influx_url,
                token=self.s.influx_token_value(),
                org=self.s.influx_org,
                timeout=30_000,
            )
        await self._client.write_api().write(
            bucket=self.s.influx_bucket,
            org=self.s.influx_org,
            record=body,
            # WritePrecision.NS is a str constant of that class
            write_precision=WritePrecision.NS,  # type: ignore[arg-type]
        )

    async def _write_until_done(self, body: str) -> None:
        """Post ``body``; retry transient failures forever; re-raise permanent ones."""
        backoff = 0.5
        while True:
            try:
                await self._post_lines(body)
                if self.refused is not None:
                    await self._refusal(None)
                return
            except Exception as e:  # network errors have no status; HTTP errors do
                status = _status(e)
                if status in PERMANENT:
                    raise
                if status in REFUSED and self.refused is None:
                    await self._refusal(status)
                if status in REFUSED:  # a replaced token file is read again on the next try
                    await self.close()
                metrics.incr("influx_retries")
                log_event(
                    log,
                    "influx write failed, retrying",
                    logging.WARNING,
                    error=type(e).__name__,
                    status=status,
                    backoff_s=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)

    async def _refusal(self, status: int | None) -> None:
        """The edges of "storage unavailable": a clear log line and the callback (the sink agent
        raises or clears a technical alarm); the points are held and retried meanwhile."""
        self.refused = status
        if status is not None:
            log_event(
                log,
                "InfluxDB refused the sink's credentials: storage unavailable, points held and retried",
                logging.ERROR,
                status=status,
                url=self.s.influx_url,
            )
        else:
            log_event(log, "InfluxDB accepts the sink's writes again: storage available")
        if self._on_refused is not None:
            await self._on_refused(status)

    async def write(self, points: list[dict[str, Any]]) -> list[tuple[dict[str, Any], InvalidRecord]]:
        """Write ``points``; return ``[(point, why)]`` for points that are not valid points or that
        InfluxDB rejected as bad data."""
        rejected: list[tuple[dict[str, Any], InvalidRecord]] = []
        lines: list[tuple[dict[str, Any], str]] = []
        for p in points:
            try:
                lines.append((p, to_line(p)))
            except (KeyError, TypeError, ValueError) as e:
                rejected.append((p, InvalidRecord("malformed", f"not a valid point: {e}")))
        if not lines:
            return rejected
        try:
            await self._write_until_done("\n".join(line for _, line in lines))
        except Exception as e:  # noqa: BLE001 - any failed batch is retried point by point
            log_event(
                log,
                "influx rejected batch, writing point by point",
                logging.WARNING,
                status=_status(e),
                points=len(lines),
            )
            for p, line in lines:
                try:
                    await self._write_until_done(line)
                except Exception as e1:  # noqa: BLE001 - the point is dead-lettered with its error
                    rejected.append(
                        (
                            p,
                            InvalidRecord(
                                "rejected",
                                f"InfluxDB rejected the point (HTTP {_status(e1)}): {str(e1)[:300]}",
                            ),
                        )
                    )
        return rejected

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
