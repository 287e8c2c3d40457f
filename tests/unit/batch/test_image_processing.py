"""Image pipeline pieces on pydicom's real test files: HU, windowing, masks, ECG, rejection."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from batch.image import preprocess as pp
from batch.image.ecg import analyse_ecg, ecg_leads, heart_rate_bpm, r_peaks_simple
from batch.image.handler import read_dicom
from batch.image.segment import body_mask, lung_mask
from batch.jobs import JobRejected


def _read(name: str) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(get_testdata_file(name))


def test_ct_small_to_hounsfield_units():
    ds = _read("CT_small.dcm")
    assert float(ds.RescaleSlope) == 1.0 and float(ds.RescaleIntercept) == -1024.0
    frame = pp.decode_frame(ds)
    assert frame.units == "HU"
    raw = ds.pixel_array.astype(np.float32)
    np.testing.assert_allclose(frame.values, pp.ct_to_hu(raw, 1.0, -1024.0))
    np.testing.assert_allclose(frame.values, raw - 1024.0)
    # physiology of this thorax slice: aerated lung about -850 HU, soft tissue near 0,
    # bone several hundred HU
    p1, p50, p99 = np.percentile(frame.values, [1, 50, 99])
    assert -900 < p1 < -700 and -100 < p50 < 100 and 400 < p99 < 1200


def test_window_level_and_densenet_input():
    w = pp.window_level(np.array([-1000.0, 40.0, 240.0, 1000.0]), 40.0, 400.0)
    assert w[0] == 0.0 and w[-1] == 1.0 and abs(w[1] - 0.5) < 0.01
    with pytest.raises(ValueError):
        pp.window_level(np.zeros(3), 0.0, 0.0)
    img = pp.resample(np.linspace(0, 1, 128 * 128, dtype=np.float32).reshape(128, 128))
    assert img.shape == (224, 224)
    x = pp.densenet_input(img)
    assert x.shape == (1, 224, 224, 3) and x.dtype == np.float32
    # "torch" mode: 0 maps to -mean/std, 1 to (1-mean)/std per channel
    np.testing.assert_allclose(
        pp.densenet_input(np.zeros((2, 2)))[0, 0, 0], -pp.IMAGENET_MEAN / pp.IMAGENET_STD, rtol=1e-6
    )


def test_ct_masks_are_plausible():
    frame = pp.decode_frame(_read("CT_small.dcm"))
    body = body_mask(frame.values, "HU")
    lung = lung_mask(frame.values, body)
    assert body.mean() > 0.8  # a cropped thorax slice: the body fills the field of view
    assert 0.1 < lung.mean() < 0.4
    assert not (lung & ~body).any()  # lungs lie inside the body
    assert frame.values[lung].mean() < -600  # aerated
    assert frame.values[body & ~lung].mean() > -200  # tissue
    # two lungs, one on each side of the spine
    cols = np.where(lung.any(axis=0))[0]
    assert cols.min() < 40 and cols.max() > 88


def test_head_ct_has_body_and_no_lung():
    frame = pp.decode_frame(_read("693_J2KI.dcm"))  # JPEG 2000, head CT
    body = body_mask(frame.values, "HU")
    assert 0.2 < body.mean() < 0.5
    assert not lung_mask(frame.values, body).any()


def test_mr_body_mask_otsu():
    frame = pp.decode_frame(_read("MR_small.dcm"))
    body = body_mask(frame.values, frame.units)
    assert 0.05 < body.mean() < 0.5
    assert frame.values[body].mean() > 2 * frame.values[~body].mean()


@pytest.mark.parametrize(
    "name, reason",
    [
        ("MR_truncated.dcm", "corrupt_pixel_data"),
        ("JPEG-lossy.dcm", "pixel_decode_failed"),
    ],
)
def test_undecodable_pixels_are_rejected_with_reason(name, reason):
    with pytest.raises(JobRejected) as e:
        pp.decode_frame(_read(name))
    assert e.value.reason == reason


def test_read_dicom_rejects_garbage():
    with pytest.raises(JobRejected) as e:
        read_dicom(b"this is not a dicom file" * 10)
    assert e.value.reason == "not_dicom"
    with pytest.raises(JobRejected) as e:
        read_dicom(b"")
    assert e.value.reason == "empty_file"


@pytest.mark.parametrize(
    "n_bytes, reason", [(700, "corrupt_file"), (5000, "corrupt_file"), (20000, "corrupt_pixel_data")]
)
def test_truncated_ct_is_rejected(n_bytes, reason):
    from batch.image.handler import handle
    from batch.jobs import Job

    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()[:n_bytes]
    with pytest.raises(JobRejected) as e:
        handle(Job("image-t", "image", "t.dcm", data))
    assert e.value.reason == reason


def test_non_image_instance_is_unsupported():
    from batch.image.handler import handle
    from batch.jobs import Job

    data = Path(get_testdata_file("rtplan.dcm")).read_bytes()
    with pytest.raises(JobRejected) as e:
        handle(Job("image-r", "image", "rtplan.dcm", data))
    assert e.value.reason == "unsupported_format"


def test_ecg_leads_and_heart_rate():
    ds = _read("waveform_ecg.dcm")
    leads, fs = ecg_leads(ds)
    assert fs == 1000.0 and len(leads) == 12
    assert list(leads)[:3] == ["I", "II", "III"]
    assert 0.5 < leads["II"].max() < 3.0  # mV
    # Einthoven: II = I + III (within the 1.25 uV quantisation)
    np.testing.assert_allclose(leads["II"], leads["I"] + leads["III"], atol=0.02)
    peaks = r_peaks_simple(leads["II"], fs)
    hr = heart_rate_bpm(peaks, fs)
    assert 9 <= peaks.size <= 11 and 55 <= hr <= 67  # 10 s strip at about 61 bpm
    summary, _, _ = analyse_ecg(ds)
    assert summary["lead_ii"]["n_beats"] >= 8
    assert abs(summary["lead_ii"]["heart_rate_bpm"] - hr) < 5
    lead_ii = summary["lead_ii"]
    if lead_ii.get("classifier", {}).get("available"):  # the ECG model artifact is present
        assert sum(lead_ii["beat_counts"].values()) == lead_ii["n_beats"]
        assert set(lead_ii["beat_counts"]) == {"N", "S", "V", "F", "Q"}
