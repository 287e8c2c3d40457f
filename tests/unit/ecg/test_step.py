"""The ECG step the agent runs (admit -> detect -> classify -> analyse), with the real streaming
detector on synthetic feeds and labels taken from the synthetic truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pytest

from models.ecg.alarm_output import alarm_condition, alarm_point
from models.ecg.array_state import unpack_f64
from models.ecg.step import ecg_admit, ecg_detect, ecg_state_new, ecg_step, ecg_stream_encode, signal_measures
from simulators.ecg_feed import feed_chunks
from simulators.ecg_synth import SCENARIOS, synth_beds
from wardwatch.records.conditions import REASSERT_S
from wardwatch.records.ecg import ecg_validate
from wardwatch.records.errors import InvalidRecord

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Oracle:
    """Truth label of each detected beat (Q when it matches no true beat within 150 ms): the
    step's classifier. The feeds have no gap, so a candidate's stream starts at START."""

    def __init__(self, feed):
        self.feed = feed
        self.truth = np.array([s for s, _ in feed.truth])

    def predict(self, beats, votes):
        out = []
        for c in beats:
            s = c.t_offset_s * self.feed.fs_hz
            j = int(np.argmin(np.abs(self.truth - s)))
            out.append(self.feed.truth[j][1] if abs(self.truth[j] - s) < 0.15 * self.feed.fs_hz else "Q")
        return out, None


def run(feed, roundtrip=True):
    states, changes, points = {}, [], []
    for c in feed_chunks(feed, START):
        chunk = ecg_validate(json.dumps(c), key=feed.patient_id)
        if roundtrip:  # what the changelog table does between chunks
            states = json.loads(json.dumps(states))
        res = ecg_step(states, [chunk], Oracle(feed), 0.0)
        res.raise_errors()
        assert res.rejected == []
        changes += res.changes
        points += [p for r in res.results for p in r.points]
    return states[feed.patient_id], changes, points


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
    assert 20.0 <= vt[0].t - START.timestamp() <= 23.0  # run starts at 20 s
    pt = alarm_point(vt[0], "SYN-0001", "SIM-002", "/x.png")
    assert pt["measurement"] == "ecg_alarms" and pt["tags"]["source"] == "ecg.vtach"
    assert pt["fields"]["active"] == 1 and pt["fields"]["rate_bpm"] > 100
    assert pt["fields"]["strip_png"] == "/x.png"
    cond = alarm_condition(vt[0], "SYN-0001", "SIM-002", {"beat_classifier": "test"}, "/x.png")
    assert cond.latched and cond.priority == "high" and cond.evidence["strip_png"] == "/x.png"
    assert cond.versions["beat_classifier"] == "test" and "ecg_rules" in cond.versions


def test_pause_and_asystole_from_streaming_detector(beds):
    _, changes, _ = run(beds["pause"])
    assert summary(changes) == [
        ("ecg.pause", True),
        ("ecg.asystole", True),
        ("ecg.pause", False),
        ("ecg.asystole", False),
    ]
    on = changes[1].t - START.timestamp()
    assert 28.0 <= on <= 30.0  # last beat before 25 s, + 4 s


def test_state_round_trip_gives_same_result(beds):
    a = run(beds["vrun"], roundtrip=True)
    b = run(beds["vrun"], roundtrip=False)
    assert summary(a[1]) == summary(b[1]) and len(a[2]) == len(b[2])
    assert len(json.dumps(a[0])) < 60_000  # bounded state per patient


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
    del old["votes"]  # a state written before the family vote
    ecg_admit(old, chunks[0], 0.0)
    ecg_detect(old, chunks[0])
    assert old["votes"] == {}


def test_synthetic_scenarios_with_the_committed_classifier(beds):
    """The whole pure path with the real TFLite classifier: each scenario raises its alarm."""
    from models.ecg.classify import BeatClassifier

    clf = BeatClassifier()
    # the VT run raises VT only and the VF bed VF only (until 2026-12-05 the synthetic VT
    # complexes were smooth enough to pass as ventricular flutter, and the VT rule was not
    # chained under an active VF alarm)
    expected = {
        "sinus": set(),
        "vrun": {"ecg.vtach"},
        "pause": {"ecg.pause", "ecg.asystole"},
        "af": {"ecg.afib"},
        "leads_off": {"ecg.leads_off"},
        "noise": {"ecg.noise"},
        "brady": {"ecg.brady"},
        "tachy": {"ecg.tachy"},
        "vf": {"ecg.vfib"},
    }
    assert set(expected) == set(beds)
    for name, feed in beds.items():
        states, live, on = {}, {}, []
        for c in feed_chunks(feed, START):
            res = ecg_step(states, [ecg_validate(json.dumps(c))], clf, 0.0, live=live)
            res.raise_errors()
            on += [x for x in res.changes if x.active]
        st = states[feed.patient_id]
        raised = {x.source for x in on} - {"ecg.pvc_burden"}  # a VT run is also frequent PVCs
        assert raised == expected[name], name
        if name == "vf":  # its evidence reaches the ecg_alarms point
            fields = alarm_point(on[0], feed.patient_id, feed.bed)["fields"]
            assert fields["vf_leak"] < 0.65 and fields["vf_freq_hz"] >= 2.5
        if name in ("sinus", "vrun"):  # the family votes live in the patient's state
            assert st["votes"] and json.loads(json.dumps(st["votes"])) == st["votes"]


def test_strip_inputs_carry_the_second_lead_only_while_chunks_do(beds):
    from models.ecg.step import strip_inputs

    feed = beds["sinus"]
    st = ecg_state_new()
    seen = []
    for i, c in enumerate(feed_chunks(feed, START, seconds=14)):
        c = {k: v for k, v in c.items() if k not in ("lead2", "ecg2_uv")}
        if i != 9:  # chunk 9 arrives without its second lead
            c = c | {"lead2": "V1", "ecg2_uv": [-v // 2 for v in c["ecg_uv"]]}
        chunk = ecg_validate(json.dumps(c), key=feed.patient_id)
        st = json.loads(json.dumps(st))
        ecg_admit(st, chunk, 0.0)
        det, _ = ecg_detect(st, chunk)
        seen.append(strip_inputs(st, det))
    assert seen[8].second is not None and seen[8].lead == feed.lead and seen[8].second[0] == "V1"
    assert seen[9].second is None  # never a stale second lead on a strip
    s = seen[-1]  # 4 chunks since: its buffer restarted at 10
    name, x2, t02 = s.second
    assert t02 == START.timestamp() + 10.0 and x2.size == round(4 * s.fs)
    assert name == "V1"
    np.testing.assert_array_equal(x2, [-v // 2 for v in s.x_uv[-x2.size :].tolist()])


def test_step_verdicts_in_chunk_order_and_gap_chunk_still_analysed(beds):
    feed = beds["sinus"]
    chunks = [ecg_validate(json.dumps(c)) for c in feed_chunks(feed, START, seconds=8)]
    states = {}
    res = ecg_step(
        states, [chunks[0], chunks[1], chunks[1], chunks[4], chunks[5]], None, 5.0, partitions=[3, 3, 3, 3, 3]
    )
    assert [(r.index, r.stage, r.detail) for r in res.rejected] == [
        (2, "admit", {"code": "duplicate"}),
        (3, "gap", {"code": "seq_gap", "missing": 2, "processed": True}),
    ]
    assert res.rejected[1].reason == "seq_gap: 2 chunk(s) missing before seq 4"
    assert [r.index for r in res.results] == [0, 1, 3, 4]  # the gap chunk is analysed
    st = states[feed.patient_id]
    assert st["partition"] == 3 and st["rx_wall"] == 5.0 and st["last"]["seq"] == 5
    assert st["seg_t0"] == chunks[4].t0  # continuity restarted


def test_step_errors_are_verdicts_not_exceptions(beds):
    class Broken:
        def predict(self, beats, votes):
            raise RuntimeError("model gone")

    feed = beds["sinus"]
    chunks = [ecg_validate(json.dumps(c)) for c in feed_chunks(feed, START, seconds=7)]
    states = {}
    ecg_step(states, chunks[:5], None, 0.0)
    states[feed.patient_id]["bins"] = "?"  # a state the analysis cannot read
    res = ecg_step(states, chunks[5:6], Oracle(feed), 0.0)
    assert [(r.index, r.rejected.stage, r.rejected.detail["code"]) for r in res.results] == [
        (0, "analyse", "processing_error")
    ]
    assert res.results[0].changes == [] and res.results[0].rejected.detail["stage"] == "analyse"
    with pytest.raises(TypeError):
        res.raise_errors()
    states[feed.patient_id]["rules"] = None  # nor admission
    res = ecg_step(states, chunks[6:], Oracle(feed), 0.0)
    assert [(r.index, r.stage, r.detail) for r in res.rejected] == [
        (0, "admit", {"code": "processing_error"})
    ]
    assert res.rejected[0].reason.startswith("processing_error: TypeError") and res.results == []
    # a failing classifier is the caller's to handle (the agent labels the batch Q)
    with pytest.raises(RuntimeError):
        ecg_step({}, chunks[:5], Broken(), 0.0)


def test_one_batch_of_many_patients_equals_each_patient_alone(beds):
    """The agent batches chunks of many patients (and several of one patient) into one step; the
    outputs and states are those of each patient's chunks run one by one."""
    feeds = [beds[n] for n in ("vrun", "pause", "af")]
    oracles = {f.patient_id: Oracle(f) for f in feeds}
    per = {
        f.patient_id: [ecg_validate(json.dumps(c)) for c in feed_chunks(f, START, seconds=40)] for f in feeds
    }
    alone = {}
    for f in feeds:
        states, out = {}, []
        for c in per[f.patient_id]:
            res = ecg_step(states, [c], oracles[f.patient_id], 0.0)
            out += [(ch.source, ch.active, ch.t) for ch in res.changes]
        alone[f.patient_id] = (out, json.dumps(states[f.patient_id]))

    states = {}

    class ByPatient:
        """The oracle of each candidate's patient, known by its votes object (one per patient)."""

        def predict(self, beats, votes):
            owner = {id(st["votes"]): pid for pid, st in states.items()}
            return [
                oracles[owner[id(v)]].predict([b], None)[0][0] for b, v in zip(beats, votes, strict=True)
            ], None

    out = {f.patient_id: [] for f in feeds}
    for k in range(0, 40, 2):  # 2 s of every patient per batch, interleaved
        batch = [per[f.patient_id][j] for j in (k, k + 1) for f in feeds]
        res = ecg_step(states, batch, ByPatient(), 0.0)
        assert res.rejected == []
        for r in res.results:
            out[r.chunk.patient_id] += [(ch.source, ch.active, ch.t) for ch in r.changes]
    for f in feeds:
        assert out[f.patient_id] == alone[f.patient_id][0], f.patient_id
        assert json.dumps(states[f.patient_id]) == alone[f.patient_id][1]
    assert {s for o, _ in alone.values() for s, _, _ in o} >= {"ecg.vtach", "ecg.pause", "ecg.afib"}


