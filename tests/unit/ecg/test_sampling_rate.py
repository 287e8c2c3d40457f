"""Bedside sampling rates: resampling a record (signal and reference annotations) and the streaming
detector on a real DS1 record at 250 and 500 Hz as well as its native 360 Hz; the evaluation's
``resample_hz`` is its per-record ``transform`` hook with :func:`resample_record`."""

from functools import partial

import numpy as np
import pytest

from models.ecg.evaluate import evaluate_records, load_record, resample_record, score_record, stream_record
from wardwatch.settings import shared_data

DS1 = shared_data("mitdb-ds1")


def _spike_record(fs: float, ann: list[int], n: int) -> dict:
    t = np.arange(n)
    x = sum(np.exp(-((t - a) ** 2) / (2 * (0.012 * fs) ** 2)) for a in ann)
    return {
        "name": "x",
        "signal": x,
        "signal2": -0.5 * x,
        "fs": fs,
        "lead": "MLII",
        "lead2": "V1",
        "ann_sample": np.array(ann, dtype=np.int64),
        "ann_symbol": ["N"] * len(ann),
    }


@pytest.mark.parametrize("fs_new", [125.0, 250.0, 500.0, 360.0])
def test_resample_record_maps_annotations_onto_the_resampled_beats(fs_new):
    ann = [0, 200, 557, 1001, 1800, 2999]
    rec = _spike_record(360.0, ann, 3000)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in rec.items()}
    r = resample_record(rec, fs_new)
    n_new = int(np.ceil(3000 * fs_new / 360.0))
    assert r["fs"] == fs_new
    assert r["signal"].size == n_new and r["signal2"].size == n_new
    expected = np.clip(np.rint(np.array(ann) * fs_new / 360.0), 0, n_new - 1).astype(int)
    assert r["ann_sample"].tolist() == expected.tolist()
    assert r["ann_symbol"] == rec["ann_symbol"] and r["lead"] == "MLII"
    # each (inner) annotation sits on its spike in the resampled signal, within a sample
    for a in r["ann_sample"][1:-1]:
        w = r["signal"][a - 10 : a + 11]
        assert abs(int(np.argmax(w)) - 10) <= 1
        assert abs(int(np.argmin(r["signal2"][a - 10 : a + 11])) - 10) <= 1
    # the input record is untouched
    for k, v in before.items():
        assert np.array_equal(rec[k], v) if isinstance(v, np.ndarray) else rec[k] == v


def test_resample_record_keeps_a_one_lead_record_and_rejects_bad_rates():
    rec = _spike_record(360.0, [100, 500], 720)
    rec["signal2"] = None
    assert resample_record(rec, 250)["signal2"] is None
    for bad in (0, -250, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive"):
            resample_record(rec, bad)


def test_streaming_detector_finds_the_beats_at_250_and_500_hz():
    """First 60 s of 119 (ventricular bigeminy) and 208 (PVCs, fusion, couplets), both leads
    streamed in 1 s chunks; pooled over the two records (165 beats at 360 Hz, all found)."""
    recs = [load_record(DS1 / r, max_seconds=60) for r in ("119", "208")]
    se_ppv = {}
    for fs in (360.0, 250.0, 500.0):
        tp = fn = fp = 0
        for rec in recs:
            r = resample_record(rec, fs)
            beats = stream_record(r["signal"], r["fs"], signal2=r["signal2"])
            q = score_record(r, np.array([b.sample for b in beats]), ["N"] * len(beats))["qrs"]
            tp, fn, fp = tp + q["tp"], fn + q["fn"], fp + q["fp"]
        assert tp >= 160, (fs, tp)
        se_ppv[fs] = (100 * tp / (tp + fn), 100 * tp / (tp + fp))
    for fs, (se, ppv) in se_ppv.items():
        assert se >= 99.0 and ppv >= 99.0, (fs, se_ppv)
        assert abs(se - se_ppv[360.0][0]) <= 1.0 and abs(ppv - se_ppv[360.0][1]) <= 1.0, (fs, se_ppv)


def test_evaluate_records_resample_is_a_transform_applied_before_the_callers(tmp_path):
    """First 20 s of 119: ``resample_hz=250`` scores exactly as ``transform=resample to 250``; a
    caller's transform sees the resampled record; ``on_record`` gets each record's name."""
    for ext in ("hea", "dat", "atr"):
        (tmp_path / f"119.{ext}").symlink_to(DS1 / f"119.{ext}")
    by_rate = evaluate_records(tmp_path, max_seconds=20, resample_hz=250)
    by_hook = evaluate_records(tmp_path, max_seconds=20, transform=partial(resample_record, fs_new=250))
    assert by_rate["scoring"].endswith("; records resampled to 250 Hz")
    assert by_hook == {**by_rate, "scoring": by_rate["scoring"].removesuffix("; records resampled to 250 Hz")}
    assert by_rate["records"]["119"]["fs"] == 250.0 and by_rate["qrs"]["tp"] >= 15
    seen, done = [], []
    evaluate_records(
        tmp_path,
        max_seconds=20,
        resample_hz=250,
        on_record=done.append,
        transform=lambda r: seen.append(r["fs"]) or r,
    )
    assert seen == [250.0] and done == ["119"]
