"""The stream worker's install has no TensorFlow, Keras, spaCy, scikit-learn, pandas or wfdb
(``pyproject.toml``: they are extras), so importing the worker with every agent must not pull
any of them in."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOT_IN_WORKER = ("tensorflow", "keras", "tf_keras", "spacy", "sklearn", "pandas", "wfdb", "torch")

PROBE = """
import json, sys
import streams.app
import streams.worker
streams.worker.load_agents()
import wardwatch.cli
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_worker_import_graph_has_no_training_or_batch_libraries(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "WARDWATCH_RUN_DIR": str(tmp_path),
    }
    r = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    loaded = set(json.loads(r.stdout.strip().splitlines()[-1]))
    assert "faust" in loaded and "streams" in loaded  # the probe did import the worker
    assert not loaded & set(NOT_IN_WORKER), sorted(loaded & set(NOT_IN_WORKER))