def test_signal_measures_of_a_batch_are_each_signals_own(beds):
    """The step measures its batch's rolling signals together (one filter and FFT call per
    length and rate); each signal gets exactly what it gets alone, whatever its neighbours: flat,
    noisy, VF, short, another rate."""
    windows, rates = [], []
    for f in beds.values():
        sig = np.asarray(f.signal_uv)
        for end in (500, 1800, 3600, 9000, 12600, 16200, 19800):
            windows.append(sig[max(0, end - 3600) : end].astype(np.int16))
            rates.append(f.fs_hz)
        windows.append(sig[::2][:2500].astype(np.int16))  # the same signal as if sampled at 180 Hz
        rates.append(f.fs_hz / 2)
    batch = signal_measures(windows, rates)
    alone = [signal_measures([w], [r])[0] for w, r in zip(windows, rates, strict=True)]
    assert batch == alone
    assert batch[::-1] == signal_measures(windows[::-1], rates[::-1])
    # the windows reach every verdict, so a batch that mixed rows up would show
    for key in ("flat", "noisy", "noisy_inband", "vf"):
        assert any(q[key] for q in batch) and not all(q[key] for q in batch), key


def test_a_signal_the_measures_fail_on_is_dead_lettered_alone(beds, monkeypatch):
    """If the batched measures raise (a bug), each chunk is measured alone: the one that fails
    is dead-lettered at stage ``detect``; the others get exactly their normal results."""
    from models.ecg import step

    feeds = [beds[n] for n in ("sinus", "vrun", "pause")]
    per = [[json.loads(json.dumps(c)) for c in feed_chunks(f, START, seconds=12)] for f in feeds]
    per[1][11]["ecg_uv"][-1] = 4321  # a marker the broken measure refuses
    batches = [[ecg_validate(json.dumps(p[k])) for p in per] for k in range(12)]
    want_states = {}
    want = [ecg_step(want_states, b, None, 0.0).results for b in batches[:11]]
    real = step.ecg_signal_quality_rows

    def broken(rows, fs, cfg):
        if (rows[:, -1] == 4321).any():
            raise ValueError("cannot measure this")
        return real(rows, fs, cfg)

    monkeypatch.setattr(step, "ecg_signal_quality_rows", broken)
    states = {}
    got = [ecg_step(states, b, None, 0.0) for b in batches]

    def seen(results):
        return [(r.index, r.hr_bpm, r.points, [(c.source, c.active) for c in r.changes]) for r in results]

    assert [seen(g.results) for g in got[:11]] == [seen(w) for w in want]
    last = got[11]
    assert [(r.index, r.stage, r.detail["code"]) for r in last.rejected] == [
        (1, "detect", "processing_error")
    ]
    assert "cannot measure this" in last.rejected[0].reason
    assert [r.index for r in last.results] == [0, 2]


