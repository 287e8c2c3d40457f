"""``worker_role``: which agents a worker process registers and in which consumer group (the app
is made at import, so each role is probed in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json
import streams.worker
from streams.app import app
streams.worker.load_agents()
print(json.dumps({
    "group": app.conf.id,
    "agents": sorted(a.name.rsplit(".", 1)[-1] for a in app.agents.values()),
    "timers": sorted(t.__name__ for t in app._app_tasks),
    "tables": sorted(app.tables),
}))
"""


def probe(role: str, tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "WARDWATCH_RUN_DIR": str(tmp_path),
        "WARDWATCH_APP_ID": "ward7",
        "WARDWATCH_WORKER_ROLE": role,
    }
    r = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("role", ["all", "stream", "sink"])
def test_each_role_registers_its_agents_in_its_group(role, tmp_path):
    got = probe(role, tmp_path)
    stream_agents = {
        "score_vitals",
        "analyse_ecg",
        "raise_alerts",
        "act_on_alerts",
        "ingest_labs",
        "ingest_admissions",
    }
    agents = set(got["agents"])
    if role == "sink":
        assert got["group"] == "ward7-sink" and agents == {"write_points"} and got["tables"] == []
    else:
        assert got["group"] == "ward7" and stream_agents <= agents
        assert ("write_points" in agents) == (role == "all")
        assert {"vitals-state", "alerts-open", "ecg-state"} <= set(got["tables"])
    assert "report_pipeline_metrics" in got["timers"]  # every worker reports its own metrics
    assert "trim_memory" in got["timers"]  # and gives its freed memory back
