"""Shared helpers of the integration tests, offered as fixtures (the test folders are not an
importable package)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from wardwatch.kafka_io import consume, end_offsets


def unique_run() -> str:
    return uuid.uuid4().hex[:10]


def start_batch_worker(start_worker, kind: str, artifacts: Path):
    """A ``wardwatch batch worker KIND`` subprocess in a consumer group of its own."""
    env = {
        "WARDWATCH_APP_ID": f"wardwatch-test-{kind}-{unique_run()}",
        "WARDWATCH_ARTIFACTS_DIR": str(artifacts),
    }
    return start_worker(["batch", "worker", kind], env=env, ready="worker.ready", timeout=300)


def results_for(
    kind: str, start: dict, job_ids: set[str], timeout_s: float = 240.0, settle_s: float = 0.0
) -> dict[str, list[dict[str, Any]]]:
    """Every result for ``job_ids`` on ``results.<kind>`` after ``start`` (all copies, so a
    duplicate result would show as a second entry). Waits until each id has one, then
    ``settle_s`` more seconds for any extra copy."""
    got: dict[str, list[dict[str, Any]]] = {j: [] for j in job_ids}
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None

    def settled(_seen) -> bool:
        nonlocal settle_until
        now = time.monotonic()
        if settle_until is None and all(got.values()):
            settle_until = now + settle_s
        return (settle_until is not None and now >= settle_until) or now > deadline

    # ``stop`` is checked after every poll, also when nothing new arrives
    for _topic, _key, value in consume([f"results.{kind}"], start=start, timeout_s=timeout_s, stop=settled):
        if isinstance(value, dict) and value.get("job_id") in got:
            got[value["job_id"]].append(value)
    return got


def deadletters_for(start: dict, job_id: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _topic, _key, value in consume(["deadletter"], start=start, timeout_s=timeout_s):
        if isinstance(value, dict) and (value.get("detail") or {}).get("job_id") == job_id:
            out.append(value)
            break
    return out


def marker(topics: list[str]) -> dict:
    from batch.worker import ensure_batch_topics

    for k in {t.split(".", 1)[1] for t in topics if t.startswith("results.")}:
        ensure_batch_topics(k)
    return end_offsets(topics)


class BatchHelpers:
    """The batch-worker helpers above, as one fixture object."""

    unique_run = staticmethod(unique_run)
    start_batch_worker = staticmethod(start_batch_worker)
    results_for = staticmethod(results_for)
    deadletters_for = staticmethod(deadletters_for)
    marker = staticmethod(marker)


@pytest.fixture(scope="session")
def batch_helpers() -> type[BatchHelpers]:
    return BatchHelpers


def _session_stream_workers() -> list[int]:
    """Pids of the stream workers (``wardwatch worker``) this test session started and that
    still run (the children of this process; batch workers are left alone)."""
    import os
    from itertools import pairwise

    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        # ``wardwatch worker``, or ``python .../wardwatch worker`` (an entry-point script)
        if ppid == me and any(a.endswith(b"wardwatch") and b == b"worker" for a, b in pairwise(args)):
            found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def quiet_stream_workers():
    """Pause (SIGSTOP) the session's other stream workers for a module that counts outputs, and
    resume them (SIGCONT) after; they catch up then. Another consumer group on the same topics (the
    session's ``stream_worker``, started by an earlier test) takes in the same readings and
    publishes its own copy of every condition, and the alert component of each group takes in
    both groups' copies: two interleaved copies of a patient's conditions are not one history,
    and the counts would measure that instead of the fault."""
    import contextlib
    import os
    import signal

    paused = _session_stream_workers()
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    groups = {_app_id_of(pid) for pid in paused}
    yield paused
    for pid in paused:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    # The resumed workers take in everything the module produced; until they have, what they
    # write (pipeline latency, alerts) is minutes late, which the next modules would measure.
    _wait_caught_up([g for g in groups if g], CATCH_UP_S)


#: how long the module that paused the session's stream workers waits for them to catch up
CATCH_UP_S = 240.0
#: the input topics a resumed stream worker catches up on
CATCH_UP_TOPICS = ["vitals", "ecg", "labs", "admissions", "alerts.conditions", "alerts.ack", "influx.points"]


def _app_id_of(pid: int) -> str | None:
    """The consumer group (``WARDWATCH_APP_ID``, else the configured default) of worker ``pid``."""
    from wardwatch.settings import get_settings

    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
    except OSError:
        return None
    return env.get(b"WARDWATCH_APP_ID", get_settings().app_id.encode()).decode()


def _wait_caught_up(groups: list[str], timeout_s: float) -> None:
    """Wait until every group's committed offsets reach the end offsets the input topics had
    when the wait began (at most ``timeout_s``; a worker still behind then is left to go on).
    Reading a group's committed offsets does not join the group."""
    from wardwatch.kafka_io import committed_offsets

    ends = {tp: end for tp, end in end_offsets(CATCH_UP_TOPICS).items() if end > 0}
    deadline = time.monotonic() + timeout_s
    for group in groups:
        while time.monotonic() < deadline:
            got = committed_offsets(group, ends)
            # (a partition the group never committed is not one it reads)
            if all(got[tp] >= end for tp, end in ends.items() if got[tp] is not None):
                break
            time.sleep(2)
