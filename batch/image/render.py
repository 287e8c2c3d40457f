"""PNG renderings of results: image thumbnail with masks overlaid, 12-lead ECG strip.

Pure: arrays in, PNG bytes out (no files written here; the worker stores artifacts).
"""

from __future__ import annotations

import io

import numpy as np

BODY_RGB = (0, 200, 0)
LUNG_RGB = (40, 120, 255)


def thumbnail_png(
    img01: np.ndarray, masks: dict[str, np.ndarray], size_px: int = 256, rgb: np.ndarray | None = None
) -> bytes:
    """Windowed image (values in [0, 1]) or ``rgb`` with each mask tinted and outlined.

    Body mask: green; lung mask: blue (30 % tint inside, solid outline).
    """
    from PIL import Image
    from skimage.segmentation import find_boundaries

    base = (
        rgb.astype(np.float32)
        if rgb is not None
        else np.repeat((np.clip(img01, 0, 1) * 255.0)[..., None], 3, axis=2)
    )
    out = base.copy()
    for name, color in (("body", BODY_RGB), ("lung", LUNG_RGB)):
        m = masks.get(name)
        if m is None or not m.any():
            continue
        c = np.array(color, dtype=np.float32)
        out[m] = 0.7 * out[m] + 0.3 * c
        out[find_boundaries(m, mode="inner")] = c
    im = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
    scale = size_px / max(im.size)
    im = im.resize(
        (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.Resampling.BILINEAR
    )
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def ecg_png(
    leads: dict[str, np.ndarray], fs: float, peaks_ii: np.ndarray | None = None, seconds: float = 10.0
) -> bytes:
    """A 12-lead strip (one row per lead, ``seconds`` long) with lead II R peaks marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = int(seconds * fs)
    fig, axes = plt.subplots(len(leads), 1, figsize=(10, 0.8 * len(leads) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (name, x) in zip(axes, leads.items(), strict=True):
        t = np.arange(min(n, x.size)) / fs
        ax.plot(t, x[: t.size], lw=0.6, color="black")
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#f2b8b8", lw=0.4)
        if name == "II" and peaks_ii is not None and peaks_ii.size:
            p = peaks_ii[peaks_ii < t.size]
            ax.plot(p / fs, x[p], "v", color="red", ms=3)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle("12-lead ECG (mV); lead II R peaks in red", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
