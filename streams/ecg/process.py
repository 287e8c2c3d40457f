"""Per-patient ECG processing steps between the agent and the signal/model core (pure).

The agent runs, for every chunk, in this order (batching the middle step across patients)::

    state = table[patient] or ecg_state_new()
    verdict, changes = ecg_admit(state, chunk, now_wall)      # sequence check, feed resumed
    det, _ = ecg_detect(state, chunk)                         # QRS + beat inputs (per patient)
    labels = classifier.predict(all candidates of the batch,  # one call for every patient
                                votes=[their patient's state["votes"]])
    changes += ecg_analyse(state, chunk, det, labels).changes # rules, HR, beat counts
    table[patient] = state

The state is one JSON-serialisable dict (Faust table value)::

    {"v", "bed", "lead", "fs",
     "last": {"seq", "end_t", "fs_hz"},        # last accepted chunk (sequence check)
     "rx_wall", "partition",                   # receive wall time (feed-stopped timer)
     "seg_t0",                                 # device time of sample 0 of the detector stream
     "beat_stream": ECGBeatStream.to_state(),  # QRS detector + beat feature state
     "votes": {family id: [mean p(V), n]},     # morphology family votes (models.ecg.morphology)
     "rules": rules_init(),                    # alarm rule state (recent beats, active alarms)
     "buf": {"t0", "fs", "uv"},                # rolling 10 s of signal for ECG strips
     "buf2": {"t0", "fs", "uv", "lead"} | None, # the same of the second lead, when chunks carry one
     "bins": {"t0", "counts", "susp"},         # beat class counts of the open 10 s interval
     "qrs": {"last_t", "analysed_t"}}

No Faust, no Kafka, no file I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.ecg.pipeline import BeatCandidate, ECGBeatStream
from streams.ecg.rules import (
    DEFAULT_RULES,
    RULES_VERSION,
    AlarmChange,
    RuleConfig,
    ecg_signal_quality,
    feed_resumed,
    hr_from_beats,
    rules_init,
    rules_restart,
    rules_step,
    vf_measures,
)
from streams.ecg.strip import buffer_append, buffer_decode
from wardwatch.records.conditions import Condition
from wardwatch.records.ecg import ECGChunk, SeqVerdict, ecg_sequence_check
from wardwatch.records.points import point

STATE_VERSION = 1
BIN_S = 10.0          #: beat-count interval for the ``beats`` measurement
BUFFER_S = 10.0       #: rolling signal kept for strips
BEAT_CLASSES = ("N", "S", "V", "F", "Q")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def ecg_state_new() -> dict[str, Any]:
    """An empty per-patient state (the stream starts with its first chunk)."""
    return {"v": STATE_VERSION, "last": None, "rules": rules_init(), "buf": None, "bins": None,
            "beat_stream": None, "votes": {}, "seg_t0": None,
            "qrs": {"last_t": None, "analysed_t": None}}


def ecg_admit(state: dict[str, Any], chunk: ECGChunk, now_wall: float,
              partition: int | None = None) -> tuple[SeqVerdict, list[AlarmChange]]:
    """Accept a validated chunk into the patient's stream (or raise to dead-letter it).

    A gap or a device restart starts a new detector stream: no beat or RR interval is
    inferred across missing signal. The feed-stopped alarm clears.

    Raises
    ------
    wardwatch.records.ecg.InvalidRecord
        ``duplicate``, ``out_of_order`` or ``fs_mismatch`` (state unchanged).
    """
    if state.get("v") != STATE_VERSION:
        state.clear()
        state.update(ecg_state_new())
    verdict = ecg_sequence_check(chunk, state.get("last"))
    if not verdict.continuous:
        state["beat_stream"] = None
        state["seg_t0"] = chunk.t0
        state["qrs"] = {"last_t": None, "analysed_t": None}
        rules_restart(state["rules"])
    state.update(bed=chunk.bed, lead=chunk.lead, fs=chunk.fs_hz, rx_wall=now_wall,
                 last={"seq": chunk.seq, "end_t": chunk.end_t, "fs_hz": chunk.fs_hz})
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
    beat_t: list[float]             # device time of each candidate's R peak (POSIX s)
    last_qrs_t: float | None        # last QRS confirmed by the detector (classified or not)
    analysed_t: float | None        # detection complete up to here; None while learning
    quality: dict[str, Any]         # ecg_signal_quality and vf_measures of the rolling signal
    buf: dict[str, Any] | None = None   # the rolling signal right after this chunk (for strips)
    buf2: dict[str, Any] | None = None  # the same of the second lead (None without one)


def ecg_detect(state: dict[str, Any], chunk: ECGChunk, cfg: RuleConfig = DEFAULT_RULES,
               stream: ECGBeatStream | None = None) -> tuple[Detection, ECGBeatStream]:
    """Run the patient's streaming beat detector on the chunk; return the completed beats.

    Also appends the chunk to the rolling strip buffer and measures signal quality on it.

    Parameters
    ----------
    stream : ECGBeatStream, optional
        A live detector already equal to ``state["beat_stream"]`` (a cache of the table state,
        saving the rebuild); by default it is rebuilt from the state.

    Returns
    -------
    (Detection, ECGBeatStream)
        The detection and the advanced detector (its state is also in ``state``).
    """
    bs = state.get("beat_stream")
    if not bs or "votes" not in state:
        # a new detector stream numbers its morphology families afresh, so their votes restart;
        # states written before the family vote have none
        state["votes"] = {}
    if stream is None:
        stream = ECGBeatStream.from_state(bs) if bs else ECGBeatStream(chunk.fs_hz)
    cands = stream.detect(chunk.ecg_mv(), chunk.ecg2_mv())
    state["beat_stream"] = stream.to_state()
    det = stream.detector
    t0 = state["seg_t0"]
    last_r = int(getattr(det, "_last_r", -1))
    learned = det.samples_seen >= det.learn_s * det.fs
    qrs = {"last_t": t0 + last_r / chunk.fs_hz if last_r >= 0 else None,
           "analysed_t": (t0 + det.samples_seen / chunk.fs_hz - det.delay_s) if learned else None}
    state["qrs"] = qrs
    state["buf"] = buffer_append(state.get("buf"), chunk.ecg_uv, chunk.t0, chunk.fs_hz, BUFFER_S)
    state["buf2"] = _second_lead_buffer(state.get("buf2"), chunk)
    signal = buffer_decode(state["buf"]["uv"])
    quality = ecg_signal_quality(signal, chunk.fs_hz, cfg) | vf_measures(signal, chunk.fs_hz, cfg)
    return Detection(list(cands), [t0 + c.t_offset_s for c in cands], qrs["last_t"],
                     qrs["analysed_t"], quality, state["buf"], state["buf2"]), stream


def _second_lead_buffer(buf2: dict[str, Any] | None, chunk: ECGChunk) -> dict[str, Any] | None:
    """The second lead's rolling buffer after ``chunk``: None when the chunk has none; restarted
    when the lead changes (a strip never joins two different leads)."""
    if chunk.ecg2_uv is None:
        return None
    prev = buf2 if buf2 is not None and buf2.get("lead") == chunk.lead2 else None
    return buffer_append(prev, chunk.ecg2_uv, chunk.t0, chunk.fs_hz, BUFFER_S) | {"lead": chunk.lead2}


@dataclass
class Analysis:
    """What one chunk produced: alarm changes, InfluxDB points, and the HR."""

    changes: list[AlarmChange] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)
    hr_bpm: float | None = None
    quality: dict[str, Any] = field(default_factory=dict)


def _bins_flush(state: dict[str, Any], upto_t: float, tags: dict[str, str], out: list[dict]) -> None:
    b = state["bins"]
    while b["t0"] + BIN_S <= upto_t:
        c = b["counts"]
        fields: dict[str, Any] = {k: c.get(k, 0) for k in BEAT_CLASSES}
        fields["total"] = sum(fields.values())
        fields["unanalysable"] = int(b["susp"])
        out.append(point("beats", tags, fields, datetime.fromtimestamp(b["t0"], tz=UTC)))
        b["t0"] += BIN_S
        b["counts"] = {}
        b["susp"] = False


def ecg_analyse(state: dict[str, Any], chunk: ECGChunk, det: Detection, labels: Sequence[str],
                cfg: RuleConfig = DEFAULT_RULES) -> Analysis:
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
    res = Analysis(quality=det.quality)
    tags = {"patient": chunk.patient_id, "bed": chunk.bed}
    beats = [(t, str(lab)) for t, lab in zip(det.beat_t, labels, strict=True)]
    res.changes = rules_step(state["rules"], beats, start_t=chunk.t0, end_t=chunk.end_t,
                             analysed_t=det.analysed_t, quality=det.quality,
                             last_qrs_t=det.last_qrs_t, cfg=cfg)
    suspended = bool(state["rules"].get("suspended"))     # as the rules decided (VF is not noise)

    if state.get("bins") is None:
        state["bins"] = {"t0": math.floor(chunk.t0 / BIN_S) * BIN_S, "counts": {}, "susp": False}
    bins = state["bins"]
    for t, lab in beats:
        _bins_flush(state, t, tags, res.points)
        if not suspended:
            bins["counts"][lab] = bins["counts"].get(lab, 0) + 1
    if suspended:
        bins["susp"] = True
    horizon = det.analysed_t if det.analysed_t is not None else chunk.t0
    # a beat is emitted up to max_rr + 1 s after its R peak: close intervals only after that
    _bins_flush(state, horizon - 4.5, tags, res.points)

    rb = state["rules"]["beats"]
    if beats and not suspended and rb:
        hr = hr_from_beats(rb, None, cfg)
        if hr is not None:
            res.hr_bpm = round(hr, 1)
            rr_ms = (rb[-1][0] - rb[-2][0]) * 1000.0 if len(rb) >= 2 and rb[-1][2] == rb[-2][2] else None
            res.points.append(point("ecg_hr", tags,
                                    {"hr_bpm": res.hr_bpm,
                                     "rr_ms": round(rr_ms, 1) if rr_ms is not None else None},
                                    datetime.fromtimestamp(rb[-1][0], tz=UTC)))
    return res


def alarm_condition(change: AlarmChange, patient_id: str, bed: str,
                    versions: dict[str, str], strip_path: str | None = None) -> Condition:
    """The :class:`Condition` the alert component receives for one alarm change."""
    evidence = dict(change.evidence)
    if strip_path:
        evidence["strip_png"] = strip_path
    return Condition(patient_id=patient_id, bed=bed, source=change.source, active=change.active,
                     priority=change.priority, ts=_iso(change.t), message=change.message,
                     category=change.category, latched=change.latched, evidence=evidence,
                     versions={"ecg_rules": RULES_VERSION, **versions})


#: Numeric evidence fields copied into the ``ecg_alarms`` point when present.
EVIDENCE_FIELDS = ("rate_bpm", "run_beats", "hr_bpm", "pause_s", "nrmssd", "cov", "she", "pvc_per_min",
                   "pvc_pct", "p2p_uv", "hf_ratio", "silent_s", "duration_s", "vf_leak", "vf_conc",
                   "vf_freq_hz")


def alarm_point(change: AlarmChange, patient_id: str, bed: str,
                strip_path: str | None = None) -> dict[str, Any]:
    """The ``ecg_alarms`` InfluxDB point for one alarm change: the evidence as fields.

    Tags ``patient``, ``bed``, ``source``, ``priority``, ``category``; fields ``active`` (1/0),
    ``message``, the numeric evidence (:data:`EVIDENCE_FIELDS`) and ``strip_png``.
    """
    fields: dict[str, Any] = {"active": int(change.active), "message": change.message[:500]}
    for k in EVIDENCE_FIELDS:
        v = change.evidence.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            fields[k] = float(v)
    if strip_path:
        fields["strip_png"] = strip_path
    return point("ecg_alarms", {"patient": patient_id, "bed": bed, "source": change.source,
                                "priority": change.priority, "category": change.category},
                 fields, datetime.fromtimestamp(change.t, tz=UTC))


@dataclass(frozen=True)
class StripInputs:
    """What a strip needs, frozen at one chunk (see :func:`streams.ecg.strip.strip_render`)."""

    x_uv: np.ndarray                       # first lead, microvolts
    fs: float
    t0: float                              # device time of x_uv[0]
    beats: list[tuple[float, str]]         # recent labelled beats (device time, class)
    lead: str
    second: tuple[str, np.ndarray, float] | None = None   # (lead, microvolts, t0) of lead 2


def strip_inputs(state: dict[str, Any], det: Detection | None = None) -> StripInputs:
    """Signal of the first (and second) lead and the recent labelled beats.

    With ``det``, the signals are the rolling buffers as they were right after that chunk (later
    chunks of the same batch may have moved the state's buffers on).
    """
    buf, buf2 = (det.buf, det.buf2) if det is not None and det.buf is not None else (
        state["buf"], state.get("buf2"))
    beats = [(b[0], b[1]) for b in state["rules"]["beats"]]
    second = None
    if buf2 is not None and buf2["fs"] == buf["fs"]:
        second = (str(buf2["lead"]), buffer_decode(buf2["uv"]), float(buf2["t0"]))
    return StripInputs(buffer_decode(buf["uv"]), float(buf["fs"]), float(buf["t0"]), beats,
                       str(state.get("lead") or ""), second)


__all__ = [
    "BIN_S",
    "Analysis",
    "Detection",
    "StripInputs",
    "alarm_condition",
    "ecg_admit",
    "ecg_analyse",
    "ecg_detect",
    "ecg_state_new",
    "strip_inputs",
]
