"""Body and lung masks by thresholding and morphology (scikit-image); pure functions.

CT (values in HU; air about -1000 HU, aerated lung about -900 to -500 HU, fat about -100 HU):
the image is smoothed (Gaussian, sigma 1 pixel) and split into air-like (< -400 HU) and
tissue. *External air* is every air component that touches the image border with a median
below -930 HU (outside air, not lung: a cropped slice may cut through a lung, so touching the
border alone does not make a component external). Body = not external air (and inside the
scanner's field of view, > -1500 HU), largest component, holes filled, closed. Lung = air
inside the body that is not external, minus specks, the (up to) two largest components,
closed and hole-filled -- the threshold + connected-components approach of Hu, Hoffman &
Reinhardt (IEEE TMI 20(6):490-498, 2001), reduced to one slice.

Other modalities: body = Otsu threshold, opened, largest component, closed, holes filled.
"""

from __future__ import annotations

import numpy as np

AIR_HU = -400.0  # below: air-like (lung or outside air)
EXTERNAL_AIR_HU = -930.0  # median below: outside air rather than aerated lung
FOV_HU = -1500.0  # below: padding outside the reconstruction circle


def _largest_components(mask: np.ndarray, n: int) -> np.ndarray:
    from skimage.measure import label

    lab = label(mask, connectivity=2)
    if lab.max() == 0:
        return np.zeros_like(mask, dtype=bool)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    keep = np.argsort(sizes)[::-1][:n]
    keep = keep[sizes[keep] > 0]
    return np.isin(lab, keep)


def _disk(img_shape: tuple[int, ...], frac: float = 0.015) -> np.ndarray:
    from skimage.morphology import disk

    return disk(max(1, round(frac * min(img_shape[:2]))))


def _external_air(hu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(smoothed air mask, external-air mask) of a CT slice in HU."""
    from scipy.ndimage import gaussian_filter
    from skimage.measure import label, regionprops

    sm = gaussian_filter(hu.astype(np.float32), 1.0)
    air = sm < AIR_HU
    lab = label(air, connectivity=1)
    ext = np.zeros(hu.shape, dtype=bool)
    rows, cols = hu.shape
    for r in regionprops(lab, intensity_image=sm):
        r0, c0, r1, c1 = r.bbox
        touches = r0 == 0 or c0 == 0 or r1 == rows or c1 == cols
        if touches and float(np.median(r.image_intensity[r.image])) < EXTERNAL_AIR_HU:
            ext[lab == r.label] = True
    return air, ext | (sm < FOV_HU)


def body_mask(values: np.ndarray, units: str) -> np.ndarray:
    """Boolean body mask of a 2-D image.

    Parameters
    ----------
    values : ndarray (rows, cols)
        HU for CT (``units == "HU"``), otherwise any intensity.
    units : str
        ``"HU"`` selects the CT method; anything else an Otsu threshold.
    """
    from scipy.ndimage import binary_fill_holes
    from skimage.filters import threshold_otsu
    from skimage.morphology import closing, opening

    v = values.astype(np.float32)
    fp = _disk(v.shape)
    if units == "HU":
        _, ext = _external_air(v)
        m = ~ext
    else:
        if float(v.max()) == float(v.min()):
            return np.zeros(v.shape, dtype=bool)
        m = v > threshold_otsu(v)
        m = opening(m, fp)
    m = _largest_components(m, 1)
    m = closing(m, fp)
    return binary_fill_holes(m).astype(bool)


def lung_mask(hu: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Boolean lung mask of a CT slice in HU (empty when no lung is in the slice)."""
    from scipy.ndimage import binary_fill_holes
    from skimage.morphology import closing, remove_small_objects

    air, ext = _external_air(hu)
    cand = air & body & ~ext
    min_area = max(16, int(0.02 * hu.size))  # ignore bowel gas, sinuses, trachea, noise
    cand = remove_small_objects(cand, max_size=min_area)
    m = _largest_components(cand, 2)
    m = closing(m, _disk(hu.shape, 0.01))
    return binary_fill_holes(m).astype(bool)


def mask_stats(mask: np.ndarray, pixel_spacing_mm: tuple[float, float] | None) -> dict:
    """Area (pixels, and mm² when the spacing is known) and fraction of the image."""
    n = int(mask.sum())
    out: dict = {"pixels": n, "fraction": round(n / mask.size, 4)}
    if pixel_spacing_mm is not None:
        out["area_mm2"] = round(n * pixel_spacing_mm[0] * pixel_spacing_mm[1], 1)
    return out
