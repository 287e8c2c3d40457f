"""The RR model of S / N (``models/ecg/sveb_rr.py``): premature beats against the patient's own
rhythm are S, whatever the network said; V, F and Q stay the network's; nothing is chosen on a
record it then scores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.ecg import sveb_rr
from models.ecg.classify import BeatClassifier, context_labels
from tests.unit.ecg.short_records import write_short_record


def _rr(pre: float, post: float, local: float = 0.8, avg: float = 0.8) -> list[float]:
    """A beat's eight RR features as ``BeatCandidate.rr`` holds them."""
    return [pre, post, local, avg, pre / avg, post / avg, local / avg, pre / post]


def _ward(rng: np.random.Generator, records: int = 4) -> dict[str, np.ndarray]:
    """Synthetic patients at different heart rates: sinus beats with ±8 % beat-to-beat variation
    (N) and, one beat in ten, an atrial premature beat at 55-75 % of the rhythm followed by a
    non-compensatory pause (S)."""
    rr, y, rec = [], [], []
    for i in range(records):
        avg = 0.6 + 0.15 * i
        for _ in range(300):
            if rng.random() < 0.1:
                pre = avg * rng.uniform(0.55, 0.75)
                rr.append(_rr(pre, avg * rng.uniform(1.05, 1.3), avg * 0.97, avg))
                y.append("S")
            else:
                pre = avg * rng.uniform(0.92, 1.08)
                rr.append(_rr(pre, avg * rng.uniform(0.92, 1.08), avg, avg))
                y.append("N")
            rec.append(f"r{i}")
    return {
        "rr": np.array(rr, np.float32),
        "y": np.array(y),
        "rec": np.array(rec),
        "irregular": np.zeros(len(y), bool),
    }


def test_premature_beats_are_s_against_each_patients_own_rhythm():
    d = _ward(np.random.default_rng(1))
    m = sveb_rr.fit(d["rr"], d["y"], d["irregular"], d["rec"])
    assert m.threshold in sveb_rr.GRID
    # the same beat shape at any heart rate: 65 % of the patient's rhythm is premature, 100 % is not
    for avg in (0.5, 0.8, 1.2):
        early, on_time = m.score(np.array([_rr(0.65 * avg, 1.2 * avg, avg, avg), _rr(avg, avg, avg, avg)]))
        assert early >= m.threshold > on_time
    # an interval that is short for one patient and long for another is judged by each one's own
    one = m.score(np.array([_rr(0.6, 0.9, 0.55, 0.55), _rr(0.6, 0.9, 1.0, 1.0)]))
    assert one[0] < m.threshold <= one[1]
    assert sveb_rr.fit(d["rr"], d["y"], d["irregular"], d["rec"]).to_json() == m.to_json()  # deterministic


def test_beats_of_an_irregular_rhythm_are_not_learnt_from():
    d = _ward(np.random.default_rng(2))
    m = sveb_rr.fit(d["rr"], d["y"], d["irregular"], d["rec"])
    # mark some beats AF-irregular and flip their labels: the fit must not change
    irr = np.zeros(d["y"].size, bool)
    irr[::7] = True
    flipped = np.where(irr, np.where(d["y"] == "S", "N", "S"), d["y"])
    assert (
        sveb_rr.fit(d["rr"], d["y"], irr, d["rec"]).to_json()
        == sveb_rr.fit(d["rr"], flipped, irr, d["rec"]).to_json()
    )
    assert sveb_rr.fit(d["rr"], flipped, irr, d["rec"]).to_json() != m.to_json()


def test_the_threshold_and_the_nested_labels_never_see_the_record_they_score():
    d = _ward(np.random.default_rng(3), records=5)
    labels = np.where(d["y"] == "S", "N", "N")  # a network that never says S
    labels[::50] = "V"
    out, thresholds = sveb_rr.nested_labels(labels, d["rr"], d["y"], d["irregular"], d["rec"])
    assert set(thresholds) == {f"r{i}" for i in range(5)}
    assert (out[::50] == "V").all()  # V stays the network's
    s = d["y"] == "S"
    keep = np.ones(out.size, bool)
    keep[::50] = False
    assert np.mean(out[s & keep] == "S") > 0.9 and np.mean(out[~s & keep] == "S") < 0.05
    # a record's own labels never reach the model (or the threshold) that scores it
    y2 = d["y"].copy()
    y2[d["rec"] == "r4"] = "N"
    out2, _ = sveb_rr.nested_labels(labels, d["rr"], y2, d["irregular"], d["rec"])
    assert (out2[d["rec"] == "r4"] == out[d["rec"] == "r4"]).all()


def test_the_model_decides_s_or_n_then_the_af_and_template_rules_run():
    m = sveb_rr.RRModel(
        mean=np.zeros(4), scale=np.ones(4), coef=np.array([-10.0, 0, 0, 0]), intercept=0.0, threshold=0.8
    )
    rr = np.array([_rr(0.5, 1.0), _rr(0.8, 0.8), _rr(0.5, 1.0), _rr(0.5, 1.0), _rr(0.8, 0.8)])
    p = np.array(
        [
            [0.9, 0.1, 0, 0, 0],  # the network says N; premature: S
            [0.1, 0.9, 0, 0, 0],  # the network says S; on time: N
            [0.1, 0.0, 0.9, 0, 0],  # V stays V
            [0.6, 0.4, 0, 0, 0],  # premature, but in an AF-irregular rhythm: N
            [0.2, 0.0, 0.8, 0, 0],  # V whose QRS matches the patient's beat: N (template rule)
        ]
    )
    irregular = [False, False, False, True, False]
    matches = [False, False, False, False, True]
    assert context_labels(p, irregular, matches, rr=rr, sveb=m) == ["S", "N", "V", "N", "N"]
    assert context_labels(p, irregular, matches) == ["N", "S", "V", "N", "N"]  # without the model


def test_the_committed_model_loads_and_round_trips():
    m = sveb_rr.load()
    assert m.version == sveb_rr.VERSION and m.threshold in sveb_rr.GRID
    assert sveb_rr.RRModel.from_json(json.loads(json.dumps(m.to_json()))).to_json() == m.to_json()
    d = m.to_json() | {"features": ["log_pre_over_avg"]}
    with pytest.raises(ValueError, match="features"):
        sveb_rr.RRModel.from_json(d)
    assert BeatClassifier().version.endswith(f"+{sveb_rr.VERSION}")
    assert sveb_rr.VERSION not in BeatClassifier(sveb=False).version
    assert sveb_rr.VERSION not in BeatClassifier(context=False).version


def test_train_sveb_writes_the_model_and_its_held_out_figures(tmp_path):
    recs, out = tmp_path / "recs", tmp_path / "out"
    recs.mkdir()
    out.mkdir()
    for name in ("118", "209", "220"):  # atrial premature beats in the first minutes
        write_short_record(name, recs, 150)
    wardwatch = str(Path(sys.executable).with_name("wardwatch"))
    args = ["train", "sveb", "--out", str(out), "--records", str(recs)]
    run = subprocess.run([wardwatch, *args], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    art = json.loads((out / "sveb_rr.json").read_text())
    assert art["train_records"] == ["118", "209", "220"] and set(art["cv"]["thresholds"]) == {
        "118",
        "209",
        "220",
    }
    cv = art["cv"]["sveb"]
    assert art["beats"]["S"] > 0 and cv["tp"] + cv["fn"] == art["beats"]["S"]
    m = sveb_rr.load(out / "sveb_rr.json")
    clf = BeatClassifier(sveb=out / "sveb_rr.json")
    assert clf.sveb is not None and clf.sveb.to_json() == m.to_json()
