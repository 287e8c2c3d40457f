"""The load-test ward (pure): deterministic, real-time schedule, and alarms in every run."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from simulators.load import SEND_SLOTS, _json, drive, load_ecg_events, load_plan, record_end_s, tick_records
from wardwatch.loadtest.expected import Expected, expected_outputs, expected_outputs_parallel, point_key
from wardwatch.loadtest.measure import lag_grows, percentiles
from wardwatch.records.ecg import ecg_validate
from wardwatch.records.vitals import vitals_validate

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_plan_is_deterministic_and_ecg_beds_share_patient_ids():
    a, b = load_plan(16, 10, ecg_share=0.5, prefix="T"), load_plan(16, 10, ecg_share=0.5, prefix="T")
    assert [p.patient_id for p in a.patients] == [p.patient_id for p in b.patients]
    assert len(a.feeds) == 8
    assert {f.patient_id for f in a.feeds} <= {p.patient_id for p in a.patients}
    assert all((f.signal_uv == g.signal_uv).all() for f, g in zip(a.feeds, b.feeds, strict=True))
    assert all(f.signal_uv.size == 11 * 360 for f in a.feeds)  # one second before tick 0


@pytest.mark.parametrize("slots", [1, 4, SEND_SLOTS])
def test_ticks_are_valid_records_ending_at_their_send_time(slots):
    plan = load_plan(6, 4, ecg_share=0.5, prefix="T", send_slots=slots)
    ticks = list(tick_records(plan, START))
    assert [i for i, _, _ in ticks] == [0, 1, 2, 3]
    for i, readings, chunks in ticks:
        assert len(readings) == 6 and len(chunks) == 3
        for b, r in enumerate(readings):
            end = datetime.fromtimestamp(record_end_s(START, i, plan.phase(b)), UTC)
            assert vitals_validate(json.dumps(r).encode(), key=r["patient_id"], now=end).ts == end
        for b, c in enumerate(chunks):  # the feeds are the first beds
            end = datetime.fromtimestamp(record_end_s(START, i, plan.phase(b)), UTC)
            chunk = ecg_validate(json.dumps(c), key=c["patient_id"], now=end)
            assert chunk.seq == i
            assert chunk.ts.timestamp() + chunk.duration_s == pytest.approx(end.timestamp())
    phases = {plan.phase(b) for b in range(6)}
    assert phases == ({0.0} if slots == 1 else {b % slots / slots for b in range(6)})
    # the same plan and start give the same records (the load test rebuilds them offline)
    again = list(tick_records(load_plan(6, 4, ecg_share=0.5, prefix="T", send_slots=slots), START))
    assert json.dumps([t[1] for t in again]) == json.dumps([t[1] for t in ticks])


class _Recorder:
    """Stands in for the aiokafka producer: the wall time each record was handed over."""

    def __init__(self):
        self.sent = []

    async def send(self, topic, value, key=None):
        self.sent.append((time.time(), topic, json.loads(value)))
        acked = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


def test_drive_sends_each_bed_at_its_own_time_never_before_its_records_end():
    plan = load_plan(8, 2, ecg_share=0.25, prefix="T", send_slots=4)
    start = datetime.fromtimestamp(time.time() + 0.3, UTC)
    rec = _Recorder()
    stats = asyncio.run(drive(plan, start, rec))
    assert (stats.vitals, stats.ecg) == (16, 4)
    for at, topic, v in rec.sent:
        t = datetime.fromisoformat(v["ts"]).timestamp() + (1.0 if topic == "ecg" else 0.0)
        assert t <= at < t + 0.2, (topic, v["patient_id"])  # sent at its device end time
    tick0 = sorted(at for at, topic, v in rec.sent[:10] if topic == "vitals")
    assert tick0[-1] - tick0[0] >= 0.7  # spread over the second, not one burst


def test_the_bytes_sent_are_the_planned_records_as_compact_json():
    """The simulator encodes with orjson; the load test computes what to expect from the planned
    records, so the bytes must be exactly the standard library's compact JSON of them."""
    plan = load_plan(6, 3, ecg_share=0.5, prefix="T")
    records = [r for _, readings, chunks in tick_records(plan, START) for r in readings + chunks]
    assert len(records) == 6 * 3 + 3 * 3
    for r in records:
        assert _json(r) == json.dumps(r, separators=(",", ":")).encode()


def test_events_fit_short_runs_and_repeat_in_long_ones():
    _, ev = load_ecg_events("vrun", 20)
    assert [(e.kind, round(e.start_s, 1), e.duration_s) for e in ev] == [("vrun", 6.7, 6.0)]
    _, ev = load_ecg_events("vf", 20)
    assert ev[0].start_s + ev[0].duration_s <= 21
    _, ev = load_ecg_events("vrun", 180, phase_s=3)
    assert [round(e.start_s) for e in ev] == [23, 83, 143]
    _, ev = load_ecg_events("af", 180)
    assert len(ev) == 1  # a lasting rhythm starts once


