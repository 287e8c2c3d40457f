"""The alert subscribers' delivery loop, whatever the transport (HTTP webhook, HL7 MLLP, ...).

One subscriber is one process in a Kafka consumer group of its own, reading ``alerts``. Per event,
in partition order:

1. an event the filters (``priorities``, ``beds``) leave out is passed over;
2. otherwise the transport makes an attempt (:meth:`Transport.attempt`) whose :class:`Outcome`
   decides (:mod:`wardwatch.subscribers.retry` verdicts): ``delivered``; ``retry`` with capped
   exponential backoff for as long as it takes; ``refused``: the event goes to ``deadletter``
   (code ``rejected``, with the receiver's answer) and the subscriber goes on. A record on
   ``alerts`` that is not a JSON object goes there too (code ``malformed``);
3. only then is the consumer offset past this event committed.

Nothing is lost across restarts or crashes: an event not delivered is read again by the next run
(at least once). While a receiver fails, later events of that partition wait behind the failing
one, so alert order per patient is kept.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from wardwatch import topics
from wardwatch.kafka_io import make_consumer, make_producer, never_sendable, send
from wardwatch.logs import log_event
from wardwatch.records.deadletter import KEEP_WHEN_TOO_LARGE, deadletter_record
from wardwatch.records.errors import InvalidRecord
from wardwatch.settings import get_settings
from wardwatch.subscribers.retry import RetryPolicy, Verdict

log = logging.getLogger("wardwatch.subscribers")

#: Exit status when Kafka cannot be reached (sysexits.h EX_UNAVAILABLE).
EXIT_KAFKA_UNREACHABLE = 69


class KafkaUnavailable(RuntimeError):
    """No Kafka broker answered at the configured bootstrap servers."""


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
class Outcome:
    """One attempt's outcome: the verdict, and for logs and dead letters the receiver's answer
    (``answer``: e.g. ``"HTTP 422"`` or ``"ACK AE"``; ``status``: its code), an ``error`` kind when
    no answer came, a ``Retry-After`` and the start of the answer's text."""

    verdict: Verdict
    status: int | str | None = None
    error: str | None = None
    retry_after_s: float | None = None
    detail: str = ""
    answer: str = ""


class OutcomeLike(Protocol):
    """What the loop reads of an attempt's outcome (:class:`Outcome` or a transport's own record
    with the same attributes, so a transport need not import this module)."""

    @property
    def verdict(self) -> str: ...
    @property
    def status(self) -> int | str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def retry_after_s(self) -> float | None: ...
    @property
    def detail(self) -> str: ...
    @property
    def answer(self) -> str: ...


class Transport(Protocol):
    """Delivers one event once; never raises for a network or receiver failure."""

    name: str  # log prefix and the dead letter's ``subscriber``, e.g. "webhook", "hl7"
    host: str  # the receiver, for logs (no credentials)

    def attempt(self, event_id: str, body: bytes, event: Mapping[str, Any], n: int) -> OutcomeLike: ...


class LoopConfig(Protocol):
    """What the loop needs of a subscriber's configuration."""

    @property
    def group_id(self) -> str: ...
    @property
    def priorities(self) -> frozenset[str]: ...
    @property
    def beds(self) -> frozenset[str]: ...
    @property
    def policy(self) -> RetryPolicy: ...
    @property
    def from_beginning(self) -> bool: ...
    @property
    def connect_timeout_s(self) -> float: ...


PRIORITIES = frozenset({"high", "medium", "low"})


def split_values(values: list[str] | str | None) -> frozenset[str]:
    """``["high,medium", "low"]`` or ``"high,medium"`` -> ``{"high", "medium", "low"}``."""
    if not values:
        return frozenset()
    items = [values] if isinstance(values, str) else values
    return frozenset(v.strip() for item in items for v in item.split(",") if v.strip())


@dataclass(frozen=True)
class DeliveryConfig:
    """A :class:`LoopConfig` for subscribers that need nothing more (e.g. the HL7 alert sender)."""

    group_id: str
    priorities: frozenset[str] = frozenset()
    beds: frozenset[str] = frozenset()
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    from_beginning: bool = False
    connect_timeout_s: float = 10.0


def loop_config(
    group_id: str,
    priority: list[str] | str | None = None,
    beds: list[str] | str | None = None,
    *,
    from_beginning: bool = False,
    timeout_s: float = 10.0,
    backoff_s: float = 0.5,
    max_backoff_s: float = 60.0,
    connect_timeout_s: float = 10.0,
) -> DeliveryConfig:
    """A subscriber's shared options, checked (``ValueError`` with a clear message); ``timeout_s``
    is the transport's, only checked here."""
    priorities = split_values(priority)
    unknown = priorities - PRIORITIES
    if unknown:
        raise ValueError(f"unknown priority {sorted(unknown)}; valid: high, medium, low")
    if timeout_s <= 0 or connect_timeout_s <= 0:
        raise ValueError("timeouts must be positive")
    return DeliveryConfig(
        group_id=group_id,
        priorities=priorities,
        beds=split_values(beds),
        policy=RetryPolicy(base_s=backoff_s, max_s=max(max_backoff_s, backoff_s)),
        from_beginning=from_beginning,
        connect_timeout_s=connect_timeout_s,
    )


