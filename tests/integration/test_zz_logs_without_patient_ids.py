"""No raw patient id in any log of the run.

Named to run after the other integration and end-to-end tests of the session (pytest collects
``tests/e2e`` and then ``tests/integration`` in name order), it reads every patient id that went
over the patient-keyed topics and searches every log file the session's processes wrote (stream
and batch workers, CLI runs, Kafka and InfluxDB) for it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from wardwatch import topics
from wardwatch.kafka_io import end_offsets

pytestmark = pytest.mark.integration

PATIENT_KEYED = (topics.VITALS, topics.ECG, topics.LABS, topics.ADMISSIONS, topics.CONDITIONS, topics.ALERTS)
SEGMENT = re.compile(r"^\d{20}\.log$")
MIN_LEN = 4  # shorter ids ("P1") would match unrelated text


def _patient_ids(s) -> set[str]:
    """Every key on the patient-keyed topics, read up to the end offsets taken first (polled,
    partition by partition, rather than iterated until a quiet spell)."""
    ends = {tp: end for tp, end in end_offsets(list(PATIENT_KEYED)).items() if end > 0}
    c = KafkaConsumer(
        bootstrap_servers=s.bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    ids: set[str] = set()
    try:
        c.assign(list(ends))
        c.seek_to_beginning(*ends)
        deadline = time.monotonic() + 120
        while any(c.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, "patient-keyed topics not read to their end in 120 s"
            for msgs in c.poll(timeout_ms=1000).values():
                ids.update(m.key.decode("utf-8", "replace") for m in msgs if m.key)
        return ids
    finally:
        c.close()


def test_no_log_line_of_the_run_carries_a_raw_patient_id(services, tmp_path_factory, stream_worker):
    s = services
    ids = {i for i in _patient_ids(s) if len(i) >= MIN_LEN and i.strip()}
    roots = [tmp_path_factory.getbasetemp(), Path(s.run_dir)]
    # Kafka's own data segments are also "*.log" (00000000000000000000.log): those hold the
    # records, not log lines.
    logs = [p for r in roots for p in r.rglob("*.log") if p.is_file() and not SEGMENT.match(p.name)]
    assert ids, "no patient ids found on the topics: nothing was checked"
    assert any("Worker ready" in p.read_text(errors="replace") for p in logs), "no worker log found"
    pattern = re.compile(
        r"(?<![A-Za-z0-9_-])("
        + "|".join(map(re.escape, sorted(ids, key=len, reverse=True)))
        + r")(?![A-Za-z0-9_-])"
    )
    leaks = []
    for p in logs:
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            m = pattern.search(line)
            if m:
                leaks.append(f"{p.name}:{n}: {m.group(1)!r} in {line[:200]!r}")
    assert not leaks, f"{len(leaks)} log line(s) with a raw patient id:\n" + "\n".join(leaks[:20])


def test_no_worker_safety_net_check_failed_in_the_run(services, tmp_path_factory, stream_worker):
    """The delivery safety net (``streams.delivery.unstall``, every 5 s in every stream worker
    of the session: kills, rebalances, SIGSTOPs, broker restarts) never raised: it reads Faust's
    and aiokafka's consumer state, and an attribute it expects and does not find would switch it
    off silently but for this line."""
    roots = [tmp_path_factory.getbasetemp(), Path(services.run_dir)]
    logs = [p for r in roots for p in r.rglob("*.log") if p.is_file() and not SEGMENT.match(p.name)]
    workers = [p for p in logs if "Worker ready" in p.read_text(errors="replace")]
    assert workers, "no worker log found"
    failed = [
        f"{p.name}: {line[:300]}"
        for p in workers
        for line in p.read_text(errors="replace").splitlines()
        if "unstall check failed" in line
    ]
    assert not failed, "\n".join(failed[:10])
