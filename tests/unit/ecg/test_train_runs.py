"""``wardwatch train ecg`` end to end on two short records, in a process of its own (training
fixes TensorFlow's threading, which must come before anything else loads TensorFlow): it
writes a loadable TFLite model and its metrics. A smoke test of the command, not of the
recipe's accuracy (the deterioration training had stopped running unnoticed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from models.ecg.classify import BeatClassifier
from tests.unit.ecg.short_records import write_short_record


def test_train_writes_a_model_the_classifier_loads(tmp_path):
    recs, out = tmp_path / "recs", tmp_path / "out"
    recs.mkdir()
    for name in ("119", "209"):  # ventricular and supraventricular beats in the first minutes
        write_short_record(name, recs, 150)
    wardwatch = str(Path(sys.executable).with_name("wardwatch"))
    args = ["train", "ecg", "--out", str(out), "--seeds", "7", "--records", str(recs), "--folds", "0"]
    run = subprocess.run([wardwatch, *args], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout[run.stdout.index("{") :])
    assert summary["beats"]["N"] > 100
    meta = json.loads((out / "ecg_beat_cnn.json").read_text())
    clf = BeatClassifier(out / "ecg_beat_cnn.tflite")
    assert clf.version.startswith(meta["version"]) and meta["version"] == summary["model"]
    assert meta["train_records"] == ["119", "209"]
