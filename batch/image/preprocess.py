"""Pixel data to model input: decode, modality LUT (HU for CT), window/level, resample.

Pure functions over a pydicom ``Dataset`` and numpy arrays (no file or network I/O).

References
----------
- Modality LUT / Rescale Slope and Intercept: DICOM PS3.3 C.11.1 ("Modality LUT Module"),
  output units given by Rescale Type (0028,1054), Hounsfield units for CT (PS3.3 C.8.2.1.1.1).
- VOI LUT (window centre/width, linear function): DICOM PS3.3 C.11.2.1.2.1.
- DenseNet input: ``keras.applications.densenet.preprocess_input`` uses the "torch" mode:
  scale to [0, 1], then subtract the ImageNet mean (0.485, 0.456, 0.406) and divide by the
  standard deviation (0.229, 0.224, 0.225) per RGB channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from batch.jobs import JobRejected

MODEL_SIZE = (224, 224)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

# Default windows (centre, width) in HU when the file gives none: soft tissue and lung.
CT_WINDOWS = {"soft_tissue": (40.0, 400.0), "lung": (-600.0, 1500.0)}


@dataclass
class Frame:
    """One decoded image frame.

    Attributes
    ----------
    values : ndarray (rows, cols) float32
        Modality values (HU for CT, else stored values after the modality LUT).
    rgb : ndarray (rows, cols, 3) uint8 or None
        Present for colour images (RGB / YBR / palette), which have no modality LUT.
    units : str
        ``"HU"`` for CT, ``"US"`` (unspecified) otherwise, ``"RGB"`` for colour.
    frame_index, n_frames : int
        Which frame of a multi-frame instance this is.
    """

    values: np.ndarray
    rgb: np.ndarray | None
    units: str
    frame_index: int
    n_frames: int


def decode_frame(ds: Dataset) -> Frame:
    """Decode the middle frame of ``ds`` and apply the modality LUT.

    Raises
    ------
    JobRejected
        ``unsupported_transfer_syntax`` when no decoder is installed for the encoding,
        ``pixel_decode_failed`` when the installed decoders all fail on it,
        ``corrupt_pixel_data`` when the pixel data does not match its description.
    """
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    try:
        arr = ds.pixel_array
    except NotImplementedError as e:
        raise JobRejected(
            "unsupported_transfer_syntax",
            f"no decoder installed for transfer syntax {getattr(ts, 'name', ts)}",
            {"transfer_syntax": str(ts)},
        ) from e
    except RuntimeError as e:  # every installed decoder failed on this encoding
        raise JobRejected(
            "pixel_decode_failed",
            f"no installed decoder could decode the pixel data "
            f"({getattr(ts, 'name', ts)}): {str(e).splitlines()[-1][:200]}",
            {"transfer_syntax": str(ts)},
        ) from e
    except (ValueError, AttributeError, TypeError, KeyError) as e:
        raise JobRejected(
            "corrupt_pixel_data",
            f"pixel data cannot be decoded ({getattr(ts, 'name', ts)}): {str(e).splitlines()[0][:200]}",
            {"transfer_syntax": str(ts)},
        ) from e
    n_frames = int(ds.get("NumberOfFrames") or 1)
    samples = int(ds.get("SamplesPerPixel") or 1)
    idx = n_frames // 2
    if n_frames > 1:
        arr = arr[idx]
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)
        rgb = _to_uint8(rgb)
        return Frame(_luma(rgb), rgb, "RGB", idx, n_frames)
    if samples == 3:
        rgb = _to_uint8(np.asarray(arr))  # pydicom converts YBR to RGB by default
        return Frame(_luma(rgb), rgb, "RGB", idx, n_frames)
    values = np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
    if photometric == "MONOCHROME1":  # lowest value is white: invert for display/segmentation
        values = values.max() + values.min() - values
    units = "HU" if str(ds.get("Modality", "")).upper() == "CT" else str(ds.get("RescaleType") or "US")
    return Frame(values, None, units, idx, n_frames)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a
    a = a.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo or 1.0) * 255.0).astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an RGB image, float32 in [0, 255]."""
    return rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def ct_to_hu(stored: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Rescale stored CT values to Hounsfield units: ``HU = stored * slope + intercept``.

    >>> ct_to_hu(np.array([0, 1024]), 1.0, -1024.0).tolist()
    [-1024.0, 0.0]
    """
    return stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)


def window_level(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Linear VOI window (PS3.3 C.11.2.1.2.1) to [0, 1] float32.

    >>> [round(float(v), 3) for v in window_level(np.array([-1000.0, 40.0, 1000.0]), 40.0, 400.0)]
    [0.0, 0.501, 1.0]
    """
    if width < 1:
        raise ValueError(f"window width must be >= 1, got {width}")
    c, w = center - 0.5, width - 1.0
    out = (values.astype(np.float32) - c) / w + 0.5
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def choose_window(ds: Dataset, frame: Frame) -> tuple[float, float, str]:
    """The window to display/model with: the file's first VOI window, the CT soft-tissue
    window, or the 1st-99th percentile range of the values (``(center, width, source)``)."""
    wc, ww = ds.get("WindowCenter"), ds.get("WindowWidth")
    if wc is not None and ww is not None:
        wc = wc[0] if isinstance(wc, (list, tuple)) or getattr(wc, "VM", 1) > 1 else wc
        ww = ww[0] if isinstance(ww, (list, tuple)) or getattr(ww, "VM", 1) > 1 else ww
        try:
            if float(ww) >= 1:
                return float(wc), float(ww), "dataset"
        except (TypeError, ValueError):
            pass
    if frame.units == "HU":
        c, w = CT_WINDOWS["soft_tissue"]
        return c, w, "ct_soft_tissue"
    lo, hi = np.percentile(frame.values, [1, 99])
    return float((lo + hi) / 2), float(max(hi - lo, 1.0)), "percentile_1_99"


def resample(img: np.ndarray, size: tuple[int, int] = MODEL_SIZE, order: int = 1) -> np.ndarray:
    """Resize to ``size`` with anti-aliasing (order 1) or nearest neighbour (order 0, masks)."""
    from skimage.transform import resize

    out_shape = size + img.shape[2:]
    return resize(
        img,
        out_shape,
        order=order,
        preserve_range=True,
        anti_aliasing=order > 0 and (img.shape[0] > size[0] or img.shape[1] > size[1]),
        mode="edge",
    ).astype(img.dtype if order == 0 else np.float32)


def densenet_input(img01: np.ndarray) -> np.ndarray:
    """A (224, 224) grey or (224, 224, 3) RGB image in [0, 1] to a (1, 224, 224, 3) float32
    batch normalised as ``keras.applications.densenet.preprocess_input`` ("torch" mode)."""
    x = img01.astype(np.float32)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=2)
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return x[None, ...]