def test_the_workers_cache_gives_what_the_state_alone_gives(beds):
    """The agent keeps each patient's live detector and decoded rolling buffers between chunks
    (``live``); the outputs and states must be those of a state read back from its changelog
    for every chunk, through a lost chunk, the second lead dropping out and coming back, and a
    state the cache did not write (a state restored under the worker, as after a rebalance)."""
    feeds = [beds[n] for n in ("vrun", "af", "leads_off", "noise")]
    chunks = {}
    for f in feeds:
        raw = list(feed_chunks(f, START, seconds=30))
        for i in (7, 8):  # the second lead is off for two chunks
            raw[i] = {k: v for k, v in raw[i].items() if k not in ("lead2", "ecg2_uv")}
        del raw[15]  # a lost chunk: a gap
        chunks[f.patient_id] = [ecg_validate(json.dumps(c), key=f.patient_id) for c in raw]

    def run(cached, encode=True):
        states, live, out = {}, {}, []
        encoded = 0  # (encode=False: the detectors encoded by ecg_stream_encode before a read-back)
        for k in range(len(chunks[feeds[0].patient_id])):
            if not cached or k == 20:  # read back from the changelog (at 20: under the cache)
                if not encode:
                    encoded += sum(ecg_stream_encode(st, live.get(pid)) for pid, st in states.items())
                states = json.loads(json.dumps(states))
            res = ecg_step(
                states,
                [chunks[f.patient_id][k] for f in feeds],
                None,
                0.0,
                live=live if cached else None,
                encode_streams=encode,
            )
            out += [(r.index, r.detail["code"]) for r in res.rejected]
            for r in res.results:
                out.append((r.chunk.patient_id, r.chunk.seq, [(c.source, c.active, c.t) for c in r.changes]))
                out.append(json.dumps(r.points))
                if r.strip is not None:
                    out.append((r.strip.x_uv.tolist(), r.strip.second and r.strip.second[1].tolist()))
            if encode:  # (encode=False: its detectors lag, the state is compared at the end)
                out.append(json.dumps(states, sort_keys=True))
        if not encode:
            encoded += sum(ecg_stream_encode(st, live.get(pid)) for pid, st in states.items())
            out.append(json.dumps(states, sort_keys=True))
        return out, live, encoded

    with_cache, live, _ = run(cached=True)
    assert with_cache == run(cached=False)[0]
    # the agent's way: the step leaves the detectors to its caller, who encodes them before a
    # state is stored (here: before the read-back at 20 and at the end)
    lazy, _, encoded = run(cached=True, encode=False)
    assert encoded == 2 * len(feeds)
    states_each_chunk = [o for o in with_cache if isinstance(o, str) and o.startswith('{"')]
    assert lazy == [o for o in with_cache if o not in states_each_chunk] + [with_cache[-1]]
    kept = {pid: sorted(d.signals) for pid, d in live.items()}
    assert kept == {f.patient_id: ["buf", "buf2"] for f in feeds}
    assert any(isinstance(o, tuple) and len(o) == 2 and isinstance(o[0], list) for o in with_cache)  # strips


