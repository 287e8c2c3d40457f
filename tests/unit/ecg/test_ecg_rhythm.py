"""Rhythm context of beat labels (models/ecg/rhythm.py) and its wiring through the beat stream
and the classifier."""

import dataclasses

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from models.ecg import morphology, rhythm, sveb_rr
from models.ecg.beats import MODEL_FS, PRE_S, WAVE_LEN, ECGBeatStream, stack_inputs
from models.ecg.classify import BeatClassifier
from models.ecg.evaluate import stream_record
from wardwatch.settings import shared_data

DS1 = shared_data("mitdb-ds1")


def _af_rr(n: int, seed: int = 1) -> np.ndarray:
    # irregularly irregular: independent gamma-distributed intervals around 0.6 s
    return np.clip(np.random.default_rng(seed).gamma(6.0, 0.6 / 6.0, n), 0.3, 1.6)


def _sinus_with_pacs(n: int, every: int = 10) -> list[float]:
    rr: list[float] = []
    while len(rr) < n:
        rr += [0.8] * (every - 2) + [0.5, 1.05]  # a premature beat and its pause
    return rr[:n]


def test_irregularity_trims_isolated_ectopy_and_flags_af():
    r = rhythm.rr_irregularity(_sinus_with_pacs(30))
    assert r["nrmssd"] < 1e-9 and r["cov"] < 1e-9 and r["n"] == 24  # 3 + 3 extremes trimmed
    untrimmed = rhythm.rr_irregularity(_sinus_with_pacs(30), trim=0.0)
    assert untrimmed["nrmssd"] > rhythm.AF_NRMSSD  # what trimming removes
    assert rhythm.irregular_rhythm(list(_af_rr(30)))
    assert not rhythm.irregular_rhythm(_sinus_with_pacs(30))
    assert not rhythm.irregular_rhythm(list(_af_rr(rhythm.MIN_INTERVALS - 1)))  # too few: no verdict
    # intervals outside [0.2, 3.0) s (artefacts, pauses) are not rhythm: too few usable left
    assert not rhythm.irregular_rhythm([0.1, 3.5] * 6 + list(_af_rr(rhythm.MIN_INTERVALS - 1)))
    # only the last WINDOW intervals count: AF long ago, sinus now
    assert not rhythm.irregular_rhythm(list(_af_rr(60)) + [0.8] * rhythm.WINDOW)


def test_organised_irregular_rhythms_are_not_af():
    # atrial bigeminy and trigeminy vary beat to beat as much as AF (trimming cannot remove a
    # third or half of the beats) but their intervals sit in 2-3 clusters: low entropy
    bigeminy, trigeminy = [0.55, 1.0] * 15, [0.55, 1.0, 0.8] * 10
    for rr in (bigeminy, trigeminy):
        r = rhythm.rr_irregularity(rr)
        assert r["nrmssd"] > rhythm.AF_NRMSSD and r["cov"] > rhythm.AF_COV  # variable...
        assert r["she"] < rhythm.AF_SHE  # ...but organised
        assert not rhythm.irregular_rhythm(rr)
    assert rhythm.rr_irregularity(bigeminy)["she"] == pytest.approx(np.log(2) / np.log(16))
    af = rhythm.rr_irregularity(list(_af_rr(30)))
    assert af["she"] >= rhythm.AF_SHE and rhythm.af_irregular(af)
    # the limits: nRMSSD and CoV strictly above, entropy at least (Dash 2009's 0.7)
    at = {"nrmssd": rhythm.AF_NRMSSD + 1e-9, "cov": rhythm.AF_COV + 1e-9, "she": rhythm.AF_SHE}
    assert rhythm.af_irregular(at)
    assert not rhythm.af_irregular({**at, "she": rhythm.AF_SHE - 1e-9})
    assert not rhythm.af_irregular({**at, "nrmssd": rhythm.AF_NRMSSD})
    assert not rhythm.af_irregular({**at, "cov": rhythm.AF_COV})


def test_entropy_bins_are_numpys_even_on_bin_edges():
    # RR intervals are whole samples (here 360 Hz), so many sit exactly on a bin edge; the fast
    # binning must put them where np.histogram does (an edge-naive one differs in 152 of DS1's
    # 50,361 windows)
    rng = np.random.default_rng(3)
    for _ in range(2000):
        rr = rng.integers(150, 450, rng.integers(2, 31)) / 360.0
        counts, _ = np.histogram(rr, bins=rhythm.SHE_BINS)
        p = counts[counts > 0] / rr.size
        assert rhythm.rr_irregularity(rr, trim=0.0)["she"] == pytest.approx(
            -(p * np.log(p)).sum() / np.log(rhythm.SHE_BINS), abs=1e-12
        )


