"""``wardwatch bench load`` end to end on the session's Kafka and InfluxDB: a small ward in real
time through a fresh worker; nothing may be missing and the report has the issue's shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SHAPE = {
    "beds": int,
    "seconds": int,
    "workers": int,
    "latency_s": dict,
    "lag": dict,
    "in_msgs_per_s": float,
    "out_msgs_per_s": float,
    "alerts_expected": int,
    "alerts_delivered": int,
    "points_expected": int,
    "points_written": int,
    "cpu_s": dict,
    "rss_mb": dict,
    "faust_vs_raw": float,
    "ok": bool,
}


def bench_load(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    """``wardwatch bench load ARGS --json`` on the session's services: the process and its report."""
    out = subprocess.run(
        [sys.executable, "-m", "wardwatch.cli", "bench", "load", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=240,
    )
    assert out.returncode in (0, 1), out.stderr[-3000:]
    return out, json.loads(out.stdout)


def test_bench_load_small_ward_nothing_missing(services, tmp_path):
    plot = tmp_path / "load.png"
    t0 = time.monotonic()
    out, report = bench_load("--beds", "30", "--seconds", "20", "--ecg-share", "0.3", "--plot", str(plot))
    took = time.monotonic() - t0
    for key, kind in SHAPE.items():
        assert isinstance(report[key], kind), (key, report[key])
    for kind in ("alert", "point"):
        lat = report["latency_s"][kind]
        assert set(lat) == {"p50", "p95", "p99", "n"} and lat["n"] > 0, (kind, lat)
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"], (kind, lat)
    assert set(report["lag"]) >= {"max", "end"}
    assert set(report["cpu_s"]) >= {"worker", "kafka", "influxdb", "simulator"}
    assert set(report["rss_mb"]) >= {"worker", "kafka", "influxdb", "simulator"}
    host = report["host_cpu_s"]  # the machine's CPU over the same window: ours is part of it
    assert set(host) >= {"busy", "steal", "idle", "others"}, host
    ours = sum(report["cpu_s"].values())
    assert ours > 0 and host["busy"] >= 0.9 * ours and host["others"] == round(host["busy"] - ours, 2), host
    mem = report["worker_memory"]
    assert 50 < mem["start_mb"] <= report["rss_mb"]["worker"] and mem["end_mb"] <= report["rss_mb"]["worker"]
    assert mem["grows"] is None  # 20 s is no soak: too short to judge
    assert (report["beds"], report["seconds"], report["workers"], report["ecg_beds"]) == (30, 20, 1, 9)
    assert report["send_slots"] == 20  # the beds spread over each second (--burst: 1)
    # what the broker took in: the inputs at their rate, and the run's state changelogs
    writes = report["broker_writes"]["by_topic"]
    assert writes["vitals"]["records_per_s"] == pytest.approx(30, rel=0.2), writes
    assert writes["vitals"]["kb_per_s"] > 0 and writes["ecg"]["kb_per_s"] > writes["vitals"]["kb_per_s"], (
        writes
    )
    assert writes["vitals-state-changelog"]["records_per_s"] > 0, writes  # one state per reading today
    assert 0 < report["broker_writes"]["changelog_share"] < 1, report["broker_writes"]

    # nothing missing: every alert event and point the pure steps give on the same records
    assert report["alerts_expected"] > 10
    assert report["alerts_delivered"] == report["alerts_expected"], report
    assert report["alerts_missing"] == 0 and report["alerts_unexpected"] == 0, report
    assert report["points_written"] == report["points_expected"] > 30 * 20 * 2, report
    assert report["deadletters"] == 0
    assert report["ok"] is True, report
    assert out.returncode == 0
    assert plot.stat().st_size > 10_000
    assert took < 150, took
    # what the run made for itself alone is gone: its changelogs, its groups, its patients' series
    app = f"wardwatch-bench-{report['run']}"
    wait_for(lambda: _owned(services, app) == ([], []), 30, "the run's topics and groups deleted")
    # its patients' points: none left right after the drop. (Counted by the bench itself: this
    # session's stream worker, another consumer group on the same topics, processes the run's
    # records too and may write their points again after it, e.g. its feed-stopped alarms.)
    deleted = [ln for ln in out.stderr.splitlines() if 'msg="bench load data deleted"' in ln]
    assert deleted and deleted[-1].endswith(" points_left=0"), out.stderr[-2000:]


def test_bench_load_stopped_by_sigterm_cleans_up_after_itself(services, tmp_path):
    """SIGTERM (what ``timeout`` sends) mid-run: the bench exits 143 after its own cleanup; its
    workers are gone and so are its changelog topics and consumer groups."""
    import re
    import signal

    err = tmp_path / "bench.err"
    with err.open("w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wardwatch.cli", "bench", "load", "--beds", "6", "--seconds", "120"],
            stdout=subprocess.DEVNULL,
            stderr=f,
            cwd=REPO,
            env=dict(os.environ),
        )
    try:

        def started() -> tuple[str, list[int]] | None:
            text = err.read_text()
            run = re.search(r'msg="bench load start" run=(\w+)', text)
            pids = [int(p) for p in re.findall(r'msg="worker started" .* pid=(\d+)', text)]
            return (run.group(1), pids) if run and pids else None

        run, pids = wait_for(started, 120, "the bench's workers")
        app = f"wardwatch-bench-{run}"
        wait_for(lambda: any("-state-changelog" in t for t in _owned(services, app)[0]), 90, "changelogs")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM, err.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    for pid in pids:  # stopped and reaped by the bench, not left running
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    wait_for(lambda: _owned(services, app) == ([], []), 30, "the run's topics and groups deleted")


