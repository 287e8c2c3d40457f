"""The image job handler: DICOM bytes -> de-identified findings, thumbnail, ECG strip.

``handle(job)`` is what :mod:`batch.worker` calls for ``jobs.image``. Order matters for
confidentiality: the file is parsed and **de-identified first** (PS3.15 Basic profile, see
:mod:`batch.image.deid`); every later step, every output and every stored artifact works on the
de-identified dataset only, and nothing read from the file is logged.

Outputs (``result["outputs"]``)::

    {"type": "image" | "ecg", "modality", "sop_class", "transfer_syntax",
     "deidentification": {...what was removed/replaced...},
     "model": {"name": "DenseNet121", "trained": false, "warning": "untrained model: ..."},
     "image": {...}, "segmentation": {...}, "prediction": {...}    # images
     "ecg": {...}                                                  # 12-lead waveforms
    }

Artifacts: ``findings.json``, ``thumbnail.png`` (masks overlaid) or ``ecg.png``, and
``deidentified.dcm``.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from importlib.metadata import version
from typing import Any

import numpy as np

from batch.jobs import Job, JobRejected

log = logging.getLogger("wardwatch.batch.image")

HANDLER_VERSION = "1.0"
#: Outside CT a "body" covering nearly the whole image means Otsu separated nothing.
MAX_NON_CT_BODY_FRACTION = 0.98


def _v(pkg: str) -> str:
    try:
        return version(pkg)
    except Exception:  # noqa: BLE001
        return "unknown"


VERSIONS: dict[str, str] = {
    "image_handler": HANDLER_VERSION,
    "pydicom": _v("pydicom"),
    "scikit-image": _v("scikit-image"),
    "keras": _v("keras"),
    "deid_profile": "PS3.15 Table E.1-1 Basic (2023b)",
}


def warm_up() -> None:
    """Build the DenseNet once before the first job (a few seconds of CPU)."""
    from batch.image.model import get_model

    get_model()


def read_dicom(data: bytes) -> Any:
    """Parse DICOM bytes (Part 10 file); reject non-DICOM and truncated input with a reason."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not data:
        raise JobRejected("empty_file", "the job carries no bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data))
            _ = list(ds)  # force parsing of every element now (lazy parsing hides corruption)
    except InvalidDicomError as e:
        raise JobRejected("not_dicom", "not a DICOM Part 10 file (no DICM preamble)") from e
    except Exception as e:
        raise JobRejected("corrupt_file", f"DICOM file cannot be parsed: {type(e).__name__}") from e
    if "SOPClassUID" not in ds:
        raise JobRejected("corrupt_file", "no SOP Class UID: not a composite DICOM instance")
    return ds


def _deidentify(ds: Any) -> tuple[Any, dict[str, Any], list[str]]:
    from batch.image.config import deid_key
    from batch.image.deid import deidentify

    key, configured = deid_key()
    ds, report = deidentify(ds, key)
    warns = (
        []
        if configured
        else ["WARDWATCH_IMAGE_DEID_KEY unset: replaced UIDs are consistent within this worker process only"]
    )
    return ds, report.as_dict(), warns


def _dicom_bytes(ds: Any) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _spacing(ds: Any) -> tuple[float, float] | None:
    ps = ds.get("PixelSpacing")
    try:
        return (float(ps[0]), float(ps[1])) if ps is not None else None
    except (TypeError, ValueError, IndexError):
        return None


def _process_image(ds: Any, job: Job) -> tuple[dict[str, Any], dict[str, bytes], list[str]]:
    from batch.image import preprocess as pp
    from batch.image import render
    from batch.image.config import ImageSettings
    from batch.image.model import get_model
    from batch.image.segment import body_mask, lung_mask, mask_stats

    warns: list[str] = []
    frame = pp.decode_frame(ds)
    job.progress("decode", 0.35)
    if frame.rgb is not None:
        img01 = frame.rgb.astype(np.float32) / 255.0
        center = width = None
        window_src = "rgb"
        grey01 = frame.values / 255.0
    else:
        center, width, window_src = pp.choose_window(ds, frame)
        img01 = grey01 = pp.window_level(frame.values, center, width)
    masks: dict[str, np.ndarray] = {"body": body_mask(frame.values, frame.units)}
    if frame.units == "HU":
        masks["lung"] = lung_mask(frame.values, masks["body"])
    elif masks["body"].mean() > MAX_NON_CT_BODY_FRACTION:
        # Otsu found no separable foreground (e.g. a flat secondary capture): no body mask
        masks["body"] = np.zeros_like(masks["body"])
        warns.append("no foreground separable from background: body mask empty")
    job.progress("segment", 0.55)
    x = pp.densenet_input(pp.resample(img01, pp.MODEL_SIZE, order=1))
    model = get_model()
    prediction = model.predict(x)
    job.progress("model", 0.8)
    spacing = _spacing(ds)
    v = frame.values
    outputs: dict[str, Any] = {
        "type": "image",
        "image": {
            "rows": int(v.shape[0]),
            "columns": int(v.shape[1]),
            "frames": frame.n_frames,
            "frame_used": frame.frame_index,
            "photometric": str(ds.get("PhotometricInterpretation", "")),
            "units": frame.units,
            "value_range": [round(float(v.min()), 2), round(float(v.max()), 2)],
            "value_percentiles": {
                p: round(float(q), 2)
                for p, q in zip(("p1", "p50", "p99"), np.percentile(v, [1, 50, 99]), strict=True)
            },
            "window": {"center": center, "width": width, "source": window_src},
            "pixel_spacing_mm": list(spacing) if spacing else None,
            "model_input": [1, *pp.MODEL_SIZE, 3],
        },
        "segmentation": {name: mask_stats(m, spacing) for name, m in masks.items()},
        "prediction": prediction,
        "model": model.info(),
    }
    if frame.units == "HU":
        body = masks["body"]
        outputs["segmentation"]["body"]["mean_hu"] = round(float(v[body].mean()), 1) if body.any() else None
        lung = masks["lung"]
        outputs["segmentation"]["lung"]["mean_hu"] = round(float(v[lung].mean()), 1) if lung.any() else None
    artifacts: dict[str, bytes] = {}
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        warns.append(
            "Burned In Annotation = YES: pixel data may show identifiers; "
            "no thumbnail or de-identified DICOM stored"
        )
        outputs["pixels_stored"] = False
    else:
        artifacts["thumbnail.png"] = render.thumbnail_png(
            grey01 if frame.rgb is None else img01, masks, ImageSettings().thumbnail_px, rgb=frame.rgb
        )
        artifacts["deidentified.dcm"] = _dicom_bytes(ds)
        outputs["pixels_stored"] = True
        if str(ds.get("Modality", "")).upper() in ("US", "OT", "SC", "XC") and "BurnedInAnnotation" not in ds:
            warns.append(
                "Burned In Annotation not stated for a modality that often has it: "
                "check the thumbnail before sharing"
            )
    job.progress("render", 0.95)
    return outputs, artifacts, warns


def _process_ecg(ds: Any, job: Job) -> tuple[dict[str, Any], dict[str, bytes], list[str]]:
    from batch.image import render
    from batch.image.ecg import analyse_ecg, r_peaks_simple
    from batch.image.model import MODEL_NAME, UNTRAINED_WARNING

    summary, leads, fs = analyse_ecg(ds)
    job.progress("ecg", 0.7)
    warns = []
    if summary.get("lead_ii") and summary["lead_ii"].get("method", "").startswith("batch."):
        warns.append("ECG beat classifier unavailable: heart rate from a simple R-peak count")
    elif summary.get("lead_ii") and not summary["lead_ii"].get("classifier", {}).get("available"):
        warns.append("ECG beat classifier model file unavailable: beats detected, not classified")
    peaks = r_peaks_simple(leads["II"], fs) if "II" in leads else None
    artifacts = {"ecg.png": render.ecg_png(leads, fs, peaks), "deidentified.dcm": _dicom_bytes(ds)}
    outputs = {
        "type": "ecg",
        "ecg": summary,
        # The DenseNet is not applied to waveforms; its status is still stated.
        "model": {"name": MODEL_NAME, "applied": False, "trained": False, "warning": UNTRAINED_WARNING},
    }
    job.progress("render", 0.95)
    return outputs, artifacts, warns


def handle(job: Job) -> dict[str, Any]:
    """Process one DICOM job (see module docstring). Raises JobRejected for bad input."""
    ds = read_dicom(job.data)
    job.progress("read", 0.1)
    ds, deid_report, warns = _deidentify(ds)  # before anything is stored or logged
    job.progress("deidentify", 0.2)
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    common: dict[str, Any] = {
        "modality": str(ds.get("Modality", "")),
        "sop_class": getattr(ds.SOPClassUID, "name", str(ds.SOPClassUID)),
        "transfer_syntax": getattr(ts, "name", str(ts)) if ts else None,
        "deidentification": deid_report,
    }
    if "WaveformSequence" in ds:
        outputs, artifacts, w = _process_ecg(ds, job)
    elif "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        outputs, artifacts, w = _process_image(ds, job)
    elif any(w in common["sop_class"] for w in ("Image Storage", "Waveform Storage", "Segmentation")):
        # pydicom stops quietly at end of file: an image class without pixel data is truncated
        raise JobRejected(
            "corrupt_file",
            f"{common['sop_class']} without pixel data or waveform: truncated file?",
            {"sop_class": common["sop_class"]},
        )
    else:
        raise JobRejected(
            "unsupported_format",
            f"no pixel data or waveform to analyse ({common['sop_class']})",
            {"sop_class": common["sop_class"]},
        )
    outputs = {**common, **outputs}
    outputs["warnings"] = warns + w
    artifacts["findings.json"] = json.dumps(outputs, indent=2, default=str).encode()
    model = outputs.get("model", {})
    return {
        "outputs": outputs,
        "artifacts": artifacts,
        "warnings": warns + w,
        "versions": {
            **VERSIONS,
            "model": f"{model.get('name')}{'' if model.get('trained') else ' (untrained)'}",
        },
    }
