"""What a webhook delivery attempt's outcome means, and how long to wait before the next one.

Policy (the receiver's answer decides; the event's offset is committed only after ``delivered``
or after a ``refused`` event is dead-lettered):

==========================================  ===========  =====================================
outcome                                     verdict      why
==========================================  ===========  =====================================
HTTP 2xx                                    delivered    the receiver has it
HTTP 408 Request Timeout, 429 Too Many      retry        the receiver asks to be tried again
HTTP 400-499 otherwise                      refused      the receiver will never take this event
                                                         (bad signature, unknown route, ...):
                                                         dead letter with the reason, go on
HTTP 5xx, 1xx, 3xx (redirects not followed) retry        a server fault or a moved URL may be
                                                         fixed without losing events
timeout, connection refused/reset, DNS      retry        the receiver is down or slow
==========================================  ===========  =====================================

Backoff: exponential, ``base_s * factor ** (attempt - 1)`` capped at ``max_s``, with +/- ``jitter``
(a share of the delay, from a random number the caller passes in, so the policy stays pure) so
that many subscribers do not retry in step; a ``Retry-After`` the receiver sent (429/503) is
honoured up to ``max_s``. Retries go on for as long as it takes: an event is never dropped
because a receiver was down.

>>> verdict(200), verdict(503), verdict(429), verdict(404), verdict(None)
('delivered', 'retry', 'retry', 'refused', 'retry')
>>> p = RetryPolicy(base_s=0.5, factor=2.0, max_s=60.0, jitter=0.0)
>>> [p.delay_s(n) for n in (1, 2, 3, 8, 9)]
[0.5, 1.0, 2.0, 60.0, 60.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["delivered", "retry", "refused"]

#: 4xx answers that mean "try again later" rather than "never"
RETRYABLE_4XX = frozenset({408, 429})


def verdict(status: int | None) -> Verdict:
    """The verdict on one attempt: ``status`` is the HTTP status, or None when no answer came
    (timeout, connection refused or reset, name not resolved)."""
    if status is None:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        return "refused"
    return "retry"


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter."""

    base_s: float = 0.5
    factor: float = 2.0
    max_s: float = 60.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.factor < 1 or self.max_s < self.base_s or not 0 <= self.jitter < 1:
            raise ValueError("need base_s > 0, factor >= 1, max_s >= base_s and 0 <= jitter < 1")

    def delay_s(self, attempt: int, rand: float = 0.5, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 = the first attempt).

        ``rand`` in [0, 1) spreads the delay over ``[1 - jitter, 1 + jitter]`` of the nominal one
        (0.5: exactly nominal); ``retry_after_s`` (the receiver's ``Retry-After``) raises the
        delay to at least that, never above ``max_s``.
        """
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        # the exponent is capped so that a receiver down for days cannot overflow the float
        nominal = min(self.max_s, self.base_s * self.factor ** min(attempt - 1, 64))
        delay = min(self.max_s, nominal * (1.0 - self.jitter + 2.0 * self.jitter * rand))
        if retry_after_s is not None and retry_after_s > delay:
            delay = min(self.max_s, retry_after_s)
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds when given as a number of seconds (the HTTP-date form is
    ignored: the backoff applies).

    >>> parse_retry_after("7"), parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), parse_retry_after(None)
    (7.0, None, None)
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
