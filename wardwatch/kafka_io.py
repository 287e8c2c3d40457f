"""Plain Kafka producing and consuming for code outside the Faust worker (simulators, CLIs,
batch workers, tests). One way to do it: JSON values, UTF-8 keys, ``acks=all``."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from wardwatch.settings import Settings, get_settings


def client_config(s: Settings | None = None) -> dict[str, Any]:
    """Connection settings for a kafka-python client (producer, consumer, admin): the
    bootstrap servers and, for ``SASL_SSL``, the SCRAM user and the CA. Every client takes them
    from here, so turning security on is configuration only."""
    s = s or get_settings()
    cfg: dict[str, Any] = {"bootstrap_servers": s.bootstrap_servers}
    if s.kafka_security_protocol == "SASL_SSL":
        cfg.update(
            _sasl(s),
            ssl_cafile=str(s.kafka_ssl_cafile) if s.kafka_ssl_cafile else None,
            ssl_check_hostname=True,
        )
    return cfg


def _sasl(s: Settings) -> dict[str, Any]:
    """The SASL keys, named alike in kafka-python and aiokafka."""
    return {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": s.kafka_sasl_mechanism,
        "sasl_plain_username": s.kafka_username,
        "sasl_plain_password": s.kafka_password_value(),
    }


def ssl_context(s: Settings | None = None) -> ssl.SSLContext:
    """A client TLS context that trusts ``kafka_ssl_cafile`` (or the system CAs) and checks the
    broker's host name."""
    s = s or get_settings()
    return ssl.create_default_context(cafile=str(s.kafka_ssl_cafile) if s.kafka_ssl_cafile else None)


def aio_client_config(s: Settings | None = None) -> dict[str, Any]:
    """The same connection settings for an aiokafka client (the web station, subscribers)."""
    s = s or get_settings()
    cfg: dict[str, Any] = {"bootstrap_servers": s.bootstrap_servers}
    if s.kafka_security_protocol == "SASL_SSL":
        cfg.update(_sasl(s), ssl_context=ssl_context(s))
    return cfg


async def start_aio_producer(s: Settings | None = None, **overrides: Any) -> Any:
    """An aiokafka producer (``acks=all``, the connection settings of :func:`aio_client_config`),
    started; stopped again when it cannot start. The asyncio clients' one way to produce."""
    from aiokafka import AIOKafkaProducer

    p = AIOKafkaProducer(**{**aio_client_config(s), "acks": "all", **overrides})
    try:
        await p.start()
    except BaseException:
        await p.stop()
        raise
    return p


def never_sendable(error: BaseException | None) -> bool:
    """Whether a failed send can never succeed however often it is retried: the message is larger
    than the producer or the topic allows, or the broker calls it corrupt (kafka-python's or
    aiokafka's error, or an error wrapping one as its ``__cause__``, as Faust's
    ``ProducerSendError`` does), as against a broker that is away or busy. Retrying such a send
    holds the partition behind it forever.

    >>> from kafka import errors
    >>> never_sendable(errors.MessageSizeTooLargeError()), never_sendable(errors.KafkaTimeoutError())
    (True, False)
    """
    from aiokafka import errors as aio
    from kafka import errors

    permanent = (
        errors.MessageSizeTooLargeError,
        errors.RecordListTooLargeError,
        errors.CorruptRecordException,
        aio.MessageSizeTooLargeError,
        aio.RecordTooLargeError,
        aio.RecordListTooLargeError,
        aio.CorruptRecordException,
    )
    return error is not None and (isinstance(error, permanent) or isinstance(error.__cause__, permanent))


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def make_producer(**overrides: Any) -> KafkaProducer:
    """The idempotent producer: ``acks=all`` and ``enable_idempotence`` (the broker drops a
    retried batch it already has, so a retry after a lost acknowledgement, e.g. a broker killed
    mid-request, writes no duplicate), retried until ``delivery_timeout_ms`` (120 s) runs out,
    one request in flight (a retry cannot reorder). Set explicitly: kafka-python silently turns
    idempotence off when another setting conflicts with it; set, it raises instead."""
    s = get_settings()
    cfg: dict[str, Any] = dict(
        **client_config(s),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_in_flight_requests_per_connection=1,
        client_id="wardwatch",
    )
    cfg.update(overrides)
    return KafkaProducer(**cfg)


def make_consumer(topics: list[str], group_id: str, listener: Any = None, **overrides: Any) -> KafkaConsumer:
    """A consumer in ``group_id``, subscribed to ``topics`` (``listener``: a kafka-python
    ``ConsumerRebalanceListener``), that commits only when told to (``enable_auto_commit=False``):
    for a subscriber that must not commit past a record it has not handled. Raises
    ``kafka.errors.KafkaError`` (``KafkaTimeoutError``) when no broker answers within
    ``bootstrap_timeout_ms``."""
    s = get_settings()
    cfg: dict[str, Any] = dict(
        **client_config(s),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        client_id=group_id,
    )
    cfg.update(overrides)
    c = KafkaConsumer(**cfg)
    c.subscribe(topics, listener=listener)
    return c


def send(producer: KafkaProducer, topic: str, key: str, value: dict | bytes):
    """Send one record keyed by ``key`` (patient id or job id); JSON-encode dict values."""
    payload = value if isinstance(value, bytes) else json_bytes(value)
    return producer.send(topic, key=key.encode(), value=payload)


def end_offsets(topics: list[str], s: Settings | None = None) -> dict[TopicPartition, int]:
    """Current end offset of every partition of ``topics`` (a "from now on" marker)."""
    s = s or get_settings()
    c = KafkaConsumer(**client_config(s), enable_auto_commit=False)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in (c.partitions_for_topic(t) or ())]
        return dict(c.end_offsets(tps))
    finally:
        c.close()


