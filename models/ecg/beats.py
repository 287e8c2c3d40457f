"""Beat extraction: the per-patient streaming detector that turns ECG chunks into beats with
their classifier inputs, used by the stream step, training and evaluation.

``ECGBeatStream`` turns chunks of one patient's ECG (mV) into :class:`BeatCandidate` objects,
each carrying the classifier inputs (:mod:`models.ecg.classify` classifies them). No Kafka, no
Faust, no I/O.

Classifier inputs per beat (both computed only from the past and the next R peak):

* ``wave``: shape ``(WAVE_LEN, 2)`` at ``MODEL_FS`` Hz, from ``PRE_S`` before to ``POST_S`` after
  the R peak, baseline (window median) removed. Channel 0 is the beat, channel 1 the beat minus
  the patient's running average beat (template); both are divided by the template's R amplitude
  so the inputs are comparable across patients.
* ``rr``: ``N_RR`` RR-interval features: pre-RR, post-RR, local RR (mean of the last 10), average
  RR (exponential average over about 5 minutes), and the ratios pre/avg, post/avg, local/avg,
  pre/post. RR features relative to the patient's own rhythm are what makes SVEB separable in
  the inter-patient setting (de Chazal, O'Dwyer, Reilly, IEEE TBME 51(7), 2004; Mar et al.,
  IEEE TBME 58(8), 2011; Llamedo & Martinez, IEEE TBME 58(3), 2011).
* ``wave2`` (optional): the same two channels cut from a second lead (e.g. V1) at the same R
  peak, with its own running average beat, when the chunks carry one (``detect(x, x2)``). Beat
  detection always runs on the first lead. A second lead that is missing for part of the window
  or flat (< ``LEAD2_FLAT_MV`` peak to peak: lead off) gives ``wave2 = None`` and the beat is
  classified by the single-lead model.

Delay: a beat needs its post-RR, so it is emitted when the next R peak is confirmed by the
detector (one RR interval plus the detector's ~0.3 s delay). If no next beat comes within
``max_rr_s`` (a pause), the beat is emitted once ``max_rr_s + 1 s`` have passed with its post-RR
capped at ``max_rr_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import signal as sps

from models.ecg import morphology, rhythm
from models.ecg.array_state import pack_f64, pack_mv, unpack_f64
from models.ecg.numeric import median_1d
from models.ecg.qrs import QRSDetector

MODEL_FS = 180.0  #: Hz, rate of the classifier's beat window
PRE_S = 0.35  #: s of signal before the R peak in the window (P wave for SVEB)
POST_S = 0.45  #: s after the R peak (QRS and T wave)
WAVE_LEN = int(round((PRE_S + POST_S) * MODEL_FS))  #: samples in the window (144)
N_RR = 8  #: RR features (pre, post, local and average RR, and pre/avg, post/avg, local/avg, pre/post)
_LOCAL_N = 10
_AVG_ALPHA = 1.0 / 300.0
_TEMPLATE_ALPHA = 0.02
_STATE_VERSION = 1
#: A beat window of the second lead with less than this peak-to-peak amplitude (mV) holds no QRS
#: (lead off or disconnected channel; monitor input noise is tens of microvolts).
LEAD2_FLAT_MV = 0.05


@dataclass(frozen=True)
class BeatCandidate:
    """One detected beat with its classifier inputs.

    Attributes
    ----------
    sample : int
        Absolute sample index of the R peak since the stream start (at the input ``fs``).
    t_offset_s : float
        ``sample / fs``: seconds since the stream start.
    pre_rr_s, post_rr_s : float
        RR intervals before and after the beat, seconds (``pre_rr_s`` is NaN for the first beat).
    wave : numpy.ndarray
        float32 ``(WAVE_LEN, 2)`` beat window (see module docstring).
    rr : numpy.ndarray
        float32 ``(N_RR,)`` RR features.
    wave2 : numpy.ndarray or None
        float32 ``(WAVE_LEN, 2)`` window of the second lead, None when there is none.
    irregular : bool
        The rhythm up to this beat (its pre-RR and the ``rhythm.WINDOW - 1`` before) is
        AF-irregular (:func:`models.ecg.rhythm.irregular_rhythm`); ``BeatClassifier`` then never
        labels the beat S.
    family : int
        The QRS morphology family the beat joined (:class:`models.ecg.morphology.Families`, ids
        per stream); ``BeatClassifier.predict`` labels V by the family's vote. -1: none.
    """

    sample: int
    t_offset_s: float
    pre_rr_s: float
    post_rr_s: float
    wave: np.ndarray
    rr: np.ndarray
    wave2: np.ndarray | None = None
    irregular: bool = False
    family: int = -1


class ECGBeatStream:
    """Per-patient streaming beat detector and feature extractor.

    Parameters
    ----------
    fs : float
        Sampling rate of the incoming ECG in Hz (required).
    max_rr_s : float
        Longest post-RR waited for; a beat followed by a longer pause is emitted with this value.
    **detector_kwargs
        Settings for :class:`models.ecg.qrs.QRSDetector`.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 250.0
    >>> t = np.arange(int(10 * fs)) / fs
    >>> ecg = np.exp(-((t % 0.8 - 0.4) ** 2) / (2 * 0.012 ** 2))
    >>> s = ECGBeatStream(fs)
    >>> beats = [b for c in np.array_split(ecg, 10) for b in s.detect(c)]
    >>> round(beats[2].pre_rr_s, 2), beats[2].wave.shape
    (0.8, (144, 2))
    """

    def __init__(self, fs: float, max_rr_s: float = 3.0, **detector_kwargs: Any) -> None:
        if fs <= 0:
            raise ValueError(f"fs must be positive, got {fs}")
        self.fs = float(fs)
        self.max_rr_s = float(max_rr_s)
        self._det_kwargs = dict(detector_kwargs)
        self.detector = QRSDetector(fs, **detector_kwargs)
        self._pre_n = int(np.ceil(PRE_S * fs)) + 2
        self._post_n = int(np.ceil(POST_S * fs)) + 2
        self._max_rr_n = int(round(max_rr_s * fs))
        self._wait_n = self._max_rr_n + int(round(1.0 * fs))
        self._buf = np.zeros(0)
        self._buf_start = 0
        self._pending: list[int] = []  # R peaks waiting for their post-RR (at most one normally)
        self._prev_r = -1  # R peak before the pending one (for pre-RR)
        self._rr_hist: list[float] = []  # last pre-RR values, s
        self._rr_win: list[float] = []  # last rhythm.WINDOW pre-RR values, s (rhythm context)
        self._avg_rr = float("nan")
        self._template: np.ndarray | None = None
        self._buf2: np.ndarray | None = None  # second lead, aligned with _buf's tail
        self._buf2_start = 0
        self._template2: np.ndarray | None = None
        self.families = morphology.Families()

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """Plain JSON-serialisable state (detector + buffer + RR history + templates + families;
        the templates as :func:`models.ecg.array_state.pack_f64`)."""
        return {
            "v": _STATE_VERSION,
            "fs": self.fs,
            "max_rr_s": self.max_rr_s,
            "det_kwargs": self._det_kwargs,
            "detector": self.detector.to_state(),
            "buf": pack_mv(self._buf),  # input mV: whole microvolts, 16 bits each
            "buf_start": self._buf_start,
            "pending": list(self._pending),
            "prev_r": self._prev_r,
            "rr_hist": list(self._rr_hist),
            "rr_win": list(self._rr_win),
            "avg_rr": None if np.isnan(self._avg_rr) else self._avg_rr,
            "template": None if self._template is None else pack_f64(self._template),
            "buf2": None if self._buf2 is None else pack_mv(self._buf2),
            "buf2_start": self._buf2_start,
            "template2": None if self._template2 is None else pack_f64(self._template2),
            "families": self.families.to_state(),
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> ECGBeatStream:
        """Rebuild from :meth:`to_state` output."""
        if d.get("v") != _STATE_VERSION:
            raise ValueError(f"unsupported ECGBeatStream state version {d.get('v')!r}")
        s = cls(d["fs"], max_rr_s=d["max_rr_s"], **d["det_kwargs"])
        s.detector = QRSDetector.from_state(d["detector"])
        s._buf = unpack_f64(d["buf"])
        s._buf_start = int(d["buf_start"])
        s._pending = [int(x) for x in d["pending"]]
        s._prev_r = int(d["prev_r"])
        s._rr_hist = [float(x) for x in d["rr_hist"]]
        # rhythm context (absent from states written before it: rebuilt over the next beats)
        s._rr_win = [float(x) for x in d.get("rr_win", [])]
        s._avg_rr = float("nan") if d["avg_rr"] is None else float(d["avg_rr"])
        s._template = None if d["template"] is None else unpack_f64(d["template"])
        # second lead (absent from states written before it existed)
        s._buf2 = None if d.get("buf2") is None else unpack_f64(d["buf2"])
        s._buf2_start = int(d.get("buf2_start", 0))
        s._template2 = None if d.get("template2") is None else unpack_f64(d["template2"])
        # morphology families (absent from states written before them: they start afresh)
        s.families = morphology.Families.from_state(d.get("families"))
        return s

    @property
    def samples_seen(self) -> int:
        """Samples consumed since the stream start."""
        return self.detector.samples_seen

    # ------------------------------------------------------------------ processing
    def detect(self, chunk_mv: np.ndarray, chunk2_mv: np.ndarray | None = None) -> list[BeatCandidate]:
        """Consume the next chunk (mV) and return the beats whose inputs are now complete.

        Parameters
        ----------
        chunk_mv : numpy.ndarray
            1-D ECG samples in millivolts continuing this patient's stream.
        chunk2_mv : numpy.ndarray, optional
            The same samples' second lead (same length). A chunk without it ends the second
            lead's continuity: it restarts with the next chunk that has one.

        Returns
        -------
        list of BeatCandidate
            In stream order; each detected beat appears exactly once.

        Raises
        ------
        ValueError
            If the chunk contains NaN or inf, or the second lead's length differs (the caller
            dead-letters it; state is unchanged).
        """
        x = np.asarray(chunk_mv, dtype=float).ravel()
        x2 = None if chunk2_mv is None else np.asarray(chunk2_mv, dtype=float).ravel()
        if x2 is not None and (x2.size != x.size or not np.all(np.isfinite(x2))):
            raise ValueError("second lead must be finite and as long as the first")
        start = self.samples_seen
        peaks = self.detector.process(x)
        self._buf = np.concatenate([self._buf, x])
        if x2 is None:
            self._buf2 = None
        elif self._buf2 is None:
            self._buf2, self._buf2_start = x2, start
        else:
            self._buf2 = np.concatenate([self._buf2, x2])
        out: list[BeatCandidate] = []
        for r in peaks.tolist():
            for p in self._pending:
                out.append(self._make(p, r))
            self._pending = [int(r)]
        n = self.samples_seen
        if self._pending and n - self._pending[0] > self._wait_n:
            p = self._pending.pop(0)
            out.append(self._make(p, None))
        self._trim()
        return out

    def _make(self, r: int, next_r: int | None) -> BeatCandidate:
        fs = self.fs
        pre = (r - self._prev_r) / fs if self._prev_r >= 0 else float("nan")
        post = min((next_r - r) / fs, self.max_rr_s) if next_r is not None else self.max_rr_s
        self._prev_r = r
        if not np.isnan(pre):
            pre = min(pre, self.max_rr_s)
            self._rr_hist = ([*self._rr_hist, pre])[-_LOCAL_N:]
            self._rr_win = ([*self._rr_win, pre])[-rhythm.WINDOW :]
            self._avg_rr = (
                pre if np.isnan(self._avg_rr) else (1 - _AVG_ALPHA) * self._avg_rr + _AVG_ALPHA * pre
            )
        pre_f = pre if not np.isnan(pre) else post
        local = float(np.mean(self._rr_hist)) if self._rr_hist else pre_f
        avg = self._avg_rr if not np.isnan(self._avg_rr) else pre_f
        # while fewer than a handful of beats are known the long average is the local one
        if len(self._rr_hist) < _LOCAL_N:
            avg = local
        rr = np.array(
            [pre_f, post, local, avg, pre_f / avg, post / avg, local / avg, pre_f / post], dtype=np.float32
        )
        seg = self._window(r, self._buf, self._buf_start)
        self._template, wave = _beat_channels(seg, self._template)
        wave2 = None
        if self._buf2 is not None and self._lead2_covers(r):
            seg2 = self._window(r, self._buf2, self._buf2_start)
            if float(np.ptp(seg2)) >= LEAD2_FLAT_MV:
                self._template2, wave2 = _beat_channels(seg2, self._template2)
        return BeatCandidate(
            sample=int(r),
            t_offset_s=r / fs,
            pre_rr_s=float(pre),
            post_rr_s=float(post),
            wave=wave,
            rr=rr,
            wave2=wave2,
            irregular=rhythm.irregular_rhythm(self._rr_win),
            family=self.families.assign(morphology.qrs_part(wave)),
        )

    def _lead2_covers(self, r: int) -> bool:
        """The second lead has the whole window of ``r`` (zero padding only at the stream start,
        as for the first lead)."""
        if self._buf2 is None:
            return False
        a, b = r - self._pre_n, r + self._post_n
        return (a >= self._buf2_start or self._buf2_start == 0) and b <= self._buf2_start + self._buf2.size

    def _window(self, r: int, buf: np.ndarray, buf_start: int) -> np.ndarray:
        """Beat window around ``r`` resampled to MODEL_FS, baseline removed (zero-padded at edges)."""
        a, b = r - self._pre_n, r + self._post_n
        seg = np.zeros(b - a)
        lo, hi = max(a, buf_start), min(b, buf_start + buf.size)
        if hi > lo:
            seg[lo - a : hi - a] = buf[lo - buf_start : hi - buf_start]
        t, xs = _grid(self.fs, r - a, seg.size)
        if self.fs > MODEL_FS * 1.5:
            # anti-alias before linear interpolation when the input rate is higher
            seg = np.convolve(seg, _lowpass(self.fs), mode="same")  # linear-phase FIR
        w = np.interp(t, xs, seg)
        return w - median_1d(w)

    def _trim(self) -> None:
        """Keep the signal from the oldest pending beat's window (or the last few seconds)."""
        if self._pending:
            keep = self._pending[0] - self._pre_n - 2
        else:
            keep = self.samples_seen - self._wait_n - self._pre_n
        cut = max(keep, 0) - self._buf_start
        if cut > 0:
            self._buf = self._buf[cut:]
            self._buf_start += cut
        cut2 = self._buf_start - self._buf2_start
        if self._buf2 is not None and cut2 > 0:
            self._buf2 = self._buf2[cut2:]
            self._buf2_start += cut2


