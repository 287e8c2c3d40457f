"""ECG strips: a few seconds of signal around an alarm, rendered as a PNG on ECG paper.

Standard ECG paper (25 mm/s, 10 mm/mV; small squares 1 mm = 40 ms x 0.1 mV, large squares
5 mm = 200 ms x 0.5 mV). Beats are marked with their AAMI class above the trace, the event
time with a vertical line. Rendering draws with Pillow on a private image (no global state), so
it is safe in a worker thread.

The rolling signal a strip is cut from is kept in the patient's ECG state
(:mod:`models.ecg.signal_buffer`); :func:`models.ecg.step.strip_inputs` gathers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from wardwatch.logs import keyed_digest

BEAT_COLOURS = {"N": "#1f4e79", "S": "#b8860b", "V": "#c00000", "F": "#7030a0", "Q": "#555555"}


# ------------------------------------------------------------------------------ strip
def strip_id(patient_id: str, source: str, t: float) -> str:
    """Deterministic id of an alarm event's strip: the same event gives the same file name.

    The patient id goes in through a keyed hash (:func:`wardwatch.logs.keyed_digest`, keyed by
    ``WARDWATCH_LOG_SALT``), so the file name reveals nothing about the patient, even to someone
    who holds a list of patient ids.
    """
    return f"ecg-{source.split('.')[-1]}-{keyed_digest(patient_id, source, str(round(t * 1000)))}"


def _trace(
    samples_uv: np.ndarray, fs: float, t0: float, start: float, end: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Times (s from ``start``) and mV (median removed) of one lead inside [start, end], with
    the half-millivolt-rounded range it needs (at least -1.5 to 2 mV)."""
    x = np.asarray(samples_uv, dtype=np.float64) / 1000.0
    t = t0 + np.arange(x.size) / fs
    sel = (t >= start) & (t <= end)
    ts, xs = t[sel] - start, x[sel]
    xs = xs - (float(np.median(xs)) if xs.size else 0.0)
    lo = min(-1.5, float(np.floor((xs.min() if xs.size else 0) * 2) / 2) - 0.5)
    hi = max(2.0, float(np.ceil((xs.max() if xs.size else 0) * 2) / 2) + 0.5)
    return ts, xs, lo, hi


