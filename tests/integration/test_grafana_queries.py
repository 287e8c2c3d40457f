"""Every provisioned Grafana dashboard's queries run on the real InfluxDB after a short real run
and return data.

The run: the session's stream worker; two synthetic ECG beds (a VT run, sinus) whose patients
also send 1 Hz vitals (one of them deteriorating), a malformed reading (a dead letter), a
re-asserted condition whose raise was never applied (an alarm healed), and a ``batch_job`` point
sent to ``influx.points`` as the batch workers send it. Then every panel
query, every annotation query and every template-variable query of every dashboard is run with
Grafana's variables substituted as Grafana's Flux macros do (``v.timeRangeStart`` /
``v.timeRangeStop`` as RFC 3339 times, ``v.windowPeriod`` as a duration, ``v.defaultBucket`` as a
string, ``${bed}`` as one bed), and each must return rows. Statically: every panel and annotation
query aggregates by window (``aggregateWindow(every: v.windowPeriod``), so a browser never pulls a
raw 1 Hz series.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wardwatch import topics
from wardwatch.influx_read import flux_rows
from wardwatch.kafka_io import make_producer, send
from wardwatch.records.conditions import Condition
from wardwatch.records.points import point

pytestmark = pytest.mark.integration
GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
WINDOW = "10s"

NORMAL = {"hr_bpm": 75, "spo2_pct": 97, "rr_bpm": 14, "sbp_mmhg": 124, "dbp_mmhg": 78, "temp_c": 36.8}
NORMAL |= {"o2": "air", "acvpu": "A"}
HIGH = {**NORMAL, "acvpu": "V", "rr_bpm": 26, "spo2_pct": 91, "hr_bpm": 128}  # NEWS2 >= 7


def queries(dashboard: dict) -> list[tuple[str, str]]:
    """``(where, flux)`` of every panel target, annotation and template variable."""
    out = [
        (f"panel {p['title']!r} {t['refId']}", t["query"]) for p in dashboard["panels"] for t in p["targets"]
    ]
    out += [(f"annotation {a['name']!r}", a["target"]["query"]) for a in dashboard["annotations"]["list"]]
    out += [(f"variable {v['name']!r}", v["query"]) for v in dashboard["templating"]["list"]]
    return out


def substitute(flux: str, bucket: str, start: datetime, stop: datetime, bed: str) -> str:
    """Grafana's Flux macros: the dashboard variables replaced in the query text."""
    rfc = "%Y-%m-%dT%H:%M:%SZ"
    return (
        flux.replace("v.timeRangeStart", start.strftime(rfc))
        .replace("v.timeRangeStop", stop.strftime(rfc))
        .replace("v.windowPeriod", WINDOW)
        .replace("v.defaultBucket", json.dumps(bucket))
        .replace("${bed}", bed)
    )


def test_every_query_aggregates_by_window_and_the_dashboards_are_provisioned():
    assert {p.stem for p in DASHBOARDS} >= {"ward", "patient", "pipeline"}
    provisioning = (GRAFANA / "provisioning" / "datasources" / "influxdb.yml").read_text()
    uids = set()
    for path in DASHBOARDS:
        d = json.loads(path.read_text())
        assert d["uid"] not in uids
        uids.add(d["uid"])
        assert len({p["id"] for p in d["panels"]}) == len(d["panels"])
        for p in d["panels"]:
            assert f"uid: {p['datasource']['uid']}" in provisioning
        for where, flux in queries(d):
            if where.startswith("variable"):
                continue  # tag values for a drop-down, not a series
            assert "aggregateWindow(every: v.windowPeriod" in flux, f"{path.name} {where}"
            assert "range(start: v.timeRangeStart, stop: v.timeRangeStop)" in flux, f"{path.name} {where}"
        if path.stem == "patient":
            assert [v["name"] for v in d["templating"]["list"]] == ["bed"]
            assert all('r.bed == "${bed}"' in f for w, f in queries(d) if not w.startswith("variable"))


@pytest.fixture(scope="module")
def ward_run(stream_worker, services):
    """A short real run through the worker; returns the beds and the time it started."""
    from simulators.ecg_feed import play
    from simulators.ecg_synth import synth_beds

    run = uuid.uuid4().hex[:6]
    seconds = 40
    feeds = synth_beds(2, duration_s=seconds, scenarios=["vrun", "sinus"], prefix=f"GF{run}")
    feeds = [dataclasses.replace(f, bed=f"GF{run}-{i + 1}") for i, f in enumerate(feeds)]
    begun = datetime.now(UTC)
    t0 = begun.replace(microsecond=0) - timedelta(seconds=seconds + 5)

    p = make_producer()
    for i in range(seconds):
        for n, f in enumerate(feeds):
            vals = HIGH if n == 0 and i >= seconds // 2 else NORMAL
            ts = (t0 + timedelta(seconds=i)).isoformat()
            send(p, topics.VITALS, f.patient_id, {"patient_id": f.patient_id, "bed": f.bed, "ts": ts, **vals})
    bad = {"patient_id": feeds[1].patient_id, "bed": feeds[1].bed, "ts": t0.isoformat(), "temp_f": 99.1}
    send(p, topics.VITALS, feeds[1].patient_id, bad)  # wrong unit: a dead letter
    # a re-asserted condition whose raise never reached the alert component: an alarm healed
    lost = Condition(feeds[1].patient_id, feeds[1].bed, "deterioration", True, "medium", t0.isoformat())
    send(p, topics.CONDITIONS, feeds[1].patient_id, dataclasses.replace(lost, reassert=True).to_dict())
    job = point("batch_job", {"kind": "notes", "status": "ok"}, {"latency_s": 1.5, "count": 1}, begun)
    send(p, topics.POINTS, f"job-{run}", job)  # as batch/worker.py reports a finished job
    p.flush()
    play(feeds, speed=8.0, start=t0, producer=p)
    p.close()
    return {"beds": [f.bed for f in feeds], "begun": begun, "services": services}


