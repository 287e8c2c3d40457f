"""The station's ward snapshot: what each record does to it and what browsers are told."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from simulators.ecg_feed import feed_chunks
from simulators.ecg_synth import synth_beds
from wardwatch.web.snapshot import (
    ECG_DISPLAY_HZ,
    ECG_KEEP_S,
    Ward,
    alarms_sorted,
    coalesce,
    ecg_decimate,
    ward_apply,
    ward_evict,
    ward_view,
)

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def vitals_point(pid: str, t_s: float, **fields) -> dict:
    return {
        "measurement": "vitals",
        "tags": {"patient": pid, "bed": "W1-01"},
        "fields": fields,
        "time_ns": int((T0.timestamp() + t_s) * 1e9),
    }


def alert(kind: str, aid: str, priority: str = "high", t_s: float = 0.0, pid: str = "P1", **extra) -> dict:
    ts = (T0 + timedelta(seconds=t_s)).isoformat()
    return {
        "event_id": f"ev-{aid}-{kind}-{t_s}-{priority}",
        "alert_id": aid,
        "type": kind,
        "patient_id": pid,
        "bed": "W1-01",
        "source": extra.pop("source", "news2"),
        "category": "physiological",
        "priority": priority,
        "latched": False,
        "onset_ts": extra.pop("onset_ts", ts),
        "ts": ts,
        "message": f"{kind} {aid}",
        "evidence": extra.pop("evidence", {}),
        **extra,
    }


def test_vitals_points_fill_the_bed_and_an_older_reading_does_not_overwrite_a_newer():
    w = Ward()
    up = ward_apply(w, "influx.points", vitals_point("P1", 10, hr_bpm=101.0, spo2_pct=93.0, on_oxygen=False))
    assert up == [{"type": "bed", "bed": w.beds["P1"].view()}]
    assert w.beds["P1"].vitals == {"hr_bpm": 101.0, "spo2_pct": 93.0}
    assert ward_apply(w, "influx.points", vitals_point("P1", 5, hr_bpm=70.0)) == []
    assert w.beds["P1"].vitals["hr_bpm"] == 101.0
    ward_apply(w, "influx.points", vitals_point("P1", 11, sbp_mmhg=92.0, dbp_mmhg=57.0))
    assert w.beds["P1"].vitals == {"hr_bpm": 101.0, "spo2_pct": 93.0, "sbp_mmhg": 92.0, "dbp_mmhg": 57.0}


def test_news2_risk_and_ecg_heart_rate_points():
    w = Ward()
    tags = {"patient": "P1", "bed": "W1-01"}
    ward_apply(
        w,
        "influx.points",
        {
            "measurement": "news2",
            "tags": tags,
            "fields": {"score": 7, "band": "7+", "risk": "high", "c_rr": 3},
        },
    )
    ward_apply(
        w,
        "influx.points",
        {"measurement": "risk", "tags": tags, "fields": {"probability": 0.41, "threshold": 0.3, "alert": 1}},
    )
    ward_apply(w, "influx.points", {"measurement": "ecg_hr", "tags": tags, "fields": {"hr_bpm": 64.5}})
    v = w.beds["P1"].view()
    assert v["news2"] == {"score": 7, "band": "7+", "risk": "high"}
    assert v["risk"] == {"probability": 0.41, "threshold": 0.3, "alert": 1}
    assert v["ecg_hr_bpm"] == 64.5
    # measurements the station does not show, and points without a patient, change nothing
    assert ward_apply(w, "influx.points", {"measurement": "pipeline", "tags": {}, "fields": {"x": 1}}) == []
    assert ward_apply(w, "influx.points", {"measurement": "beats", "tags": tags, "fields": {"N": 3}}) == []


def test_malformed_records_are_ignored_not_raised():
    w = Ward()
    for topic, value in [
        ("alerts", {"type": "raised"}),
        ("alerts", "not a dict"),
        ("alerts", {"type": "raised", "alert_id": "a", "patient_id": "P1"}),  # no priority
        ("influx.points", {"measurement": "vitals", "tags": {"patient": "P1"}, "fields": "x"}),
        ("ecg", {"patient_id": "P1", "ts": "nope", "fs_hz": 360, "ecg_uv": [1, 2, 3]}),
        ("ecg", {"patient_id": "P1", "ts": T0.isoformat(), "fs_hz": 5, "ecg_uv": [1, 2, 3]}),
        ("vitals", {"patient_id": "P1"}),
    ]:
        assert ward_apply(w, topic, value) == []
    assert w.alarms == {}


def test_alarms_are_sorted_by_priority_then_unacknowledged_then_newest():
    w = Ward()
    ward_apply(w, "alerts", alert("raised", "low-old", "low", 0))
    ward_apply(w, "alerts", alert("raised", "high-old", "high", 1, pid="P2"))
    ward_apply(w, "alerts", alert("raised", "med", "medium", 2, pid="P3"))
    ward_apply(w, "alerts", alert("raised", "high-new", "high", 3, pid="P4"))
    up = ward_apply(
        w,
        "alerts",
        alert(
            "acknowledged",
            "high-new",
            "high",
            4,
            pid="P4",
            by="anna",
            by_name="Anna Berg",
            onset_ts=(T0 + timedelta(seconds=3)).isoformat(),
        ),
    )
    order = [a["alert_id"] for a in up[0]["alarms"]]
    assert order == ["high-old", "high-new", "med", "low-old"]
    acked = w.alarms["high-new"]
    assert acked["acknowledged"] and acked["by"] == "anna" and acked["by_name"] == "Anna Berg"
    ward_apply(w, "alerts", alert("raised", "high-newest", "high", 5, pid="P5"))
    assert [a["alert_id"] for a in alarms_sorted(w.alarms)][:3] == ["high-newest", "high-old", "high-new"]


def test_escalation_needs_a_new_acknowledgement_and_resolution_removes_the_alarm_for_good():
    w = Ward()
    ward_apply(w, "alerts", alert("raised", "a1", "medium", 0))
    ward_apply(w, "alerts", alert("acknowledged", "a1", "medium", 1, by="anna"))
    assert w.alarms["a1"]["acknowledged"]
    ward_apply(w, "alerts", alert("escalated", "a1", "high", 2))
    assert w.alarms["a1"]["priority"] == "high" and not w.alarms["a1"]["acknowledged"]
    up = ward_apply(w, "alerts", alert("resolved", "a1", "high", 3))
    assert up == [{"type": "alarms", "alarms": []}] and w.alarms == {}
    # a late copy of the raise (at-least-once delivery) does not bring it back
    late = alert("raised", "a1", "medium", 0)
    late["event_id"] = "ev-other-copy"
    assert ward_apply(w, "alerts", late) == []
    assert w.alarms == {}


def test_the_same_event_twice_is_one_update_and_silence_and_latch_show():
    w = Ward()
    ev = alert("raised", "a1", "high", 0, source="ecg.vtach")
    assert len(ward_apply(w, "alerts", ev)) == 1
    assert ward_apply(w, "alerts", ev) == []
    until = (T0 + timedelta(seconds=120)).isoformat()
    ward_apply(w, "alerts", alert("silenced", "a1", "high", 1, by="ben", silenced_until=until))
    assert w.alarms["a1"]["silenced_until"] == until and not w.alarms["a1"]["acknowledged"]
    ward_apply(w, "alerts", alert("latched", "a1", "high", 2))
    assert w.alarms["a1"]["active"] is False


def test_an_arrhythmia_alarm_keeps_its_strip_on_the_server_and_tells_the_browser_there_is_one():
    w = Ward()
    ev = alert(
        "raised",
        "a1",
        "high",
        0,
        source="ecg.vtach",
        evidence={"rate_bpm": 172.0, "run_beats": 9, "strip_png": "/x/strips/ecg-vtach-1.png"},
    )
    view = ward_apply(w, "alerts", ev)[0]["alarms"][0]
    assert view["has_strip"] is True
    assert view["evidence"] == {"rate_bpm": 172.0, "run_beats": 9}
    assert "/x/strips" not in json.dumps(ward_view(w))
    assert w.strips["a1"] == "/x/strips/ecg-vtach-1.png"


def test_ecg_decimation_keeps_the_r_wave_height():
    feed = synth_beds(1, duration_s=4, fs=360.0, seed=3)[0]
    samples = feed.signal_uv.tolist()
    dec, fs = ecg_decimate(samples, 360.0, ECG_DISPLAY_HZ)
    assert fs == 120.0 and len(dec) == len(samples) // 3
    assert max(dec) == max(samples)  # every block keeps its extreme sample
    dec500, fs500 = ecg_decimate(list(range(500)), 500.0, ECG_DISPLAY_HZ)
    assert fs500 == 125.0 and len(dec500) == 125


def test_ecg_chunks_feed_a_bounded_trace_and_an_older_chunk_is_not_drawn_again():
    w = Ward()
    feed = synth_beds(1, duration_s=12, fs=360.0, seed=1)[0]
    chunks = list(feed_chunks(feed, T0))
    first = ward_apply(w, "ecg", chunks[0])
    assert [u["type"] for u in first] == ["bed", "ecg"] and first[0]["bed"]["has_ecg"]
    assert first[1]["fs"] == 120.0 and len(first[1]["samples"]) == 120 and first[1]["lead"] == "II"
    for c in chunks[1:]:
        assert [u["type"] for u in ward_apply(w, "ecg", c)] == ["ecg"]
    assert len(w.beds[feed.patient_id].ecg) == ECG_KEEP_S * 120
    assert ward_apply(w, "ecg", chunks[3]) == []
    snap = ward_view(w)["ecg"][feed.patient_id]
    assert snap["fs"] == 120.0 and len(snap["samples"]) == ECG_KEEP_S * 120


def test_coalesce_keeps_the_last_bed_and_alarm_updates_and_every_ecg_piece():
    ups = [
        {"type": "bed", "bed": {"patient_id": "P1", "n": 1}},
        {"type": "ecg", "patient_id": "P1", "samples": [1]},
        {"type": "alarms", "alarms": [1]},
        {"type": "bed", "bed": {"patient_id": "P2", "n": 1}},
        {"type": "bed", "bed": {"patient_id": "P1", "n": 2}},
        {"type": "ecg", "patient_id": "P1", "samples": [2]},
        {"type": "alarms", "alarms": [2]},
        {"type": "bed_removed", "patient_id": "P3"},
    ]
    assert coalesce(ups) == [ups[1], ups[3], ups[4], ups[5], ups[6], ups[7]]


def test_idle_beds_without_an_alarm_are_forgotten_and_browsers_told():
    """A bed whose newest record (vitals, any point, or ECG) is older than the idle time goes,
    unless an alarm of its patient is still shown; the snapshot no longer has it."""
    w = Ward()
    feed = synth_beds(1, duration_s=2, fs=360.0, seed=1)[0]
    ward_apply(w, "influx.points", vitals_point("P1", 0, hr_bpm=80.0))
    ward_apply(w, "influx.points", vitals_point("P2", 0, hr_bpm=80.0))
    ward_apply(
        w, "influx.points", {**vitals_point("P2", 500), "measurement": "news2", "fields": {"score": 1}}
    )
    ward_apply(w, "alerts", alert("raised", "a1", "high", 0, pid="P3"))
    ward_apply(w, "influx.points", vitals_point("P3", 0, hr_bpm=140.0))
    for c in feed_chunks(feed, T0 + timedelta(seconds=400)):
        ward_apply(w, "ecg", c)
    now = T0.timestamp() + 700
    assert ward_evict(w, now, idle_s=1000) == []
    removed = ward_evict(w, now, idle_s=350)
    assert removed == [{"type": "bed_removed", "patient_id": "P1"}]  # P2: a point at 500 s, ECG to 402 s
    assert ward_evict(w, now, idle_s=250) == [{"type": "bed_removed", "patient_id": feed.patient_id}]
    assert ward_evict(w, now + 1000, idle_s=150) == [{"type": "bed_removed", "patient_id": "P2"}]
    assert set(w.beds) == {"P3"}  # its alarm is still shown
    ward_apply(w, "alerts", alert("resolved", "a1", "high", 800, pid="P3"))
    assert ward_evict(w, now + 1000, idle_s=150) == [{"type": "bed_removed", "patient_id": "P3"}]
    assert ward_view(w)["beds"] == []