def strip_render(
    path: Path | str,
    samples_uv: np.ndarray,
    fs: float,
    t0: float,
    *,
    beats: Sequence[tuple[float, str]] = (),
    event_t: float | None = None,
    title: str = "",
    seconds: float = 6.0,
    lead: str = "",
    second: tuple[str, np.ndarray, float] | None = None,
) -> Path:
    """Render an ECG strip PNG.

    Parameters
    ----------
    path : where to write the PNG (parent folders are created).
    samples_uv : numpy.ndarray
        Microvolts; sample 0 at device time ``t0`` (POSIX s).
    fs : float
        Sampling rate in Hz.
    beats : list of (t, label)
        Beats to mark (device time, AAMI class).
    event_t : float, optional
        Alarm time; the strip shows ``seconds`` of signal ending 1 s after it (or the buffer
        end, whichever is earlier).
    title : str
        Header text (no patient identifier: the file is served to subscribers).
    seconds : float
        Strip length.
    lead : str
        Name of the lead, written at the start of its trace.
    second : (lead name, samples_uv, t0), optional
        A second lead at the same ``fs`` (e.g. V1), drawn under the first on the same time axis
        and paper, as a two-channel monitor strip.

    Returns
    -------
    Path

    Drawn with Pillow on a pixel grid of :data:`PX_PER_MM` pixels per millimetre (the PNG's
    resolution is set to match, so it prints at true scale): ~4 ms a two-lead strip, against
    ~50 ms with matplotlib, which drew them before and cost a worker more CPU than the ECG
    analysis itself under a load of frequent alarms (stop 33).

    Examples
    --------
    >>> import tempfile
    >>> from simulators.ecg_synth import synth_ecg
    >>> sig, beats = synth_ecg(8, fs=360.0)
    >>> p = strip_render(Path(tempfile.mkdtemp()) / "s.png", sig, 360.0, 0.0,
    ...                  beats=[(s / 360, b) for s, b in beats], event_t=5.0)
    >>> from PIL import Image
    >>> Image.open(p).size[0]   # 6 s at 25 mm/s and 4 px/mm, and the margins
    661
    """
    from PIL import ImageDraw

    n = len(samples_uv)
    end = t0 + (n - 1) / fs if n else t0
    if event_t is not None:
        end = min(end, event_t + 1.0)
    start = max(t0, end - seconds)
    ts, xs, lo, hi = _trace(samples_uv, fs, t0, start, end)
    dur = max(seconds, float(ts[-1]) if ts.size else seconds)
    traces = [(lead, ts, xs, 0.0)]
    if second is not None:
        # the second lead hangs under the first: its top at the first one's bottom
        ts2, xs2, lo2, hi2 = _trace(second[1], fs, second[2], start, end)
        offset = lo - hi2
        traces.append((second[0], ts2, xs2, offset))
        lo = lo2 + offset

    px_s, px_mv = 25 * PX_PER_MM, 10 * PX_PER_MM  # 25 mm/s, 10 mm/mV
    width, height = round(dur * px_s), round((hi - lo) * px_mv)
    img = _sheet(width, height).copy()  # palette image: a third of RGB's bytes to compress
    draw = ImageDraw.Draw(img)

    def y_of(mv: np.ndarray | float) -> np.ndarray | float:
        return _TOP + (hi - mv) * px_mv

    for name, tt, xx, offset in traces:
        if tt.size > 1:
            pts = np.column_stack([_LEFT + tt * px_s, y_of(xx + offset)]).round(1)
            draw.line(pts.ravel().tolist(), fill=_INK["black"], width=TRACE_PX)  # x, y, x, y, ...
        if name:
            draw.text(
                (_LEFT + 0.05 * px_s, float(y_of(offset + 0.35))),
                name,
                fill=_INK["black"],
                font=_font(12),
                anchor="lb",
            )
    for bt, lab in beats:
        if start <= bt <= end:
            draw.text(
                (_LEFT + (bt - start) * px_s, float(y_of(hi - 0.1))),
                lab,
                fill=_INK.get(lab, _INK["black"]),
                font=_font(12),
                anchor="mt",
            )
    if event_t is not None and start <= event_t <= end:
        x = _LEFT + (event_t - start) * px_s
        for y in range(_TOP, _TOP + height, 10):  # dashed
            draw.line([(x, y), (x, min(y + 6, _TOP + height))], fill=_INK["event"], width=2)
    stamp = datetime.fromtimestamp(start, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    draw.text(
        (_LEFT, _TOP - 10),
        f"{title}   {stamp}   25 mm/s  10 mm/mV",
        fill=_INK["black"],
        font=_font(13),
        anchor="lb",
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    dpi = PX_PER_MM * 25.4
    img.save(tmp, format="PNG", compress_level=1, dpi=(dpi, dpi))
    tmp.replace(path)  # atomic: a subscriber never reads a half-written file
    return path


PX_PER_MM = 4  #: pixels per millimetre of ECG paper (1 small square = 4 px)
TRACE_PX = 2  #: trace line width, pixels
_LEFT, _RIGHT, _TOP, _BOTTOM = 30, 30, 40, 30  # margins, pixels
#: palette: index -> RGB (white page, paper, minor and major grid, ink, alarm line, beat classes)
_COLOURS = ["#ffffff", "#fff5f5", "#fbd9d9", "#f4a6a6", "#000000", "#c00000", *BEAT_COLOURS.values()]
_INK = {"white": 0, "paper": 1, "minor": 2, "major": 3, "black": 4, "event": 5} | {
    lab: 6 + i for i, lab in enumerate(BEAT_COLOURS)
}


@lru_cache(maxsize=16)
def _sheet(width: int, height: int) -> Any:
    """A blank strip: white margins, ECG paper of ``width`` x ``height`` pixels with a line every
    millimetre and a darker one every 5 mm from its top left (the voltage range is whole
    half-millivolts, so the major lines fall on them), and its frame; a palette image, made
    once per size (strips are the same size but for their voltage range)."""
    from PIL import Image

    a = np.full((height + _TOP + _BOTTOM + 1, width + _LEFT + _RIGHT + 1), _INK["white"], dtype=np.uint8)
    paper = a[_TOP : _TOP + height + 1, _LEFT : _LEFT + width + 1]
    paper[:] = _INK["paper"]
    step = PX_PER_MM
    paper[:, ::step] = _INK["minor"]
    paper[::step, :] = _INK["minor"]
    paper[:, :: 5 * step] = _INK["major"]
    paper[:: 5 * step, :] = _INK["major"]
    paper[[0, -1], :] = _INK["black"]
    paper[:, [0, -1]] = _INK["black"]
    img = Image.fromarray(a, mode="P")
    img.putpalette([int(c[i : i + 2], 16) for c in _COLOURS for i in (1, 3, 5)])
    return img


@lru_cache(maxsize=4)
def _font(size: int) -> Any:
    """Pillow's bundled scalable font (no font file to ship or find)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


__all__ = ["strip_id", "strip_render"]
