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
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from wardwatch import topics
from wardwatch.kafka_io import make_consumer, make_producer, send
from wardwatch.logs import log_event
from wardwatch.records.deadletter import deadletter_record
from wardwatch.records.errors import InvalidRecord
from wardwatch.settings import get_settings
from wardwatch.subscribers.retry import RetryPolicy, Verdict, parse_retry_after, verdict
from wardwatch.subscribers.signing import MIN_SECRET_BYTES, signed_headers

log = logging.getLogger("wardwatch.webhook")

USER_AGENT = "WardWatch-Webhook/1"
#: Exit status when Kafka cannot be reached (sysexits.h EX_UNAVAILABLE).
EXIT_KAFKA_UNREACHABLE = 69


class KafkaUnavailable(RuntimeError):
    """No Kafka broker answered at the configured bootstrap servers."""


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


def wants(event: Mapping[str, Any], priorities: frozenset[str], beds: frozenset[str]) -> bool:
    """Whether the filters let ``event`` through (an empty set lets everything through).

    >>> wants({"priority": "high", "bed": "3"}, frozenset({"high"}), frozenset())
    True
    >>> wants({"priority": "low", "bed": "3"}, frozenset({"high", "medium"}), frozenset())
    False
    """
    if priorities and str(event.get("priority")) not in priorities:
        return False
    return not beds or str(event.get("bed")) in beds


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


class _Listener(ConsumerRebalanceListener):
    def __init__(self, sub: WebhookSubscriber) -> None:
        self.sub = sub

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.sub.rebalanced = True

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.sub.rebalanced = True
        log_event(log, "webhook.assigned", partitions=len(assigned), group=self.sub.cfg.group_id)