def topic_writes(
    prefix: str, topics: Iterable[str] = (), s: Settings | None = None
) -> dict[str, tuple[int, int | None]]:
    """Per topic (``topics`` and every topic whose name starts with ``prefix``): its records so
    far (the sum of its partitions' end offsets) and the bytes its partitions hold on the
    brokers' log directories (DescribeLogDirs). Two snapshots give what was written between
    them: the records exactly, the bytes approximately (compaction and retention can shrink a
    log meanwhile; None where the broker does not say: the client may not describe its log
    directories)."""
    from kafka.admin import KafkaAdminClient

    s = s or get_settings()
    admin = KafkaAdminClient(**client_config(s))
    try:
        names = sorted({*topics, *(t for t in admin.list_topics() if prefix and t.startswith(prefix))})
        sizes = dict.fromkeys(names, 0)
        try:
            for broker in admin.describe_log_dirs():
                for log_dir in broker.get("log_dirs", ()):
                    for t in log_dir.get("topics", ()):
                        if t["name"] in sizes:
                            sizes[t["name"]] += sum(int(p["partition_size"]) for p in t["partitions"])
            sized = True
        except Exception:  # noqa: BLE001 - e.g. a user without DESCRIBE on the cluster: records only
            sized = False
    finally:
        admin.close()
    records: dict[str, int] = dict.fromkeys(names, 0)
    for tp, end in end_offsets(names, s).items():
        records[tp.topic] += int(end)
    return {t: (records[t], sizes[t] if sized else None) for t in names}


def topic_config(names: Iterable[str], key: str, s: Settings | None = None) -> dict[str, str]:
    """Each topic's value of the topic config ``key`` on the broker (DescribeConfigs)."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    names = list(names)
    admin = KafkaAdminClient(**client_config(s or get_settings()))
    try:
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        admin.close()
    by_name = next(iter(res.values()))  # {resource type: {topic: {config key: {config data}}}}
    return {n: str(by_name[n][key]["value"]) for n in names}


def committed_offsets(
    group: str, tps: Iterable[TopicPartition], s: Settings | None = None
) -> dict[TopicPartition, int | None]:
    """``group``'s committed offset of each of ``tps`` (None: never committed); reading them
    does not join the group."""
    s = s or get_settings()
    c = KafkaConsumer(**client_config(s), group_id=group, enable_auto_commit=False)
    try:
        return {tp: c.committed(tp) for tp in tps}
    finally:
        c.close()


def start_group_at_end(group: str, topics: list[str], wait_s: float = 60.0) -> None:
    """Set a new consumer ``group``'s committed offsets to the end of every partition of
    ``topics``, so workers started in it skip what is already there."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(**client_config(), client_id="wardwatch-admin")
    try:
        offsets = {tp: OffsetAndMetadata(off, "", -1) for tp, off in end_offsets(topics).items()}
        deadline = time.monotonic() + wait_s
        while True:  # a fresh broker creates its offsets topic (the group coordinator) on first use
            try:
                admin.alter_group_offsets(group, offsets)
                return
            except KafkaError as e:
                if not e.retriable or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
    finally:
        admin.close()


def delete_topics_and_groups(
    topic_prefix: str, groups: Iterable[str], s: Settings | None = None
) -> list[str]:
    """Delete every topic whose name starts with ``topic_prefix`` (an app's changelogs) and the
    consumer ``groups``; return the topics deleted. For what a run made for itself alone (a load
    test's app id): compacted changelogs are otherwise kept for ever."""
    from kafka.admin import KafkaAdminClient

    s = s or get_settings()
    admin = KafkaAdminClient(**client_config(s), client_id="wardwatch-admin")
    try:
        names = sorted(t for t in admin.list_topics() if t.startswith(topic_prefix))
        if names:
            admin.delete_topics(names, timeout_ms=30_000)
        if groups := list(groups):
            admin.delete_groups(groups)  # per-group errors (one never created) are returned, not raised
        return names
    finally:
        admin.close()


def consume(
    topics: list[str],
    *,
    start: dict[TopicPartition, int] | None = None,
    group_id: str | None = None,
    timeout_s: float = 30.0,
    stop: Callable[[list[tuple[str, dict | bytes]]], bool] | None = None,
    from_beginning: bool = False,
    s: Settings | None = None,
    connect_timeout_s: float = 30.0,
) -> Iterator[tuple[str, str, dict | bytes]]:
    """Yield ``(topic, key, value)`` until ``timeout_s`` passes with nothing new, or ``stop``.

    With ``start`` (from :func:`end_offsets`) it reads exactly what arrived after that marker.
    Values that parse as JSON come back as dicts, others as bytes. Raises
    ``kafka.errors.KafkaTimeoutError`` when no broker answers within ``connect_timeout_s``.
    """
    s = s or get_settings()
    c = KafkaConsumer(
        **client_config(s),
        group_id=group_id,
        enable_auto_commit=group_id is not None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        bootstrap_timeout_ms=int(connect_timeout_s * 1000),
    )
    try:
        if start is not None:
            c.assign(list(start))
            for tp, off in start.items():
                c.seek(tp, off)
        else:
            c.subscribe(topics)
        seen: list[tuple[str, dict | bytes]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = c.poll(timeout_ms=500)
            for tp, msgs in batch.items():
                for m in msgs:
                    try:
                        value: dict | bytes = json.loads(m.value)
                    except (ValueError, TypeError):
                        value = m.value
                    key = m.key.decode("utf-8", "replace") if m.key else ""
                    if stop is not None:  # only kept for ``stop``: a tail must not grow forever
                        seen.append((tp.topic, value))
                    yield tp.topic, key, value
            if stop is not None and stop(seen):
                return
    finally:
        c.close()
