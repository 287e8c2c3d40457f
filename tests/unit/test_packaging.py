"""The installable package (what the production image installs) carries the trained artifacts
and data the workers load at run time."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_contains_models_and_simulator_data(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("wardwatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in [
        "models/ecg/artifacts/ecg_beat_cnn.tflite",
        "models/ecg/artifacts/ecg_beat_cnn.json",
        "models/ecg/artifacts/ecg_beat_cnn_2lead.tflite",
        "models/ecg/artifacts/ecg_beat_cnn_2lead.json",
        "models/deterioration/artifacts/deterioration_vitals.json",
        "models/genomic/model.joblib",
        "simulators/data/sepsis2019_trajectories.psv.gz",
        "wardwatch/cli/__init__.py",
        "wardwatch/web/static/station.html",
        "wardwatch/web/static/station.js",
        "wardwatch/web/static/style.css",
        "streams/worker.py",
        "batch/worker.py",
        "batch/notes/deid_safe_words.txt",
        "batch/notes/deid_first_names.txt",
        "batch/notes/deid_surnames.txt",
    ]:
        assert required in names, required
    assert not any(n.startswith("tests/") for n in names)
