"""The ECG path's own filter and median calls give SciPy's and NumPy's results bit for bit (they
skip the libraries' input handling, not their arithmetic): any signal, any state, any of the
path's filters, any finite values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import signal as sps

from models.ecg.filters import butter_sos, fir_state, sosfilt_state, zero_phase
from models.ecg.numeric import median_1d, median_rows, percentile_1d, percentile_rows
from models.ecg.qrs import QRSDetector

_finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
_signal = arrays(np.float64, st.integers(1, 800), elements=_finite)
_bands = st.sampled_from([(5.0, 15.0), (0.5, 40.0), 40.0, 25.0, (1.0, 10.0)])
_rates = st.sampled_from([125.0, 250.0, 360.0, 500.0, 1000.0])


@settings(max_examples=200, deadline=None)
@given(_signal, _bands, _rates, st.integers(0, 2**32 - 1))
def test_sosfilt_state_is_scipys_sosfilt(x, band, fs, seed):
    sos = butter_sos(band, fs)
    zi = np.random.default_rng(seed).normal(scale=50.0, size=(sos.shape[0], 2))
    y, zf = sosfilt_state(sos, x, zi)
    ry, rzf = sps.sosfilt(sos, x, zi=zi)
    assert np.array_equal(y, ry) and np.array_equal(zf, rzf)
    assert np.array_equal(sosfilt_state(sos, x)[0], sps.sosfilt(sos, x))
    assert np.array_equal(
        zi, np.random.default_rng(seed).normal(scale=50.0, size=(sos.shape[0], 2))
    )  # untouched


@settings(max_examples=200, deadline=None)
@given(_signal, st.integers(2, 80), st.integers(0, 2**32 - 1))
def test_fir_state_is_scipys_lfilter(x, taps, seed):
    rng = np.random.default_rng(seed)
    b, zi = rng.normal(size=taps), rng.normal(scale=10.0, size=taps - 1)
    y, zf = fir_state(b, x, zi)
    ry, rzf = sps.lfilter(b, [1.0], x, zi=zi)
    assert np.array_equal(y, ry) and np.array_equal(zf, rzf)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(50, 4000), elements=_finite), _bands, _rates)
def test_zero_phase_is_the_forward_backward_sosfilt(x, band, fs):
    sos = butter_sos(band, fs)
    want = sps.sosfilt(sos, sps.sosfilt(sos, x - x.mean())[::-1])[::-1]
    assert np.array_equal(zero_phase(x, band, fs), want)


def test_the_detector_filters_exactly_as_with_scipy():
    """The QRS detector's filter stage, chunk by chunk with its carried state, against SciPy's
    calls with the same state (what the detector ran before)."""
    fs = 360.0
    rng = np.random.default_rng(3)
    t = np.arange(int(20 * fs)) / fs
    ecg = np.exp(-((t % 0.8 - 0.4) ** 2) / (2 * 0.012**2)) + rng.normal(scale=0.05, size=t.size)
    det = QRSDetector(fs)
    zi_bp, zi_d, zi_m = det._zi_bp.copy(), det._zi_d.copy(), det._zi_m.copy()
    for chunk in np.array_split(ecg, 23):
        det.process(chunk)
        bp, zi_bp = sps.sosfilt(det._sos, chunk, zi=zi_bp)
        d, zi_d = sps.lfilter(det._deriv_b, [1.0], bp, zi=zi_d)
        m, zi_m = sps.lfilter(det._mwi_b, [1.0], np.abs(d), zi=zi_m)
        assert np.array_equal(det._zi_bp, zi_bp) and np.array_equal(det._zi_d, zi_d)
        assert np.array_equal(det._zi_m, zi_m) and np.array_equal(det._mwi[-m.size :], m)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_finite, min_size=1, max_size=300)
    | st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=40)
    | arrays(np.float64, st.integers(1, 2000), elements=_finite)
)
def test_median_1d_is_numpys_median(values):
    assert median_1d(values) == float(np.median(values))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=40)
    | arrays(np.float64, st.integers(1, 4000), elements=_finite)
    # slopes of a quiet signal: many ties, and values that differ in their last bits
    | arrays(np.float64, st.integers(2, 4000), elements=st.sampled_from([0.0, 1e-3, 1e-3 + 1e-15, 2.5, 7.0])),
    st.sampled_from([99.0, 99, 50, 0, 100, 1, 95.5, 99.9]) | st.floats(0, 100),
)
def test_percentile_1d_is_numpys_percentile(values, q):
    assert percentile_1d(values, q) == float(np.percentile(values, q))


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda rows: arrays(np.float64, st.tuples(st.just(rows), st.integers(1, 1200)), elements=_finite)
    ),
    _bands,
    _rates,
    st.sampled_from([99.0, 50, 0, 100, 1, 95.5]) | st.floats(0, 100),
)
def test_row_versions_give_each_row_its_own_result(x, band, fs, q):
    """The batched signal measures' helpers: every row exactly as the 1-D call on it alone."""
    assert median_rows(x).tolist() == [median_1d(r) for r in x]
    assert percentile_rows(x, q).tolist() == [percentile_1d(r, q) for r in x]
    filtered = zero_phase(x, band, fs)
    assert all(np.array_equal(filtered[i], zero_phase(r, band, fs)) for i, r in enumerate(x))
