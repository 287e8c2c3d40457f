"""Rhythm context of beat labels (models/ecg/rhythm.py) and its wiring through the beat stream
and the classifier."""

import dataclasses
import json

import numpy as np
import pytest

from models.ecg import rhythm
from models.ecg.pipeline import DEFAULT_MODEL, BeatClassifier, ECGBeatStream
from wardwatch.settings import shared_data

DS1 = shared_data("mitdb-ds1")


def _af_rr(n: int, seed: int = 1) -> np.ndarray:
    # irregularly irregular: independent gamma-distributed intervals around 0.6 s
    return np.clip(np.random.default_rng(seed).gamma(6.0, 0.6 / 6.0, n), 0.3, 1.6)


def _sinus_with_pacs(n: int, every: int = 10) -> list[float]:
    rr: list[float] = []
    while len(rr) < n:
        rr += [0.8] * (every - 2) + [0.5, 1.05]      # a premature beat and its pause
    return rr[:n]


def test_irregularity_trims_isolated_ectopy_and_flags_af():
    r = rhythm.rr_irregularity(_sinus_with_pacs(30))
    assert r["nrmssd"] < 1e-9 and r["cov"] < 1e-9 and r["n"] == 24     # 3 + 3 extremes trimmed
    untrimmed = rhythm.rr_irregularity(_sinus_with_pacs(30), trim=0.0)
    assert untrimmed["nrmssd"] > rhythm.AF_NRMSSD                        # what trimming removes
    assert rhythm.irregular_rhythm(list(_af_rr(30)))
    assert not rhythm.irregular_rhythm(_sinus_with_pacs(30))
    assert not rhythm.irregular_rhythm(list(_af_rr(rhythm.MIN_INTERVALS - 1)))  # too few: no verdict
    # intervals outside [0.2, 3.0) s (artefacts, pauses) are not rhythm: too few usable left
    assert not rhythm.irregular_rhythm([0.1, 3.5] * 6 + list(_af_rr(rhythm.MIN_INTERVALS - 1)))
    # only the last WINDOW intervals count: AF long ago, sinus now
    assert not rhythm.irregular_rhythm(list(_af_rr(60)) + [0.8] * rhythm.WINDOW)


def test_rhythm_labels_only_removes_s_in_irregular_context():
    labels = ["N", "S", "S", "V", "F", "Q", "S"]
    irr = [True, True, False, True, True, True, True]
    assert rhythm.rhythm_labels(labels, irr) == ["N", "N", "S", "V", "F", "Q", "N"]
    with pytest.raises(ValueError):
        rhythm.rhythm_labels(labels, irr[:-1])


def _ecg_at(beat_times: np.ndarray, fs: float) -> np.ndarray:
    t = np.arange(int((beat_times[-1] + 1.0) * fs)) / fs
    x = np.zeros_like(t)
    for bt in beat_times:
        x += np.exp(-((t - bt) ** 2) / (2 * 0.012**2))
    return x


def test_beat_stream_flags_irregular_rhythm_across_chunks_and_state():
    fs = 250.0
    af = _ecg_at(np.cumsum(np.r_[0.5, _af_rr(70)]), fs)
    sinus = _ecg_at(np.cumsum(np.r_[0.5, _sinus_with_pacs(70)]), fs)
    s = ECGBeatStream(fs)
    ref = [b for i in range(0, af.size, 250) for b in s.detect(af[i:i + 250])]
    assert len(ref) >= 60
    assert not any(b.irregular for b in ref[:rhythm.MIN_INTERVALS - 1])   # no verdict yet
    assert all(b.irregular for b in ref[rhythm.WINDOW:])
    s = ECGBeatStream(fs)
    reg = [b for i in range(0, sinus.size, 250) for b in s.detect(sinus[i:i + 250])]
    assert len(reg) >= 60 and not any(b.irregular for b in reg)
    # other chunk boundaries and a JSON state round trip after every chunk: the same flags
    s, got = ECGBeatStream(fs), []
    for i in range(0, af.size, 97):
        got += s.detect(af[i:i + 97])
        s = ECGBeatStream.from_state(json.loads(json.dumps(s.to_state())))
    assert [(b.sample, b.irregular) for b in got] == [(b.sample, b.irregular) for b in ref]
    # a state written before the rhythm context existed still loads (the context rebuilds)
    old = s.to_state()
    del old["rr_win"]
    assert ECGBeatStream.from_state(old)._rr_win == []


@pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="ECG model artifact not built")
def test_classifier_applies_rhythm_context_on_real_beats():
    if not (DS1 / "209.hea").exists() or not (DS1 / "203.hea").exists():
        pytest.skip("MIT-BIH DS1 not available")
    from models.ecg.evaluate import load_record, stream_record

    def beats_of(name: str, seconds: float):
        rec = load_record(DS1 / name, max_seconds=seconds)
        return stream_record(rec["signal"], rec["fs"], signal2=rec["signal2"])

    # 203 is atrial flutter/fibrillation throughout; 209's SVEBs (SVTA runs) sit in sinus rhythm
    b203, b209 = beats_of("203", 120), beats_of("209", 300)
    assert np.mean([b.irregular for b in b203]) > 0.8
    assert np.mean([b.irregular for b in b209]) < 0.1
    clf, raw = BeatClassifier(), BeatClassifier(rhythm_context=False)
    raw_labels, p_raw = raw.predict(b209)
    assert raw_labels.count("S") >= 10
    labels, p = clf.predict(b209)
    np.testing.assert_array_equal(p, p_raw)           # the rule changes labels, not probabilities
    assert labels == rhythm.rhythm_labels(raw_labels, [b.irregular for b in b209])
    assert clf.version.endswith("+" + rhythm.VERSION) and rhythm.VERSION not in raw.version
    forced = clf.predict([dataclasses.replace(b, irregular=True) for b in b209])[0]
    assert "S" not in forced
    assert [lab for lab in forced if lab != "N"] == [lab for lab in raw_labels if lab not in "NS"]
