"""QRS morphology families and their vote on p(V) (models/ecg/morphology.py), wired through the
beat stream, the classifier and the per-patient ECG state."""

import json

import numpy as np
import pytest

from models.ecg import morphology
from models.ecg.beats import ECGBeatStream
from models.ecg.classify import BeatClassifier, context_labels
from models.ecg.evaluate import stream_record
from models.ecg.morphology import MAX_FAMILIES, QRS_HALF, Families, family_vote, vote_proba
from wardwatch.settings import shared_data

DS1 = shared_data("mitdb-ds1")
T = np.arange(2 * QRS_HALF + 1) - QRS_HALF
NARROW = np.exp(-(T**2) / 8.0)  # a conducted QRS
WIDE = np.exp(-(T**2) / 120.0) - 0.5 * np.exp(-(T**2) / 8.0)  # a wide, notched one


def test_families_group_by_shape_not_size():
    f = Families()
    noise = np.random.default_rng(3).normal(0, 0.02, (6, T.size))
    ids = [
        f.assign(q)
        for q in (NARROW, 3 * NARROW + noise[0], WIDE, 0.5 * WIDE + noise[1], NARROW + noise[2] + 0.2)
    ]
    assert ids == [0, 0, 1, 1, 0]  # amplitude and offset do not matter, shape does
    assert f.counts == [3, 2]
    shifted = np.roll(NARROW, 8)  # the same bump 44 ms later is another shape
    assert f.assign(shifted) == 2


def test_families_make_room_by_dropping_the_smallest_and_never_reuse_an_id():
    f = Families()
    for _ in range(5):
        f.assign(NARROW)
    centres = np.r_[np.arange(-17, -3.4, 1.5), np.arange(4, 17.1, 1.5)]  # none like NARROW
    assert centres.size == MAX_FAMILIES + 3
    shapes = [np.exp(-((T - c) ** 2) / 4.0) for c in centres]
    ids = [f.assign(q) for q in shapes]
    assert len(f.templates) == MAX_FAMILIES
    assert 0 in f.ids  # the family of 5 beats survives
    assert ids == list(range(1, MAX_FAMILIES + 4))  # fresh ids, never an old one
    g = Families.from_state(json.loads(json.dumps(f.to_state())))
    assert [g.assign(q) for q in shapes[-3:]] == [f.assign(q) for q in shapes[-3:]]
    assert Families.from_state(None).next_id == 0


def test_family_vote_is_a_mean_then_exponential_and_keeps_recent_families():
    v: dict = {}
    for _ in range(100):
        family_vote(v, 7, 0.0)
    assert v["7"] == [0.0, 100]
    assert family_vote(v, 7, 1.0) == pytest.approx(morphology.VOTE_MIN_ALPHA)  # exponential now
    assert family_vote({}, 1, 0.3) == pytest.approx(0.3)  # first member
    for k in range(3 * MAX_FAMILIES):
        family_vote(v, 100 + k, 0.5)
    assert len(v) == 2 * MAX_FAMILIES and "7" not in v  # the least recently voted went first
    assert json.loads(json.dumps(v)) == v  # plain JSON (Faust table state)


def test_vote_proba_replaces_pv_and_keeps_the_other_classes_proportions():
    p = np.array(
        [
            [0.6, 0.3, 0.1, 0.0, 0.0],
            [0.0, 0.0, 0.97, 0.01, 0.02],  # other classes under REST_MIN: noise
            [0.0, 0.0, 0.995, 0.0, 0.005],  # certain V
            [0.0, 0.0, 0.995, 0.0, 0.005],
        ]
    )
    q = vote_proba(p, np.array([0.55, 0.2, 0.2, 1.0]))
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    np.testing.assert_allclose(q[0], [0.3, 0.15, 0.55, 0.0, 0.0])
    np.testing.assert_allclose(q[1], [0.8, 0.0, 0.2, 0.0, 0.0])  # what V loses goes to N
    np.testing.assert_allclose(q[2], p[2])  # never voted down
    np.testing.assert_allclose(q[3], [0.0, 0.0, 1.0, 0.0, 0.0])  # but may be voted up
    assert morphology.CERTAIN_V > 0.9 and morphology.REST_MIN < 0.1


