"""Webhook signatures: how WardWatch signs each POST and how a receiver checks it.

The scheme follows Stripe's and GitHub's webhooks. Every request carries

``X-WardWatch-Timestamp``
    the signing time, whole POSIX seconds (UTC), e.g. ``1733371200``;
``X-WardWatch-Signature``
    ``v1=<hex>``, the lowercase hex HMAC-SHA256 of ``"<timestamp>.<raw body>"`` under the shared
    secret (the exact bytes received, before any JSON parsing). Several space- or comma-separated
    ``v1=`` values may appear while a secret is being rotated: one matching is enough;
``X-WardWatch-Event-Id``
    the alert event's ``event_id``: the same event re-sent (a retry, or a re-delivery after the
    subscriber restarted) carries the same id.

A receiver (1) recomputes the HMAC over the timestamp header, a dot and the raw body and compares
it in constant time; (2) rejects a timestamp more than ``tolerance_s`` (default 300 s) away from
its own clock, which bounds how long a captured request can be replayed; (3) de-duplicates by
event id, since delivery is at least once (a retry after a timeout the receiver did process is a
second copy, signed anew with a fresh timestamp). :func:`verify_headers` does (1) and (2).

>>> secret = b"s" * 32
>>> body = b'{"event_id":"e1"}'
>>> h = signed_headers(secret, body, now=1_733_371_200.4, event_id="e1")
>>> h["X-WardWatch-Timestamp"], h["X-WardWatch-Signature"][:3]
('1733371200', 'v1=')
>>> verify_headers(secret, body, h, now=1_733_371_260.0)
1733371200
>>> verify_headers(secret, body + b" ", h, now=1_733_371_260.0)
Traceback (most recent call last):
...
wardwatch.subscribers.signing.SignatureError: bad_signature: no signature matches the body
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-WardWatch-Timestamp"
SIGNATURE_HEADER = "X-WardWatch-Signature"
EVENT_ID_HEADER = "X-WardWatch-Event-Id"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300.0
MIN_SECRET_BYTES = 32

_SIG = re.compile(r"v1=([0-9a-fA-F]{64})")


class SignatureError(ValueError):
    """A request that does not verify; ``code`` is ``missing_header``, ``bad_timestamp``,
    ``stale`` or ``bad_signature`` (a receiver answers 400 or 401 and logs the code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """``"v1=<hex HMAC-SHA256 of '<timestamp>.<body>'>"``."""
    mac = hmac.new(secret, str(int(timestamp)).encode() + b"." + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(secret: bytes, body: bytes, now: float, event_id: str | None = None) -> dict[str, str]:
    """The signature headers of one POST of ``body`` signed at ``now`` (POSIX seconds)."""
    ts = int(now)
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body)}
    if event_id:
        headers[EVENT_ID_HEADER] = event_id
    return headers


def verify(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    signature_header: str | None,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> int:
    """Check one request; return its timestamp or raise :class:`SignatureError`.

    ``timestamp`` and ``signature_header`` are the header values as received, ``body`` the raw
    bytes, ``now`` the receiver's clock (POSIX seconds).
    """
    if not timestamp or not signature_header:
        raise SignatureError("missing_header", f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    if not timestamp.strip().isdigit():
        raise SignatureError("bad_timestamp", "the timestamp is not whole POSIX seconds")
    ts = int(timestamp.strip())
    if abs(now - ts) > tolerance_s:
        raise SignatureError("stale", f"timestamp {now - ts:.0f}s from now (tolerance {tolerance_s:.0f}s)")
    expected = signature(secret, ts, body).split("=", 1)[1]
    candidates = _SIG.findall(signature_header)
    if not any(hmac.compare_digest(expected, c.lower()) for c in candidates):
        raise SignatureError("bad_signature", "no signature matches the body")
    return ts


def verify_headers(
    secret: bytes,
    body: bytes,
    headers: Mapping[str, str],
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> int:
    """:func:`verify` with the values taken from ``headers`` (names compared case-insensitively,
    as HTTP does)."""
    lower = {k.lower(): v for k, v in headers.items()}
    return verify(
        secret,
        body,
        lower.get(TIMESTAMP_HEADER.lower()),
        lower.get(SIGNATURE_HEADER.lower()),
        now,
        tolerance_s,
    )
