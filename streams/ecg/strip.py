"""ECG strips: a few seconds of signal around an alarm, rendered as a PNG on ECG paper.

Standard ECG paper (25 mm/s, 10 mm/mV; small squares 1 mm = 40 ms x 0.1 mV, large squares
5 mm = 200 ms x 0.5 mV). Beats are marked with their AAMI class above the trace, the event
time with a vertical line. Rendering uses matplotlib's Agg canvas on a private ``Figure`` (no
pyplot global state), so it is safe in a worker thread.

The rolling signal a strip is cut from is kept in the patient's ECG state
(:mod:`models.ecg.signal_buffer`); :func:`models.ecg.step.strip_inputs` gathers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

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

    Examples
    --------
    >>> import tempfile
    >>> from simulators.ecg_synth import synth_ecg
    >>> sig, beats = synth_ecg(8, fs=360.0)
    >>> p = strip_render(Path(tempfile.mkdtemp()) / "s.png", sig, 360.0, 0.0,
    ...                  beats=[(s / 360, b) for s, b in beats], event_t=5.0)
    >>> p.stat().st_size > 10_000
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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

    # 25 mm/s and 10 mm/mV -> 1 s = 25 mm, 1 mV = 10 mm; 1 inch = 25.4 mm
    width_in = dur * 25 / 25.4 + 0.6
    height_in = (hi - lo) * 10 / 25.4 + 0.7
    fig = Figure(figsize=(width_in, height_in), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.3 / width_in, 0.3 / height_in, 1 - 0.6 / width_in, 1 - 0.7 / height_in))
    ax.set_xlim(0, dur)
    ax.set_ylim(lo, hi)
    ax.set_facecolor("#fff5f5")
    xv = np.arange(0, dur + 1e-9, 0.04)
    xmaj = np.abs(xv / 0.2 - np.round(xv / 0.2)) < 1e-6
    yv = np.arange(np.ceil(lo / 0.1) * 0.1, hi + 1e-9, 0.1)
    ymaj = np.abs(yv / 0.5 - np.round(yv / 0.5)) < 1e-6
    for major, colour, lw in ((False, "#fbd9d9", 0.4), (True, "#f4a6a6", 0.8)):
        ax.vlines(xv[xmaj == major], lo, hi, colors=colour, linewidths=lw, zorder=0)
        ax.hlines(yv[ymaj == major], 0, dur, colors=colour, linewidths=lw, zorder=0)
    for name, tt, xx, offset in traces:
        ax.plot(tt, xx + offset, color="black", lw=0.9, zorder=3)
        if name:
            ax.text(0.05, offset + 0.35, name, ha="left", va="bottom", fontsize=9, zorder=4)
    for bt, lab in beats:
        if start <= bt <= end:
            ax.text(
                bt - start,
                hi - 0.25,
                lab,
                ha="center",
                va="top",
                fontsize=9,
                fontweight="bold",
                color=BEAT_COLOURS.get(lab, "black"),
                zorder=4,
            )
    if event_t is not None and start <= event_t <= end:
        ax.axvline(event_t - start, color="#c00000", lw=1.2, ls="--", zorder=4)
    ax.set_xticks([])
    ax.set_yticks([])
    stamp = datetime.fromtimestamp(start, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    fig.text(
        0.3 / width_in, 1 - 0.3 / height_in, f"{title}   {stamp}   25 mm/s  10 mm/mV", fontsize=9, va="bottom"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, format="png", dpi=100, pil_kwargs={"compress_level": 1})
    tmp.replace(path)  # atomic: a subscriber never reads a half-written file
    return path


__all__ = ["strip_id", "strip_render"]
