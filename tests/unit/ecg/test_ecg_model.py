"""Beat classifier artifact and the streaming evaluation path on real DS1 records.

Note: the shipped model is trained on all 22 DS1 records, so the record used here is a
training record: this is a smoke test of the artifact and the pipeline wiring, not a measure
of generalisation (that is the leave-records-out estimate in MODEL_CARD.md).
"""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from models.ecg.array_state import unpack_f64
from models.ecg.beats import N_RR, WAVE_LEN, ECGBeatStream, stack_inputs
from models.ecg.classify import BeatClassifier
from models.ecg.evaluate import stream_record
from wardwatch.settings import shared_data

DS1 = shared_data("mitdb-ds1")


@pytest.fixture(scope="module")
def eval_119(tmp_path_factory):
    from models.ecg.evaluate import evaluate_records

    d = tmp_path_factory.mktemp("recs")
    for name in ("119", "101"):
        for ext in ("hea", "dat", "atr"):
            shutil.copy(DS1 / f"{name}.{ext}", d / f"{name}.{ext}")
    out = tmp_path_factory.mktemp("wwd")
    return evaluate_records(d, write_annotations_dir=out, max_seconds=300), out


def test_artifact_loads_and_returns_probabilities():
    clf = BeatClassifier()
    assert clf.version and clf.classes == ("N", "S", "V", "F", "Q")
    rng = np.random.default_rng(0)
    for n in (1, 7, 64):
        p = clf.predict_proba(
            rng.standard_normal((n, WAVE_LEN, 2)).astype(np.float32), np.ones((n, N_RR), np.float32)
        )
        assert p.shape == (n, 5) and np.allclose(p.sum(axis=1), 1.0, atol=1e-4)
    labels, p = clf.predict([])
    assert labels == [] and p.shape == (0, 5)


def test_eval_json_structure_and_veb_on_record_119(eval_119):
    r, _ = eval_119
    json.dumps(r)  # serialisable
    assert set(r) >= {"qrs", "veb", "sveb", "records"}
    assert set(r["qrs"]) >= {"se", "ppv", "tp", "fp", "fn"}
    assert set(r["veb"]) >= {"se", "ppv"} and set(r["sveb"]) >= {"se", "ppv"}
    assert set(r["records"]) == {"119", "101"}
    assert r["qrs"]["se"] >= 99.5 and r["qrs"]["ppv"] >= 99.5
    v = r["records"]["119"]["veb"]
    assert v["tp"] + v["fn"] > 50  # 119 has ventricular bigeminy in its first 5 minutes
    assert v["se"] >= 90.0 and v["ppv"] >= 90.0, v


def test_written_annotations_are_readable_wfdb(eval_119):
    import wfdb

    r, out = eval_119
    ann = wfdb.rdann(str(out / "119"), "wwd")
    assert len(ann.sample) == r["records"]["119"]["beats_detected"]
    assert set(ann.symbol) <= {"N", "S", "V", "F", "Q"} and "V" in set(ann.symbol)


def test_stream_state_round_trip_gives_identical_beats():
    fs = 250.0
    t = np.arange(int(12 * fs)) / fs
    ecg = np.exp(-((t % 0.8 - 0.4) ** 2) / (2 * 0.012**2)) - 0.2 * np.exp(
        -((t % 0.8 - 0.62) ** 2) / (2 * 0.04**2)
    )
    a = ECGBeatStream(fs)
    ref = [b for c in np.array_split(ecg, 12) for b in a.detect(c)]
    s, got = ECGBeatStream(fs), []
    for c in np.array_split(ecg, 12):
        got += s.detect(c)
        s = ECGBeatStream.from_state(json.loads(json.dumps(s.to_state())))
    assert [b.sample for b in got] == [b.sample for b in ref] and len(ref) >= 12
    assert all(
        np.array_equal(x.wave, y.wave) and np.array_equal(x.rr, y.rr) for x, y in zip(got, ref, strict=True)
    )
    assert got[3].wave.shape == (WAVE_LEN, 2) and abs(got[3].pre_rr_s - 0.8) < 0.01


def _two_leads(fs: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * fs)) / fs
    lead1 = np.exp(-((t % 0.8 - 0.4) ** 2) / (2 * 0.012**2))
    lead2 = -0.6 * np.exp(-((t % 0.8 - 0.41) ** 2) / (2 * 0.02**2)) + 0.1 * np.sin(2 * np.pi * 0.3 * t)
    return lead1, lead2


