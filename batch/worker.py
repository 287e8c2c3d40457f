"""The job-worker loop shared by the image, genomic and notes workers (a thin Kafka shell).

Guarantees
----------
- One consumer group per kind (``<app_id>-batch-<kind>``) on ``jobs.<kind>``; scale out by
  starting more workers (job id is the key, so one job id always lands on one partition).
- At-least-once processing: auto-commit is off and a job's offset is committed only **after**
  its result (and, for a failure, its dead-letter record) has been acknowledged by Kafka.
- Exactly one result per job id: ``results.<kind>`` is the source of truth. At start-up the
  worker reads the whole results topic into a :class:`~batch.jobs.DoneSet`; before each job it
  tails the topic to its current end (results of other instances included) and skips a job
  whose id already has a result. A crash between "result produced" and "offset committed"
  therefore leads to a skip, not a second result, after the restart.
- Failures never kill the worker: bad message, bad bytes, corrupt file, unsupported format or
  a handler exception -> a record on ``deadletter`` (reason + original message bytes) and a
  ``status: "failed"`` result, so that a submitter waiting on the job learns the reason.
- Progress: structured log lines ``job.start`` / ``job.progress`` / ``job.done``, a
  ``progress`` field in each result, and a ``batch_job`` point on ``influx.points``.

Handler API
-----------
``handle(job: Job) -> dict`` (see :mod:`batch.jobs`), found for a kind in :data:`HANDLERS`
(``"module:function"``, imported lazily so the notes worker never imports TensorFlow) or
registered at run time with :func:`register`. A handler module may expose ``VERSIONS`` (dict)
and ``warm_up()`` (called once before the first poll, e.g. to build a model).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batch.jobs import (
    MAX_MESSAGE_BYTES,
    DoneSet,
    Job,
    JobRejected,
    ProgressLog,
    artifact_dir,
    build_result,
    check_artifact_name,
    parse_job_message,
    peek_job_id,
    too_large_result,
    utc_now,
)
from wardwatch.kafka_io import client_config, never_sendable
from wardwatch.logs import log_event
from wardwatch.settings import Settings, get_settings
from wardwatch.topics import DEADLETTER_MAX_BYTES

__all__ = [
    "FRAMEWORK_VERSION",
    "HANDLERS",
    "Handler",
    "Job",
    "JobRejected",
    "JobWorker",
    "ensure_batch_topics",
    "get_handler",
    "group_id",
    "job_topic",
    "result_topic",
]

FRAMEWORK_VERSION = "1.0"

log = logging.getLogger("wardwatch.batch")

Handler = Callable[[Job], dict[str, Any]]

#: Default handler of each kind, imported lazily by the worker of that kind.
HANDLERS: dict[str, str] = {
    "image": "batch.image.handler:handle",
    "genomic": "batch.genomic.handler:handle",
    "notes": "batch.notes.handler:handle",
}


def _handler_module(kind: str) -> Any | None:
    spec = HANDLERS.get(kind)
    return importlib.import_module(spec.split(":", 1)[0]) if spec else None


def get_handler(kind: str) -> Handler:
    """The handler for ``kind`` (:data:`HANDLERS`), imported lazily."""
    if kind not in HANDLERS:
        raise ValueError(f"no handler for kind {kind!r}; valid: {', '.join(sorted(HANDLERS))}")
    mod_name, fn_name = HANDLERS[kind].split(":", 1)
    return getattr(importlib.import_module(mod_name), fn_name)


def job_topic(kind: str) -> str:
    return f"jobs.{kind}"


def result_topic(kind: str) -> str:
    return f"results.{kind}"


def group_id(kind: str, s: Settings | None = None) -> str:
    return f"{(s or get_settings()).app_id}-batch-{kind}"


def ensure_batch_topics(kind: str) -> None:
    """Create ``jobs.<kind>``, ``results.<kind>`` and ``deadletter`` if missing, and let them
    carry messages up to :data:`~batch.jobs.MAX_MESSAGE_BYTES` (inline files of a few MB)."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    from kafka.errors import KafkaError

    from wardwatch.topics import DEADLETTER, POINTS, ensure_topics

    names = (job_topic(kind), result_topic(kind), DEADLETTER, POINTS)
    ensure_topics(names)
    s = get_settings()
    admin = KafkaAdminClient(**client_config(s), client_id="wardwatch-batch")
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, t, configs={"max.message.bytes": str(MAX_MESSAGE_BYTES + 65536)}
                )
                for t in (job_topic(kind), result_topic(kind))  # deadletter: ensure_topics
            ],
            incremental=True,
        )
    except KafkaError as e:  # an older broker or no ACL: inline size stays at the broker default
        log_event(log, "batch.topic_config_failed", logging.WARNING, error=type(e).__name__)
    finally:
        admin.close()


