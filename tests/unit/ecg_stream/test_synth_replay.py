"""Simulators: synthetic feeds carry their events; replay reads real records into wire chunks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from models.ecg.signal_quality import ecg_signal_quality
from simulators.ecg_feed import feed_chunks
from simulators.ecg_synth import SCENARIOS, SynthEvent, synth_beds, synth_ecg
from wardwatch.records.ecg import ecg_validate
from wardwatch.settings import shared_data

DS1 = shared_data("mitdb-ds1")
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_synth_is_deterministic_and_valid():
    a, _ = synth_ecg(10, 360.0, seed=3)
    b, _ = synth_ecg(10, 360.0, seed=3)
    assert np.array_equal(a, b)
    feed = synth_beds(2, duration_s=5, seed=0)[1]
    chunks = list(feed_chunks(feed, T0))
    assert [c["seq"] for c in chunks] == [0, 1, 2, 3, 4]
    for c in chunks:
        ecg_validate(json.dumps(c), key=feed.patient_id)


def test_synth_events():
    fs = 360.0
    _sig, beats = synth_ecg(
        40, fs, 80, [SynthEvent("vrun", 10, 3, {"rate_bpm": 170}), SynthEvent("pause", 20, 5)], seed=0
    )
    labels = [b for _, b in beats]
    assert labels.count("V") >= 8
    t = np.array([s for s, _ in beats]) / fs
    assert np.diff(t).max() >= 5.0
    flat, _ = synth_ecg(10, fs, events=[SynthEvent("leads_off", 4, 6)])
    assert ecg_signal_quality(flat, fs)["flat"]
    noisy, _ = synth_ecg(10, fs, events=[SynthEvent("noise", 0, 10, {"amp_uv": 500})])
    assert ecg_signal_quality(noisy, fs)["noisy"]
    assert not ecg_signal_quality(synth_ecg(10, fs)[0], fs)["noisy"]
    assert len(synth_beds(len(SCENARIOS) + 1, duration_s=2)) == len(SCENARIOS) + 1


def test_synth_second_lead_is_the_same_heart_seen_from_v1():
    fs = 360.0
    ev = [SynthEvent("vrun", 10, 4, {"rate_bpm": 170}), SynthEvent("leads_off", 25, 5)]
    ii, beats = synth_ecg(40, fs, 80, ev, seed=5)
    v1, beats_v1 = synth_ecg(40, fs, 80, ev, seed=5, lead="V1")
    assert beats_v1 == beats and not np.array_equal(v1, ii)
    n = [s for s, b in beats if b == "N" and s < 9 * fs]
    v = [s for s, b in beats if b == "V"]
    assert np.mean(ii[n]) > 800 and np.mean(v1[n]) < 300  # tall R in II, small r in V1
    assert np.min([v1[s - 20 : s + 20].min() for s in v]) < -900  # wide QS of the V beats in V1
    assert np.corrcoef(ii[: int(9 * fs)] - ii[: int(9 * fs)].mean(), v1[: int(9 * fs)])[0, 1] < 0.5
    i0, i1 = int(25 * fs), int(30 * fs)
    assert np.ptp(v1[i0:i1]) == 0 and np.ptp(ii[i0:i1]) == 0  # leads off: every lead flat
    with pytest.raises(ValueError):
        synth_ecg(2, fs, lead="V9")
    two, one = synth_beds(2, duration_s=5, seed=0)[1], synth_beds(2, duration_s=5, seed=0, leads=1)[1]
    assert two.lead2 == "V1" and np.array_equal(two.signal_uv, one.signal_uv) and one.lead2 is None
    for c in feed_chunks(two, T0):
        chunk = ecg_validate(json.dumps(c), key=two.patient_id)
        assert chunk.lead2 == "V1" and chunk.ecg2_uv.size == chunk.ecg_uv.size


def test_replay_reads_mlii_in_microvolts():
    from simulators.ecg_replay import replay_feeds

    feeds = replay_feeds(DS1, 3, only=["114", "207"], seconds=5)
    assert [f.patient_id for f in feeds] == ["MITDB-114-000", "MITDB-207-001", "MITDB-114-002"]
    assert all(f.lead == "MLII" and f.fs_hz == 360.0 for f in feeds)  # 114 stores MLII second
    assert feeds[1].signal_uv.size == 5 * 360 and feeds[1].signal_uv.dtype == np.int32
    assert 300 < np.ptp(feeds[1].signal_uv) < 5000  # microvolts, not mV
    c = ecg_validate(json.dumps(next(feed_chunks(feeds[0], T0))))
    assert c.n == 360 and (c.lead, c.lead2) == ("MLII", "V5")  # 114's other lead
    assert c.ecg2_uv.size == 360 and np.any(c.ecg2_uv != c.ecg_uv)
    assert ecg_validate(json.dumps(next(feed_chunks(feeds[1], T0)))).lead2 == "V1"
