"""Lab results and admissions reach the patient's deterioration state through the real broker
and worker; bad ones go to the dead-letter topic with their reason, the good ones around them are
kept."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from wardwatch.kafka_io import consume, end_offsets, make_producer

pytestmark = pytest.mark.integration


def _lab(pid: str, ts: datetime, test: str, value, unit: str) -> bytes:
    return json.dumps(
        {"patient_id": pid, "ts": ts.isoformat(), "test": test, "value": value, "unit": unit}
    ).encode()


def test_labs_and_admission_feed_the_patient_state_and_bad_ones_are_deadlettered(
    stream_worker, stream_app_id
):
    pid = f"LAB-{uuid.uuid4().hex[:6]}"
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    changelog = f"{stream_app_id}-vitals-state-changelog"
    offsets = end_offsets(["deadletter", changelog])
    p = make_producer()
    k = pid.encode()
    for raw in (
        _lab(pid, t, "Lactate", 3.4, "mmol/L"),  # good
        _lab(pid, t, "FiO2", 40, "fraction"),  # percent sent as fraction
        _lab(pid, t, "Glucose", 6.1, "mmol/L"),  # wrong unit
        b'{"patient_id": "' + k + b'", "ts": ',  # malformed
        _lab(pid, t + timedelta(minutes=5), "WBC", 17.5, "10^3/uL"),  # good, after the bad ones
    ):
        p.send("labs", key=k, value=raw)
    adm = {"patient_id": pid, "admit_ts": (t - timedelta(hours=3)).isoformat(), "sex": "M"}
    p.send("admissions", key=k, value=json.dumps({**adm, "age_years": 700}).encode())  # bad
    p.send("admissions", key=k, value=json.dumps({**adm, "age_years": 58}).encode())
    p.flush()

    demographics: tuple = (None, None)
    reasons: list[str] = []
    labs_seen: dict[str, float] = {}
    deadline = time.monotonic() + 90
    for topic, key, value in consume(["deadletter", changelog], start=offsets, timeout_s=90):
        if topic == "deadletter" and value.get("key") == pid:
            reasons.append(value["reason"])
        elif topic == changelog and pid in key and isinstance(value, dict):
            feats = (value.get("deterioration") or {}).get("features") or {}
            labs_seen = {name: acc[0] for name, acc in feats.get("open", {}).items()}
            demographics = (feats.get("age"), feats.get("male"))
        done = len(reasons) == 4 and {"Lactate", "WBC"} <= set(labs_seen) and demographics[0]
        if done or time.monotonic() > deadline:
            break
    assert sorted(r.split(":")[0] for r in reasons) == [
        "malformed",
        "out_of_range",
        "out_of_range",
        "wrong_unit",
    ], f"{reasons}\n{_delivery_story(stream_worker)}"
    assert {r.split(" ")[1] for r in reasons if r.startswith("out_of_range")} == {"FiO2=40", "age_years=700"}
    assert any("'mg/dL'" in r for r in reasons)
    assert labs_seen == {"Lactate": 3.4, "WBC": 17.5}, _delivery_story(stream_worker)
    assert demographics == (58.0, 1.0), _delivery_story(stream_worker)
    assert stream_worker.alive()


def _delivery_story(worker, last: int = 40) -> str:
    """The session worker's last rebalances, re-reads and side-topic lines: what a failure here
    needs (CI once saw this test's labs processed 3 s after its deadline, after a rebalance and
    a 30 s re-read of partitions whose records had been taken but never acknowledged)."""
    keys = (
        "wardwatch.delivery",
        "group_coordinator",
        "not started processing",
        "topic=labs",
        "topic=admissions",
    )
    lines = [ln[:300] for ln in worker.output().splitlines() if any(k in ln for k in keys)]
    return "session worker:\n" + "\n".join(lines[-last:])