def _versions(kind: str) -> dict[str, str]:
    from wardwatch import __version__ as ww_version

    v = {"wardwatch": str(ww_version), "batch_framework": FRAMEWORK_VERSION}
    try:
        mod = _handler_module(kind)
    except ImportError:
        mod = None
    v.update({k: str(x) for k, x in (getattr(mod, "VERSIONS", None) or {}).items()})
    return v


class JobWorker:
    """Consume ``jobs.<kind>``, run the handler, produce ``results.<kind>`` exactly once per id.

    Parameters
    ----------
    kind : str
        ``"image"``, ``"genomic"`` or ``"notes"``.
    handler : callable, optional
        Overrides the kind's handler (tests).
    settings : Settings, optional
        Defaults to :func:`wardwatch.settings.get_settings`.
    """

    def __init__(self, kind: str, handler: Handler | None = None, settings: Settings | None = None) -> None:
        self.kind = kind
        self.s = settings or get_settings()
        self._custom_handler = handler is not None
        self.handler = handler or get_handler(kind)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.done = DoneSet()
        self.counts = {"ok": 0, "failed": 0, "skipped": 0, "deadletter": 0}
        self._stop = False
        self._consumer: Any = None
        self._tail: Any = None
        self._producer: Any = None
        self._versions = (
            _versions(kind) if handler is None else {"wardwatch": "dev", "batch_framework": FRAMEWORK_VERSION}
        )

    # ------------------------------------------------------------------ kafka plumbing
    def _connect(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        from wardwatch.kafka_io import make_producer

        ensure_batch_topics(self.kind)
        fetch = MAX_MESSAGE_BYTES + 1024 * 1024
        self._producer = make_producer(
            max_request_size=DEADLETTER_MAX_BYTES, client_id=f"wardwatch-batch-{self.kind}"
        )
        self._consumer = KafkaConsumer(
            **client_config(self.s),
            group_id=group_id(self.kind, self.s),
            client_id=f"wardwatch-batch-{self.kind}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=1,
            max_poll_interval_ms=30 * 60 * 1000,  # one heavy job may take minutes on a busy CPU
            max_partition_fetch_bytes=fetch,
            fetch_max_bytes=fetch,
        )
        self._consumer.subscribe([job_topic(self.kind)])
        self._tail = KafkaConsumer(
            **client_config(self.s),
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=fetch,
            fetch_max_bytes=fetch,
        )
        topic = result_topic(self.kind)
        parts = self._tail.partitions_for_topic(topic) or set()
        self._tail.assign([TopicPartition(topic, p) for p in sorted(parts)])
        self._tail.seek_to_beginning()

    def refresh_done(self, timeout_s: float = 10.0) -> int:
        """Read ``results.<kind>`` up to its current end into :attr:`done`; return ids added."""
        before = len(self.done)
        tps = list(self._tail.assignment())
        if not tps:
            return 0
        ends = self._tail.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(self._tail.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                log_event(log, "batch.done_refresh_timeout", logging.WARNING, kind=self.kind)
                break
            for msgs in self._tail.poll(timeout_ms=200).values():
                for m in msgs:
                    self.done.add_result_value(m.value, m.key)
        return len(self.done) - before

    def _produce(self, topic: str, key: str, value: dict[str, Any]) -> None:
        from wardwatch.kafka_io import send

        send(self._producer, topic, key, value).get(timeout=60)  # wait for the broker's ack

    def _produce_result(
        self, result: dict[str, Any], deadletter: Callable[[str, str, dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Produce ``result`` and return what was produced. A result larger than the results
        topic takes (a long note's entities) cannot be retried into place: that would hold the
        partition forever. The job fails as ``result_too_large`` instead, its outputs dropped
        (stored artifacts stay named), and is dead-lettered like any failure."""
        from kafka.errors import KafkaError

        try:
            self._produce(result_topic(self.kind), result["job_id"], result)
            return result
        except KafkaError as e:
            if not never_sendable(e):
                raise
            failed = too_large_result(result, type(e).__name__)
        deadletter(failed["reason"], failed["error"], {})
        self._produce(result_topic(self.kind), failed["job_id"], failed)
        return failed

    def _commit(self, msg: Any) -> None:
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        tp = TopicPartition(msg.topic, msg.partition)
        self._consumer.commit({tp: OffsetAndMetadata(msg.offset + 1, "", -1)})

    # ------------------------------------------------------------------ one job
    def _store_artifacts(self, job_id: str, artifacts: dict[str, bytes]) -> dict[str, str]:
        out: dict[str, str] = {}
        if not artifacts:
            return out
        d = artifact_dir(self.s.artifacts_path, self.kind, job_id)
        d.mkdir(parents=True, exist_ok=True)
        for name, data in artifacts.items():
            p = d / check_artifact_name(name)
            tmp = p.with_suffix(p.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(p)  # atomic: a reader never sees half a PNG
            out[name] = str(p)
        return out

    def run_job(self, job: Job) -> dict[str, Any]:
        """Run the handler on ``job`` and build its result (no Kafka; never raises)."""
        started, t0 = utc_now(), time.monotonic()

        def on_mark(stage: str, fraction: float) -> None:
            log_event(
                log,
                "job.progress",
                job_id=job.job_id,
                kind=self.kind,
                stage=stage,
                fraction=round(fraction, 3),
            )

        progress = ProgressLog(time.monotonic, on_mark)
        job.progress = progress
        common: dict[str, Any] = {"started_at": started, "worker": self.worker_id}
        try:
            out = self.handler(job)
            if not isinstance(out, dict) or "outputs" not in out:
                raise TypeError("handler must return a dict with an 'outputs' key")
            paths = self._store_artifacts(job.job_id, out.get("artifacts") or {})
            return build_result(
                job,
                status="ok",
                finished_at=utc_now(),
                latency_s=time.monotonic() - t0,
                progress=progress.as_dict(done=True),
                versions={**self._versions, **(out.get("versions") or {})},
                outputs=out["outputs"],
                artifacts=paths,
                warnings=out.get("warnings") or (),
                **common,
            )
        except JobRejected as e:
            reason, error, detail = e.reason, e.message, e.detail
        except Exception as e:
            reason, error, detail = "processing_error", f"{type(e).__name__}: {e}"[:500], {}
            log.debug("handler exception", exc_info=True)
        res = build_result(
            job,
            status="failed",
            finished_at=utc_now(),
            latency_s=time.monotonic() - t0,
            progress=progress.as_dict(done=False),
            versions=self._versions,
            reason=reason,
            error=error,
            **common,
        )
        res["detail"] = detail
        return res

    def handle_message(self, msg: Any) -> str:
        """Process one consumed record end to end; returns ``ok|failed|skipped|deadletter``."""
        from kafka.errors import KafkaError

        from wardwatch.records.deadletter import KEEP_WHEN_TOO_LARGE, deadletter_record
        from wardwatch.topics import DEADLETTER

        job_id = peek_job_id(msg.value, msg.key)
        self.refresh_done()
        if self.done.decide(job_id) == "skip":
            log_event(
                log,
                "job.duplicate_skipped",
                job_id=job_id,
                kind=self.kind,
                partition=msg.partition,
                offset=msg.offset,
            )
            self._commit(msg)
            return "skipped"

        def deadletter(reason: str, error: str, detail: dict[str, Any]) -> None:
            def record(keep_bytes: int | None = None) -> dict[str, Any]:
                extra = {"job_id": job_id, "kind": self.kind, "error": error, **detail}
                return deadletter_record(
                    reason, msg.topic, msg.value, msg.key, msg.partition, msg.offset, extra, keep_bytes
                )

            try:
                self._produce(DEADLETTER, job_id or "", record())
            except KafkaError as e:
                if not never_sendable(e):
                    raise
                # a broker whose deadletter topic is smaller than DEADLETTER_MAX_BYTES: retrying
                # would hold the partition forever; the job stays whole on its own topic
                log_event(log, "job.deadletter_truncated", logging.ERROR, job_id=job_id, kind=self.kind)
                self._produce(DEADLETTER, job_id or "", record(KEEP_WHEN_TOO_LARGE))

        try:
            job = parse_job_message(
                msg.value,
                self.kind,
                path_roots=self.s.batch_roots,
                max_path_bytes=self.s.batch_max_path_bytes,
            )
        except JobRejected as e:
            log_event(log, "job.rejected", logging.WARNING, job_id=job_id, kind=self.kind, reason=e.reason)
            deadletter(e.reason, e.message, e.detail)
            if job_id is None:  # nothing to key a result by: dead letter only
                self._commit(msg)
                return "deadletter"
            job = Job(job_id=job_id, kind=self.kind, filename="", data=b"")
            result = build_result(
                job,
                status="failed",
                started_at=utc_now(),
                finished_at=utc_now(),
                latency_s=0.0,
                progress={"fraction": 0.0, "stages": []},
                worker=self.worker_id,
                versions=self._versions,
                reason=e.reason,
                error=e.message,
            )
            # The message was not a valid job, so the id it claims is unverified: the result
            # tells a waiting client, but must not count as that job done (a forged or broken
            # message would make the worker skip the real job with that id).
            result["rejected"] = True
        else:
            log_event(
                log,
                "job.start",
                job_id=job.job_id,
                kind=self.kind,
                size_bytes=len(job.data),
                suffix=Path(job.filename).suffix.lower(),
                partition=msg.partition,
                offset=msg.offset,
            )
            result = self.run_job(job)
            if result["status"] == "failed":
                deadletter(result["reason"], result["error"] or "", result.get("detail") or {})
        result = self._produce_result(result, deadletter)
        if not result.get("rejected"):
            self.done.add(result["job_id"])
        self._commit(msg)  # only now: the result is safely on the results topic
        self._metric(result)
        log_event(
            log,
            "job.done",
            logging.INFO if result["status"] == "ok" else logging.WARNING,
            job_id=result["job_id"],
            kind=self.kind,
            status=result["status"],
            reason=result["reason"],
            latency_s=result["latency_s"],
            artifacts=len(result["artifacts"]),
        )
        return result["status"]

    def _metric(self, result: dict[str, Any]) -> None:
        """A ``batch_job`` point for the dashboards (best effort: never fails a job)."""
        try:
            from wardwatch.kafka_io import send
            from wardwatch.records.points import point
            from wardwatch.topics import POINTS

            p = point(
                "batch_job",
                {"kind": self.kind, "status": result["status"]},
                {"latency_s": float(result["latency_s"]), "count": 1},
                result["finished_at"],
            )
            send(self._producer, POINTS, result["job_id"], p)
        except Exception as e:  # noqa: BLE001
            log_event(log, "batch.metric_failed", logging.DEBUG, error=type(e).__name__)

    # ------------------------------------------------------------------ loop
    def stop(self, *_: Any) -> None:
        self._stop = True

    def run(
        self, max_jobs: int | None = None, idle_exit_s: float | None = None, install_signals: bool = True
    ) -> dict[str, int]:
        """Run until SIGTERM/SIGINT (finishing the current job), ``max_jobs`` records, or
        ``idle_exit_s`` seconds without a job. Returns the outcome counts."""
        from kafka.errors import CommitFailedError, KafkaError

        if install_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        warm = None if self._custom_handler else getattr(_handler_module(self.kind), "warm_up", None)
        if callable(warm):
            warm()
        self._connect()
        self.refresh_done(timeout_s=60)
        log_event(
            log,
            "worker.ready",
            kind=self.kind,
            group=group_id(self.kind, self.s),
            known_results=len(self.done),
            worker=self.worker_id,
        )
        handled, idle_since = 0, time.monotonic()
        try:
            while not self._stop:
                batch = self._consumer.poll(timeout_ms=1000, max_records=1)
                if not batch:
                    if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                        break
                    continue
                for msgs in batch.values():
                    for m in msgs:
                        try:
                            outcome = self.handle_message(m)
                        except CommitFailedError:
                            # Partitions moved to another instance mid-job (rebalance). The
                            # result is on the results topic, so the new owner skips the job.
                            log_event(
                                log,
                                "job.commit_failed_rebalance",
                                logging.WARNING,
                                partition=m.partition,
                                offset=m.offset,
                            )
                            continue
                        except KafkaError as e:
                            # The broker is unavailable: do not commit; seek back and retry.
                            log_event(
                                log,
                                "job.kafka_error",
                                logging.ERROR,
                                error=type(e).__name__,
                                partition=m.partition,
                                offset=m.offset,
                            )
                            self._seek_back(m)
                            time.sleep(2.0)
                            continue
                        self.counts[outcome] = self.counts.get(outcome, 0) + 1
                        handled += 1
                idle_since = time.monotonic()
                if max_jobs is not None and handled >= max_jobs:
                    break
        finally:
            log_event(log, "worker.stopped", kind=self.kind, **self.counts)
            self.close()
        return dict(self.counts)

    def _seek_back(self, msg: Any) -> None:
        """Re-read ``msg`` on the next poll (if its partition is still ours)."""
        from kafka import TopicPartition

        tp = TopicPartition(msg.topic, msg.partition)
        try:
            if tp in self._consumer.assignment():
                self._consumer.seek(tp, msg.offset)
        except Exception as e:  # noqa: BLE001 - partition revoked meanwhile: its new owner reads it
            log_event(log, "job.seek_failed", logging.WARNING, error=type(e).__name__)

    def close(self) -> None:
        for c in (self._consumer, self._tail):
            if c is not None:
                c.close()
        if self._producer is not None:
            self._producer.flush(30)
            self._producer.close(30)
        self._consumer = self._tail = self._producer = None


def run_worker(
    kind: str, max_jobs: int | None = None, idle_exit_s: float | None = None, log_level: str | None = None
) -> dict[str, int]:
    """Entry point of ``wardwatch batch worker KIND``."""
    from wardwatch.logs import setup_logging

    s = get_settings()
    setup_logging((log_level or s.log_level).upper())
    logging.getLogger("kafka").setLevel(logging.WARNING)
    return JobWorker(kind, settings=s).run(max_jobs=max_jobs, idle_exit_s=idle_exit_s)
