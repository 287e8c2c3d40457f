"""THE ECG step: a batch of chunks from many patients in, their alarm changes, points, strip inputs
and dead-letter verdicts out. The one implementation the Faust agent, the benches, the evaluations
and the tests run.

:func:`ecg_step` runs, for a batch (any number of chunks of any number of patients)::

    for each chunk, in order:
        verdict, changes = ecg_admit(state, chunk, now_wall)   # sequence check, feed resumed
        det = ecg_detect(state, chunk, measure=False)          # QRS + beat inputs
    signal_measures(every det's rolling signal)                # one batched call per length
    labels = classifier.predict(all candidates of the batch,   # one call for every patient
                                votes=[their patient's state["votes"]])
    for each admitted chunk, in order:
        changes += ecg_analyse(state, chunk, det, labels).changes   # rules, HR, beat counts

The states (:class:`models.ecg.stream_state.ECGState`, JSON) are updated in place. A chunk the
sequence check rejects, or whose processing fails, comes back as a :class:`Rejected` verdict for
the caller to dead-letter; a chunk after a gap is analysed and also reported (``seq_gap``).

No Faust, no Kafka, no file I/O here (strips are rendered by the caller from
:class:`StripInputs`).
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import numpy as np
from numpy.typing import NDArray

from models.ecg.aami import AAMI_CLASSES
from models.ecg.alarms import AlarmChange, alarm_reassertions, feed_resumed, rules_restart, rules_step
from models.ecg.beats import BeatCandidate, ECGBeatStream
from models.ecg.measures import hr_from_beats
from models.ecg.rule_config import DEFAULT_RULES, RuleConfig
from models.ecg.signal_buffer import SignalBuffer, buffer_append, buffer_decode
from models.ecg.signal_quality import ecg_signal_quality_rows
from models.ecg.stream_state import (
    STATE_VERSION,
    BeatBins,
    ECGState,
    FamilyVotes,
    LeadBuffer,
    ecg_state_new,
)
from models.ecg.vf import vf_measures_rows
from wardwatch.records.ecg import ECGChunk, SeqVerdict, ecg_sequence_check
from wardwatch.records.errors import InvalidRecord
from wardwatch.records.points import point

BIN_S = 10.0  #: beat-count interval for the ``beats`` measurement
BUFFER_S = 10.0  #: rolling signal kept for strips and the signal measures

Point = dict[str, Any]  #: an InfluxDB point (:func:`wardwatch.records.points.point`)
#: The rolling buffers' samples as decoded, by state key ("buf", "buf2"): (the state's encoded
#: ``uv`` text they belong to, the int16 samples). Used only while that very text object is
#: still the state's, so a state read back from its changelog is decoded afresh.
KeptSignals = dict[str, tuple[str, NDArray[np.int16]]]


@dataclass
class LiveDetector:
    """What a worker keeps of a patient between chunks beside the table state (a cache: a
    detector rebuilt from the state is identical, only slower): the live detector, valid while
    it continues the state's (its last chunk's ``seq`` and the state's ``seg_t0``), and the
    decoded rolling buffers."""

    seq: int
    seg_t0: float | None
    stream: ECGBeatStream
    signals: KeptSignals = field(default_factory=dict)


# ------------------------------------------------------------------------------ stages
def ecg_admit(
    state: ECGState, chunk: ECGChunk, now_wall: float, partition: int | None = None
) -> tuple[SeqVerdict, list[AlarmChange]]:
    """Accept a validated chunk into the patient's stream (or raise to dead-letter it).

    A gap or a device restart starts a new detector stream: no beat or RR interval is
    inferred across missing signal. The feed-stopped alarm clears.

    Raises
    ------
    wardwatch.records.ecg.InvalidRecord
        ``duplicate``, ``out_of_order`` or ``fs_mismatch`` (state unchanged).
    """
    if state.get("v") != STATE_VERSION:
        raw = cast("dict[str, Any]", state)  # a state of another version: start afresh
        raw.clear()
        raw.update(ecg_state_new())
    last = state.get("last")
    verdict = ecg_sequence_check(chunk, None if last is None else dict(last))
    if not verdict.continuous:
        state["beat_stream"] = None
        state["seg_t0"] = chunk.t0
        state["qrs"] = {"last_t": None, "analysed_t": None}
        rules_restart(state["rules"])
    state["bed"] = chunk.bed
    state["lead"] = chunk.lead
    state["fs"] = chunk.fs_hz
    state["rx_wall"] = now_wall
    state["last"] = {"seq": chunk.seq, "end_t": chunk.end_t, "fs_hz": chunk.fs_hz}
    if partition is not None:
        state["partition"] = partition
    return verdict, feed_resumed(state["rules"], chunk.t0)


@dataclass
class Detection:
    """What :func:`ecg_detect` found in one chunk, frozen at that point of the stream.

    Everything :func:`ecg_analyse` needs besides the labels, so that two chunks of one patient
    in the same batch are analysed with their own horizon and signal quality.
    """

    candidates: list[BeatCandidate]
    beat_t: list[float]  # device time of each candidate's R peak (POSIX s)
    last_qrs_t: float | None  # last QRS confirmed by the detector (classified or not)
    analysed_t: float | None  # detection complete up to here; None while learning
    quality: dict[str, Any]  # ecg_signal_quality and vf_measures of the rolling signal
    buf: SignalBuffer | None = None  # the rolling signal right after this chunk (for strips)
    buf2: LeadBuffer | None = None  # the same of the second lead (None without one)
    signal: NDArray[np.int16] | None = None  # ``buf``'s samples: what ``quality`` measures


def ecg_detect(
    state: ECGState,
    chunk: ECGChunk,
    cfg: RuleConfig = DEFAULT_RULES,
    stream: ECGBeatStream | None = None,
    signals: KeptSignals | None = None,
    *,
    measure: bool = True,
    encode_stream: bool = True,
) -> tuple[Detection, ECGBeatStream]:
    """Run the patient's streaming beat detector on the chunk; return the completed beats.

    Also appends the chunk to the rolling strip buffer and measures signal quality on it
    (:func:`signal_measures`; with ``measure=False`` the caller does, for a whole batch at once,
    and ``quality`` is empty until then).

    Parameters
    ----------
    stream : ECGBeatStream, optional
        A live detector already equal to ``state["beat_stream"]`` (a cache of the table state,
        saving the rebuild); by default it is rebuilt from the state.
    signals : KeptSignals, optional
        The decoded rolling buffers kept from the previous chunk (:class:`LiveDetector`); read
        where they still belong to the state's buffers, and updated.
    encode_stream : bool
        Write the advanced detector into ``state["beat_stream"]`` (default). A caller that keeps
        the live detector may leave it out and write it only when the state is to be stored
        (:func:`ecg_stream_encode`); until then ``state["beat_stream"]`` is an older one's.

    Returns
    -------
    (Detection, ECGBeatStream)
        The detection and the advanced detector (its state is also in ``state``).
    """
    bs = state.get("beat_stream")
    if (stream is None and not bs) or "votes" not in state:
        # a new detector stream numbers its morphology families afresh, so their votes restart;
        # states written before the family vote have none
        state["votes"] = {}
    if stream is None:
        stream = ECGBeatStream.from_state(bs) if bs else ECGBeatStream(chunk.fs_hz)
    cands = stream.detect(chunk.ecg_mv(), chunk.ecg2_mv())
    if encode_stream:
        state["beat_stream"] = stream.to_state()
    det = stream.detector
    t0 = state["seg_t0"]
    assert t0 is not None, "ecg_admit sets seg_t0 before the first detection"
    last_r = int(getattr(det, "_last_r", -1))
    learned = det.samples_seen >= det.learn_s * det.fs
    qrs = {
        "last_t": t0 + last_r / chunk.fs_hz if last_r >= 0 else None,
        "analysed_t": (t0 + det.samples_seen / chunk.fs_hz - det.delay_s) if learned else None,
    }
    state["qrs"] = {"last_t": qrs["last_t"], "analysed_t": qrs["analysed_t"]}
    kept = signals if signals is not None else {}
    buf, signal = _extend(state.get("buf"), chunk.ecg_uv, chunk, kept, "buf")
    state["buf"] = buf
    state["buf2"] = _second_lead_buffer(state.get("buf2"), chunk, kept)
    quality = signal_measures([signal], [chunk.fs_hz], cfg)[0] if measure else {}
    return Detection(
        list(cands),
        [t0 + c.t_offset_s for c in cands],
        qrs["last_t"],
        qrs["analysed_t"],
        quality,
        buf,
        state["buf2"],
        signal,
    ), stream


def signal_measures(
    signals: Sequence[NDArray[np.number[Any]]], fs: Sequence[float], cfg: RuleConfig = DEFAULT_RULES
) -> list[dict[str, Any]]:
    """:func:`models.ecg.signal_quality.ecg_signal_quality` merged with
    :func:`models.ecg.vf.vf_measures` of each rolling signal (at its rate ``fs``), computed
    together for the signals of one length and rate (a batch's patients in steady state): the
    filters and spectra run once per group instead of once per patient, with each signal's
    result exactly what it gets on its own (``tests/unit/ecg/test_step.py``)."""
    groups: dict[tuple[int, float], list[int]] = {}
    for i, (x, rate) in enumerate(zip(signals, fs, strict=True)):
        groups.setdefault((len(x), float(rate)), []).append(i)
    out: list[dict[str, Any]] = [{} for _ in signals]
    for (_, rate), idx in groups.items():
        rows = np.stack([np.asarray(signals[i], dtype=np.float64) for i in idx])
        for i, q, v in zip(
            idx, ecg_signal_quality_rows(rows, rate, cfg), vf_measures_rows(rows, rate, cfg), strict=True
        ):
            out[i] = {**q, **v}
    return out


def _extend(
    buf: SignalBuffer | None, chunk_uv: NDArray[Any], chunk: ECGChunk, kept: KeptSignals, name: str
) -> tuple[SignalBuffer, NDArray[np.int16]]:
    """:func:`buffer_append` of a rolling buffer, with its samples from ``kept[name]`` when they
    are this very buffer's (the same text object), and ``kept[name]`` updated."""
    prior = kept.get(name)
    samples = prior[1] if prior is not None and buf is not None and buf["uv"] is prior[0] else None
    new, x = buffer_append(buf, chunk_uv, chunk.t0, chunk.fs_hz, BUFFER_S, samples)
    kept[name] = (new["uv"], x)
    return new, x


def _second_lead_buffer(buf2: LeadBuffer | None, chunk: ECGChunk, kept: KeptSignals) -> LeadBuffer | None:
    """The second lead's rolling buffer after ``chunk``: None when the chunk has none; restarted
    when the lead changes (a strip never joins two different leads)."""
    if chunk.ecg2_uv is None:
        kept.pop("buf2", None)
        return None
    prev = buf2 if buf2 is not None and buf2.get("lead") == chunk.lead2 else None
    buf, _ = _extend(prev, chunk.ecg2_uv, chunk, kept, "buf2")
    return {"t0": buf["t0"], "fs": buf["fs"], "uv": buf["uv"], "lead": chunk.lead2}


@dataclass
class Analysis:
    """What one chunk produced: alarm changes, InfluxDB points, and the HR."""

    changes: list[AlarmChange] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    hr_bpm: float | None = None


def _bins_flush(bins: BeatBins, upto_t: float, tags: dict[str, str], out: list[Point]) -> None:
    while bins["t0"] + BIN_S <= upto_t:
        c = bins["counts"]
        fields: dict[str, Any] = {k: c.get(k, 0) for k in AAMI_CLASSES}
        fields["total"] = sum(fields.values())
        fields["unanalysable"] = int(bins["susp"])
        out.append(point("beats", tags, fields, datetime.fromtimestamp(bins["t0"], tz=UTC)))
        bins["t0"] += BIN_S
        bins["counts"] = {}
        bins["susp"] = False


def _beat_counts(
    state: ECGState,
    chunk: ECGChunk,
    det: Detection,
    beats: list[tuple[float, str]],
    suspended: bool,
    tags: dict[str, str],
    out: list[Point],
) -> None:
    """Count the chunk's beats into 10 s bins; emit the ``beats`` points of closed intervals."""
    if state.get("bins") is None:
        state["bins"] = {"t0": math.floor(chunk.t0 / BIN_S) * BIN_S, "counts": {}, "susp": False}
    bins = state["bins"]
    assert bins is not None
    for t, lab in beats:
        _bins_flush(bins, t, tags, out)
        if not suspended:
            bins["counts"][lab] = bins["counts"].get(lab, 0) + 1
    if suspended:
        bins["susp"] = True
    horizon = det.analysed_t if det.analysed_t is not None else chunk.t0
    # a beat is emitted up to max_rr + 1 s after its R peak: close intervals only after that
    _bins_flush(bins, horizon - 4.5, tags, out)


def ecg_analyse(
    state: ECGState, chunk: ECGChunk, det: Detection, labels: Sequence[str], cfg: RuleConfig = DEFAULT_RULES
) -> Analysis:
    """Rules, heart rate and beat counts for one chunk after its beats are classified.

    Parameters
    ----------
    det, labels : the chunk's :class:`Detection` and the AAMI class of each candidate.

    Returns
    -------
    Analysis
        ``points``: ``ecg_hr`` (``hr_bpm``, ``rr_ms`` at the newest beat) and ``beats`` (counts
        of N/S/V/F/Q per 10 s interval, ``unanalysable`` = 1 if part of it was flat/noisy).
    """
    res = Analysis()
    tags = {"patient": chunk.patient_id, "bed": chunk.bed}
    beats = [(t, str(lab)) for t, lab in zip(det.beat_t, labels, strict=True)]
    res.changes = rules_step(
        state["rules"],
        beats,
        start_t=chunk.t0,
        end_t=chunk.end_t,
        analysed_t=det.analysed_t,
        quality=det.quality,
        last_qrs_t=det.last_qrs_t,
        cfg=cfg,
    )
    res.changes += alarm_reassertions(state["rules"], chunk.end_t)  # alarms still on, sent again
    suspended = bool(state["rules"].get("suspended"))  # as the rules decided (VF is not noise)
    _beat_counts(state, chunk, det, beats, suspended, tags, res.points)
    rb = state["rules"]["beats"]
    if beats and not suspended and rb:
        hr = hr_from_beats(rb, None, cfg)
        if hr is not None:
            res.hr_bpm = round(hr, 1)
            rr_ms = (rb[-1][0] - rb[-2][0]) * 1000.0 if len(rb) >= 2 and rb[-1][2] == rb[-2][2] else None
            res.points.append(
                point(
                    "ecg_hr",
                    tags,
                    {"hr_bpm": res.hr_bpm, "rr_ms": round(rr_ms, 1) if rr_ms is not None else None},
                    datetime.fromtimestamp(rb[-1][0], tz=UTC),
                )
            )
    return res


@dataclass(frozen=True)
class StripInputs:
    """What a strip needs, frozen at one chunk (see :func:`streams.ecg.strip.strip_render`)."""

    x_uv: NDArray[np.int16]  # first lead, microvolts
    fs: float
    t0: float  # device time of x_uv[0]
    beats: list[tuple[float, str]]  # recent labelled beats (device time, class)
    lead: str
    second: tuple[str, NDArray[np.int16], float] | None = None  # (lead, microvolts, t0) of lead 2


def strip_inputs(state: ECGState, det: Detection | None = None) -> StripInputs:
    """Signal of the first (and second) lead and the recent labelled beats.

    With ``det``, the signals are the rolling buffers as they were right after that chunk (later
    chunks of the same batch may have moved the state's buffers on).
    """
    buf, buf2 = (
        (det.buf, det.buf2) if det is not None and det.buf is not None else (state["buf"], state.get("buf2"))
    )
    assert buf is not None, "strip inputs need a chunk's signal"
    beats = [(b[0], b[1]) for b in state["rules"]["beats"]]
    second = None
    if buf2 is not None and buf2["fs"] == buf["fs"]:
        second = (str(buf2["lead"]), buffer_decode(buf2["uv"]), float(buf2["t0"]))
    return StripInputs(
        buffer_decode(buf["uv"]),
        float(buf["fs"]),
        float(buf["t0"]),
        beats,
        str(state.get("lead") or ""),
        second,
    )


# ------------------------------------------------------------------------------ the step
class BeatLabeller(Protocol):
    """What :func:`ecg_step` classifies beats with: :class:`models.ecg.classify.BeatClassifier`,
    or anything with its ``predict`` (labels first)."""

    def predict(
        self, beats: Sequence[BeatCandidate], votes: Sequence[FamilyVotes]
    ) -> tuple[Sequence[str], Any]: ...


@dataclass(frozen=True)
class Rejected:
    """A chunk to dead-letter: its position in the batch, why, and the dead-letter detail.

    ``stage``: ``admit`` (sequence check: ``code`` from :class:`InvalidRecord`, or a processing
    error), ``gap`` (chunks missing before it; the chunk itself was processed), ``detect`` or
    ``analyse`` (processing errors). ``error`` is the exception of a processing error.
    """

    index: int
    stage: str
    reason: str
    detail: dict[str, Any]
    error: Exception | None = None


@dataclass
class ChunkResult:
    """One analysed chunk: its alarm changes (admission's first), points, HR, and the strip
    inputs when there are changes; ``rejected`` when its analysis failed (nothing else then)."""

    index: int
    chunk: ECGChunk
    changes: list[AlarmChange] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    hr_bpm: float | None = None
    strip: StripInputs | None = None
    rejected: Rejected | None = None


@dataclass
class StepResult:
    """:func:`ecg_step`'s outputs, in the order a caller publishes them: the admission verdicts
    (``rejected``: sequence-check, gap and detection dead letters, in chunk order), then each
    admitted chunk's results in chunk order."""

    states: MutableMapping[str, ECGState]
    rejected: list[Rejected] = field(default_factory=list)
    results: list[ChunkResult] = field(default_factory=list)

    def raise_errors(self) -> None:
        """Re-raise the first processing error (for offline callers that must not swallow one)."""
        for r in [*self.rejected, *(c.rejected for c in self.results if c.rejected is not None)]:
            if r.error is not None:
                raise r.error

    @property
    def changes(self) -> list[AlarmChange]:
        """Every alarm change of the batch, in chunk order."""
        return [ch for r in self.results for ch in r.changes]


def _processing_error(index: int, where: str, e: Exception, **detail: Any) -> Rejected:
    return Rejected(
        index, where, f"processing_error: {type(e).__name__}: {e}", {"code": "processing_error", **detail}, e
    )


@dataclass
class _Admitted:
    index: int
    chunk: ECGChunk
    state: ECGState
    det: Detection
    changes: list[AlarmChange]


def _admit_and_detect(
    index: int,
    chunk: ECGChunk,
    st: ECGState,
    now_wall: float,
    partition: int | None,
    live: MutableMapping[str, LiveDetector] | None,
    cfg: RuleConfig,
    out: StepResult,
    encode: bool = True,
) -> _Admitted | None:
    pid = chunk.patient_id
    try:
        verdict, changes = ecg_admit(st, chunk, now_wall, partition)
    except InvalidRecord as e:
        out.rejected.append(Rejected(index, "admit", e.reason, {"code": e.code}))
        return None
    except Exception as e:  # noqa: BLE001 - a bug or an unreadable state: the chunk is dead-lettered
        out.rejected.append(_processing_error(index, "admit", e))
        return None
    if verdict.kind == "gap":
        # the chunk is analysed; the missing seconds are reported, continuity restarts
        out.rejected.append(
            Rejected(
                index,
                "gap",
                f"seq_gap: {verdict.missing} chunk(s) missing before seq {chunk.seq}",
                {"code": "seq_gap", "missing": verdict.missing, "processed": True},
            )
        )
    cached = live.get(pid) if live is not None else None
    stream = None
    signals: KeptSignals = {}
    if (
        verdict.continuous
        and cached is not None
        and cached.seq == chunk.seq - 1
        and cached.seg_t0 == st.get("seg_t0")
    ):
        stream, signals = cached.stream, cached.signals
    try:
        det, stream = ecg_detect(st, chunk, cfg, stream, signals, measure=False, encode_stream=encode)
    except Exception as e:  # noqa: BLE001 - the chunk is dead-lettered with the error
        if live is not None:
            live.pop(pid, None)
        if not encode:  # the state's detector is older than its last chunk and the live one is
            st["last"] = None  # gone: the next chunk starts a new detector stream
        out.rejected.append(_processing_error(index, "detect", e))
        return None
    if live is not None:
        live[pid] = LiveDetector(chunk.seq, st["seg_t0"], stream, signals)
    return _Admitted(index, chunk, st, det, changes)


def _measure(work: list[_Admitted], cfg: RuleConfig, out: StepResult) -> None:
    """Every admitted chunk's signal measures, batched (:func:`signal_measures`); if the batch
    fails, chunk by chunk, so that one bad signal is dead-lettered alone."""
    try:
        found = signal_measures([_signal(w) for w in work], [w.chunk.fs_hz for w in work], cfg)
    except Exception:  # noqa: BLE001 - find the chunk that fails below
        found = None
    if found is not None:
        for w, q in zip(work, found, strict=True):
            w.det.quality = q
        return
    kept = []
    for w in work:
        try:
            w.det.quality = signal_measures([_signal(w)], [w.chunk.fs_hz], cfg)[0]
        except Exception as e:  # noqa: BLE001 - the chunk is dead-lettered with the error
            out.rejected.append(_processing_error(w.index, "detect", e))
            continue
        kept.append(w)
    work[:] = kept
    out.rejected.sort(key=lambda r: r.index)  # verdicts in chunk order, as everywhere


def _signal(w: _Admitted) -> NDArray[np.int16]:
    assert w.det.signal is not None, "ecg_detect keeps the rolling signal it extended"
    return w.det.signal


def _classify(work: list[_Admitted], classifier: BeatLabeller | None) -> list[list[str]]:
    """Labels per admitted chunk, from one classifier call for the whole batch (each patient's
    family votes are updated in its state)."""
    cands = [c for w in work for c in w.det.candidates]
    if not cands:
        return [[] for _ in work]
    if classifier is None:
        labels: Sequence[str] = ["Q"] * len(cands)
    else:
        labels = classifier.predict(cands, [w.state["votes"] for w in work for _ in w.det.candidates])[0]
    out, i = [], 0
    for w in work:
        out.append(list(labels[i : i + len(w.det.candidates)]))
        i += len(w.det.candidates)
    return out


def ecg_step(
    states: MutableMapping[str, ECGState],
    chunks: Sequence[ECGChunk],
    classifier: BeatLabeller | None,
    now_wall: float,
    *,
    partitions: Sequence[int | None] | None = None,
    live: MutableMapping[str, LiveDetector] | None = None,
    cfg: RuleConfig = DEFAULT_RULES,
    encode_streams: bool = True,
) -> StepResult:
    """Admit, detect, classify (one batched call) and analyse a batch of validated chunks.

    Parameters
    ----------
    states : mapping of patient id to ECGState
        The patients' states, updated in place; a patient without one starts a new state.
    chunks : sequence of ECGChunk
        Validated chunks of any number of patients, each patient's in arrival order.
    classifier : BeatLabeller or None
        Labels every beat candidate of the batch in one call; None labels them all ``Q``
        (rate, pause and technical alarms only).
    now_wall : float
        Receive wall time (POSIX s) recorded for the feed-stopped timer.
    partitions : sequence of int or None, optional
        Each chunk's source partition (kept in the state).
    live : mutable mapping, optional
        A cache of live detectors per patient (:data:`LiveDetector`), used when it continues the
        state's detector and updated; without it each detector is rebuilt from its state.
    cfg : RuleConfig
    encode_streams : bool
        Write each advanced detector into its state (default). With ``live``, False leaves that
        to the caller (:func:`ecg_stream_encode`, before a state is stored): ~9 % of an ECG
        worker's time at 2,000 beds went into encoding detectors that were never stored.

    Returns
    -------
    StepResult
        The states, the admission dead-letter verdicts and each analysed chunk's results.

    Examples
    --------
    >>> import json
    >>> from datetime import UTC, datetime
    >>> from simulators.ecg_feed import feed_chunks
    >>> from simulators.ecg_synth import synth_beds
    >>> from wardwatch.records.ecg import ecg_validate
    >>> feed = synth_beds(1, duration_s=20, seed=0)[0]
    >>> chunks = [ecg_validate(json.dumps(c)) for c in feed_chunks(feed, datetime(2026, 1, 1, tzinfo=UTC))]
    >>> states = {}
    >>> res = ecg_step(states, chunks[:10] + chunks[12:], None, 0.0)
    >>> [(r.index, r.detail["code"]) for r in res.rejected]
    [(10, 'seq_gap')]
    >>> len(res.results), list(states) == [feed.patient_id]
    (18, True)
    """
    out = StepResult(states)
    work: list[_Admitted] = []
    for i, chunk in enumerate(chunks):
        st = states.get(chunk.patient_id)
        if st is None:
            st = states[chunk.patient_id] = ecg_state_new()
        part = partitions[i] if partitions is not None else None
        admitted = _admit_and_detect(
            i, chunk, st, now_wall, part, live, cfg, out, encode_streams or live is None
        )
        if admitted is not None:
            work.append(admitted)
    _measure(work, cfg, out)
    for w, labels in zip(work, _classify(work, classifier), strict=True):
        out.results.append(_analyse(w, labels, cfg))
    return out


def ecg_stream_encode(state: ECGState, live: LiveDetector | None) -> bool:
    """Write ``live``'s detector into ``state["beat_stream"]`` (after steps run with
    ``encode_streams=False``) if it continues the state: it took in the state's last chunk, in
    the state's segment. Returns whether it did (``tests/unit/ecg/test_step.py`` holds the
    steps without encoding, then this, to the steps that encode).
    """
    last = state.get("last")
    if live is None or last is None or live.seq != last["seq"] or live.seg_t0 != state.get("seg_t0"):
        return False
    state["beat_stream"] = live.stream.to_state()
    return True


def _analyse(w: _Admitted, labels: list[str], cfg: RuleConfig) -> ChunkResult:
    try:
        res = ecg_analyse(w.state, w.chunk, w.det, labels, cfg)
    except Exception as e:  # noqa: BLE001 - a bug: the chunk is dead-lettered, the batch goes on
        return ChunkResult(
            w.index, w.chunk, rejected=_processing_error(w.index, "analyse", e, stage="analyse")
        )
    changes = w.changes + res.changes
    strip = strip_inputs(w.state, w.det) if any(not c.reassert for c in changes) and w.det.buf else None
    return ChunkResult(w.index, w.chunk, changes, res.points, res.hr_bpm, strip)


__all__ = [
    "BIN_S",
    "Analysis",
    "BeatLabeller",
    "ChunkResult",
    "Detection",
    "KeptSignals",
    "LiveDetector",
    "Rejected",
    "StepResult",
    "StripInputs",
    "ecg_admit",
    "ecg_analyse",
    "ecg_detect",
    "ecg_state_new",
    "ecg_step",
    "ecg_stream_encode",
    "signal_measures",
    "strip_inputs",
]