def run_all(s, bed: str, start: datetime) -> dict[str, list[dict]]:
    stop = datetime.now(UTC) + timedelta(seconds=1)
    out = {}
    for path in DASHBOARDS:
        for where, flux in queries(json.loads(path.read_text())):
            try:
                out[f"{path.stem}: {where}"] = flux_rows(
                    substitute(flux, s.influx_bucket, start, stop, bed), s
                )
            except Exception as e:  # noqa: BLE001 - say which query
                raise AssertionError(f"{path.name} {where}: {getattr(e, 'body', e)}") from None
    return out


def what_is_wrong(results: dict[str, list[dict]], beds: list[str], begun: datetime) -> list[str]:
    """Queries without data, and what a few panels should say about the run but do not (the
    end-to-end latency of the latest window since the run ``begun``: the session's earlier
    tests delay output by design, the fault tests most, and a stream worker they paused works
    through that backlog, so older windows show minutes)."""
    bed = beds[0]
    wrong = [f"no data: {k}" for k, rows in results.items() if not rows]
    if wrong:
        return wrong
    beds_now = {
        r["bed"]: r for r in results["ward: panel 'Beds now: latest vitals, NEWS2 and deterioration risk' A"]
    }
    stages = {r["stage"] for r in results["pipeline: panel 'Latency by stage (p50 and max)' A"]}
    lag_topics = {r["topic"] for r in results["pipeline: panel 'Consumer lag by topic' A"]}
    dead = results["pipeline: panel 'Dead letters per window' A"]
    faults = results["pipeline: panel 'Re-deliveries, delivery faults and healed alarms' A"]
    annotations = results["patient: annotation 'Alarms'"]
    hr_ecg = results["patient: panel 'Heart rate: ECG (R-R) against the monitor' B"]
    e2e = [
        r
        for r in results["pipeline: panel 'End-to-end latency to InfluxDB (upper bound)' A"]
        if r["_time"] >= begun
    ]
    checks = {
        "every bed in the ward table": set(beds) <= set(beds_now),
        "NEWS2 high for the deteriorating bed, low for the other": set(beds) <= set(beds_now)
        and (beds_now[bed].get("score") or 0) >= 7
        and (beds_now[beds[1]].get("score") or 0) <= 1,
        "a high-priority active alarm on the bed": any(
            r["bed"] == bed and r["priority"] == "high" for r in results["ward: panel 'Active alarms' A"]
        ),
        "HR from ECG plausible": all(r["bed"] == bed and 30 < r["_value"] < 250 for r in hr_ecg),
        "N and V beats": {"N", "V"}
        <= {r["_field"] for r in results["patient: panel 'Beats per class (AAMI)' A"]},
        "the bed in the variable": bed in {r["_value"] for r in results["patient: variable 'bed'"]},
        "a VT annotation with text": any("vtach" in r["source"] for r in annotations)
        and all(r["text"] for r in annotations),
        "the dead letter counted": sum(r["_value"] for r in dead if r["_field"] == "vitals_deadletter") >= 1,
        "the healed alarm counted": sum(
            r["_value"] for r in faults if r["_field"] == "alarms_healed_by_reassertion"
        )
        >= 1,
        "latency of every stage": {"vitals", "ecg", "influx.points"} <= stages,
        "lag of every input topic": {"vitals", "ecg", "influx.points"} <= lag_topics,
        "a vitals rate": any(
            r["_field"] == "vitals_processed" and r["_value"] > 0
            for r in results["pipeline: panel 'Messages per second' A"]
        ),
        "end-to-end latency under a minute": bool(e2e)
        and all(0 <= r["_value"] < 60 for r in e2e if r["_time"] == max(x["_time"] for x in e2e)),
    }
    return [name for name, ok in checks.items() if not ok]


def test_every_dashboard_query_returns_data_after_a_short_run(ward_run):
    s, beds = ward_run["services"], ward_run["beds"]
    start = ward_run["begun"] - timedelta(minutes=15)
    deadline = time.monotonic() + 120
    # the pipeline timer reports every 10 s; the last ECG alarms need the feed to stop
    while True:
        results = run_all(s, beds[0], start)
        wrong = what_is_wrong(results, beds, ward_run["begun"])
        if not wrong or time.monotonic() > deadline:
            break
        time.sleep(3)
    e2e = results["pipeline: panel 'End-to-end latency to InfluxDB (upper bound)' A"]
    begun = ward_run["begun"]
    recent = [(r["_time"].isoformat(), r.get("app"), r["_value"]) for r in e2e if r["_time"] >= begun]
    assert not wrong, f"{wrong}; end-to-end latency (time, app, s) since the run began: {recent[-12:]}"


def test_measurements_written_are_documented():
    """Every measurement a ``point(...)`` call names in the code is in grafana/README.md."""
    root = GRAFANA.parent
    written: set[str] = set()
    for folder in ("models", "streams", "wardwatch", "batch"):
        for f in (root / folder).rglob("*.py"):
            written |= set(re.findall(r'point\(\s*"([a-z0-9_]+)"', f.read_text()))
    doc = (GRAFANA / "README.md").read_text()
    assert written >= {
        "vitals",
        "news2",
        "risk",
        "beats",
        "ecg_hr",
        "ecg_alarms",
        "alerts",
        "pipeline",
        "batch_job",
    }
    missing = sorted(m for m in written if f"`{m}`" not in doc)
    assert not missing, f"not documented in grafana/README.md: {missing}"
