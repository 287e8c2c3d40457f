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


WARD_AGENTS = {"score_vitals", "raise_alerts", "act_on_alerts", "ingest_labs", "ingest_admissions"}
WARD_TABLES = {"vitals-state", "alerts-open"}


@pytest.mark.parametrize(
    ("role", "group", "agents", "tables"),
    [
        ("all", "ward7", WARD_AGENTS | {"analyse_ecg", "write_points"}, WARD_TABLES | {"ecg-state"}),
        ("stream", "ward7", WARD_AGENTS | {"analyse_ecg"}, WARD_TABLES | {"ecg-state"}),
        ("sink", "ward7-sink", {"write_points"}, set()),
        # an ECG worker of its own (its group, its table) beside ward workers without it
        ("ecg", "ward7-ecg", {"analyse_ecg", "drop_discharged_ecg"}, {"ecg-state"}),
        ("ward", "ward7", WARD_AGENTS, WARD_TABLES),
        ("ward,sink", "ward7", WARD_AGENTS | {"write_points"}, WARD_TABLES),
    ],
)
def test_each_role_registers_its_agents_in_its_group(role, group, agents, tables, tmp_path):
    got = probe(role, tmp_path)
    assert got["group"] == group
    assert set(got["agents"]) == agents
    assert set(got["tables"]) == tables
    assert ("evict_idle_patients" in got["timers"]) == ("ward" in role or role in ("all", "stream"))
    assert ("ecg_feed_watch" in got["timers"]) == ("analyse_ecg" in agents)
    assert ("ecg_checkpoint" in got["timers"]) == ("analyse_ecg" in agents)
    assert "report_pipeline_metrics" in got["timers"]  # every worker reports its own metrics
    assert "trim_memory" in got["timers"]  # and gives its freed memory back


@pytest.mark.parametrize("role", ["ecg,sink", "vitals", ""])
def test_a_role_without_a_group_or_with_an_unknown_part_is_refused(role):
    from wardwatch.settings import Settings

    with pytest.raises(ValueError, match="worker role"):
        Settings(worker_role=role)
