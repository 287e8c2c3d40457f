"""The one Faust app. Agents live in ``streams/<domain>/agents.py`` and are imported by
``streams/worker.py`` (explicit, so that importing the app never drags in TensorFlow)."""

from __future__ import annotations

import time

import faust

from streams import delivery
from wardwatch.kafka_io import ssl_context
from wardwatch.logs import logging_config
from wardwatch.settings import get_settings
from wardwatch.topics import DEADLETTER_MAX_BYTES

delivery.install()  # Faust's at-least-once bookkeeping, fixed (issue #25)
_s = get_settings()
_faust_dir = _s.run_dir / "faust"
_faust_dir.mkdir(parents=True, exist_ok=True)  # Faust creates the datadir, not its parents


def _credentials() -> faust.SASLCredentials | None:
    """SCRAM over TLS when the settings ask for it (the same settings as every other client)."""
    if _s.kafka_security_protocol != "SASL_SSL":
        return None
    return faust.SASLCredentials(
        username=_s.kafka_username,
        password=_s.kafka_password_value(),
        ssl_context=ssl_context(_s),
        mechanism=_s.kafka_sasl_mechanism,
    )


app = faust.App(
    _s.worker_group,
    broker=_s.faust_broker,
    broker_credentials=_credentials(),
    store="memory://",  # state is rebuilt from the Kafka changelog topics on start
    # Faust's default datadir is "<app id>-data" in the working directory: keep it with the rest
    # of the local state instead of littering wherever a worker was started.
    datadir=str(_faust_dir / "{conf.name}-data"),
    topic_partitions=_s.partitions,
    topic_replication_factor=_s.replication,
    value_serializer="json",
    key_serializer="raw",
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=_s.session_timeout_s,
    broker_heartbeat_interval=_s.session_timeout_s / 3,
    # Offsets are committed every second (the interval); Faust's count trigger, which commits
    # inline in the fetch loop and holds up delivery, stays at its default (10,000 records).
    broker_commit_every=10_000,
    broker_commit_interval=1.0,
    stream_wait_empty=False,
    producer_acks=-1,  # a send completes when the broker has it
    producer_max_request_size=DEADLETTER_MAX_BYTES,  # a dead letter carries its record whole
    producer_linger=_s.kafka_linger_ms / 1000.0,
    producer_max_batch_size=_s.kafka_batch_bytes,
    table_cleanup_interval=60.0,
    logging_config=logging_config(_s.log_level),
)

_stalls: dict = {}


@app.timer(interval=5.0)
async def unstall_partitions() -> None:
    """Every 5 s: :func:`streams.delivery.unstall` (a record dropped on its way to the agents is
    read again instead of holding its partition's commit forever)."""
    try:
        await delivery.unstall(app.consumer, time.monotonic(), _stalls)
    except Exception:  # noqa: BLE001 - never let the safety net take the worker down
        delivery.log.exception("unstall check failed")