class WebhookSubscriber:
    """The delivery loop; :meth:`run` until :meth:`stop`. ``post`` and ``clock`` are the real
    ones by default (tests of the loop use a real receiver)."""

    def __init__(
        self,
        cfg: WebhookConfig,
        *,
        post: Callable[[str, bytes, Mapping[str, str], float], Attempt] = post_once,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.cfg = cfg
        self._post, self._clock, self._rand = post, clock, rand
        self._stop = threading.Event()
        self.rebalanced = False
        self.counts = {"delivered": 0, "refused": 0, "malformed": 0, "skipped": 0, "retries": 0}
        self._consumer: KafkaConsumer | None = None
        self._producer: Any = None

    # ------------------------------------------------------------------ setup
    def connect(self) -> None:
        """Join the group; :class:`KafkaUnavailable` when no broker answers."""
        s = get_settings()
        try:
            self._consumer = make_consumer(
                [topics.ALERTS],
                self.cfg.group_id,
                listener=_Listener(self),
                auto_offset_reset="earliest" if self.cfg.from_beginning else "latest",
                bootstrap_timeout_ms=int(self.cfg.connect_timeout_s * 1000),
                max_poll_records=100,
                # how long a killed subscriber keeps its partitions, as for the stream worker
                session_timeout_ms=int(s.session_timeout_s * 1000),
                heartbeat_interval_ms=int(s.session_timeout_s * 1000 / 3),
            )
        except KafkaError as e:
            servers = ",".join(s.bootstrap_servers)
            raise KafkaUnavailable(
                f"cannot reach Kafka at {servers} within {self.cfg.connect_timeout_s:.0f}s "
                f"({type(e).__name__}); start it with `wardwatch services up` or set "
                "WARDWATCH_KAFKA_BOOTSTRAP"
            ) from e

    def stop(self, *_: Any) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
        if self._producer is not None:
            self._producer.close(timeout=10)

    # ------------------------------------------------------------------ loop
    def run(self) -> dict[str, int]:
        """Deliver until stopped; returns the counts. Raises :class:`KafkaUnavailable` when the
        broker goes away (nothing undelivered was committed: the next run takes it up)."""
        if self._consumer is None:
            self.connect()
        c = self._consumer
        assert c is not None
        log_event(log, "webhook.started", group=self.cfg.group_id, host=self.cfg.host)
        try:
            while not self._stop.is_set():
                batch = c.poll(timeout_ms=500)
                self.rebalanced = False  # records returned by this poll belong to the new assignment
                self._handle_batch(batch)
        except KafkaError as e:
            raise KafkaUnavailable(f"lost Kafka while delivering ({type(e).__name__}: {e})") from e
        finally:
            self.close()
            log_event(log, "webhook.stopped", group=self.cfg.group_id, **self.counts)
        return dict(self.counts)

    def _handle_batch(self, batch: Mapping[TopicPartition, list[Any]]) -> None:
        # next offset to handle, per partition of this batch
        pending = {tp: msgs[0].offset for tp, msgs in batch.items() if msgs}
        for tp, msgs in batch.items():
            skipped = False
            for m in msgs:
                outcome = "abandoned" if self._stop.is_set() or self.rebalanced else self._handle(m)
                if outcome == "abandoned":  # records passed over before it are read again
                    self._rewind(pending)
                    return
                pending[tp] = m.offset + 1
                skipped = outcome == "skipped"
                if not skipped:  # delivered or dead-lettered: commit past it now
                    self._commit(tp, pending[tp])
            if skipped:  # records the filters passed over: one commit for the run of them
                self._commit(tp, pending[tp])

    def _handle(self, m: Any) -> str:
        """Deliver, pass over or dead-letter one record: ``"done"``, ``"skipped"`` or
        ``"abandoned"`` (stopped or rebalanced before a 2xx or the dead letter)."""
        try:
            event = json.loads(m.value)
        except (TypeError, ValueError):
            event = None
        if not isinstance(event, dict):
            self.counts["malformed"] += 1
            why = InvalidRecord("malformed", "an alert event that is not a JSON object")
            return self._deadletter(m, why, {})
        if not wants(event, self.cfg.priorities, self.cfg.beds):
            self.counts["skipped"] += 1
            return "skipped"
        event_id = str(event.get("event_id") or f"{m.topic}-{m.partition}-{m.offset}")
        attempt = self._deliver(event_id, m.value)
        if attempt is None:
            return "abandoned"
        if attempt.verdict == "delivered":
            self.counts["delivered"] += 1
            return "done"
        self.counts["refused"] += 1
        reason = f"rejected: webhook receiver answered HTTP {attempt.status}"
        detail: dict[str, Any] = {"subscriber": "webhook", "group": self.cfg.group_id, "host": self.cfg.host}
        detail |= {"status": attempt.status, "event_id": event_id, "response": attempt.detail[:200]}
        return self._deadletter(m, reason, detail)

    def _deliver(self, event_id: str, body: bytes) -> Attempt | None:
        """POST until delivered or refused; None when stopped or rebalanced meanwhile."""
        n = 0
        while True:
            n += 1
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
            headers |= signed_headers(self.cfg.secret, body, self._clock(), event_id)
            headers["X-WardWatch-Attempt"] = str(n)
            t0 = time.monotonic()
            a = self._post(self.cfg.url, body, headers, self.cfg.timeout_s)
            took = round(time.monotonic() - t0, 3)
            if a.verdict != "retry":
                log_event(
                    log,
                    f"webhook.{a.verdict}",
                    logging.INFO if a.verdict == "delivered" else logging.WARNING,
                    event_id=event_id,
                    status=a.status,
                    attempt=n,
                    took_s=took,
                )
                return a
            delay = self.cfg.policy.delay_s(n, self._rand(), a.retry_after_s)
            self.counts["retries"] += 1
            log_event(
                log,
                "webhook.retry",
                logging.WARNING,
                event_id=event_id,
                status=a.status,
                error=a.error,
                attempt=n,
                delay_s=round(delay, 2),
                host=self.cfg.host,
            )
            if not self._wait(delay):
                return None

    def _wait(self, delay_s: float) -> bool:
        """Sleep between attempts while staying in the group; False when stopped or rebalanced."""
        c = self._consumer
        assert c is not None
        held = set(c.assignment())
        if held:
            c.pause(*held)
        got = c.poll(timeout_ms=0)  # heartbeats and rebalances; paused partitions return nothing
        for tp, msgs in got.items():  # defensive: never let the position skip a record
            c.seek(tp, msgs[0].offset)
        if self.rebalanced:
            return False
        if held:
            c.resume(*held)
        return not self._stop.wait(delay_s)

    def _deadletter(self, m: Any, reason: str | InvalidRecord, detail: dict[str, Any]) -> str:
        rec = deadletter_record(reason, m.topic, m.value, m.key, m.partition, m.offset, detail)
        key = m.key.decode("utf-8", "replace") if m.key else ""
        n = 0
        while True:
            n += 1
            try:
                if self._producer is None:
                    self._producer = make_producer()
                send(self._producer, topics.DEADLETTER, key, rec).get(timeout=30)
                log_event(log, "webhook.deadletter", logging.WARNING, code=rec["code"], offset=m.offset)
                return "done"
            except KafkaError as e:
                delay = self.cfg.policy.delay_s(n, self._rand())
                log_event(log, "webhook.deadletter_retry", logging.WARNING, error=type(e).__name__)
                if not self._wait(delay):
                    return "abandoned"

    def _commit(self, tp: TopicPartition, offset: int) -> None:
        c = self._consumer
        assert c is not None
        try:
            c.commit({tp: OffsetAndMetadata(offset, "", -1)})
        except CommitFailedError as e:  # the group moved on: the new owner reads from the last commit
            log_event(log, "webhook.commit_failed", logging.WARNING, error=str(e)[:200])
            self.rebalanced = True

    def _rewind(self, pending: Mapping[TopicPartition, int]) -> None:
        """Abandon the records held in this process: each partition still assigned goes back to
        its first record not handled, so none is skipped (a partition that moved is read by
        its new owner from the last commit)."""
        c = self._consumer
        assert c is not None
        held = c.assignment()
        for tp, offset in pending.items():
            if tp in held:
                c.seek(tp, offset)
        self.rebalanced = False


PRIORITIES = frozenset({"high", "medium", "low"})


def split_values(values: list[str] | str | None) -> frozenset[str]:
    """``["high,medium", "low"]`` or ``"high,medium"`` -> ``{"high", "medium", "low"}``."""
    if not values:
        return frozenset()
    items = [values] if isinstance(values, str) else values
    return frozenset(v.strip() for item in items for v in item.split(",") if v.strip())


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
    priorities = split_values(priority)
    unknown = priorities - PRIORITIES
    if unknown:
        raise ValueError(f"unknown priority {sorted(unknown)}; valid: high, medium, low")
    if timeout_s <= 0 or connect_timeout_s <= 0:
        raise ValueError("timeouts must be positive")
    return WebhookConfig(
        url=url,
        secret=read_secret_file(secret_file),
        group_id=group or default_group(url),
        priorities=priorities,
        beds=split_values(beds),
        timeout_s=timeout_s,
        policy=RetryPolicy(base_s=backoff_s, max_s=max(max_backoff_s, backoff_s)),
        from_beginning=from_beginning,
        connect_timeout_s=connect_timeout_s,
    )


def run_subscriber(cfg: WebhookConfig) -> dict[str, int]:
    """Run one subscriber in this process until SIGTERM or SIGINT (the attempt under way ends,
    its event stays uncommitted). Raises :class:`KafkaUnavailable`."""
    import signal

    sub = WebhookSubscriber(cfg)
    signal.signal(signal.SIGTERM, sub.stop)
    signal.signal(signal.SIGINT, sub.stop)
    sub.connect()
    return sub.run()