def test_the_per_beat_verdict_is_the_full_measures_verdict():
    # irregular_rhythm stops at the first measure that rules AF out; it must say what
    # af_irregular(rr_irregularity(...)) of the usable intervals says, near every limit too
    rng = np.random.default_rng(5)
    seen = {True: 0, False: 0}
    for i in range(3000):
        n = int(rng.integers(15, 40))
        kind = i % 3
        if kind == 0:  # around the limits: sinus with jitter of every size
            rr = 0.8 + rng.normal(0, rng.uniform(0.0, 0.2), n)
        elif kind == 1:
            rr = _af_rr(n, seed=i)
        else:  # whole samples at 360 Hz, some outside the usable range
            rr = rng.integers(40, 1200, n) / 360.0
        rr = list(rr)
        usable = np.asarray(rr[-rhythm.WINDOW :])
        usable = usable[(usable >= rhythm.RR_MIN_S) & (usable < rhythm.RR_MAX_S)]
        want = usable.size >= rhythm.MIN_INTERVALS and rhythm.af_irregular(rhythm.rr_irregularity(usable))
        assert rhythm.irregular_rhythm(rr) == want
        seen[bool(want)] += 1
    assert min(seen.values()) > 300  # both verdicts exercised


def test_rhythm_labels_only_removes_s_in_irregular_context():
    labels = ["N", "S", "S", "V", "F", "Q", "S"]
    irr = [True, True, False, True, True, True, True]
    assert rhythm.rhythm_labels(labels, irr) == ["N", "N", "S", "V", "F", "Q", "N"]
    # a certain S is kept, a doubtful one is not; p(S) of other labels does not matter
    p_s = [0.999, rhythm.CERTAIN_S, 0.5, 0.999, 0.0, 0.0, rhythm.CERTAIN_S - 1e-6]
    assert rhythm.rhythm_labels(labels, irr, p_s) == ["N", "S", "S", "V", "F", "Q", "N"]
    with pytest.raises(ValueError):
        rhythm.rhythm_labels(labels, irr[:-1])


def _ecg_at(beat_times: np.ndarray, fs: float) -> np.ndarray:
    t = np.arange(int((beat_times[-1] + 1.0) * fs)) / fs
    x = np.zeros_like(t)
    for bt in beat_times:
        x += np.exp(-((t - bt) ** 2) / (2 * 0.012**2))
    return x


def test_beat_stream_flags_irregular_rhythm_across_chunks_and_state(stream_with_restarts):
    fs = 250.0
    af = _ecg_at(np.cumsum(np.r_[0.5, _af_rr(70)]), fs)
    sinus = _ecg_at(np.cumsum(np.r_[0.5, _sinus_with_pacs(70)]), fs)
    ref = stream_record(af, fs)
    assert len(ref) >= 60
    assert not any(b.irregular for b in ref[: rhythm.MIN_INTERVALS - 1])  # no verdict yet
    assert all(b.irregular for b in ref[rhythm.WINDOW :])
    reg = stream_record(sinus, fs)
    assert len(reg) >= 60 and not any(b.irregular for b in reg)
    # other chunk boundaries and a JSON state round trip after every chunk: the same flags
    got, s = stream_with_restarts(af, fs, 97)
    assert [(b.sample, b.irregular) for b in got] == [(b.sample, b.irregular) for b in ref]
    # a state written before the rhythm context existed still loads (the context rebuilds)
    old = s.to_state()
    del old["rr_win"]
    assert ECGBeatStream.from_state(old)._rr_win == []


