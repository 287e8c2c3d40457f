"""The per-patient steps the agent runs (admit -> detect -> classify -> analyse), with the real
streaming detector on synthetic feeds and labels taken from the synthetic truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from simulators.ecg_feed import feed_chunks
from simulators.ecg_synth import SCENARIOS, synth_beds
from streams.ecg.process import (
    alarm_condition,
    alarm_point,
    ecg_admit,
    ecg_analyse,
    ecg_detect,
    ecg_state_new,
)
from wardwatch.records.ecg import ecg_validate
from wardwatch.records.errors import InvalidRecord

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def oracle(feed, det):
    """Truth label of each detected beat (Q when it matches no true beat within 150 ms)."""
    tr = np.array([s for s, _ in feed.truth])
    out = []
    for t in det.beat_t:
        s = (t - START.timestamp()) * feed.fs_hz
        j = int(np.argmin(np.abs(tr - s)))
        out.append(feed.truth[j][1] if abs(tr[j] - s) < 0.15 * feed.fs_hz else "Q")
    return out


def run(feed, roundtrip=True):
    st, changes, points = ecg_state_new(), [], []
    for c in feed_chunks(feed, START):
        chunk = ecg_validate(json.dumps(c), key=feed.patient_id)
        if roundtrip:  # what the changelog table does between chunks
            st = json.loads(json.dumps(st))
        _, ch = ecg_admit(st, chunk, 0.0)
        det, _ = ecg_detect(st, chunk)
        res = ecg_analyse(st, chunk, det, oracle(feed, det))
        changes += ch + res.changes
        points += res.points
    return st, changes, points


@pytest.fixture(scope="module")
def beds():
    return {f.source.split(":")[1]: f for f in synth_beds(len(SCENARIOS), duration_s=60, seed=0)}


def summary(changes):
    return [(c.source, c.active) for c in changes]


def test_sinus_quiet_with_hr_and_beat_counts(beds):
    _, changes, points = run(beds["sinus"])
    assert changes == []
    hr = [p["fields"]["hr_bpm"] for p in points if p["measurement"] == "ecg_hr"]
    assert len(hr) > 40 and 65 < np.median(hr) < 80
    bins = [p for p in points if p["measurement"] == "beats"]
    assert len(bins) >= 4 and all(p["tags"]["patient"] == "SYN-0000" for p in bins)
    assert all(10 <= p["fields"]["N"] <= 14 and p["fields"]["V"] == 0 for p in bins[1:])


def test_vrun_fires_vtach_once(beds):
    _, changes, _ = run(beds["vrun"])
    vt = [c for c in changes if c.source == "ecg.vtach"]
    assert [c.active for c in vt] == [True, False]
    assert 20.0 <= vt[0].t - START.timestamp() <= 23.0       # run starts at 20 s
    pt = alarm_point(vt[0], "SYN-0001", "SIM-002", "/x.png")
    assert pt["measurement"] == "ecg_alarms" and pt["tags"]["source"] == "ecg.vtach"
    assert pt["fields"]["active"] == 1 and pt["fields"]["rate_bpm"] > 100
    assert pt["fields"]["strip_png"] == "/x.png"
    cond = alarm_condition(vt[0], "SYN-0001", "SIM-002", {"beat_classifier": "test"}, "/x.png")
    assert cond.latched and cond.priority == "high" and cond.evidence["strip_png"] == "/x.png"
    assert cond.versions["beat_classifier"] == "test" and "ecg_rules" in cond.versions


def test_pause_and_asystole_from_streaming_detector(beds):
    _, changes, _ = run(beds["pause"])
    assert summary(changes) == [("ecg.pause", True), ("ecg.asystole", True),
                                ("ecg.pause", False), ("ecg.asystole", False)]
    on = changes[1].t - START.timestamp()
    assert 28.0 <= on <= 30.0                                 # last beat before 25 s, + 4 s


def test_state_round_trip_gives_same_result(beds):
    a = run(beds["vrun"], roundtrip=True)
    b = run(beds["vrun"], roundtrip=False)
    assert summary(a[1]) == summary(b[1]) and len(a[2]) == len(b[2])
    assert len(json.dumps(a[0])) < 60_000                    # bounded state per patient


def test_duplicate_and_gap(beds):
    feed = beds["sinus"]
    chunks = [ecg_validate(json.dumps(c)) for c in feed_chunks(feed, START, seconds=8)]
    st = ecg_state_new()
    for c in chunks[:4]:
        ecg_admit(st, c, 0.0)
        ecg_detect(st, c)
    with pytest.raises(InvalidRecord) as e:
        ecg_admit(st, chunks[3], 0.0)
    assert e.value.code == "duplicate"
    verdict, _ = ecg_admit(st, chunks[6], 0.0)
    assert (verdict.kind, verdict.missing) == ("gap", 2)
    assert st["beat_stream"] is None and st["seg_t0"] == chunks[6].t0
    # the new detector stream numbers its morphology families afresh: their votes restart too
    st["votes"]["0"] = [0.9, 40]
    ecg_detect(st, chunks[6])
    assert st["votes"] == {} and st["beat_stream"]["families"]["next_id"] <= 2
    old = ecg_state_new()
    del old["votes"]                         # a state written before the family vote
    ecg_admit(old, chunks[0], 0.0)
    ecg_detect(old, chunks[0])
    assert old["votes"] == {}


def test_synthetic_scenarios_with_the_committed_classifier(beds):
    """The whole pure path with the real TFLite classifier: each scenario raises its alarm."""
    from models.ecg.pipeline import BeatClassifier

    clf = BeatClassifier()
    # the synthetic VT run (170/min, identical smooth complexes) is sine-like enough to raise the
    # VF / flutter alarm too, as fast monomorphic VT does on real records (205)
    expected = {"sinus": set(), "vrun": {"ecg.vtach", "ecg.vfib"},
                "pause": {"ecg.pause", "ecg.asystole"}, "af": {"ecg.afib"},
                "leads_off": {"ecg.leads_off"}, "noise": {"ecg.noise"}, "brady": {"ecg.brady"},
                "tachy": {"ecg.tachy"}, "vf": {"ecg.vfib"}}
    assert set(expected) == set(beds)
    for name, feed in beds.items():
        st, live, on = ecg_state_new(), None, []
        for c in feed_chunks(feed, START):
            chunk = ecg_validate(json.dumps(c))
            _, ch = ecg_admit(st, chunk, 0.0)
            det, live = ecg_detect(st, chunk, stream=live)
            labels = clf.predict(det.candidates, st["votes"])[0] if det.candidates else []
            on += [x for x in ch + ecg_analyse(st, chunk, det, labels).changes if x.active]
        raised = {x.source for x in on} - {"ecg.pvc_burden"}  # a VT run is also frequent PVCs
        assert raised == expected[name], name
        if name == "vf":                    # its evidence reaches the ecg_alarms point
            fields = alarm_point(on[0], feed.patient_id, feed.bed)["fields"]
            assert fields["vf_leak"] < 0.65 and fields["vf_freq_hz"] >= 2.5
        if name in ("sinus", "vrun"):       # the family votes live in the patient's state
            assert st["votes"] and json.loads(json.dumps(st["votes"])) == st["votes"]


def test_strip_inputs_carry_the_second_lead_only_while_chunks_do(beds):
    from streams.ecg.process import strip_inputs

    feed = beds["sinus"]
    st = ecg_state_new()
    seen = []
    for i, c in enumerate(feed_chunks(feed, START, seconds=14)):
        c = {k: v for k, v in c.items() if k not in ("lead2", "ecg2_uv")}
        if i != 9:                                    # chunk 9 arrives without its second lead
            c = c | {"lead2": "V1", "ecg2_uv": [-v // 2 for v in c["ecg_uv"]]}
        chunk = ecg_validate(json.dumps(c), key=feed.patient_id)
        st = json.loads(json.dumps(st))
        ecg_admit(st, chunk, 0.0)
        det, _ = ecg_detect(st, chunk)
        seen.append(strip_inputs(st, det))
    assert seen[8].second is not None and seen[8].lead == feed.lead and seen[8].second[0] == "V1"
    assert seen[9].second is None                     # never a stale second lead on a strip
    s = seen[-1]                                      # 4 chunks since: its buffer restarted at 10
    name, x2, t02 = s.second
    assert t02 == START.timestamp() + 10.0 and x2.size == round(4 * s.fs)
    assert name == "V1"
    np.testing.assert_array_equal(x2, [-v // 2 for v in s.x_uv[-x2.size:].tolist()])
