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

pytestmark = pytest.mark.integration

DS1 = Path("/work/shared/data/mitdb-ds1")
# Record 207: its reference annotations have a run of 3 ventricular beats (MIT-BIH rhythm "(VT")
# at 146 bpm starting 38.8 s into the record; the replay covers 0-60 s.
RECORD, START_S, SECONDS = "207", 0.0, 60.0


def annotated_beats(record: str, start_s: float, seconds: float) -> list[tuple[float, str]]:
    """Reference beats (s from the replay start, symbol) in the replayed segment."""
    import wfdb

    ann = wfdb.rdann(str(DS1 / record), "atr")
    fs = 360.0
    return [(s / fs - start_s, sym) for s, sym in zip(ann.sample, ann.symbol)
            if sym in "NLRejAaJSVEF/fQ" and start_s <= s / fs < start_s + seconds]


def annotated_vruns(record: str, start_s: float, seconds: float, min_beats: int = 3,
                    min_rate: float = 100.0) -> list[tuple[float, int]]:
    """(onset s from the replay start, beats) of every reference V run in the replayed segment."""
    beats = annotated_beats(record, start_s, seconds)
    runs, cur = [], []
    for t, sym in beats + [(None, "N")]:
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


@pytest.mark.skipif(not DS1.exists(), reason="MIT-BIH DS1 not available")
def test_replayed_record_gives_beats_hr_and_vrun_alarm(stream_worker, services):
    from influxdb_client import InfluxDBClient

    from simulators.ecg_feed import play
    from simulators.ecg_replay import replay_feeds

    runs = annotated_vruns(RECORD, START_S, SECONDS)
    assert runs, "the chosen segment must contain an annotated V run"
    prefix = f"IT{uuid.uuid4().hex[:6]}"
    feeds = replay_feeds(DS1, 1, only=[RECORD], start_s=START_S, seconds=SECONDS, prefix=prefix)
    pid = feeds[0].patient_id
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=SECONDS + 30)
    start = end_offsets(["alerts", "deadletter"])

    stats = play(feeds, speed=20.0, start=t0)            # 60 s of ECG in 3 s
    assert stats.chunks == int(SECONDS)

    # bad input on the same feed: malformed, a duplicate chunk, millivolts instead of microvolts
    p = make_producer()
    send(p, "ecg", pid, b'{"patient_id": "' + pid.encode() + b'", "ecg_uv": [1, 2')
    dup = {"patient_id": pid, "bed": feeds[0].bed, "ts": (t0 + timedelta(seconds=5)).isoformat(),
           "fs_hz": 360.0, "seq": 5, "lead": "MLII", "ecg_uv": [0] * 360}
    send(p, "ecg", pid, dup)
    send(p, "ecg", pid, {**dup, "seq": 60, "ts": (t0 + timedelta(seconds=60)).isoformat(),
                         "ecg_uv": [0.1] * 360})
    p.flush()
    p.close()

    got: list[tuple[str, str, dict]] = []

    def done(_):
        kinds = {(v.get("source"), v.get("type")) for tp, k, v in got if tp == "alerts" and k == pid}
        dead = [v for tp, k, v in got if tp == "deadletter" and k == pid]
        return ("ecg.vtach", "raised") in kinds and ("ecg.feed_stopped", "raised") in kinds \
            and len(dead) >= 3

    deadline = time.monotonic() + 150
    for topic, key, value in consume(["alerts", "deadletter"], start=start, timeout_s=150):
        got.append((topic, key, value))
        if done(got) or time.monotonic() > deadline:
            break

    alerts = [v for tp, k, v in got if tp == "alerts" and k == pid]
    vt = [a for a in alerts if a["source"] == "ecg.vtach" and a["type"] == "raised"]
    assert vt, f"no VT alarm; alerts: {[(a['source'], a['type']) for a in alerts]}"
    a = vt[0]
    assert a["priority"] == "high" and a["latched"] is True and a["category"] == "physiological"
    onset = datetime.fromisoformat(a["ts"]).timestamp() - t0.timestamp()
    assert any(r0 - 1.0 <= onset <= r0 + 3.0 + 3.0 for r0, _ in runs), (onset, runs)
    ev = a["evidence"]
    assert ev["rate_bpm"] >= 100 and ev["run_beats"] >= 3
    assert [b["label"] for b in ev["beats"]][-3:] == ["V", "V", "V"]
    assert a["versions"]["ecg_rules"].startswith("ecg-rules") and "beat_classifier" in a["versions"]
    strip = Path(ev["strip_png"])
    assert strip.exists() and strip.read_bytes()[:4] == b"\x89PNG"
    # technical alarm from the agent's timer once the replay has stopped
    fs = [x for x in alerts if x["source"] == "ecg.feed_stopped" and x["type"] == "raised"]
    assert fs and fs[0]["category"] == "technical"

    dead = sorted(v["reason"].split(":")[0] for tp, k, v in got if tp == "deadletter" and k == pid)
    assert dead == ["duplicate", "malformed", "malformed"]   # broken JSON; float samples (mV)
    broken = next(v for tp, k, v in got if tp == "deadletter" and k == pid
                  and v["detail"].get("code") == "malformed" and b"ecg_uv\": [1, 2" in
                  base64.b64decode(v["original_b64"]))
    assert broken["source_topic"] == "ecg"
    assert stream_worker.alive()

    # beats per 10 s and heart rate are queryable with Flux
    s = services
    with InfluxDBClient(url=s.influx_url, token=s.influx_token_value(), org=s.influx_org) as c:
        q = c.query_api()
        deadline = time.monotonic() + 60
        totals: list = []
        while time.monotonic() < deadline:
            totals = [r.get_value() for t in q.query(flux(s, "beats", "total", pid)) for r in t.records]
            if len(totals) >= 5:
                break
            time.sleep(2)
        assert len(totals) >= 5
        ref_beats = sum(1 for _ in annotated_beats(RECORD, START_S, 10.0 * len(totals)))
        assert 0.8 * ref_beats <= sum(totals) <= 1.25 * ref_beats   # beats counted, ~ reference
        v_counts = [r.get_value() for t in q.query(flux(s, "beats", "V", pid)) for r in t.records]
        assert sum(v_counts) >= 3
        hr = [r.get_value() for t in q.query(flux(s, "ecg_hr", "hr_bpm", pid)) for r in t.records]
        assert len(hr) >= 30 and all(20 <= h <= 320 for h in hr)
