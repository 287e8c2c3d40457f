"""The wardwatch command as a person uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WARDWATCH = str(Path(sys.executable).with_name("wardwatch"))


def run(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WARDWATCH, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def test_news2_json_matches_the_issue_example():
    out = run(
        "news2",
        "--rr",
        "22",
        "--spo2",
        "95",
        "--scale",
        "1",
        "--o2",
        "air",
        "--sbp",
        "105",
        "--hr",
        "115",
        "--acvpu",
        "A",
        "--temp",
        "38.5",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["score"] == 7 and r["band"] == "7+"
    assert r["components"] == {
        "rr": 2,
        "spo2": 1,
        "air_or_oxygen": 0,
        "sbp": 1,
        "hr": 2,
        "consciousness": 0,
        "temp": 1,
    }
    assert "emergency" in r["response"]


def test_news2_rejects_bad_input():
    out = run(
        "news2",
        "--rr",
        "22",
        "--spo2",
        "95",
        "--o2",
        "nasal",
        "--sbp",
        "105",
        "--hr",
        "115",
        "--acvpu",
        "A",
        "--temp",
        "38.5",
    )
    assert out.returncode != 0 and "air" in (out.stderr + out.stdout)


@pytest.mark.e2e
def test_demo_runs_a_ward_end_to_end(services, stream_app_id):
    # The demo's worker joins the session worker's consumer group (if that one runs, they share
    # partitions), so every reading is processed exactly once by the group.
    out = run(
        "demo",
        "--beds",
        "8",
        "--duration",
        "20",
        "--speed",
        "60",
        timeout=600,
        env={"WARDWATCH_APP_ID": stream_app_id, "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert "WardWatch demo summary" in text
    sent = int(text.split("readings_sent")[1].split()[1])
    points = int(text.split("vitals_points")[1].split()[1])
    assert sent == 8 * 21 and points == sent
    assert '"high"' in text.split("alerts_raised")[1].splitlines()[0]  # the sepsis bed
    assert "wardwatch_test/autogen" in text
    # Run it again at once: its device time overlaps the first run's, so it must admit new
    # patients rather than replay the same ones into their persisted state (all out of order).
    again = run(
        "demo",
        "--beds",
        "8",
        "--duration",
        "20",
        "--speed",
        "60",
        timeout=600,
        env={"WARDWATCH_APP_ID": stream_app_id, "COLUMNS": "200"},
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert int(again.stdout.split("vitals_points")[1].split()[1]) == sent
    assert int(again.stdout.split("deadletter")[1].split()[1]) == 0
