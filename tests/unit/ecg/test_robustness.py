"""Monitor perturbations of a record (models/ecg/robustness.py): each does what it says on a
constructed signal and leaves its input alone; the streaming detector under a monitor's 0.5-40 Hz
filter on a real DS1 record; the runner's output on a few seconds of one record."""

import json

import numpy as np
import pytest

from models.ecg import robustness as rb
from models.ecg.evaluate import load_record, score_record, stream_record
from wardwatch.settings import shared_data

DS1 = shared_data("mitdb-ds1")
FS = 360.0


def _record(x: np.ndarray, x2: np.ndarray | None = None) -> dict:
    return {
        "name": "x",
        "fs": FS,
        "signal": x,
        "signal2": x2,
        "lead": "MLII",
        "lead2": "V1",
        "ann_sample": np.array([10, 20]),
        "ann_symbol": ["N", "V"],
    }


def _sines(dur_s: float, *hz: float) -> np.ndarray:
    t = np.arange(int(dur_s * FS)) / FS
    return sum(np.sin(2 * np.pi * f * t) for f in hz)


def _amplitude(x: np.ndarray, hz: float) -> float:
    """Amplitude of the ``hz`` component (an exact FFT bin for whole seconds of signal)."""
    k = np.abs(np.fft.rfft(x)) / (x.size / 2)
    return float(k[np.argmin(np.abs(np.fft.rfftfreq(x.size, 1 / FS) - hz))])


@pytest.mark.parametrize("name", list(rb.CONDITIONS))
def test_perturbations_leave_the_input_record_unchanged(name):
    rng = np.random.default_rng(1)
    rec = _record(rng.standard_normal(3600), rng.standard_normal(3600))
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in rec.items()}
    out = rb.CONDITIONS[name][1](rec)
    for k, v in before.items():
        assert np.array_equal(rec[k], v) if isinstance(v, np.ndarray) else rec[k] == v
    assert out["signal"].shape == rec["signal"].shape and out["signal2"].shape == rec["signal2"].shape
    assert out["ann_symbol"] == rec["ann_symbol"] and out["fs"] == FS
    if name != "clean":
        assert not np.allclose(out["signal"], rec["signal"])
        assert not np.allclose(out["signal2"], rec["signal2"])


def test_gain_scales_every_lead_and_keeps_a_missing_second_lead():
    x = _sines(2, 5.0)
    out = rb.gain(_record(x, -x), 0.5)
    np.testing.assert_allclose(out["signal"], 0.5 * x)
    np.testing.assert_allclose(out["signal2"], -0.5 * x)
    assert rb.gain(_record(x), 2.0)["signal2"] is None


def test_monitor_filter_removes_slow_waves_and_keeps_the_qrs_band():
    x = _sines(60, 0.1, 10.0, 100.0)
    out = rb.monitor_filter(_record(x, x.copy()), lo=0.5, hi=40.0)
    for y in (out["signal"], out["signal2"]):
        y = y[int(30 * FS) :]  # after the start-up transient
        assert _amplitude(y, 0.1) < 0.05  # 2-pole high-pass at 0.5 Hz: x 0.04
        assert _amplitude(y, 10.0) > 0.95  # in band
        assert _amplitude(y, 100.0) < 0.2  # 2-pole low-pass at 40 Hz: x 0.16
    # causal: the output up to a sample does not depend on what follows it
    cut = rb.monitor_filter(_record(x[:5000]))["signal"]
    np.testing.assert_allclose(cut, out["signal"][:5000])


def test_powerline_and_baseline_wander_add_a_sine_of_the_given_frequency_and_amplitude():
    x = _sines(10, 7.0)
    for out, hz, amp in (
        (rb.powerline(_record(x, x), hz=60, amp_mv=0.1), 60.0, 0.1),
        (rb.powerline(_record(x, x), hz=50, amp_mv=0.3), 50.0, 0.3),
        (rb.baseline_wander(_record(x, x), amp_mv=0.5, hz=0.3), 0.3, 0.5),
    ):
        for y in (out["signal"], out["signal2"]):
            d = y - x
            assert _amplitude(d, hz) == pytest.approx(amp, rel=0.01)
            assert np.max(np.abs(d)) <= amp + 1e-12  # sampled peaks: 60 Hz at 360 Hz reaches 0.87 amp
            assert _amplitude(y, 7.0) == pytest.approx(1.0, rel=0.01)  # the signal is untouched


