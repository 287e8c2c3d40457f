"""``wardwatch alerts webhook``: every alert event, POSTed as signed JSON to one HTTP receiver.

One subscriber is one process in a Kafka consumer group of its own (default
``wardwatch-webhook-<hash of the URL>``, or ``--group``). Consumer groups read ``alerts``
independently, so a receiver that is slow or down delays only its own subscriber: the stream
worker, ``alerts tail``, the web station and every other webhook go on as before.

Per event, in partition order:

1. an event the filters (``--priority``, ``--bed``) leave out is passed over;
2. otherwise its bytes, exactly as they are on ``alerts``, are POSTed with the signature headers
   of :mod:`wardwatch.subscribers.signing` (signed anew for every attempt);
3. the answer decides (:mod:`wardwatch.subscribers.retry`): 2xx delivered; 408/429/5xx, a timeout
   or a refused connection are retried with capped exponential backoff for as long as it takes;
   any other 4xx is a permanent refusal: the event goes to ``deadletter`` (code ``rejected``,
   with the status and the start of the answer) and the subscriber goes on; a record on
   ``alerts`` that is not a JSON object goes there too (code ``malformed``);
4. only then is the consumer offset past this event committed.

So nothing is lost across restarts or crashes: an event whose 2xx never came is read again by the
next run. Delivery is at least once: a receiver that processed a request but whose 2xx was lost
(timeout, crash before the commit) sees the event again with the same ``X-WardWatch-Event-Id``, so
receivers de-duplicate by it. While a receiver is failing, later events of that partition wait
behind the failing one (alert order per patient is kept).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from wardwatch.subscribers.delivery import (
    EXIT_KAFKA_UNREACHABLE,
    PRIORITIES,
    DeliveryLoop,
    KafkaUnavailable,
    Outcome,
    loop_config,
    run_loop,
    split_values,
    wants,
)
from wardwatch.subscribers.retry import RetryPolicy, Verdict, parse_retry_after, verdict
from wardwatch.subscribers.signing import MIN_SECRET_BYTES, signed_headers

log = logging.getLogger("wardwatch.webhook")

USER_AGENT = "WardWatch-Webhook/1"

# the loop and its shared parts live in .delivery; re-exported here for the webhook's callers
__all__ = [
    "EXIT_KAFKA_UNREACHABLE",
    "PRIORITIES",
    "KafkaUnavailable",
    "WebhookSubscriber",
    "build_config",
    "split_values",
    "wants",
]


def read_secret_file(path: str) -> bytes:
    """The shared webhook secret from a file (surrounding whitespace stripped), at least
    :data:`~wardwatch.subscribers.signing.MIN_SECRET_BYTES` bytes; ``ValueError`` otherwise."""
    try:
        with open(path, "rb") as f:
            secret = f.read().strip()
    except OSError as e:
        raise ValueError(f"cannot read the webhook secret file {path}: {e.strerror}") from e
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the webhook secret in {path} must be at least {MIN_SECRET_BYTES} bytes")
    return secret


def default_group(url: str) -> str:
    """A consumer group of this receiver's own, stable across restarts."""
    return "wardwatch-webhook-" + hashlib.sha256(url.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Attempt:
    """One POST's outcome: the HTTP status, or None and what went wrong."""

    status: int | None
    error: str | None = None
    retry_after_s: float | None = None
    detail: str = ""

    @property
    def verdict(self) -> Verdict:
        return verdict(self.status)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (3xx, retried), never silently followed with the signed body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_once(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Attempt:
    """POST ``body`` once; never raises for a network or HTTP failure."""
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _opener.open(req, timeout=timeout_s) as resp:
            resp.read(4096)
            return Attempt(resp.status)
    except urllib.error.HTTPError as e:
        try:
            detail = e.read(300).decode("utf-8", "replace")
        except OSError:
            detail = ""
        return Attempt(e.code, None, parse_retry_after(e.headers.get("Retry-After")), detail)
    except urllib.error.URLError as e:
        reason = e.reason
        kind = "timeout" if isinstance(reason, TimeoutError) else "connection"
        return Attempt(None, kind, None, str(reason)[:200])
    except TimeoutError as e:
        return Attempt(None, "timeout", None, str(e)[:200])
    except (OSError, ValueError) as e:  # reset, broken pipe, http.client protocol errors
        return Attempt(None, "connection", None, f"{type(e).__name__}: {e}"[:200])


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: bytes = field(repr=False)
    group_id: str
    priorities: frozenset[str] = frozenset()
    beds: frozenset[str] = frozenset()
    timeout_s: float = 10.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    from_beginning: bool = False
    connect_timeout_s: float = 10.0

    @property
    def host(self) -> str:
        """The receiver's host:port, for logs (a URL may carry a token in its path or query)."""
        return urlsplit(self.url).netloc.rsplit("@", 1)[-1]


class WebhookTransport:
    """One signed POST per attempt (signed anew each time, with ``X-WardWatch-Attempt``)."""

    name = "webhook"

    def __init__(
        self,
        cfg: WebhookConfig,
        post: Callable[[str, bytes, Mapping[str, str], float], Attempt] = post_once,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self._post, self._clock = cfg, post, clock
        self.host = cfg.host

    def attempt(self, event_id: str, body: bytes, event: Mapping[str, Any], n: int) -> Outcome:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        headers |= signed_headers(self.cfg.secret, body, self._clock(), event_id)
        headers["X-WardWatch-Attempt"] = str(n)
        a = self._post(self.cfg.url, body, headers, self.cfg.timeout_s)
        return Outcome(a.verdict, a.status, a.error, a.retry_after_s, a.detail, f"HTTP {a.status}")


class WebhookSubscriber(DeliveryLoop):
    """The webhook subscriber: the shared delivery loop (:mod:`.delivery`) over HTTP. ``post``
    and ``clock`` are the real ones by default (tests of the loop use a real receiver)."""

    def __init__(
        self,
        cfg: WebhookConfig,
        *,
        post: Callable[[str, bytes, Mapping[str, str], float], Attempt] = post_once,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(cfg, WebhookTransport(cfg, post, clock), rand=rand)


def build_config(
    url: str,
    secret_file: str,
    priority: list[str] | str | None = None,
    beds: list[str] | str | None = None,
    group: str | None = None,
    *,
    from_beginning: bool = False,
    timeout_s: float = 10.0,
    backoff_s: float = 0.5,
    max_backoff_s: float = 60.0,
    connect_timeout_s: float = 10.0,
) -> WebhookConfig:
    """The subscriber's configuration from the command's options; ``ValueError`` with a clear
    message on bad input."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--url must be an http:// or https:// URL, got {url!r}")
    base = loop_config(
        group or default_group(url),
        priority,
        beds,
        from_beginning=from_beginning,
        timeout_s=timeout_s,
        backoff_s=backoff_s,
        max_backoff_s=max_backoff_s,
        connect_timeout_s=connect_timeout_s,
    )
    shared = {f.name: getattr(base, f.name) for f in fields(base)}
    return WebhookConfig(url=url, secret=read_secret_file(secret_file), timeout_s=timeout_s, **shared)


def run_subscriber(cfg: WebhookConfig) -> dict[str, int]:
    """Run one subscriber in this process until SIGTERM or SIGINT (the attempt under way ends,
    its event stays uncommitted). Raises :class:`KafkaUnavailable`."""
    return run_loop(WebhookSubscriber(cfg))
