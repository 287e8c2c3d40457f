"""Replayed set A trajectories are valid bedside readings that follow the hourly record."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np

from simulators.trajectories import DEMO_SEPTIC, SAMPLE_PATH, load_trajectories, trajectory_readings
from streams.vitals.validate import vitals_validate


def test_sample_is_small_and_has_both_outcomes() -> None:
    assert SAMPLE_PATH.stat().st_size < 300_000
    trajs = load_trajectories()
    assert sum(t.septic for t in trajs) >= 10 and sum(not t.septic for t in trajs) >= 10
    assert any(t.record == DEMO_SEPTIC and t.septic for t in trajs)


def test_readings_validate_and_track_the_hourly_values() -> None:
    traj = load_trajectories(septic=True)[0]
    readings = list(trajectory_readings(traj, step_s=10.0, hours=4, seed=3))
    assert readings
    for r in readings[::50]:
        vitals_validate(json.dumps(r.to_dict()).encode(), key=r.patient_id)
    # 1 Hz spacing at step_s=1, device time monotonic
    fast = list(trajectory_readings(traj, step_s=1.0, hours=1))
    assert all(b.ts - a.ts == timedelta(seconds=1) for a, b in zip(fast, fast[1:], strict=False))
    # the hour's mean HR follows the record (noise and interpolation stay small)
    i = int(np.flatnonzero(~np.isnan(traj.values["HR"]))[0])
    hour = [r.hr_bpm for r in readings if r.hr_bpm is not None
            and (r.ts - readings[0].ts).total_seconds() < 3600 * (i + 1)]
    assert abs(np.mean(hour[-300:]) - traj.values["HR"][i]) < 15


def test_replay_is_deterministic_for_a_seed() -> None:
    traj = load_trajectories()[0]
    a = [r.to_dict() for r in trajectory_readings(traj, step_s=60.0, hours=2, seed=5)]
    b = [r.to_dict() for r in trajectory_readings(traj, step_s=60.0, hours=2, seed=5)]
    assert a == b


def test_feed_interleaves_beds_in_device_time_and_ends_now() -> None:
    from datetime import UTC, datetime

    from simulators.trajectories import run_trajectory_feed

    class FakeProducer:
        def __init__(self) -> None:
            self.sent: list[tuple[str, bytes, bytes]] = []

        def send(self, topic: str, key: bytes, value: bytes) -> None:
            self.sent.append((topic, key, value))

        def flush(self) -> None:
            pass

    prod = FakeProducer()
    n = run_trajectory_feed(load_trajectories()[:3], hours=2, step_s=300.0, producer=prod)
    assert n == len(prod.sent) > 0
    values = [json.loads(v) for _, _, v in prod.sent]
    ts = [datetime.fromisoformat(v["ts"]) for v in values]
    assert ts == sorted(ts) and ts[-1] <= datetime.now(UTC)
    assert {t for t, _, _ in prod.sent} == {"vitals"}
    assert len({v["patient_id"] for v in values}) == 3