def test_the_states_signal_copies_are_16_bit_microvolts_and_the_decimal_form_still_loads(beds):
    """The detector's and the beat stream's copies of the input (millivolts of whole
    microvolts) are kept as 16-bit microvolts; a state written before, with decimal lists,
    goes on exactly as the packed one: the same outputs and the same next states."""
    feed = beds["af"]
    chunks = [ecg_validate(json.dumps(c), key=feed.patient_id) for c in feed_chunks(feed, START, seconds=24)]
    states: dict = {}
    for c in chunks[:12]:
        ecg_step(states, [c], None, 0.0).raise_errors()
    bs = json.loads(json.dumps(states))[feed.patient_id]["beat_stream"]
    copies = (bs["detector"], "raw"), (bs, "buf"), (bs, "buf2")
    assert all("uv16" in d[k] for d, k in copies)
    old = json.loads(json.dumps(states))
    obs = old[feed.patient_id]["beat_stream"]
    for d, k in (obs["detector"], "raw"), (obs, "buf"), (obs, "buf2"):
        d[k] = unpack_f64(d[k]).tolist()  # the form states were written in before

    def rest(st):
        out = []
        for c in chunks[12:]:
            st = json.loads(json.dumps(st))
            res = ecg_step(st, [c], None, 0.0)
            out.append((json.dumps([r.points for r in res.results]), json.dumps(st, sort_keys=True)))
        return out

    assert rest(old) == rest(json.loads(json.dumps(states)))