class _Listener(ConsumerRebalanceListener):
    def __init__(self, sub: DeliveryLoop) -> None:
        self.sub = sub

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.sub.rebalanced = True

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.sub.rebalanced = True
        log_event(log, f"{self.sub.name}.assigned", partitions=len(assigned), group=self.sub.cfg.group_id)


class DeliveryLoop:
    """The delivery loop; :meth:`run` until :meth:`stop`. ``transport`` makes one attempt."""

    def __init__(
        self,
        cfg: LoopConfig,
        transport: Transport,
        *,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.cfg = cfg
        self.transport = transport
        self.name = transport.name
        self._rand = rand
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
        log_event(log, f"{self.name}.started", group=self.cfg.group_id, host=self.transport.host)
        try:
            while not self._stop.is_set():
                batch = c.poll(timeout_ms=500)
                self.rebalanced = False  # records returned by this poll belong to the new assignment
                self._handle_batch(batch)
        except KafkaError as e:
            raise KafkaUnavailable(f"lost Kafka while delivering ({type(e).__name__}: {e})") from e
        finally:
            self.close()
            log_event(log, f"{self.name}.stopped", group=self.cfg.group_id, **self.counts)
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
        outcome = self._deliver(event_id, m.value, event)
        if outcome is None:
            return "abandoned"
        if outcome.verdict == "delivered":
            self.counts["delivered"] += 1
            return "done"
        self.counts["refused"] += 1
        reason = f"rejected: {self.name} receiver answered {outcome.answer}"
        detail: dict[str, Any] = {
            "subscriber": self.name,
            "group": self.cfg.group_id,
            "host": self.transport.host,
        }
        detail |= {"status": outcome.status, "event_id": event_id, "response": outcome.detail[:200]}
        return self._deadletter(m, reason, detail)

    def _deliver(self, event_id: str, body: bytes, event: Mapping[str, Any]) -> OutcomeLike | None:
        """Attempt until delivered or refused; None when stopped or rebalanced meanwhile."""
        n = 0
        while True:
            n += 1
            t0 = time.monotonic()
            a = self.transport.attempt(event_id, body, event, n)
            took = round(time.monotonic() - t0, 3)
            if a.verdict != "retry":
                log_event(
                    log,
                    f"{self.name}.{a.verdict}",
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
                f"{self.name}.retry",
                logging.WARNING,
                event_id=event_id,
                status=a.status,
                error=a.error,
                attempt=n,
                delay_s=round(delay, 2),
                host=self.transport.host,
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
                    self._producer = make_producer(max_request_size=topics.DEADLETTER_MAX_BYTES)
                send(self._producer, topics.DEADLETTER, key, rec).get(timeout=30)
                log_event(log, f"{self.name}.deadletter", logging.WARNING, code=rec["code"], offset=m.offset)
                return "done"
            except KafkaError as e:
                if never_sendable(e) and "original_truncated" not in rec:
                    # the deadletter topic is smaller than DEADLETTER_MAX_BYTES: the record's head
                    # (it stays whole on its own topic), not a partition held by a retry forever
                    rec = deadletter_record(
                        reason, m.topic, m.value, m.key, m.partition, m.offset, detail, KEEP_WHEN_TOO_LARGE
                    )
                    continue
                delay = self.cfg.policy.delay_s(n, self._rand())
                log_event(log, f"{self.name}.deadletter_retry", logging.WARNING, error=type(e).__name__)
                if not self._wait(delay):
                    return "abandoned"

    def _commit(self, tp: TopicPartition, offset: int) -> None:
        c = self._consumer
        assert c is not None
        try:
            c.commit({tp: OffsetAndMetadata(offset, "", -1)})
        except CommitFailedError as e:  # the group moved on: the new owner reads from the last commit
            log_event(log, f"{self.name}.commit_failed", logging.WARNING, error=str(e)[:200])
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


def run_loop(loop: DeliveryLoop) -> dict[str, int]:
    """Run one subscriber in this process until SIGTERM or SIGINT (the attempt under way ends,
    its event stays uncommitted). Raises :class:`KafkaUnavailable`."""
    import signal

    signal.signal(signal.SIGTERM, loop.stop)
    signal.signal(signal.SIGINT, loop.stop)
    loop.connect()
    return loop.run()
