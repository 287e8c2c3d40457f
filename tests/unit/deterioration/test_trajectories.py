"""Replayed set A trajectories are valid bedside readings that follow the hourly record."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import numpy as np

from simulators.trajectories import DEMO_SEPTIC, SAMPLE_PATH, load_trajectories, trajectory_readings
from wardwatch.records.vitals import vitals_validate


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
    assert all(b.ts - a.ts == timedelta(seconds=1) for a, b in itertools.pairwise(fast))
    # the hour's mean HR follows the record (noise and interpolation stay small)
    i = int(np.flatnonzero(~np.isnan(traj.values["HR"]))[0])
    hour = [
        r.hr_bpm
        for r in readings
        if r.hr_bpm is not None and (r.ts - readings[0].ts).total_seconds() < 3600 * (i + 1)
    ]
    assert abs(np.mean(hour[-300:]) - traj.values["HR"][i]) < 15


def test_replay_is_deterministic_for_a_seed() -> None:
    traj = load_trajectories()[0]
    a = [r.to_dict() for r in trajectory_readings(traj, step_s=60.0, hours=2, seed=5)]
    b = [r.to_dict() for r in trajectory_readings(traj, step_s=60.0, hours=2, seed=5)]
    assert a == b


class FakeProducer:
    """Records what the feed sends (the feed's own ordering logic is under test, not Kafka)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self) -> None:
        pass


def test_feed_interleaves_beds_in_device_time_and_ends_now() -> None:
    from simulators.trajectories import run_trajectory_feed

    prod = FakeProducer()
    n = run_trajectory_feed(load_trajectories()[:3], hours=2, step_s=300.0, labs=False, producer=prod)
    assert n == {"vitals": len(prod.sent)} and prod.sent
    values = [json.loads(v) for _, _, v in prod.sent]
    ts = [datetime.fromisoformat(v["ts"]) for v in values]
    assert ts == sorted(ts) and ts[-1] <= datetime.now(UTC)
    assert len({v["patient_id"] for v in values}) == 3


def test_feed_sends_admissions_first_then_labs_and_vitals_in_device_time() -> None:
    from simulators.trajectories import run_trajectory_feed
    from wardwatch.records.admissions import admission_validate
    from wardwatch.records.labs import labs_validate

    trajs = load_trajectories()[:3]
    prod = FakeProducer()
    n = run_trajectory_feed(trajs, hours=6, step_s=600.0, producer=prod)
    topics = [t for t, _, _ in prod.sent]
    assert topics[:3] == ["admissions"] * 3 and "admissions" not in topics[3:]
    assert n["admissions"] == 3 and n["labs"] > 0 and n["vitals"] > 0
    assert sum(n.values()) == len(prod.sent)
    now = datetime.now(UTC)
    ts = [datetime.fromisoformat(json.loads(v)["ts"]) for t, _, v in prod.sent[3:]]
    assert ts == sorted(ts) and ts[-1] <= now
    for topic, key, value in prod.sent:
        if topic == "admissions":
            adm = admission_validate(value, key=key.decode(), now=now)
            assert adm.admit_ts <= ts[0]
        elif topic == "labs":
            labs_validate(value, key=key.decode(), now=now)


def test_replayed_labs_and_admission_build_the_records_own_full_features() -> None:
    """Stream path (admission, labs and 1-per-10-min readings through ``features_update``) gives
    the lab, demographic and ICU-hour columns the offline path computes from the hourly rows."""
    from models.deterioration.features import (
        feature_names,
        features_admit,
        features_init,
        features_psv_rows,
        features_update,
        features_vector,
    )
    from simulators.trajectories import trajectory_admission, trajectory_labs

    traj = next(t for t in load_trajectories() if t.record == DEMO_SEPTIC)
    assert np.isnan(traj.values["HR"][0])  # ICU hour 1 has no vitals: the admission numbers hours
    rows = [
        {
            "ICULOS": float(h),
            "Age": traj.age,
            "Gender": float(traj.male),
            **{c: traj.values[c][i] for c in traj.values},
            **{c: traj.labs[c][i] for c in traj.labs},
        }
        for i, h in enumerate(traj.hours)
    ]
    offline, _ = features_psv_rows(rows, "full")
    names = feature_names("full")
    lab_side = set(names) - set(feature_names("vitals"))  # labs, age, sex
    cols = [i for i, name in enumerate(names) if name in lab_side or name == "ICULOS_capped"]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    state = features_init()
    adm = trajectory_admission(traj, start=start)
    features_admit(state, age_years=adm["age_years"], sex=adm["sex"], admit_ts=adm["admit_ts"])
    records = sorted(
        [
            *(r.to_dict() for r in trajectory_readings(traj, start=start, step_s=600.0, noise=False)),
            *(r.to_dict() for r in trajectory_labs(traj, start=start)),
        ],
        key=lambda d: d["ts"],
    )
    compared = 0
    for i, d in enumerate(records):
        features_update(state, d)
        if i + 1 < len(records) and records[i + 1]["ts"][:13] == d["ts"][:13]:
            continue  # compare once the hour's last record is in
        row = int(np.flatnonzero(traj.hours == state["hour"])[0])
        stream = features_vector(state, "full")
        np.testing.assert_allclose(
            stream[cols], offline[row, cols], rtol=1e-9, err_msg=f"hour {state['hour']}"
        )
        compared += 1
    assert compared >= 20
