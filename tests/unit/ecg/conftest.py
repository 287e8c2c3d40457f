"""Shared helper of the ECG unit tests: a beat stream rebuilt from its JSON state after every
chunk (what a worker does after a restart or rebalance). The plain chunked run is
:func:`models.ecg.evaluate.stream_record`."""

import json

import numpy as np
import pytest

from models.ecg.beats import BeatCandidate, ECGBeatStream


def _stream_with_restarts(
    x: np.ndarray, fs: float, step: int, x2: np.ndarray | None = None
) -> tuple[list[BeatCandidate], ECGBeatStream]:
    """Beats of ``x`` (and ``x2`` as the second lead) fed in chunks of ``step`` samples, the
    stream rebuilt from ``json.loads(json.dumps(state))`` after each; and the last stream."""
    s, out = ECGBeatStream(fs), []
    for i in range(0, x.size, step):
        out += s.detect(x[i : i + step], None if x2 is None else x2[i : i + step])
        s = ECGBeatStream.from_state(json.loads(json.dumps(s.to_state())))
    return out, s


@pytest.fixture
def stream_with_restarts():
    return _stream_with_restarts