@pytest.mark.parametrize("snr_db", [6.0, 12.0, 24.0])
def test_noise_hits_the_requested_snr_against_the_qrs_amplitude_per_lead_and_is_seeded(snr_db):
    t = np.arange(int(60 * FS))
    beats = np.arange(200, t.size - 200, 290)
    spikes = sum(np.exp(-(((t - b) / 5.0) ** 2)) for b in beats)  # 1 mV peak to peak
    x = 1.5 * spikes + 0.2 * _sines(60, 0.25)  # 1.5 mV QRS on a slow wave
    rec = {**_record(x, -0.4 * spikes), "ann_sample": beats, "ann_symbol": ["N"] * beats.size}
    out = rb.noise(rec, snr_db=snr_db, seed=3)
    for key, qrs_mv in (("signal", 1.5), ("signal2", 0.4)):
        n = out[key] - rec[key]
        assert 10 * np.log10((qrs_mv**2 / 8) / np.var(n)) == pytest.approx(snr_db, abs=0.1)
        assert abs(np.mean(n)) < 0.05 * np.std(n)  # zero-mean
    n1, n2 = out["signal"] - x, out["signal2"] + 0.4 * spikes
    assert abs(np.corrcoef(n1, n2)[0, 1]) < 0.05  # each lead its own noise
    np.testing.assert_array_equal(rb.noise(rec, snr_db=snr_db, seed=3)["signal"], out["signal"])
    assert not np.array_equal(rb.noise(rec, snr_db=snr_db, seed=4)["signal"], out["signal"])
    with pytest.raises(ValueError, match="reference beats"):
        rb.noise({**rec, "ann_sample": np.array([5]), "ann_symbol": ["+"]})


def test_streaming_detector_finds_the_beats_of_a_record_through_a_monitor_filter():
    """First 60 s of 208 (PVCs, couplets, fusion), both leads, 1 s chunks, after the monitor's
    causal 0.5-40 Hz band-pass; the same scoring as the clean record."""
    clean = load_record(DS1 / "208", max_seconds=60)
    q = {}
    for name, rec in (("clean", clean), ("filtered", rb.monitor_filter(clean, lo=0.5, hi=40.0))):
        beats = stream_record(rec["signal"], rec["fs"], signal2=rec["signal2"])
        q[name] = score_record(rec, np.array([b.sample for b in beats]), ["N"] * len(beats))["qrs"]
    tp, fn, fp = q["filtered"]["tp"], q["filtered"]["fn"], q["filtered"]["fp"]
    assert tp >= 90, q
    assert 100 * tp / (tp + fn) >= 99.0 and 100 * tp / (tp + fp) >= 99.0, q


def test_run_writes_every_condition_for_every_record(tmp_path):
    recs = tmp_path / "recs"
    recs.mkdir()
    for ext in ("hea", "dat", "atr"):
        (recs / f"119.{ext}").symlink_to(DS1 / f"119.{ext}")
    out = tmp_path / "r.json"
    r = rb.run(recs, out, ["clean", "gain_2.0"], max_seconds=20)
    assert json.loads(out.read_text()) == json.loads(json.dumps(r))
    assert list(r["conditions"]) == ["clean", "gain_2.0"] and r["records"] == ["119"]
    for c in r["conditions"].values():
        assert set(c) >= {"description", "qrs", "veb", "sveb", "records"}
        assert (
            c["qrs"]["tp"] >= 15
            and c["qrs"]["se"] >= 90
            and c["records"]["119"]["qrs"] == {k: c["qrs"][k] for k in ("tp", "fn", "fp")}
        )
    with pytest.raises(ValueError, match="valid"):
        rb.run(recs, None, ["bogus"])
