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
    mem = report["worker_memory"]
    assert 50 < mem["start_mb"] <= report["rss_mb"]["worker"] and mem["end_mb"] <= report["rss_mb"]["worker"]
    assert mem["grows"] is None  # 20 s is no soak: too short to judge
    assert (report["beds"], report["seconds"], report["workers"], report["ecg_beds"]) == (30, 20, 1, 9)
    assert report["send_slots"] == 20  # the beds spread over each second (--burst: 1)

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


def test_bench_load_with_an_ecg_worker_of_its_own_nothing_missing(services):
    """``--ecg-workers 1``: the ECG agent in a process and consumer group of its own (``worker
    --role ecg``) beside a ward worker without it (``--role ward,sink``); every alert, ECG and
    vitals, and every point still arrives exactly as the pure steps give them."""
    _, report = bench_load("--beds", "16", "--seconds", "15", "--ecg-share", "0.5", "--ecg-workers", "1")
    assert (report["workers"], report["ecg_workers"], report["ecg_beds"]) == (1, 1, 8)
    logs = [Path(p).read_text() for p in report["worker_logs"]]
    assert len(logs) == 2 and all("Worker ready" in t for t in logs)
    by_source = report["alert_latency_by_source_s"]
    assert by_source["ecg"]["n"] > 0 and by_source["vitals"]["n"] > 0, by_source
    assert report["alerts_delivered"] == report["alerts_expected"], report
    assert report["alerts_unexpected"] == 0, report
    assert report["points_written"] == report["points_expected"], report
    assert report["deadletters"] == 0 and report["ok"] is True, report