def _owned(s, app: str) -> tuple[list[str], list[str]]:
    """The topics (``app-...``) and consumer groups (``app``, ``app-...``) of a Faust app id."""
    from kafka.admin import KafkaAdminClient

    from wardwatch.kafka_io import client_config

    admin = KafkaAdminClient(**client_config(s))
    try:
        names = sorted(t for t in admin.list_topics() if t.startswith(f"{app}-"))
        groups = (g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups())
        return names, sorted(g for g in groups if g == app or g.startswith(f"{app}-"))
    finally:
        admin.close()


def _series(s, id_prefix: str) -> int:
    """Points of any measurement of the patients whose id starts with ``id_prefix``."""
    from wardwatch.influx_read import flux_rows

    flux = (
        f'from(bucket: "{s.influx_bucket}") |> range(start: -1h)'
        f" |> filter(fn: (r) => r.patient =~ /^{id_prefix}/) |> count()"
    )
    return sum(int(row["_value"]) for row in flux_rows(flux, s))


def test_bench_load_with_an_ecg_worker_of_its_own_nothing_missing(services):
    """``--ecg-workers 1``: the ECG agent in a process and consumer group of its own (``worker
    --role ecg``) beside a ward worker without it (``--role ward,sink``); every alert, ECG and
    vitals, and every point still arrives exactly as the pure steps give them."""
    _, report = bench_load(
        "--beds", "16", "--seconds", "15", "--ecg-share", "0.5", "--ecg-workers", "1", "--keep-data"
    )  # fmt: skip
    assert (report["workers"], report["ecg_workers"], report["ecg_beds"]) == (1, 1, 8)
    by_role = {w["role"]: w["cpu_s"] for w in report["worker_cpu_s"]}
    assert set(by_role) == {"ward,sink", "ecg"} and all(v > 0 for v in by_role.values()), by_role
    assert abs(sum(by_role.values()) - report["cpu_s"]["worker"]) < 0.05, (by_role, report["cpu_s"])
    logs = [Path(p).read_text() for p in report["worker_logs"]]
    assert len(logs) == 2 and all("Worker ready" in t for t in logs)
    by_source = report["alert_latency_by_source_s"]
    assert by_source["ecg"]["n"] > 0 and by_source["vitals"]["n"] > 0, by_source
    assert report["alerts_delivered"] == report["alerts_expected"], report
    assert report["alerts_unexpected"] == 0, report
    assert report["points_written"] == report["points_expected"], report
    assert report["deadletters"] == 0 and report["ok"] is True, report

    # --keep-data: the run's changelogs (the ward's and the ECG worker's), groups and series stay
    from wardwatch.kafka_io import delete_topics_and_groups, topic_config
    from wardwatch.services import influx

    app = f"wardwatch-bench-{report['run']}"
    kept, groups = _owned(services, app)
    assert any("ecg-state-changelog" in t for t in kept) and any("vitals-state" in t for t in kept), kept
    # created with the setting's segment size, not the broker's 1 GB (compaction skips the
    # active segment: a 1 GB one is ~20 minutes of ECG states a new owner reads whole)
    segment = str(services.changelog_segment_mb * 1024 * 1024)
    changelogs = [t for t in kept if t.endswith("-changelog")]
    assert topic_config(changelogs, "segment.bytes", services) == dict.fromkeys(changelogs, segment)
    assert len(groups) == 2, groups  # the ward's and the ECG worker's
    assert _series(services, f"LD{report['run'][:6]}-") >= report["points_written"] > 0
    # and the bench's own cleanup deletes exactly them
    assert delete_topics_and_groups(f"{app}-", groups) == kept
    influx.drop_patients(services, f"LD{report['run'][:6]}-")
    # none left right after the drop (this session's stream worker, another consumer group on
    # the same topics, may write some of them again later: see the test above)
    assert influx.count_patient_points(services, f"LD{report['run'][:6]}-") == 0
    wait_for(lambda: _owned(services, app) == ([], []), 30, "the run's topics and groups deleted")