def test_second_lead_windows_survive_chunking_and_state_and_fall_back_when_missing(stream_with_restarts):
    fs = 250.0
    x1, x2 = _two_leads(fs, 16)
    ref = stream_record(x1, fs, signal2=x2)
    assert len(ref) >= 15 and all(b.wave2 is not None and b.wave2.shape == (WAVE_LEN, 2) for b in ref)
    # other chunk boundaries and a JSON state round trip after every chunk: the same windows
    got, _ = stream_with_restarts(x1, fs, 97, x2)
    assert [b.sample for b in got] == [b.sample for b in ref]
    assert all(np.allclose(a.wave2, b.wave2, atol=1e-6) for a, b in zip(got, ref, strict=True))
    assert not np.allclose(ref[5].wave2, ref[5].wave)  # it is the other lead's shape
    # one second without the second lead: beats whose window touches it have none, then it returns
    s, mixed = ECGBeatStream(fs), []
    for i in range(0, x1.size, 250):
        mixed += s.detect(x1[i : i + 250], None if i == 8 * 250 else x2[i : i + 250])
    gap = [b for b in mixed if b.wave2 is None]
    assert gap and all(7.0 < b.t_offset_s < 10.0 for b in gap)
    assert mixed[-1].wave2 is not None
    # a flat second lead (lead off) is no second lead
    flat = ECGBeatStream(fs)
    beats = [b for i in range(0, x1.size, 250) for b in flat.detect(x1[i : i + 250], np.zeros(250))]
    assert beats and all(b.wave2 is None for b in beats)
    with pytest.raises(ValueError):
        ECGBeatStream(fs).detect(x1[:250], x2[:249])


def test_classifier_sends_two_lead_beats_to_the_two_lead_model():
    fs = 360.0
    x1, x2 = _two_leads(fs, 12)
    s = ECGBeatStream(fs)
    beats = [b for i in range(0, x1.size, 360) for b in s.detect(x1[i : i + 360], x2[i : i + 360])]
    one = [dataclasses.replace(b, wave2=None) for b in beats[:4]]  # as if lead 2 were off
    clf = BeatClassifier()
    assert "+" in clf.version and "2lead" in clf.version
    _labels, p = clf.predict(beats[4:] + one)
    p2 = clf.predict_proba(*stack_inputs(beats[4:], two_lead=True))
    p1 = clf.predict_proba(*stack_inputs(one))
    np.testing.assert_allclose(p, np.vstack([p2, p1]), atol=1e-6)
    assert not np.allclose(p2, clf.predict_proba(*stack_inputs(beats[4:])), atol=1e-3)
    only_one = BeatClassifier(model2_path=False)
    np.testing.assert_allclose(only_one.predict(beats)[1], clf.predict_proba(*stack_inputs(beats)), atol=1e-6)


def test_average_models_is_the_mean_of_its_members_and_exports_as_one_model(tmp_path):
    from models.ecg.classify import _Lite
    from models.ecg.train import average_models, build_model, export_tflite

    members = [build_model(seed, channels=4) for seed in (7, 11)]
    rng = np.random.default_rng(3)
    wave = rng.standard_normal((6, WAVE_LEN, 4)).astype(np.float32)
    rr = rng.uniform(0.5, 1.5, (6, N_RR)).astype(np.float32)
    each = [m.predict([wave, rr], verbose=0) for m in members]
    assert not np.allclose(each[0], each[1], atol=1e-3)  # the seeds differ
    ens = average_models(members)
    np.testing.assert_allclose(ens.predict([wave, rr], verbose=0), np.mean(each, axis=0), atol=1e-6)
    assert average_models(members[:1]) is members[0]
    export_tflite(ens, tmp_path / "ens.tflite")
    lite = _Lite(tmp_path / "ens.tflite", 1)
    assert lite.channels == 4
    np.testing.assert_allclose(lite(wave, rr), np.mean(each, axis=0), atol=1e-5)


def test_a_state_written_with_number_lists_still_loads_and_gives_identical_beats():
    """States written before the float buffers were packed (``models.ecg.array_state``) hold
    plain lists; a detector rebuilt from one goes on exactly as the live one."""
    fs = 250.0
    t = np.arange(int(12 * fs)) / fs
    ecg = np.exp(-((t % 0.8 - 0.4) ** 2) / (2 * 0.012**2))
    a = ECGBeatStream(fs)
    ref = [b for c in np.array_split(ecg, 12) for b in a.detect(c)]
    s = ECGBeatStream(fs)
    got = [b for c in np.array_split(ecg, 12)[:6] for b in s.detect(c)]
    state = json.loads(json.dumps(s.to_state()))
    assert isinstance(state["detector"]["bp"], dict) and isinstance(state["template"], dict)
    for d, k in ((state["detector"], "bp"), (state["detector"], "mwi"), (state, "template")):
        d[k] = unpack_f64(d[k]).tolist()  # the old form
    s = ECGBeatStream.from_state(state)
    got += [b for c in np.array_split(ecg, 12)[6:] for b in s.detect(c)]
    assert [b.sample for b in got] == [b.sample for b in ref]
    assert all(np.array_equal(x.wave, y.wave) for x, y in zip(got, ref, strict=True))