@pytest.mark.parametrize("leads", [1, 2])
def test_the_step_leaves_a_copied_state_as_it_was(leads):
    """:func:`ecg_state_copy` leaves the original unchanged by whatever the step does to the copy.
    That holds only while the step updates in place no part but :data:`UPDATED_IN_PLACE`: every
    scenario, cached detectors and detectors rebuilt from JSON, with the committed classifier
    (family votes)."""
    import orjson

    from models.ecg.classify import BeatClassifier
    from models.ecg.stream_state import ecg_state_copy

    clf = BeatClassifier()
    feeds = synth_beds(len(SCENARIOS), duration_s=30, seed=2, leads=leads)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    raws = [[json.dumps(c).encode() for c in feed_chunks(f, start)] for f in feeds]
    for cached in (True, False):
        table: dict = {}
        live: dict | None = {} if cached else None
        changed = set()
        for k in range(len(raws[0])):
            chunks = [ecg_validate(r[k], key=f.patient_id) for r, f in zip(raws, feeds, strict=True)]
            if not cached:
                table = {p: orjson.loads(orjson.dumps(s)) for p, s in table.items()}
            before = {p: orjson.dumps(s) for p, s in table.items()}
            states = {p: ecg_state_copy(s) for p, s in table.items()}
            ecg_step(states, chunks, clf, 0.0, live=live).raise_errors()
            assert {p: orjson.dumps(s) for p, s in table.items()} == before
            changed |= {key for s in states.values() for key in ("rules", "bins", "votes") if s.get(key)}
            table.update(states)
        assert changed == {"rules", "bins", "votes"}  # the copied parts did change


def test_an_alarm_still_on_is_reasserted_every_minute_and_only_that():
    """Tachycardia for 150 s: the alarm is raised once (a change, with its point and strip); while
    it stays on, the step sends it again every REASSERT_S of device time (``reassert``: the
    alert component heals a lost raise with it, and ignores it otherwise). A re-assertion is
    not a change: no strip is taken for it, and its condition says ``reassert``."""
    (feed,) = synth_beds(1, duration_s=150, seed=0, scenarios=["tachy"])
    states: dict = {}
    changes, strips = [], []
    for c in feed_chunks(feed, START):
        res = ecg_step(states, [ecg_validate(json.dumps(c), key=feed.patient_id)], Oracle(feed), 0.0)
        res.raise_errors()
        changes += res.changes
        strips += [(r.changes[0].reassert, r.strip is not None) for r in res.results if r.changes]
    real = [c for c in changes if not c.reassert]
    again = [c for c in changes if c.reassert]
    assert summary(real) == [("ecg.tachy", True)]
    assert [(c.source, c.active, c.priority) for c in again] == [("ecg.tachy", True, real[0].priority)] * 2
    t = [real[0].t] + [c.t for c in again]
    assert all(REASSERT_S <= b - a < REASSERT_S + 1.0 for a, b in pairwise(t))
    assert again[0].message == real[0].message
    assert strips == [(False, True), (True, False), (True, False)]  # a strip for the raise only
    cond = alarm_condition(again[0], feed.patient_id, feed.bed, {})
    assert cond.reassert and cond.active and cond.source == "ecg.tachy"
