"""A real MIT-BIH record replayed at high speed through the real broker, the real Faust worker
(ECG agent, alert component, InfluxDB sink) into real InfluxDB and the ``alerts`` topic."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wardwatch.kafka_io import consume, end_offsets, make_producer, send
from wardwatch.settings import shared_data

pytestmark = pytest.mark.integration

DS1 = shared_data("mitdb-ds1")
# Record 205 from 280 s: sinus rhythm, then two annotated ventricular runs (MIT-BIH "(VT") of 8
# beats at 181 bpm (299.0 s) and 9 beats at 200 bpm (303.5 s); the replay covers 280-320 s.
# (207's early run at 38.8 s is followed by ventricular flutter, where no beats are annotated.)
RECORD, START_S, SECONDS = "205", 280.0, 40.0


def annotated_beats(record: str, start_s: float, seconds: float) -> list[tuple[float, str]]:
    """Reference beats (s from the replay start, symbol) in the replayed segment."""
    import wfdb

    ann = wfdb.rdann(str(DS1 / record), "atr")
    fs = 360.0
    return [
        (s / fs - start_s, sym)
        for s, sym in zip(ann.sample, ann.symbol, strict=True)
        if sym in "NLRejAaJSVEF/fQ" and start_s <= s / fs < start_s + seconds
    ]


def annotated_vruns(
    record: str, start_s: float, seconds: float, min_beats: int = 3, min_rate: float = 100.0
) -> list[tuple[float, int]]:
    """(onset s from the replay start, beats) of every reference V run in the replayed segment."""
    beats = annotated_beats(record, start_s, seconds)
    runs, cur = [], []
    for t, sym in [*beats, (None, "N")]:
        if sym in "VE":
            cur.append(t)
            continue
        if len(cur) >= min_beats and 60 * (len(cur) - 1) / (cur[-1] - cur[0]) >= min_rate:
            runs.append((cur[0], len(cur)))
        cur = []
    return runs


def flux(s, measurement: str, field: str, patient: str) -> str:
    return f'''from(bucket: "{s.influx_bucket}") |> range(start: -2h)
      |> filter(fn: (r) => r._measurement == "{measurement}" and r._field == "{field}"
                and r.patient == "{patient}")'''


@pytest.fixture(scope="module")
def replayed(stream_worker, services):
    """Replay the record segment at 20x real time plus three bad chunks; collect what the
    worker publishes on ``alerts`` and ``deadletter`` for that patient."""
    from simulators.ecg_feed import play
    from simulators.ecg_replay import replay_feeds

    prefix = f"IT{uuid.uuid4().hex[:6]}"
    feeds = replay_feeds(DS1, 1, only=[RECORD], start_s=START_S, seconds=SECONDS, prefix=prefix)
    pid = feeds[0].patient_id
    now = int(time.time()) // 10 * 10  # beat-count intervals align with t0
    t0 = datetime.fromtimestamp(now, tz=UTC) - timedelta(seconds=SECONDS + 30)
    start = end_offsets(["alerts", "deadletter"])

    stats = play(feeds, speed=20.0, start=t0)  # 40 s of ECG in 2 s
    assert stats.chunks == int(SECONDS)

    # bad input on the same feed: broken JSON, a late chunk, a duplicate, float (mV) samples
    p = make_producer()
    send(p, "ecg", pid, b'{"patient_id": "' + pid.encode() + b'", "ecg_uv": [1, 2')
    n = int(SECONDS)
    dup = {
        "patient_id": pid,
        "bed": feeds[0].bed,
        "ts": (t0 + timedelta(seconds=5)).isoformat(),
        "fs_hz": 360.0,
        "seq": 5,
        "lead": "MLII",
        "ecg_uv": [0] * 360,
    }
    send(p, "ecg", pid, dup)  # seq 5 after the last: out of order
    last = {
        **dup,
        "seq": n - 1,
        "ts": (t0 + timedelta(seconds=n - 1)).isoformat(),
        "ecg_uv": feeds[0].signal_uv[(n - 1) * 360 : n * 360].tolist(),
    }
    send(p, "ecg", pid, last)  # the last seq again: duplicate
    send(
        p, "ecg", pid, {**dup, "seq": n, "ts": (t0 + timedelta(seconds=n)).isoformat(), "ecg_uv": [0.1] * 360}
    )
    p.flush()
    p.close()

    got: list[tuple[str, str, dict]] = []

    def done() -> bool:
        kinds = {(v.get("source"), v.get("type")) for tp, k, v in got if tp == "alerts" and k == pid}
        dead = [v for tp, k, v in got if tp == "deadletter" and k == pid]
        return ("ecg.vtach", "raised") in kinds and ("ecg.feed_stopped", "raised") in kinds and len(dead) >= 4

    deadline = time.monotonic() + 150
    for topic, key, value in consume(["alerts", "deadletter"], start=start, timeout_s=150):
        got.append((topic, key, value))
        if done() or time.monotonic() > deadline:
            break
    return {"pid": pid, "t0": t0, "got": got, "worker": stream_worker}


def test_bad_chunks_go_to_deadletter_and_feed_stop_alarms(replayed):
    pid, got = replayed["pid"], replayed["got"]
    dead = sorted(v["reason"].split(":")[0] for tp, k, v in got if tp == "deadletter" and k == pid)
    assert dead == ["duplicate", "malformed", "malformed", "out_of_order"]
    broken = next(
        v
        for tp, k, v in got
        if tp == "deadletter" and k == pid and b'ecg_uv": [1, 2' in base64.b64decode(v["original_b64"])
    )
    assert broken["source_topic"] == "ecg" and broken["detail"]["code"] == "malformed"
    alerts = [v for tp, k, v in got if tp == "alerts" and k == pid]
    fs = [x for x in alerts if x["source"] == "ecg.feed_stopped" and x["type"] == "raised"]
    assert fs and fs[0]["category"] == "technical"  # from the agent's timer
    assert replayed["worker"].alive()


def test_beats_and_heart_rate_in_influxdb(replayed, services):
    from influxdb_client import InfluxDBClient

    pid, s = replayed["pid"], services
    with InfluxDBClient(url=s.influx_url, token=s.influx_token_value(), org=s.influx_org) as c:
        q = c.query_api()
        deadline = time.monotonic() + 60
        totals: list = []
        while time.monotonic() < deadline:
            totals = [r.get_value() for t in q.query(flux(s, "beats", "total", pid)) for r in t.records]
            if len(totals) >= 3:
                break
            time.sleep(2)
        assert len(totals) >= 3
        ref_beats = len(annotated_beats(RECORD, START_S, 10.0 * len(totals)))
        assert 0.8 * ref_beats <= sum(totals) <= 1.25 * ref_beats  # beats counted, ~ reference
        hr = [r.get_value() for t in q.query(flux(s, "ecg_hr", "hr_bpm", pid)) for r in t.records]
        assert len(hr) >= 25 and all(20 <= h <= 320 for h in hr)
        v = [r.get_value() for t in q.query(flux(s, "beats", "V", pid)) for r in t.records]
        assert sum(v) >= 3
        rate = [
            (r.values["source"], r.get_value())
            for t in q.query(flux(s, "ecg_alarms", "rate_bpm", pid))
            for r in t.records
        ]
        assert rate and all(src == "ecg.vtach" and bpm >= 100 for src, bpm in rate)


def test_vrun_raises_latched_high_vt_alarm_with_strip(replayed):
    pid, got, t0 = replayed["pid"], replayed["got"], replayed["t0"]
    runs = annotated_vruns(RECORD, START_S, SECONDS)
    assert runs, "the chosen segment must contain an annotated V run"
    alerts = [v for tp, k, v in got if tp == "alerts" and k == pid]
    vt = [a for a in alerts if a["source"] == "ecg.vtach" and a["type"] == "raised"]
    assert vt, f"no VT alarm; alerts: {[(a['source'], a['type']) for a in alerts]}"
    a = vt[0]
    assert a["priority"] == "high" and a["latched"] is True and a["category"] == "physiological"
    onset = datetime.fromisoformat(a["ts"]).timestamp() - t0.timestamp()
    assert any(r0 - 1.0 <= onset <= r0 + 6.0 for r0, _ in runs), (onset, runs)
    ev = a["evidence"]
    assert ev["rate_bpm"] >= 100 and ev["run_beats"] >= 3
    assert [b["label"] for b in ev["beats"]][-3:] == ["V", "V", "V"]
    assert a["versions"]["ecg_rules"].startswith("ecg-rules") and "beat_classifier" in a["versions"]
    strip = Path(ev["strip_png"])
    assert strip.exists() and strip.read_bytes()[:4] == b"\x89PNG"


def test_detector_state_survives_a_killed_worker(start_worker, services, request):
    """SIGKILL the worker 10 s into a feed; a new worker (same app id) continues the patient's
    detector and rules from the changelog: no detector re-learning (the first beats after the
    restart already have a heart rate), no sequence gap, and the V run after the restart still
    raises the VT alarm."""
    from simulators.ecg_feed import feed_chunks
    from simulators.ecg_replay import replay_feeds

    app_id = f"wardwatch-ecg-restart-{uuid.uuid4().hex[:6]}"
    feeds = replay_feeds(
        DS1, 1, only=[RECORD], start_s=START_S, seconds=SECONDS, prefix=f"RS{uuid.uuid4().hex[:6]}"
    )
    pid = feeds[0].patient_id
    t0 = datetime.fromtimestamp(int(time.time()) // 10 * 10, tz=UTC) - timedelta(seconds=SECONDS + 30)
    chunks = list(feed_chunks(feeds[0], t0))
    cut = 10

    def produce(part: list[dict]) -> None:
        p = make_producer()
        for c in part:
            send(p, "ecg", pid, c)
        p.flush()
        p.close()

    w1 = start_worker(["worker"], env={"WARDWATCH_APP_ID": app_id}, ready="Worker ready")
    produce(chunks[:cut])
    s = services
    from influxdb_client import InfluxDBClient

    with InfluxDBClient(url=s.influx_url, token=s.influx_token_value(), org=s.influx_org) as c:
        q = c.query_api()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if [r for t in q.query(flux(s, "ecg_hr", "hr_bpm", pid)) for r in t.records]:
                break
            time.sleep(1)
        time.sleep(4)  # changelog and offsets commit (commit interval 1 s)
        w1.stop(kill=True)

        w2 = start_worker(["worker"], env={"WARDWATCH_APP_ID": app_id}, ready="Worker ready")
        request.addfinalizer(w2.stop)  # no second consumer group may outlive this test
        start = end_offsets(["alerts", "deadletter"])
        produce(chunks[cut:])
        got = []
        for topic, key, value in consume(["alerts", "deadletter"], start=start, timeout_s=120):
            if key == pid:
                got.append((topic, value))
            if any(tp == "alerts" and v["source"] == "ecg.vtach" for tp, v in got):
                break
        assert w2.alive()
        assert [v for tp, v in got if tp == "alerts" and v["source"] == "ecg.vtach"]
        reasons = [v["reason"] for tp, v in got if tp == "deadletter"]
        assert not [r for r in reasons if r.startswith("seq_gap")], reasons

        deadline = time.monotonic() + 30
        hr_t: list[float] = []
        while time.monotonic() < deadline:
            hr_t = sorted(
                r.get_time().timestamp() - t0.timestamp()
                for t in q.query(flux(s, "ecg_hr", "hr_bpm", pid))
                for r in t.records
            )
            if any(x > cut + 5 for x in hr_t):
                break
            time.sleep(1)
        after = [x for x in hr_t if x >= cut]
        # with the state restored the first beat after the restart already has a heart rate
        # (offline, same data: 10.5 s); a fresh detector needs 3 beats first (11.8 s)
        assert after and after[0] < cut + 1.6, hr_t


def test_ventricular_flutter_raises_the_vf_alarm_with_evidence_in_influxdb(stream_worker, services):
    """207 from 35 s: ventricular flutter from 40.7 s (MIT-BIH '[') to 51.0 s; the worker raises
    the signal-based VF alarm (high, latched, with its strip) within 8 s of onset, and its
    measures reach the ``ecg_alarms`` point."""
    from influxdb_client import InfluxDBClient

    from simulators.ecg_feed import play
    from simulators.ecg_replay import replay_feeds

    start_s, seconds, onset = 35.0, 30.0, 40.7
    feeds = replay_feeds(
        DS1, 1, only=["207"], start_s=start_s, seconds=seconds, prefix=f"VF{uuid.uuid4().hex[:6]}"
    )
    pid = feeds[0].patient_id
    t0 = datetime.fromtimestamp(int(time.time()) // 10 * 10, tz=UTC) - timedelta(seconds=seconds + 30)
    start = end_offsets(["alerts"])
    play(feeds, speed=20.0, start=t0)
    vf = []
    for _, key, value in consume(["alerts"], start=start, timeout_s=120):
        if key == pid and value.get("source") == "ecg.vfib" and value.get("type") == "raised":
            vf.append(value)
            break
    assert vf, "no VF alarm"
    a = vf[0]
    assert a["priority"] == "high" and a["latched"] is True and a["category"] == "physiological"
    after = datetime.fromisoformat(a["ts"]).timestamp() - t0.timestamp() - (onset - start_s)
    assert 0 < after <= 8.0, after
    assert a["evidence"]["vf_leak"] < 0.65 and Path(a["evidence"]["strip_png"]).exists()
    s = services
    with InfluxDBClient(url=s.influx_url, token=s.influx_token_value(), org=s.influx_org) as c:
        deadline, leak = time.monotonic() + 60, []
        while time.monotonic() < deadline and not leak:
            leak = [
                (r.values["source"], r.get_value())
                for t in c.query_api().query(flux(s, "ecg_alarms", "vf_leak", pid))
                for r in t.records
            ]
            time.sleep(1)
        assert leak and all(src == "ecg.vfib" for src, _ in leak)
    assert stream_worker.alive()
