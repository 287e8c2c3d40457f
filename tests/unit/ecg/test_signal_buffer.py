"""The rolling signal buffer of the ECG stream state."""

from __future__ import annotations

import numpy as np

from models.ecg.signal_buffer import buffer_append, buffer_decode


def test_rolling_buffer_is_bounded_and_restarts_on_discontinuity():
    fs = 360.0
    buf = None
    for k in range(15):
        buf, kept = buffer_append(buf, np.full(360, k, dtype=np.int32), 100.0 + k, fs, keep_s=10.0)
    x = buffer_decode(buf["uv"])
    assert x.size == 3600 and x[0] == 5 and x[-1] == 14
    assert buf["t0"] == 105.0 and kept.tolist() == x.tolist()
    buf, _ = buffer_append(buf, np.zeros(360, dtype=np.int32), 200.0, fs)  # gap -> new buffer
    assert buffer_decode(buf["uv"]).size == 360 and buf["t0"] == 200.0