def test_a_spread_ward_expects_what_a_burst_expects_at_each_beds_own_time():
    """The send slots only move each bed's records within its second: the same alerts and
    points, each alert's completing record ending at its bed's phase."""
    burst = expected_outputs(load_plan(16, 30, ecg_share=0.5, prefix="T", send_slots=1), START)
    plan = load_plan(16, 30, ecg_share=0.5, prefix="T")
    spread = expected_outputs(plan, START)
    assert spread.by_measurement() == burst.by_measurement()
    assert len(spread.alerts) == len(burst.alerts)
    phase = {p.patient_id: plan.phase(b) for b, p in enumerate(plan.patients)}
    for ev, end in spread.alerts.values():
        assert (end - START.timestamp()) % 1 == pytest.approx(phase[ev["patient_id"]])
    assert {round((end - START.timestamp()) % 1, 2) for _, end in spread.alerts.values()} != {0.0}


def test_expected_outputs_of_a_short_run_have_news2_and_ecg_alerts():
    plan = load_plan(16, 30, ecg_share=0.5, prefix="T")
    exp = expected_outputs(plan, START)
    sources = {ev["source"] for ev, _ in exp.alerts.values()}
    assert "news2" in sources
    assert any(s.startswith("ecg.") for s in sources)
    assert "ecg.feed_stopped" not in sources
    per = exp.by_measurement()
    assert per["vitals"] == 16 * 30 and per["alerts"] == len(exp.alerts)
    # every alert's completing record ended within the run
    assert all(START.timestamp() <= end < START.timestamp() + 30 for _, end in exp.alerts.values())
    assert exp.common_field("vitals") in {"hr_bpm", "rr_bpm", "spo2_pct", "spo2_scale"}
    assert len({point_key(p) for p in exp.points.values()}) == len(exp.points)


def test_the_paths_in_several_processes_expect_what_one_process_expects():
    """The vitals path in a process of its own and the ECG feeds split among two or three,
    merged: the same alert events (each with its completing record's end time), the same points,
    and each path's share; each ECG shard has only its own feeds' alerts."""
    plan = load_plan(12, 25, ecg_share=0.5, prefix="T")
    one = expected_outputs(plan, START)
    for n in (2, 3):
        many = expected_outputs_parallel(plan, START, ecg_processes=n)
        assert many.alerts == one.alerts and many.points == one.points
        assert many.classifier == one.classifier
    counted = expected_outputs_parallel(plan, START, keep_points=False)  # what bench load runs
    assert counted.alerts == one.alerts and not counted.points
    assert counted.by_measurement() == one.by_measurement()
    assert counted.fields == one.fields and all(counted.common_field(m) for m in counted.fields)
    shard = expected_outputs(plan, START, vitals=False, ecg_shard=(1, 2))
    feeds = {f.patient_id for b, f in enumerate(plan.feeds) if b % 2 == 1}
    assert shard.alerts and {ev["patient_id"] for ev, _ in shard.alerts.values()} <= feeds
    vitals_only = expected_outputs(replace(plan, feeds=[]), START)
    ecg_only = expected_outputs(plan, START, vitals=False)
    assert vitals_only.alerts and ecg_only.alerts and not vitals_only.alerts.keys() & ecg_only.alerts.keys()
    assert {ev["source"] for ev, _ in ecg_only.alerts.values()} <= {
        ev["source"] for ev, _ in one.alerts.values() if ev["source"].startswith("ecg.")
    }
    assert "vitals" not in ecg_only.by_measurement() and "vitals" in vitals_only.by_measurement()


def test_percentiles_and_lag_growth():
    assert percentiles([1.0] * 99 + [3.0]) == {"p50": 1.0, "p95": 1.0, "p99": 1.02, "n": 100}
    keeping_up = [(float(t), 600 + 300 * (t % 3)) for t in range(60)]
    assert not lag_grows(keeping_up, 0, 60, 600.0)
    falling_behind = [(float(t), 100 * t) for t in range(60)]  # 100 msgs/s behind of 600 in
    assert lag_grows(falling_behind, 0, 60, 600.0) is True  # a plain bool: the report is JSON


def test_counted_points_are_deduplicated_and_their_common_fields_kept():
    """``keep_points=False`` keeps a digest per point key: a point sent twice counts once, and
    a field counts as common only when every point of its measurement carries it."""
    exp = Expected(keep_points=False)
    a = {"measurement": "vitals", "tags": {"patient": "P1"}, "time_ns": 1}
    a["fields"] = {"hr_bpm": 70, "rr_bpm": 12}
    b = {**a, "time_ns": 2, "fields": {"hr_bpm": 71}}
    exp.add_points([a, a, b])
    other = Expected(keep_points=False)
    other.add_points([{**a, "tags": {"patient": "P2"}}, a])
    exp.merge(other)
    assert exp.by_measurement() == {"vitals": 3} and not exp.points
    assert exp.common_field("vitals") == "hr_bpm" and exp.fields["vitals"] == {"hr_bpm"}


def test_a_part_whose_process_dies_raises_instead_of_hanging(monkeypatch):
    """The offline check's parts run in processes of their own; one killed (stop 49: by the
    kernel's OOM killer) must fail the check, not leave it waiting for ever."""
    from concurrent.futures.process import BrokenProcessPool

    import wardwatch.loadtest.expected as expected_mod

    plan = load_plan(4, 5, ecg_share=0.5, prefix="T")
    monkeypatch.setattr(expected_mod, "expected_outputs", _die_in_a_child)
    with pytest.raises(BrokenProcessPool):
        expected_mod.expected_outputs_parallel(plan, START)


def _die_in_a_child(*args, **kwargs):
    """``expected_outputs`` stand-in: a pool process exits at once; here (the parent) it returns."""
    if multiprocessing.parent_process() is not None:
        os._exit(9)
    return Expected()
