"""A deteriorating replayed patient raises exactly one deterioration alert, with its explanation,
through the real Kafka broker, the real Faust worker and the alert component."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from models.deterioration.model import load_model
from simulators.trajectories import DEMO_SEPTIC, load_trajectories, trajectory_readings
from wardwatch.kafka_io import consume, end_offsets, make_producer, send

pytestmark = pytest.mark.integration

HOURS = 12


def test_septic_trajectory_raises_one_explained_deterioration_alert(stream_worker, services):
    traj = next(t for t in load_trajectories() if t.record == DEMO_SEPTIC)
    pid = f"DET-{uuid.uuid4().hex[:6]}"
    # Device time ends now: the replay is HOURS of history sent as fast as the broker takes it.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=HOURS)
    readings = list(
        trajectory_readings(
            traj, patient_id=pid, bed="ICU-DET", start=start, step_s=60.0, hours=HOURS, seed=1
        )
    )
    offsets = end_offsets(["alerts"])
    p = make_producer()
    for r in readings:
        send(p, "vitals", pid, r.to_dict())
    p.flush()

    got: list[dict] = []
    deadline = time.monotonic() + 120
    settle_until = None
    for _topic, key, value in consume(["alerts"], start=offsets, timeout_s=120):
        if key == pid and value["source"] == "deterioration":
            got.append(value)
            settle_until = settle_until or time.monotonic() + 10  # wait for any duplicate
        if (settle_until and time.monotonic() > settle_until) or time.monotonic() > deadline:
            break
    raised = [e for e in got if e["type"] == "raised"]
    assert len(raised) == 1, json.dumps(got, indent=1)
    ev = raised[0]["evidence"]
    model = load_model()
    assert ev["probability"] >= model.threshold
    assert ev["top_features"] and all(f["contribution"] > 0 for f in ev["top_features"])
    assert "news2" in ev
    assert raised[0]["versions"] == {"deterioration": model.version}
    assert stream_worker.alive()