def test_point_poller_looks_back_a_window_and_its_last_query_the_whole_run(services):
    """Each poll returns only the points of the last ``POINT_WINDOW_S`` (device time), so a long
    run's polls stay as cheap as its first; the poller's last query, as it stops, covers the whole
    run and catches a point that arrived later than the window (an upper bound, as every other)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from influxdb_client.client.write_api import SYNCHRONOUS

    from wardwatch.influx_read import influx_client
    from wardwatch.loadtest.measure import POINT_WINDOW_S, PointPoller
    from wardwatch.services import influx

    prefix = f"PP{uuid.uuid4().hex[:6]}-"
    now = datetime.now(UTC).replace(microsecond=0)
    fresh, late = now - timedelta(seconds=2), now - timedelta(seconds=POINT_WINDOW_S + 60)

    def write(patient: str, at: datetime) -> None:
        with influx_client(services) as c:
            line = f"vitals,patient={patient} hr_bpm=72 {int(at.timestamp())}"
            c.write_api(write_options=SYNCHRONOUS).write(
                services.influx_bucket, record=line, write_precision="s"
            )

    write(f"{prefix}A", fresh)
    write(f"{prefix}A", late)  # a point written now whose device time is 90 s ago
    write(f"{prefix}X", fresh)  # not in the sample
    poller = PointPoller(services, [f"{prefix}A", f"{prefix}B"], now - timedelta(minutes=10))
    try:
        poller.sample()
        assert set(poller.seen) == {(f"{prefix}A", fresh.timestamp())}, poller.seen
        first = poller.seen[(f"{prefix}A", fresh.timestamp())]
        write(f"{prefix}B", fresh)
        poller.sample()
        assert set(poller.seen) == {(f"{prefix}A", fresh.timestamp()), (f"{prefix}B", fresh.timestamp())}
        assert poller.seen[(f"{prefix}A", fresh.timestamp())] == first  # first seen, kept
        poller.close()  # the last query: the whole run
        assert set(poller.seen) == {
            (f"{prefix}{p}", t.timestamp()) for p, t in (("A", fresh), ("B", fresh), ("A", late))
        }
        assert poller.seen[(f"{prefix}A", late.timestamp())] >= poller.seen[(f"{prefix}B", fresh.timestamp())]
    finally:
        influx.drop_patients(services, prefix)
