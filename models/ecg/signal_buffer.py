"""The rolling signal kept in an ECG stream state: the last seconds of one lead, encoded compactly
(int16 microvolts, base64: half the size of a JSON int list) for the state table.

:func:`buffer_append` adds a chunk (bounded, restarted on a discontinuity) and gives the kept
samples too; :func:`buffer_decode` gives them back from the state, for the signal measures and
the ECG strips.
"""

from __future__ import annotations

import base64
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray


class SignalBuffer(TypedDict):
    """A rolling buffer: ``t0`` device time (POSIX s) of the first sample, ``fs`` Hz, ``uv`` the
    samples (:func:`buffer_encode`)."""

    t0: float
    fs: float
    uv: str


def buffer_encode(samples_uv: NDArray[np.number[Any]]) -> str:
    """int16 little-endian microvolts, base64 (half the size of a JSON int list)."""
    arr = np.asarray(samples_uv)
    if arr.dtype != np.int16:  # (the rolling buffer's own samples are int16 already)
        arr = np.clip(arr, -32768, 32767)
    return base64.b64encode(arr.astype("<i2", copy=False).tobytes()).decode()


def buffer_decode(data: str) -> NDArray[np.int16]:
    """Inverse of :func:`buffer_encode` (int16 microvolts)."""
    return np.frombuffer(base64.b64decode(data), dtype="<i2").astype(np.int16)


def buffer_append(
    buf: SignalBuffer | None,
    chunk_uv: NDArray[np.number[Any]],
    start_t: float,
    fs: float,
    keep_s: float = 10.0,
    samples: NDArray[np.int16] | None = None,
) -> tuple[SignalBuffer, NDArray[np.int16]]:
    """Append a chunk to a bounded rolling buffer ``{"t0", "fs", "uv"}``; also return the kept
    samples (what :func:`buffer_decode` of the new buffer gives).

    Parameters
    ----------
    buf : SignalBuffer or None
        The previous buffer (None, or a different ``fs``, starts a new one).
    chunk_uv : numpy.ndarray
        Samples in microvolts; the first is at device time ``start_t`` (POSIX s).
    keep_s : float
        Seconds kept (older samples are dropped).
    samples : numpy.ndarray, optional
        ``buffer_decode(buf["uv"])``, when the caller kept it from the previous call (the
        decoding is ~40 us of a 10 s buffer, three times per two-lead chunk).

    Returns
    -------
    (SignalBuffer, numpy.ndarray)
        ``t0`` = device time of the first kept sample. A discontinuity (``start_t`` not where
        the buffer ends) restarts the buffer, so the strip never joins unrelated signal.
        The samples are int16 microvolts.
    """
    keep_n = round(keep_s * fs)
    if buf and buf.get("fs") == fs:
        old = buffer_decode(buf["uv"]) if samples is None else samples
        end_t = buf["t0"] + old.size / fs
        if abs(end_t - start_t) < 1.5 / fs:
            x = np.concatenate([old, np.asarray(chunk_uv, dtype=np.int16)])
            t0 = buf["t0"]
        else:
            x, t0 = np.asarray(chunk_uv, dtype=np.int16), start_t
    else:
        x, t0 = np.asarray(chunk_uv, dtype=np.int16), start_t
    if x.size > keep_n:
        t0 += (x.size - keep_n) / fs
        x = x[-keep_n:]
    x = np.array(x, dtype=np.int16)  # int16 already (what buffer_encode writes); a copy, not the chunk
    return {"t0": t0, "fs": fs, "uv": buffer_encode(x)}, x


__all__ = ["SignalBuffer", "buffer_append", "buffer_decode", "buffer_encode"]
