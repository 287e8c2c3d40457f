"""Topic names, one place for every producer and consumer (Faust or not).

Every stream topic is keyed by patient id (jobs by job id) so that one patient's records stay
ordered on one partition and workers scale as a consumer group.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wardwatch.settings import Settings

VITALS = "vitals"  # raw bedside readings (JSON bytes), key = patient id
ECG = "ecg"  # raw ECG chunks (JSON bytes), key = patient id
LABS = "labs"  # lab results (JSON bytes), key = patient id
ADMISSIONS = "admissions"  # admission (ADT) messages: age, sex, ICU admission time
CONDITIONS = "alerts.conditions"  # alert conditions from every source -> the alert component
ALERTS = "alerts"  # alert events for subscribers (raised/escalated/resolved/...)
ALERTS_ACK = "alerts.ack"  # operator actions on alerts (acknowledge, silence)
DEADLETTER = "deadletter"  # bad input with its reason and original bytes
POINTS = "influx.points"  # time-series points on their way to InfluxDB

JOBS_IMAGE = "jobs.image"
JOBS_GENOMIC = "jobs.genomic"
JOBS_NOTES = "jobs.notes"
RESULTS_IMAGE = "results.image"
RESULTS_GENOMIC = "results.genomic"
RESULTS_NOTES = "results.notes"

#: Topics whose messages can carry identified payloads as sent (DICOM files and clinical notes
#: with names in them; the original bytes of rejected records): kept only ``retention_phi_h``.
PHI_PAYLOAD_TOPICS = (JOBS_IMAGE, JOBS_GENOMIC, JOBS_NOTES, DEADLETTER)

#: ``max.message.bytes`` of ``deadletter``, and the largest message a producer that dead-letters
#: may send: a dead letter carries the rejected record whole, in base64 (4/3 of its size), so
#: this covers the largest record any topic takes in (a batch job, batch.jobs.MAX_MESSAGE_BYTES;
#: stream topics keep the broker's 1 MiB default) with room for the reason.
DEADLETTER_MAX_BYTES = 16 * 1024 * 1024

STREAM_TOPICS = (VITALS, ECG, LABS, ADMISSIONS, CONDITIONS, ALERTS, ALERTS_ACK, DEADLETTER, POINTS)
BATCH_TOPICS = (JOBS_IMAGE, JOBS_GENOMIC, JOBS_NOTES, RESULTS_IMAGE, RESULTS_GENOMIC, RESULTS_NOTES)
ALL_TOPICS = STREAM_TOPICS + BATCH_TOPICS


def retention_ms(name: str, retention_h: float, retention_phi_h: float) -> int:
    """How long the broker keeps a topic's messages (``retention.ms``).

    >>> retention_ms("jobs.notes", 168, 48), retention_ms("vitals", 168, 48)
    (172800000, 604800000)
    """
    hours = retention_phi_h if name in PHI_PAYLOAD_TOPICS else retention_h
    return round(hours * 3600 * 1000)


def ensure_topics(
    names: tuple[str, ...] = ALL_TOPICS,
    partitions: int | None = None,
    config: dict[str, str] | None = None,
    wait_s: float = 30.0,
    s: Settings | None = None,
) -> list[str]:
    """Create any of ``names`` that do not exist yet and wait until the broker's metadata lists
    their partitions; return the ones created."""
    import time

    from kafka import KafkaConsumer
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from wardwatch.kafka_io import client_config
    from wardwatch.settings import get_settings

    s = s or get_settings()

    def configs(n: str) -> dict[str, str]:
        keep = retention_ms(n, s.retention_h, s.retention_phi_h) if n in ALL_TOPICS else None
        size = {"max.message.bytes": str(DEADLETTER_MAX_BYTES)} if n == DEADLETTER else {}
        return ({"retention.ms": str(keep)} if keep else {}) | size | (config or {})

    admin = KafkaAdminClient(**client_config(s), client_id="wardwatch-admin")
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [
                        NewTopic(n, partitions or s.partitions, s.replication, topic_configs=configs(n))
                        for n in missing
                    ]
                )
        # Topics created by someone else (Faust creates the ones its agents read) get the same
        # retention: set it on every call, so a changed setting reaches existing topics.
        kept = [n for n in names if n in existing and n in ALL_TOPICS]
        if kept:
            admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, n, configs=configs(n)) for n in kept],
                incremental=True,
            )
    finally:
        admin.close()
    if missing:
        consumer = KafkaConsumer(**client_config(s))
        try:
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                consumer.topics()  # refreshes metadata
                if all(consumer.partitions_for_topic(n) for n in missing):
                    break
                time.sleep(0.2)
        finally:
            consumer.close()
    return missing
