"""The ECG state's packed arrays (``models.ecg.array_state``) give back the very bits they took."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.ecg.array_state import pack_f64, pack_mv, unpack_f64


def same_bits(a, b) -> bool:
    return a.shape == b.shape and np.asarray(a, "<f8").tobytes() == np.asarray(b, "<f8").tobytes()


@given(st.lists(st.integers(-32768, 32767), max_size=400))
def test_whole_microvolts_pack_in_16_bits_and_come_back_bit_for_bit(uv):
    x = np.array(uv, dtype=np.int64) / 1000.0  # what a chunk's samples are in millivolts
    packed = json.loads(json.dumps(pack_mv(x)))
    assert "uv16" in packed or np.abs(uv).max(initial=0) > 32767
    assert same_bits(unpack_f64(packed), x)


@given(
    arrays(
        np.float64,
        st.integers(0, 60),
        elements=st.floats(allow_nan=True, allow_infinity=True)
        | st.sampled_from([-0.0, 0.0, 0.001, -0.0005]),
    )
)
def test_any_float_array_comes_back_bit_for_bit(x):
    """Values that are not whole microvolts (resampled signal, -0.0, NaN, 0.0005, 40 V) take
    the float64 form."""
    for pack in (pack_mv, pack_f64):
        assert same_bits(unpack_f64(json.loads(json.dumps(pack(x)))), x)


def test_what_is_not_whole_16_bit_microvolts_is_kept_as_float64():
    for x in ([0.0005], [-0.0], [np.nan], [32.768], [1e300], [0.1 + 0.2]):
        assert "f64" in pack_mv(np.array(x)), x
    assert "uv16" in pack_mv(np.array([32.767, -32.768, 0.0, 0.001]))