def test_context_labels_follow_the_family_not_the_single_beat():
    n_beats = 30
    p_normal = [0.85, 0.05, 0.1, 0.0, 0.0]
    proba = np.array(
        [p_normal] * n_beats
        + [[0.3, 0.1, 0.6, 0.0, 0.0]]  # a doubtful V, family 0
        + [[0.3, 0.0, 0.7, 0.0, 0.0]] * 5  # family 1: ventricular
        + [[0.55, 0.0, 0.45, 0.0, 0.0]]
    )  # a doubted member of it
    family = [0] * (n_beats + 1) + [1] * 6
    no = [False] * len(family)
    alone = context_labels(proba, no, no)
    assert alone[n_beats] == "V" and alone[-1] == "N"
    votes: dict = {}
    voted = context_labels(proba, no, no, family, [votes] * len(family))
    assert voted[n_beats] == "N" and voted[-1] == "V" and voted[n_beats + 1 : -1] == ["V"] * 5
    assert set(votes) == {"0", "1"} and votes["1"][1] == 6
    # a beat the network is certain of is never voted down (a VT run is not broken by the vote)
    certain = np.array([p_normal] * n_beats + [[0.0, 0.0, 0.995, 0.0, 0.005]])
    assert (
        context_labels(
            certain, no[: n_beats + 1], no[: n_beats + 1], [0] * (n_beats + 1), [{}] * (n_beats + 1)
        )[-1]
        == "V"
    )
    # a beat outside any family (-1) is labelled on its own
    assert context_labels(proba[-1:], no[:1], no[:1], [-1], [{}]) == ["N"]
    # the template rule still applies after the vote
    assert context_labels(proba[-2:-1], no[:1], [True], [1], [{"1": [0.9, 50]}]) == ["N"]


def _ecg(shapes: list[str], fs: float) -> np.ndarray:
    t = np.arange(int((0.5 + 0.8 * len(shapes) + 1.0) * fs)) / fs
    x = np.zeros_like(t)
    for i, s in enumerate(shapes):
        bt = 0.5 + 0.8 * i
        if s == "n":
            x += np.exp(-((t - bt) ** 2) / (2 * 0.012**2))
        else:  # wide and biphasic
            x += 1.2 * np.exp(-((t - bt) ** 2) / (2 * 0.04**2)) - 0.8 * np.exp(
                -((t - bt - 0.08) ** 2) / (2 * 0.03**2)
            )
    return x


def test_beat_stream_assigns_families_across_chunks_and_state(stream_with_restarts):
    fs = 250.0
    shapes = (["n"] * 9 + ["w"]) * 6
    x = _ecg(shapes, fs)
    ref = stream_record(x, fs)
    assert len(ref) >= 55
    fam = {b.family for b, sh in zip(ref, shapes, strict=False) if sh == "n"}
    wide = {b.family for b, sh in zip(ref, shapes, strict=False) if sh == "w"}
    assert len(fam) == 1 and len(wide) == 1 and fam != wide, (fam, wide)
    got, s = stream_with_restarts(x, fs, 97)
    assert [(b.sample, b.family) for b in got] == [(b.sample, b.family) for b in ref]
    old = s.to_state()
    del old["families"]  # a state written before the families existed still loads
    assert ECGBeatStream.from_state(old).families.next_id == 0


def test_classifier_votes_on_real_beats_and_keeps_probabilities():
    from models.ecg.evaluate import load_record, stream_record

    rec = load_record(DS1 / "208", max_seconds=300)  # frequent uniform PVCs, fusion beats
    beats = stream_record(rec["signal"], rec["fs"], signal2=rec["signal2"])
    clf = BeatClassifier()
    assert f"+{morphology.FAMILY_VERSION}" in clf.version
    no_vote, p0 = clf.predict(beats)
    votes: dict = {}
    half = len(beats) // 2
    l1, p1 = clf.predict(beats[:half], votes)
    l2, p2 = clf.predict(beats[half:], votes)  # the votes carry over between calls
    np.testing.assert_array_equal(np.vstack([p1, p2]), p0)
    assert l1 + l2 == clf.predict(beats, {})[0]
    assert votes and all(n >= 1 for _, n in votes.values())
    assert sum(n for _, n in votes.values()) <= len(beats)
    # the vote only moves V: beats it changes go to or from V
    changed = [(a, b) for a, b in zip(no_vote, l1 + l2, strict=True) if a != b]
    assert all("V" in pair for pair in changed)
