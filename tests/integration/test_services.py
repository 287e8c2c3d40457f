"""The project's own service scripts: idempotent up, health, status, down of exactly its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wardwatch.services import influx, kafka, stack

pytestmark = pytest.mark.integration
WARDWATCH = str(Path(sys.executable).with_name("wardwatch"))


def test_second_up_reuses_running_services(services):
    pids = (kafka.pid(services), influx.pid(services))
    assert all(pids)
    t = time.monotonic()
    result = stack.up(services)
    assert result == {"kafka": "already running", "influxdb": "already running"}
    assert time.monotonic() - t < 30
    assert (kafka.pid(services), influx.pid(services)) == pids


def test_status_cli_reports_both_healthy(services):
    out = subprocess.run(
        [WARDWATCH, "services", "status", "--json"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["kafka"]["healthy"] and rows["influxdb"]["healthy"]
    assert rows["kafka"]["pid"] == kafka.pid(services)
    assert rows["kafka"]["endpoint"] == services.kafka_bootstrap