def _beat_channels(seg: np.ndarray, template: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(updated running average beat, ``(WAVE_LEN, 2)`` input): the beat and the beat minus the
    average beat so far, both divided by the average beat's amplitude."""
    if template is None:
        template = seg.copy()
    scale = max(float(np.max(np.abs(template))), 0.1)
    wave = np.empty((seg.size, 2), np.float32)  # each column cast from float64 as astype would
    wave[:, 0] = seg / scale
    wave[:, 1] = (seg - template) / scale
    return (1 - _TEMPLATE_ALPHA) * template + _TEMPLATE_ALPHA * seg, wave


@lru_cache(maxsize=32)
def _grid(fs: float, r_at: int, size: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The beat window's model-rate grid (positions in input samples from the window's start,
    the R peak at ``r_at``) and the input samples' positions (``0 .. size-1``): the same for
    every beat of a stream, so made once per rate (read-only)."""
    t = (np.arange(WAVE_LEN) / MODEL_FS - PRE_S) * fs + r_at
    xs = np.arange(size)
    t.flags.writeable = xs.flags.writeable = False
    return t, xs


@lru_cache(maxsize=32)
def _lowpass(fs: float) -> NDArray[np.float64]:
    """Linear-phase FIR anti-alias filter (cut-off 0.4 x MODEL_FS) for input rate ``fs``, cached
    per rate."""
    ntaps = int(2 * round(0.02 * fs) + 1)
    taps: NDArray[np.float64] = sps.firwin(ntaps, 0.4 * MODEL_FS, fs=fs)
    return taps


def stack_inputs(beats: Sequence[BeatCandidate], two_lead: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Stack candidates into model inputs ``(n, WAVE_LEN, 2)`` (``4`` with ``two_lead``: the
    first lead's channels, then the second's) and ``(n, N_RR)`` (float32)."""
    ch = 4 if two_lead else 2
    if not beats:
        return np.zeros((0, WAVE_LEN, ch), np.float32), np.zeros((0, N_RR), np.float32)
    if two_lead:
        wave = np.stack([np.concatenate([b.wave, b.wave2], axis=1) for b in beats])
    else:
        wave = np.stack([b.wave for b in beats])
    return wave, np.stack([b.rr for b in beats])
