"""Submitting batch jobs and waiting for their results (used by ``wardwatch batch submit``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from batch.jobs import MAX_MESSAGE_BYTES, make_job_message
from batch.worker import ensure_batch_topics, job_topic, result_topic
from wardwatch.kafka_io import client_config
from wardwatch.settings import get_settings


def submit_files(
    kind: str, paths: Iterable[str | Path], params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Send one job per file to ``jobs.<kind>`` (key = job id); return the job messages
    without their payload. Resubmitting a file gives the same job id (content hash + kind)."""
    from wardwatch.kafka_io import make_producer, send

    ensure_batch_topics(kind)
    producer = make_producer(
        max_request_size=MAX_MESSAGE_BYTES + 1024 * 1024, client_id=f"wardwatch-submit-{kind}"
    )
    sent: list[dict[str, Any]] = []
    try:
        for p in paths:
            p = Path(p)
            msg = make_job_message(kind, p.read_bytes(), p.name, params, path=p)
            send(producer, job_topic(kind), msg["job_id"], msg).get(timeout=60)
            sent.append({k: v for k, v in msg.items() if k != "payload_b64"})
        producer.flush(30)
    finally:
        producer.close(30)
    return sent


def wait_results(
    kind: str,
    job_ids: Iterable[str],
    timeout_s: float = 300.0,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, dict]:
    """Read ``results.<kind>`` from the beginning until every id in ``job_ids`` has a result
    (including ones produced before this call: a resubmitted job is answered at once) or the
    timeout passes. Returns ``{job_id: result}`` for the ids found (the first result of each)."""
    from kafka import KafkaConsumer, TopicPartition

    wanted = set(job_ids)
    found: dict[str, dict] = {}
    s = get_settings()
    fetch = MAX_MESSAGE_BYTES + 1024 * 1024
    c = KafkaConsumer(
        **client_config(s),
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=fetch,
        fetch_max_bytes=fetch,
    )
    try:
        topic = result_topic(kind)
        deadline = time.monotonic() + timeout_s
        parts: set[int] = set()
        while not parts and time.monotonic() < deadline:
            parts = c.partitions_for_topic(topic) or set()
            if not parts:
                time.sleep(0.5)
        c.assign([TopicPartition(topic, p) for p in sorted(parts)])
        c.seek_to_beginning()
        while wanted - found.keys() and time.monotonic() < deadline:
            for msgs in c.poll(timeout_ms=500).values():
                for m in msgs:
                    try:
                        res = json.loads(m.value)
                    except (ValueError, TypeError):
                        continue
                    jid = res.get("job_id") if isinstance(res, dict) else None
                    if jid in wanted and jid not in found:
                        found[jid] = res
                        if on_result is not None:
                            on_result(res)
    finally:
        c.close()
    return found