def test_classifier_applies_both_context_rules_on_real_beats():
    from models.ecg.evaluate import load_record, stream_record

    def beats_of(name: str, seconds: float):
        rec = load_record(DS1 / name, max_seconds=seconds)
        return stream_record(rec["signal"], rec["fs"], signal2=rec["signal2"])

    # 203 is atrial flutter/fibrillation throughout; 209's SVEBs (SVTA runs) sit in sinus rhythm
    b203, b209 = beats_of("203", 300), beats_of("209", 300)
    assert np.mean([b.irregular for b in b203]) > 0.8
    assert np.mean([b.irregular for b in b209]) < 0.1
    clf, raw = BeatClassifier(), BeatClassifier(context=False)
    assert f"+{rhythm.VERSION}+{morphology.VERSION}" in clf.version
    assert rhythm.VERSION not in raw.version
    share = {}
    for name, beats in (("209", b209), ("203", b203)):
        raw_labels, p_raw = raw.predict(beats)
        labels, p = clf.predict(beats)
        np.testing.assert_array_equal(p, p_raw)  # the rules change labels, not probabilities
        matches = np.array(
            [morphology.template_matches(stack_inputs([b], b.wave2 is not None)[0])[0] for b in beats]
        )
        assert clf.sveb is not None
        rr_decided = sveb_rr.rr_labels(
            raw_labels, clf.sveb.score(np.stack([b.rr for b in beats])), clf.sveb.threshold
        )
        assert labels == morphology.morphology_labels(
            rhythm.rhythm_labels(rr_decided, [b.irregular for b in beats], p[:, 1]), matches.tolist()
        )
        lab = np.array(raw_labels)
        share[name] = {c: float(matches[lab == c].mean()) for c in ("N", "V") if (lab == c).any()}
    # real ventricular beats (203's multiform PVCs) never match the template; in 209's sinus
    # rhythm most normal beats do
    assert share["203"]["V"] == 0.0 and share["209"]["N"] > 0.5, share
    assert raw.predict(b209)[0].count("S") >= 10
    forced, p_forced = clf.predict([dataclasses.replace(b, irregular=True) for b in b209])
    kept = np.array(forced) == "S"
    # in an irregular rhythm only the S labels the network is certain of are kept
    assert kept.sum() < raw.predict(b209)[0].count("S")
    assert np.all(p_forced[kept, 1] >= rhythm.CERTAIN_S)


def test_template_rule_keeps_a_ventricular_beat_and_drops_a_normal_one():
    assert round(PRE_S * MODEL_FS) == morphology.R_INDEX and round(0.1 * MODEL_FS) == morphology.QRS_HALF
    t = np.arange(WAVE_LEN) - morphology.R_INDEX
    normal = np.exp(-(t**2) / 8.0)
    wide = 0.8 * np.exp(-((t - 4) ** 2) / 150.0) - 0.3 * np.exp(-((t - 20) ** 2) / 60.0)
    as_n = np.stack([normal * 1.02, 0.02 * normal], axis=1)  # the usual shape
    as_v = np.stack([wide, wide - normal], axis=1)  # a different QRS
    two = np.concatenate([as_n, as_v], axis=1)  # lead 2 disagrees
    assert morphology.template_matches(np.stack([as_n, as_v])).tolist() == [True, False]
    assert morphology.template_matches(two[None]).tolist() == [False]  # every lead must match
    assert morphology.morphology_labels(["V", "V", "S"], [True, False, True]) == ["N", "V", "S"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(1, 1500), min_size=1, max_size=40).map(lambda v: [x / 360.0 for x in v])
    | st.lists(st.floats(0.2, 3.0), min_size=1, max_size=40)
)
@example(rr=[3.0, 2.9999999999999996])  # found by CI: numpy cannot bin a range of one ulp
def test_the_per_beat_measures_are_numpys_own_bit_for_bit(rr):
    """The irregularity measures are written with few numpy calls (they run for every beat):
    each must give exactly what numpy's own expressions give, so that no verdict moves."""
    arr = rhythm._trimmed(np.asarray(rr, dtype=float), rhythm.TRIM)
    mean = float(arr.mean())
    assert rhythm._mean(arr) == mean
    assert rhythm._nrmssd(arr, mean) == float(np.sqrt(np.mean(np.diff(arr) ** 2)) / mean) or arr.size < 2
    assert rhythm._cov(arr, mean) == float(arr.std() / mean)
    lo, hi = float(arr.min()), float(arr.max())
    she = rhythm._entropy(arr)
    assert 0.0 <= she <= 1.0
    if hi <= lo:
        assert she == 0.0
        return
    try:
        counts = np.histogram(arr, bins=rhythm.SHE_BINS)[0]
    except ValueError:  # a range too narrow for 16 finite bins (a few ulps): numpy refuses,
        return  # the measure still gives a number in [0, 1] (checked above) and never raises
    p = counts[counts > 0] / arr.size
    assert she == float(abs((p * np.log(p)).sum()) / np.log(rhythm.SHE_BINS))
